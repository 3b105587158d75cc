//! The single writer: one connection, on a thread of its own, running queued writes in batches.
//!
//! A caller hands its write over and waits for the answer. The writer thread runs whatever is
//! queued by then (up to `MAX_BATCH`) in one `BEGIN IMMEDIATE` transaction, each write in its
//! own savepoint (a write that fails or panics leaves its batch mates as they were), commits
//! once, and answers each caller. A burst of callbacks thus pays for one commit instead of one
//! each, and no caller's thread takes turns on the connection. No caller returns before its
//! write is durable: a failed commit fails every write of the batch.

use crossbeam_channel::{Receiver, Sender};
use rusqlite::Connection;
use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::thread::{JoinHandle, ThreadId};
use tokio::sync::oneshot;

/// Writes per transaction at most, so the first of a long burst does not wait long.
const MAX_BATCH: usize = 16;

pub struct Writer {
    queue: Option<Sender<Box<dyn Queued>>>,
    /// The writer thread, then the thread that answers its batches' callers.
    threads: Vec<JoinHandle<()>>,
    thread_ids: Vec<ThreadId>,
}

/// A batch run: its writes, and why it was not committed (if it was not).
type Ended = (Vec<Box<dyn Queued>>, Option<Failure>);

/// A write waiting for the writer thread, whatever it returns (see `Write`).
trait Queued: Send {
    /// Run in its own savepoint of the batch's open transaction; false if the savepoint could
    /// not be closed (the transaction's state is then unknown).
    fn run(&mut self, conn: &Connection) -> bool;
    /// The batch ended: hand the caller its answer (`failure`: the batch was not committed).
    fn end(self: Box<Self>, failure: Option<&Failure>);
}

/// Why a batch was not committed, as each of its writes reports it.
#[derive(Clone)]
struct Failure {
    code: i32,
    message: String,
}

impl Failure {
    fn of(error: &rusqlite::Error) -> Failure {
        let code = error.sqlite_error().map_or(rusqlite::ffi::SQLITE_ERROR, |e| e.extended_code);
        Failure { code, message: error.to_string() }
    }

    fn error(&self) -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(self.code), Some(self.message.clone()))
    }
}

type Outcome<T, E> = std::thread::Result<Result<T, E>>;

struct Write<F, T, E> {
    f: Option<F>,
    outcome: Option<Outcome<T, E>>,
    answer: oneshot::Sender<Outcome<T, E>>,
}

impl<F, T, E> Queued for Write<F, T, E>
where
    F: FnOnce(&Connection) -> Result<T, E> + Send,
    T: Send,
    E: From<rusqlite::Error> + Send,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(f) = self.f.take() else { return true };
        let (outcome, closed) = in_savepoint(conn, f);
        self.outcome = Some(outcome);
        closed
    }

    fn end(self: Box<Self>, failure: Option<&Failure>) {
        let outcome = match (self.outcome, failure) {
            // Its own failure stands (its savepoint undid it); a panic goes back to its caller.
            (Some(Ok(Err(error))), _) => Ok(Err(error)),
            (Some(Err(panic)), _) => Err(panic),
            (Some(Ok(Ok(value))), None) => Ok(Ok(value)),
            (_, Some(failure)) => Ok(Err(E::from(failure.error()))),
            (None, None) => Ok(Err(E::from(stopped()))),
        };
        // The caller may have stopped waiting (a callback past its deadline): the write stands.
        let _ = self.answer.send(outcome);
    }
}

/// The writer thread is gone (it only ends when the store is dropped).
fn stopped() -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_MISUSE),
        Some("the writer stopped".into()),
    )
}

fn run(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

/// Run `f` in a savepoint: kept if it returns Ok, undone if it fails or panics. False when the
/// savepoint could not be closed or SQLite ended the transaction (disk full, I/O).
fn in_savepoint<T, E: From<rusqlite::Error>>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<T, E>,
) -> (Outcome<T, E>, bool) {
    if let Err(error) = run(conn, "SAVEPOINT write") {
        return (Ok(Err(E::from(error))), false);
    }
    let outcome = catch_unwind(AssertUnwindSafe(|| f(conn)));
    let closed = match &outcome {
        Ok(Ok(_)) => run(conn, "RELEASE write"),
        _ => run(conn, "ROLLBACK TO write").and_then(|()| run(conn, "RELEASE write")),
    };
    let intact = closed.is_ok() && !conn.is_autocommit();
    match (outcome, closed) {
        (Ok(Ok(_)), Err(error)) => (Ok(Err(E::from(error))), false),
        (outcome, _) => (outcome, intact),
    }
}

