//! The single writer connection, with group commit.
//!
//! Every `write` runs inside a savepoint of a shared `BEGIN IMMEDIATE` transaction. When a
//! writer finishes while others are queued for the connection, it hands the still-open
//! transaction on and waits; the last writer of the chain (or the `MAX_BATCH`th) commits for
//! all and wakes them. A burst of callbacks thus pays for one commit (WAL frames, locks,
//! page writes) instead of one each, while a lone write commits at once. No caller returns
//! before its work is durable: a failed commit fails every write of the batch.

use crate::sync::lock;
use rusqlite::Connection;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

/// Writes per transaction at most, so the first of a long burst does not wait long. Sixteen,
/// not more: with 32 callbacks in flight on two cores, a batch of all of them left the other
/// core idle until their commit; two smaller batches keep both busy (and a commit's fixed cost
/// is already spread thin at sixteen).
const MAX_BATCH: usize = 16;
/// How many failed commits are remembered for the writers still waiting on them.
const FAILURES_KEPT: usize = 64;

pub struct Writer {
    conn: Mutex<Open>,
    /// Threads waiting for `conn`: a finished writer hands the transaction on only if
    /// one of them will surely take it.
    queued: AtomicUsize,
    outcomes: Mutex<Outcomes>,
    committed: Condvar,
}

struct Open {
    conn: Connection,
    batch: Option<Batch>,
    next_batch: u64,
}

#[derive(Clone, Copy)]
struct Batch {
    id: u64,
    writes: usize,
    /// A savepoint could not be closed: the transaction's state is unknown, so roll it all back.
    broken: bool,
}

#[derive(Default)]
struct Outcomes {
    /// Every batch up to this id has ended (committed or failed).
    ended_through: u64,
    /// Batches that failed, with the SQLite error to give their writers.
    failures: Vec<(u64, i32, String)>,
}

fn run(conn: &Connection, sql: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(sql)?.execute([])?;
    Ok(())
}

impl Writer {
    pub fn new(conn: Connection) -> Writer {
        Writer {
            conn: Mutex::new(Open { conn, batch: None, next_batch: 1 }),
            queued: AtomicUsize::new(0),
            outcomes: Mutex::new(Outcomes::default()),
            committed: Condvar::new(),
        }
    }

    /// How many threads are waiting for the connection.
    pub fn waiting(&self) -> usize {
        self.queued.load(Ordering::SeqCst)
    }

    /// Run `f` atomically (its own savepoint) and return once its effects are committed.
    pub fn write<T, E>(&self, f: impl FnOnce(&Connection) -> Result<T, E>) -> Result<T, E>
    where
        E: From<rusqlite::Error>,
    {
        let mut open = self.connection();
        let batch = self.batch(&mut open)?;
        let (result, batch) = run_in_savepoint(&open.conn, batch, f);
        let hand_on = self.queued.load(Ordering::SeqCst) > 0 && batch.writes < MAX_BATCH && !batch.broken;
        if hand_on {
            open.batch = Some(batch);
            drop(open);
        } else {
            self.end_batch(&open.conn, batch);
            drop(open);
        }
        match result {
            Ok(Ok(value)) => self.wait_for(batch.id).map(|()| value).map_err(E::from),
            // Nothing of this write stays (its savepoint was rolled back): no need to wait.
            Ok(Err(error)) => Err(error),
            Err(panic) => resume_unwind(panic),
        }
    }

    /// Commit (or roll back a broken) `batch` and wake its waiting writers.
    fn end_batch(&self, conn: &Connection, batch: Batch) {
        let ended = if batch.broken {
            let _ = run(conn, "ROLLBACK");
            Err(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ABORT),
                Some("a write in the same batch left the transaction broken; rolled back".into()),
            ))
        } else {
            run(conn, "COMMIT").inspect_err(|_| {
                // A failed COMMIT may leave the transaction open; close it so the next batch starts clean.
                if !conn.is_autocommit() {
                    let _ = run(conn, "ROLLBACK");
                }
            })
        };
        let failure = ended.err().map(|error| {
            tracing::error!(batch = batch.id, writes = batch.writes, %error, "commit failed");
            code_and_message(&error)
        });
        let mut outcomes = lock(&self.outcomes);
        outcomes.ended_through = batch.id;
        if let Some((code, message)) = &failure {
            outcomes.failures.push((batch.id, *code, message.clone()));
            if outcomes.failures.len() > FAILURES_KEPT {
                outcomes.failures.remove(0);
            }
        }
        drop(outcomes);
        self.committed.notify_all();
    }

    fn wait_for(&self, batch: u64) -> rusqlite::Result<()> {
        let mut outcomes = lock(&self.outcomes);
        while outcomes.ended_through < batch {
            outcomes = self.committed.wait(outcomes).unwrap_or_else(|e| e.into_inner());
        }
        match outcomes.failures.iter().find(|(id, _, _)| *id == batch) {
            None => Ok(()),
            Some((_, code, message)) => Err(commit_failure(*code, message)),
        }
    }

    /// The connection, once no other write has it (counted meanwhile in `queued`).
    fn connection(&self) -> MutexGuard<'_, Open> {
        self.queued.fetch_add(1, Ordering::SeqCst);
        let open = lock(&self.conn);
        self.queued.fetch_sub(1, Ordering::SeqCst);
        open
    }

    /// The open batch (handed on by a writer) or a new one.
    fn batch(&self, open: &mut Open) -> rusqlite::Result<Batch> {
        match open.batch.take() {
            Some(batch) => Ok(batch),
            None => {
                run(&open.conn, "BEGIN IMMEDIATE")?;
                let batch = Batch { id: open.next_batch, writes: 0, broken: false };
                open.next_batch += 1;
                Ok(batch)
            }
        }
    }
}

