//! The committer thread: writes from the async executor, in batches.
//!
//! A callback's write used to take a thread of its own that waited for the connection, ran,
//! and waited for the batch's commit: two thread wake-ups per booking, and a pool of idle
//! threads spinning for work. Here a caller hands its write over (`submit`) and awaits the
//! answer. The committer runs whatever is queued in one transaction, commits once, and passes
//! the batch to the answering thread, so that waking the callers' tasks (which the kernel lets
//! preempt the waker) never holds up the next batch. It shares the writer's connection and
//! group commit with the synchronous `Writer::write`.
//!
//! A batch runs its writes one after another without savepoints: a savepoint makes SQLite copy
//! every page a write touches into a journal first, and that copying (with the savepoints'
//! own statements) was a fifth of a booking's work on this thread. Nearly every write succeeds;
//! when one fails or panics, the batch is rolled back and the writes that had succeeded run
//! again, each in its own savepoint this time, so the failed write leaves its batch mates as
//! they would have been. A queued write may therefore run twice, and must have no effect
//! outside its transaction.

use super::writer::{code_and_message, commit_failure, run_in_savepoint, Batch, Outcome, Writer, MAX_BATCH};
use crossbeam_channel::{Receiver, Sender};
use rusqlite::Connection;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::thread::JoinHandle;
use tokio::sync::oneshot;

pub struct Committer {
    queue: Option<Sender<Box<dyn QueuedWrite>>>,
    threads: Vec<JoinHandle<()>>,
}

/// A write handed to the committer, whatever it returns (see `Queued`).
trait QueuedWrite: Send {
    /// Run in the batch's transaction as it stands; true if it succeeded.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Run in its own savepoint, unless it already failed (a failure stands: the batch's
    /// rollback undid whatever it wrote).
    fn run_guarded(&mut self, conn: &Connection, batch: Batch) -> Batch;
    /// The batch ended: tell the caller (`failure`: it was not committed).
    fn end(self: Box<Self>, failure: Option<rusqlite::Error>);
}

struct Queued<F, T, E> {
    write: F,
    outcome: Option<Outcome<T, E>>,
    answer: oneshot::Sender<Result<T, E>>,
}

/// A batch run: its writes, and the failure of its transaction if it was not committed.
type Ended = (Vec<Box<dyn QueuedWrite>>, Option<(i32, String)>);

impl<F, T, E> QueuedWrite for Queued<F, T, E>
where
    F: FnMut(&Connection) -> Result<T, E> + Send,
    T: Send,
    E: From<rusqlite::Error> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let outcome = catch_unwind(AssertUnwindSafe(|| (self.write)(conn)));
        let succeeded = matches!(outcome, Ok(Ok(_)));
        self.outcome = Some(outcome);
        succeeded
    }

    fn run_guarded(&mut self, conn: &Connection, batch: Batch) -> Batch {
        if !matches!(self.outcome, None | Some(Ok(Ok(_)))) {
            return batch;
        }
        let (outcome, batch) = run_in_savepoint(conn, batch, &mut self.write);
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
    /// sender dropped: the write panicked). `write` may run twice (see the module's note).
    pub fn submit<T, E>(
        &self,
        write: impl FnMut(&Connection) -> Result<T, E> + Send + 'static,
    ) -> oneshot::Receiver<Result<T, E>>
    where
        T: Send + 'static,
        E: From<rusqlite::Error> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        if let Some(queue) = &self.queue {
            // Fails only once the thread is gone; the dropped write then closes `answered`.
            let _ = queue.send(Box::new(Queued { write, outcome: None, answer }));
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
        Ok(batch) => {
            // A synchronous writer may have handed its open transaction on: a rollback would
            // undo its writes too, so then every write runs in a savepoint from the start.
            let batch = if batch.writes > 0 {
                run_guarded(&open.conn, batch, &mut writes, queued)
            } else {
                run_bare(writer, &open.conn, batch, &mut writes, queued)
            };
            writer.end_batch(&open.conn, batch)
        }
    };
    (writes, failure)
}

/// Run the writes without savepoints until one fails; then roll back and run the rest of the
/// batch guarded (see the module's note).
fn run_bare(
    writer: &Writer,
    conn: &Connection,
    mut batch: Batch,
    writes: &mut Vec<Box<dyn QueuedWrite>>,
    queued: &Receiver<Box<dyn QueuedWrite>>,
) -> Batch {
    let mut succeeded = writes[0].run(conn);
    while succeeded && writes.len() < MAX_BATCH {
        let Ok(mut next) = queued.try_recv() else { break };
        succeeded = next.run(conn);
        writes.push(next);
    }
    batch.writes = writes.len();
    // SQLite ends the transaction itself on some errors (disk full, I/O).
    if succeeded && !conn.is_autocommit() {
        return batch;
    }
    match writer.restart_batch(conn, batch) {
        Ok(restarted) => run_guarded(conn, restarted, writes, queued),
        Err(error) => {
            tracing::error!(%error, "could not begin a failed batch again");
            batch.broken = true;
            batch
        }
    }
}