impl Writer {
    /// Start the writer thread on `conn`; `committed` is told how many writes each batch held.
    pub fn start(conn: Connection, committed: Arc<dyn Fn(usize) + Send + Sync>) -> std::io::Result<Writer> {
        let (queue, queued) = crossbeam_channel::unbounded::<Box<dyn Queued>>();
        // Waking a batch's callers is left to a thread of its own, so that it never holds up
        // the next batch (a woken task may preempt the thread that wakes it).
        let (ended, to_answer) = crossbeam_channel::unbounded::<Ended>();
        let answerer = std::thread::Builder::new().name("staffhome-answer".into()).spawn(move || {
            for (writes, failure) in to_answer {
                for write in writes {
                    write.end(failure.as_ref());
                }
            }
        })?;
        let writer = std::thread::Builder::new().name("staffhome-writer".into()).spawn(move || {
            while let Ok(first) = queued.recv() {
                let batch = run_batch(&conn, first, &queued);
                committed(batch.0.len());
                // Only fails once the answering thread is gone, which it is not before this one.
                let _ = ended.send(batch);
            }
        })?;
        let thread_ids = vec![writer.thread().id(), answerer.thread().id()];
        Ok(Writer { queue: Some(queue), threads: vec![writer, answerer], thread_ids })
    }

    /// How many writes wait for the writer thread.
    pub fn waiting(&self) -> usize {
        self.queue.as_ref().map_or(0, Sender::len)
    }

    /// Queue `f` for the writer thread; the answer comes once its effects are committed (or
    /// undone).
    pub fn write<T, E>(&self, f: impl FnOnce(&Connection) -> Result<T, E> + Send + 'static) -> Pending<T, E>
    where
        T: Send + 'static,
        E: From<rusqlite::Error> + Send + 'static,
    {
        let (answer, answered) = oneshot::channel();
        let write: Box<dyn Queued> = Box::new(Write { f: Some(f), outcome: None, answer });
        // Should the thread be gone, the dropped write closes the answer: `stopped`.
        if let Some(queue) = &self.queue {
            let _ = queue.send(write);
        }
        Pending(answered)
    }
}

/// A queued write's answer: await it, or [`Pending::wait`] for it on a blocking thread.
pub struct Pending<T, E>(oneshot::Receiver<Outcome<T, E>>);

impl<T, E: From<rusqlite::Error>> Pending<T, E> {
    /// Block this thread until the write is committed or undone (not on the async executor).
    pub fn wait(self) -> Result<T, E> {
        answer(self.0.blocking_recv())
    }
}

impl<T, E: From<rusqlite::Error>> Future for Pending<T, E> {
    type Output = Result<T, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx).map(answer)
    }
}

