//! The committer thread: writes from the async executor, in batches.
//!
//! A callback's write used to take a thread of its own that waited for the connection, ran,
//! and waited for the batch's commit: two thread wake-ups per booking, and a pool of idle
//! threads spinning for work. Here a caller hands its write over (`submit`) and awaits the
//! answer. The committer runs whatever is queued, each write in its own savepoint of one
//! transaction, commits once, and passes the batch to the answering thread, so that waking
//! the callers' tasks (which the kernel lets preempt the waker) never holds up the next batch.
//! It shares the writer's connection and group commit with the synchronous `Writer::write`.

use super::writer::{code_and_message, commit_failure, run_in_savepoint, Batch, Outcome, Writer, MAX_BATCH};
use crossbeam_channel::{Receiver, Sender};
use rusqlite::Connection;
use std::sync::Arc;
use std::thread::JoinHandle;
use tokio::sync::oneshot;

pub struct Committer {
    queue: Option<Sender<Box<dyn QueuedWrite>>>,
    threads: Vec<JoinHandle<()>>,
}

/// A write handed to the committer, whatever it returns (see `Queued`).
trait QueuedWrite: Send {
    /// Run in its own savepoint of the batch's transaction.
    fn run(&mut self, conn: &Connection, batch: Batch) -> Batch;
    /// The batch ended: tell the caller (`failure`: it was not committed).
    fn end(self: Box<Self>, failure: Option<rusqlite::Error>);
}

struct Queued<F, T, E> {
    write: Option<F>,
    outcome: Option<Outcome<T, E>>,
    answer: oneshot::Sender<Result<T, E>>,
}

/// A batch run: its writes, and the failure of its transaction if it was not committed.
type Ended = (Vec<Box<dyn QueuedWrite>>, Option<(i32, String)>);

impl<F, T, E> QueuedWrite for Queued<F, T, E>
where
    F: FnOnce(&Connection) -> Result<T, E> + Send,
    T: Send,
    E: From<rusqlite::Error> + Send,
{
    fn run(&mut self, conn: &Connection, batch: Batch) -> Batch {
        let Some(write) = self.write.take() else { return batch };
        let (outcome, batch) = run_in_savepoint(conn, batch, write);
        self.outcome = Some(outcome);
        batch
    }

    fn end(self: Box<Self>, failure: Option<rusqlite::Error>) {
        let answer = match (self.outcome, failure) {
            (Some(Ok(Ok(value))), None) => Ok(value),
            // Undone with its batch, or never run (the transaction could not begin).
            (Some(Ok(Ok(_))) | None, Some(failure)) => Err(E::from(failure)),
            (Some(Ok(Err(error))), _) => Err(error),
            (None, None) => return,
            (Some(Err(_panic)), _) => {
                // Its savepoint was rolled back; dropping `answer` tells the caller.
                tracing::error!("a queued write panicked");
                return;
            }
        };
        let _ = self.answer.send(answer);
    }
}

impl Committer {
    /// Start the committer and answering threads on `writer`.
    pub fn start(writer: Arc<Writer>) -> std::io::Result<Committer> {
        let (queue, queued) = crossbeam_channel::unbounded::<Box<dyn QueuedWrite>>();
        let (ended, to_answer) = crossbeam_channel::unbounded::<Ended>();
        let answering = std::thread::Builder::new().name("staffhome-answer".into()).spawn(move || {
            for (writes, failure) in to_answer {
                for write in writes {
                    write.end(failure.as_ref().map(|(code, message)| commit_failure(*code, message)));
                }
            }
        })?;
        let committing = std::thread::Builder::new().name("staffhome-commit".into()).spawn(move || {
            while let Ok(first) = queued.recv() {
                // The answering thread ends only after this one.
                let _ = ended.send(run_batch(&writer, first, &queued));
            }
        })?;
        Ok(Committer { queue: Some(queue), threads: vec![committing, answering] })
    }

    /// Hand `write` to the committer; the answer comes once its batch is committed (the
    /// sender dropped: the write panicked).
    pub fn submit<T, E>(
        &self,
        write: impl FnOnce(&Connection) -> Result<T, E> + Send + 'static,
    ) -> oneshot::Receiver<Result<T, E>>
    where
        T: Send + 'static,
        E: From<rusqlite::Error> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        if let Some(queue) = &self.queue {
            // Fails only once the thread is gone; the dropped write then closes `answered`.
            let _ = queue.send(Box::new(Queued { write: Some(write), outcome: None, answer }));
        }
        answered
    }

    /// Writes handed over and not yet begun.
    pub fn waiting(&self) -> usize {
        self.queue.as_ref().map_or(0, Sender::len)
    }
}