/// Run `writes`, then whatever else is queued (up to `MAX_BATCH` in the batch), each in its
/// own savepoint (a failed write's failure stands).
fn run_guarded(
    conn: &Connection,
    mut batch: Batch,
    writes: &mut Vec<Box<dyn QueuedWrite>>,
    queued: &Receiver<Box<dyn QueuedWrite>>,
) -> Batch {
    for write in writes.iter_mut() {
        batch = write.run_guarded(conn, batch);
    }
    // `batch.writes`, not `writes`: a transaction handed on counts its synchronous writes too.
    while !batch.broken && batch.writes < MAX_BATCH {
        let Ok(mut next) = queued.try_recv() else { break };
        batch = next.run_guarded(conn, batch);
        writes.push(next);
    }
    batch
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::store::writer::tests::{count, traced_writer, writer};

    fn committer() -> (tempfile::TempDir, Arc<Writer>, Committer) {
        let (dir, writer) = writer();
        let committer = Committer::start(Arc::clone(&writer)).unwrap();
        (dir, writer, committer)
    }

    /// Statements run on the traced connection (one test traces, so they are its own).
    static TRACED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

    fn traced(sql: &str) {
        TRACED.lock().unwrap().push(sql.to_string());
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

    /// A gate the first write waits at, so that the writes queued meanwhile share its batch.
    #[derive(Default)]
    struct Gate {
        open: std::sync::Mutex<bool>,
        opened: std::sync::Condvar,
    }

    impl Gate {
        fn wait(&self) {
            let open = self.open.lock().unwrap();
            drop(self.opened.wait_while(open, |open| !*open).unwrap());
        }

        fn open(&self) {
            *self.open.lock().unwrap() = true;
            self.opened.notify_all();
        }
    }

    /// Queue ten writes inserting 0..10 in one batch (`duplicate`: that one inserts 0 again);
    /// returns each write's answer and how many times it ran.
    async fn ten_writes_in_one_batch(committer: &Committer, duplicate: Option<i64>) -> Vec<(bool, usize)> {
        let gate = Arc::new(Gate::default());
        let runs: Vec<_> = (0..10).map(|_| Arc::new(std::sync::atomic::AtomicUsize::new(0))).collect();
        let answers: Vec<_> = (0..10i64)
            .map(|n| {
                let (gate, runs) = (Arc::clone(&gate), Arc::clone(&runs[n as usize]));
                committer.submit(move |conn| {
                    runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if n == 0 {
                        gate.wait();
                    }
                    let key = if Some(n) == duplicate { 0 } else { n };
                    conn.execute("INSERT INTO t (n) VALUES (?1)", [key])
                })
            })
            .collect();
        gate.open();
        let mut outcomes = Vec::new();
        for (answer, runs) in answers.into_iter().zip(runs) {
            let ok = answer.await.expect("answered").is_ok();
            outcomes.push((ok, runs.load(std::sync::atomic::Ordering::SeqCst)));
        }
        outcomes
    }

    #[tokio::test]
    async fn writes_that_succeed_run_once_without_savepoints() {
        let (_dir, writer) = traced_writer(Some(traced));
        let committer = Committer::start(Arc::clone(&writer)).unwrap();
        let outcomes = ten_writes_in_one_batch(&committer, None).await;
        assert_eq!(outcomes, vec![(true, 1); 10]);
        let statements = std::mem::take(&mut *TRACED.lock().unwrap());
        let inserts = statements.iter().filter(|sql| sql.starts_with("INSERT")).count();
        assert_eq!(inserts, 10, "{statements:?}");
        assert!(!statements.iter().any(|sql| sql.contains("SAVEPOINT")), "{statements:?}");
        assert_eq!(count(&writer), 10);
    }

    #[tokio::test]
    async fn a_failed_write_rolls_its_batch_back_and_the_writes_before_it_run_again() {
        let (_dir, writer, committer) = committer();
        let outcomes = ten_writes_in_one_batch(&committer, Some(5)).await;
        // 0-4 ran, 5 failed: rolled back, 0-4 ran again (guarded), 6-9 ran once (guarded).
        let mut expected = vec![(true, 2); 5];
        expected.push((false, 1));
        expected.extend([(true, 1); 4]);
        assert_eq!(outcomes, expected);
        assert_eq!(count(&writer), 9);
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