/// A panic in the write is resumed in its caller, as if it had run there.
fn answer<T, E: From<rusqlite::Error>>(received: Result<Outcome<T, E>, oneshot::error::RecvError>) -> Result<T, E> {
    match received {
        Ok(Ok(result)) => result,
        Ok(Err(panic)) => resume_unwind(panic),
        Err(_) => Err(E::from(stopped())),
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the queue ends the thread once the writes queued so far are done.
        self.queue = None;
        // A write holding the last handle on the store may drop it on one of these threads,
        // which must not wait for itself.
        if self.thread_ids.contains(&std::thread::current().id()) {
            return;
        }
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

/// Run `first` and whatever else is queued by then (up to `MAX_BATCH`) in one transaction and
/// commit: the writes, to be answered, and the failure if it was not committed.
fn run_batch(conn: &Connection, first: Box<dyn Queued>, queued: &Receiver<Box<dyn Queued>>) -> Ended {
    let mut writes = vec![first];
    let failure = match run(conn, "BEGIN IMMEDIATE") {
        Err(error) => Some(Failure::of(&error)),
        Ok(()) => {
            let mut intact = writes[0].run(conn);
            while intact && writes.len() < MAX_BATCH {
                let Ok(mut next) = queued.try_recv() else { break };
                intact = next.run(conn);
                writes.push(next);
            }
            end_transaction(conn, intact)
        }
    };
    if let Some(failure) = &failure {
        tracing::error!(writes = writes.len(), error = %failure.message, "a batch of writes was not committed");
    }
    (writes, failure)
}

/// Commit, or roll back a transaction a write left in an unknown state; the failure, if any.
fn end_transaction(conn: &Connection, intact: bool) -> Option<Failure> {
    if !intact {
        if !conn.is_autocommit() {
            let _ = run(conn, "ROLLBACK");
        }
        let message = "a write in the same batch left the transaction broken; rolled back";
        return Some(Failure { code: rusqlite::ffi::SQLITE_ABORT, message: message.into() });
    }
    let committed = run(conn, "COMMIT");
    committed.err().map(|error| {
        // A failed COMMIT may leave the transaction open; close it so the next batch starts clean.
        if !conn.is_autocommit() {
            let _ = run(conn, "ROLLBACK");
        }
        Failure::of(&error)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A writer on a fresh database with a table `t` and a deferred foreign key to it.
    fn writer() -> (tempfile::TempDir, Arc<Writer>) {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("w.db")).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; CREATE TABLE t (n INTEGER PRIMARY KEY);
             CREATE TABLE child (p INTEGER REFERENCES t (n) DEFERRABLE INITIALLY DEFERRED)",
        )
        .unwrap();
        (dir, Arc::new(Writer::start(conn, Arc::new(|_| {})).unwrap()))
    }

    fn insert(writer: &Writer, n: i64) -> rusqlite::Result<usize> {
        writer.write(move |conn| conn.execute("INSERT INTO t (n) VALUES (?1)", [n])).wait()
    }

    fn count(writer: &Writer) -> i64 {
        writer.write(|conn| conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0))).wait().unwrap()
    }

    #[test]
    fn concurrent_writes_all_commit_and_a_failed_one_leaves_its_batch_mates() {
        let (_dir, writer) = writer();
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let writer = Arc::clone(&writer);
                std::thread::spawn(move || {
                    let mut failed = 0;
                    for i in 0..200 {
                        // Every tenth inserts a key already taken: only that write is undone.
                        let n = t * 1000 + i;
                        let key = if i % 10 == 9 { n - 1 } else { n };
                        match insert(&writer, key) {
                            Ok(1) => {}
                            Ok(other) => panic!("inserted {other} rows"),
                            Err(error) => {
                                assert!(error.to_string().contains("UNIQUE"), "{error}");
                                failed += 1;
                            }
                        }
                    }
                    failed
                })
            })
            .collect();
        let failed: i64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(failed, 160);
        assert_eq!(count(&writer), 1440);
    }

    #[test]
    fn a_panicking_write_panics_its_caller_is_undone_and_the_writer_goes_on() {
        let (_dir, writer) = writer();
        let panicked = catch_unwind(AssertUnwindSafe(|| {
            let _: rusqlite::Result<()> = writer
                .write(|conn| {
                    conn.execute("INSERT INTO t VALUES (7)", [])?;
                    panic!("bug in a write");
                })
                .wait();
        }));
        assert!(panicked.is_err());
        insert(&writer, 8).unwrap();
        assert_eq!(count(&writer), 1);
    }

    #[test]
    fn a_failed_commit_fails_the_write() {
        let (_dir, writer) = writer();
        // A deferred foreign key violation is only found at COMMIT.
        let result = writer.write(|conn| conn.execute("INSERT INTO child VALUES (99)", [])).wait();
        let error = result.expect_err("the commit must fail").to_string();
        assert!(error.contains("FOREIGN KEY"), "{error}");
        insert(&writer, 1).unwrap();
        assert_eq!(count(&writer), 1);
    }
}