impl Drop for Committer {
    fn drop(&mut self) {
        // Closing the queue ends the threads once the writes queued so far are answered.
        self.queue = None;
        // A write may hold the last handle on the service (and so on this): dropped on one of
        // these threads, it must not wait for them (they end by themselves once the queue closes).
        let here = std::thread::current().id();
        if self.threads.iter().all(|thread| thread.thread().id() != here) {
            for thread in self.threads.drain(..) {
                let _ = thread.join();
            }
        }
    }
}

/// Run `first` and whatever else is queued by then (up to `MAX_BATCH`) in one transaction,
/// and commit.
fn run_batch(writer: &Writer, first: Box<dyn QueuedWrite>, queued: &Receiver<Box<dyn QueuedWrite>>) -> Ended {
    let mut writes = vec![first];
    let mut open = writer.connection();
    let failure = match writer.batch(&mut open) {
        Err(error) => Some(code_and_message(&error)),
        Ok(mut batch) => {
            batch = writes[0].run(&open.conn, batch);
            while !batch.broken && batch.writes < MAX_BATCH {
                let Ok(mut next) = queued.try_recv() else { break };
                batch = next.run(&open.conn, batch);
                writes.push(next);
            }
            writer.end_batch(&open.conn, batch)
        }
    };
    (writes, failure)
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::store::writer::tests::{count, writer};

    fn committer() -> (tempfile::TempDir, Arc<Writer>, Committer) {
        let (dir, writer) = writer();
        let committer = Committer::start(Arc::clone(&writer)).unwrap();
        (dir, writer, committer)
    }

    #[tokio::test]
    async fn queued_writes_all_commit_and_a_failed_one_leaves_its_batch_mates() {
        let (_dir, writer, committer) = committer();
        let answers: Vec<_> = (0..500)
            .map(|n| {
                // Every tenth inserts a key already taken: only that write is undone.
                let key = if n % 10 == 9 { n - 1 } else { n };
                committer.submit(move |conn| conn.execute("INSERT INTO t (n) VALUES (?1)", [key]))
            })
            .collect();
        let mut failed = 0;
        for answer in answers {
            match answer.await.expect("answered") {
                Ok(1) => {}
                Ok(other) => panic!("inserted {other} rows"),
                Err(error) => {
                    assert!(error.to_string().contains("UNIQUE"), "{error}");
                    failed += 1;
                }
            }
        }
        assert_eq!(failed, 50);
        assert_eq!(count(&writer), 450);
    }

    #[tokio::test]
    async fn a_panicking_queued_write_is_undone_and_the_committer_goes_on() {
        let (_dir, writer, committer) = committer();
        let panicked = committer.submit(|conn| -> rusqlite::Result<()> {
            conn.execute("INSERT INTO t VALUES (7)", [])?;
            panic!("bug in a write");
        });
        assert!(panicked.await.is_err(), "the caller learns its write is gone");
        committer.submit(|conn| conn.execute("INSERT INTO t VALUES (8)", [])).await.unwrap().unwrap();
        assert_eq!(count(&writer), 1);
    }

    #[tokio::test]
    async fn a_failed_commit_fails_the_queued_write() {
        let (_dir, writer, committer) = committer();
        // A deferred foreign key violation is only found at COMMIT.
        let answer = committer.submit(|conn| conn.execute("INSERT INTO child VALUES (99)", [])).await.unwrap();
        let error = answer.expect_err("the commit must fail").to_string();
        assert!(error.contains("FOREIGN KEY"), "{error}");
        committer.submit(|conn| conn.execute("INSERT INTO t VALUES (1)", [])).await.unwrap().unwrap();
        assert_eq!(count(&writer), 1);
    }

    #[tokio::test]
    async fn a_write_holding_the_last_handle_on_the_committer_does_not_wait_for_itself() {
        let (_dir, writer, committer) = committer();
        let committer = Arc::new(committer);
        let last = Arc::clone(&committer);
        let answer = committer.submit(move |conn| {
            let _held = &last;
            conn.execute("INSERT INTO t VALUES (1)", [])
        });
        drop(committer);
        assert_eq!(answer.await.expect("answered").unwrap(), 1);
        assert_eq!(count(&writer), 1);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn queued_and_threaded_writes_share_the_connection() {
        let (_dir, writer, committer) = committer();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let writer = Arc::clone(&writer);
                std::thread::spawn(move || {
                    for i in 0..100 {
                        writer.write(|conn| conn.execute("INSERT INTO t VALUES (?1)", [t * 1000 + i])).unwrap();
                    }
                })
            })
            .collect();
        let answers: Vec<_> = (0..400)
            .map(|i| committer.submit(move |conn| conn.execute("INSERT INTO t VALUES (?1)", [100_000 + i])))
            .collect();
        for answer in answers {
            answer.await.unwrap().unwrap();
        }
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(count(&writer), 800);
    }
}