/// What is kept of a failed commit, for each of the batch's writers.
fn code_and_message(error: &rusqlite::Error) -> (i32, String) {
    (error.sqlite_error().map_or(rusqlite::ffi::SQLITE_ERROR, |e| e.extended_code), error.to_string())
}

/// A batch's failed commit, as each of its writes reports it.
fn commit_failure(code: i32, message: &str) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), Some(message.to_string()))
}

type Outcome<T, E> = std::thread::Result<Result<T, E>>;

/// Run `f` inside its own savepoint: kept if it returns Ok, undone if it fails or panics. The
/// batch is `broken` if the savepoint could not be closed or SQLite ended the transaction.
fn run_in_savepoint<T, E>(
    conn: &Connection,
    mut batch: Batch,
    f: impl FnOnce(&Connection) -> Result<T, E>,
) -> (Outcome<T, E>, Batch)
where
    E: From<rusqlite::Error>,
{
    if let Err(error) = run(conn, "SAVEPOINT write") {
        batch.broken = true;
        return (Ok(Err(E::from(error))), batch);
    }
    let result = catch_unwind(AssertUnwindSafe(|| f(conn)));
    let closed = match &result {
        Ok(Ok(_)) => run(conn, "RELEASE write"),
        _ => run(conn, "ROLLBACK TO write").and_then(|()| run(conn, "RELEASE write")),
    };
    batch.writes += 1;
    // SQLite rolls a whole transaction back on some errors (disk full, I/O): nothing to hand on.
    batch.broken |= conn.is_autocommit();
    match closed {
        Ok(()) => (result, batch),
        Err(error) => {
            batch.broken = true;
            let result = match result {
                Ok(_) => Ok(Err(E::from(error))),
                panic => panic,
            };
            (result, batch)
        }
    }
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
        (dir, Arc::new(Writer::new(conn)))
    }

    fn insert(writer: &Writer, n: i64) -> rusqlite::Result<usize> {
        writer.write(|conn| conn.execute("INSERT INTO t (n) VALUES (?1)", [n]))
    }

    fn count(writer: &Writer) -> i64 {
        writer.write(|conn| conn.query_row("SELECT count(*) FROM t", [], |r| r.get(0))).unwrap()
    }

    #[test]
    fn concurrent_writes_all_commit_and_share_transactions() {
        let (_dir, writer) = writer();
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let writer = Arc::clone(&writer);
                std::thread::spawn(move || {
                    for i in 0..200 {
                        insert(&writer, t * 1000 + i).unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert_eq!(count(&writer), 1600);
        let batches = lock(&writer.conn).next_batch - 1;
        assert!(batches <= 1601, "one batch per write at most, got {batches}");
    }

    #[test]
    fn a_failed_write_is_undone_and_its_batch_mates_kept() {
        let (_dir, writer) = writer();
        let conn = &lock(&writer.conn).conn;
        run(conn, "BEGIN IMMEDIATE").unwrap();
        let batch = Batch { id: 1, writes: 0, broken: false };
        let (kept, batch) = run_in_savepoint(conn, batch, |c| c.execute("INSERT INTO t VALUES (1)", []));
        let (failed, batch) = run_in_savepoint(conn, batch, |c| {
            c.execute("INSERT INTO t VALUES (2)", [])?;
            c.execute("INSERT INTO t VALUES (1)", []) // duplicate key
        });
        run(conn, "COMMIT").unwrap();
        assert!(matches!(kept, Ok(Ok(1))));
        assert!(matches!(failed, Ok(Err(_))));
        assert_eq!(batch.writes, 2);
        assert!(!batch.broken);
        let rows: Vec<i64> =
            conn.prepare("SELECT n FROM t").unwrap().query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
        assert_eq!(rows, vec![1]);
    }

    #[test]
    fn a_panicking_write_is_undone_and_the_writer_goes_on() {
        let (_dir, writer) = writer();
        let panicked = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let _: rusqlite::Result<()> = writer.write(|conn| {
                conn.execute("INSERT INTO t VALUES (7)", [])?;
                panic!("bug in a write");
            });
        }));
        assert!(panicked.is_err());
        insert(&writer, 8).unwrap();
        assert_eq!(count(&writer), 1);
    }

    #[test]
    fn a_failed_commit_fails_every_write_of_the_batch() {
        let (_dir, writer) = writer();
        // A deferred foreign key violation is only found at COMMIT.
        let result = writer.write(|conn| conn.execute("INSERT INTO child VALUES (99)", []));
        let error = result.expect_err("the commit must fail").to_string();
        assert!(error.contains("FOREIGN KEY"), "{error}");
        insert(&writer, 1).unwrap();
        assert_eq!(count(&writer), 1);
    }
}
