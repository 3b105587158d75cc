//! A fixed set of threads for blocking work (a callback's look on a reader): a few threads take
//! work from one queue and sleep only when it is empty, so a burst is handed over without a
//! thread wake-up per callback, in bounded memory (tokio's blocking pool grows a thread per
//! waiting task).

use crossbeam_channel::{Receiver, Sender};
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

type Job = Box<dyn FnOnce() + Send>;

#[derive(Clone)]
pub struct Workers {
    queue: Sender<Job>,
}

/// The work panicked (the thread goes on with the next job).
#[derive(Debug, thiserror::Error)]
#[error("the work panicked")]
pub struct Panicked;

impl Workers {
    /// Start `threads` threads named `name-0`, `name-1`, …
    pub fn start(name: &str, threads: usize) -> std::io::Result<Workers> {
        let (queue, jobs) = crossbeam_channel::unbounded::<Job>();
        for i in 0..threads.max(1) {
            let jobs: Receiver<Job> = jobs.clone();
            std::thread::Builder::new().name(format!("{name}-{i}")).spawn(move || {
                for job in jobs {
                    job();
                }
            })?;
        }
        Ok(Workers { queue })
    }

    /// Run `work` on one of the threads; the returned future resolves with its result.
    pub fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Pending<T> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            if let Ok(value) = std::panic::catch_unwind(AssertUnwindSafe(work)) {
                let _ = done.send(value);
            }
        });
        // Only fails once every thread is gone; the dropped job then ends the receiver.
        let _ = self.queue.send(job);
        Pending(result)
    }
}

/// The result of work handed to [`Workers::run`].
pub struct Pending<T>(tokio::sync::oneshot::Receiver<T>);

impl<T> Future for Pending<T> {
    type Output = Result<T, Panicked>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx).map_err(|_| Panicked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_runs_off_the_caller_and_a_panic_is_an_error_not_a_lost_thread() {
        let workers = Workers::start("test", 1).unwrap();
        let caller = std::thread::current().id();
        assert_ne!(workers.run(move || std::thread::current().id()).await.unwrap(), caller);
        assert!(workers.run(|| panic!("a bug in a handler")).await.is_err());
        // The single thread survived the panic and takes the next job.
        assert_eq!(workers.run(|| 6 * 7).await.unwrap(), 42);
    }
}
