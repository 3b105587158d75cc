//! SQLite storage: the one way in to the database, two calls.
//!
//! - [`Store::read`] runs a closure on one of a few reader connections, inside one read
//!   transaction (a consistent snapshot); WAL lets readers run beside the writer. It blocks:
//!   callers run it on a blocking thread (a callback's look thread, `web::blocking` for pages).
//! - [`Store::write`] queues a closure for the writer thread, which runs it in a write
//!   transaction (`BEGIN IMMEDIATE`, so a rule checked inside it cannot be raced): committed
//!   when it returns Ok, undone when it fails. The answer is a [`Pending`]: await it, or
//!   `wait()` for it on a blocking thread.
//!
//! How writes share commits (`writer`) and when the log is copied back (`checkpointer`) is this
//! module's business alone.

mod checkpointer;
mod migrations;
mod readers;
mod writer;

use checkpointer::Checkpointer;
use readers::Readers;
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use writer::Writer;

pub use writer::Pending;

pub use migrations::SCHEMA_VERSION;

/// How long a statement waits for another process's lock (e.g. `staffhome tick` beside `serve`).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
pub const READERS: usize = 4;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot create the database folder {path}: {source}")]
    Folder { path: PathBuf, source: std::io::Error },
    #[error("the database schema version {found} is newer than this program's {supported}")]
    TooNew { found: i64, supported: i64 },
    #[error("a migration would leave rows of {table} referring to rows that do not exist")]
    BrokenReferences { table: String },
    #[error("cannot start the store's threads: {0}")]
    Thread(std::io::Error),
}

pub struct Store {
    writer: Writer,
    readers: Readers,
    #[cfg_attr(not(test), allow(dead_code))] // tests wait for its runs
    checkpointer: Arc<Checkpointer>,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

fn open_connection(path: &Path) -> Result<Connection, rusqlite::Error> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    // NORMAL in WAL mode loses no committed data on a process crash, only on power loss
    // within the last checkpoint window; FULL costs an fsync per commit.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    // Each write runs in a savepoint (group commit, see `writer`): its rollback journal is
    // short-lived and small, so it is kept in memory rather than a temporary file.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Every statement the service runs stays compiled (see `execute` / `query_row`).
    conn.set_prepared_statement_cache_capacity(256);
    Ok(conn)
}

/// A reader refuses to write: a write that reached one would bypass the writer (its
/// transaction, its events and so its messages) without a word.
fn open_reader(path: &Path) -> Result<Connection, rusqlite::Error> {
    let conn = open_connection(path)?;
    conn.pragma_update(None, "query_only", true)?;
    Ok(conn)
}

/// `Connection::execute` through the statement cache: compiling SQL cost as much as running it.
pub fn execute<P: rusqlite::Params>(conn: &Connection, sql: &str, params: P) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute(params)
}

/// `Connection::query_row` through the statement cache.
pub fn query_row<T, P, F>(conn: &Connection, sql: &str, params: P, f: F) -> rusqlite::Result<T>
where
    P: rusqlite::Params,
    F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
{
    conn.prepare_cached(sql)?.query_row(params, f)
}

impl Store {
    /// Open (creating if needed) the database at `path` and apply pending migrations.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|source| StoreError::Folder { path: parent.to_path_buf(), source })?;
        }
        let mut writer = open_connection(path)?;
        migrations::apply(&mut writer)?;
        writer.pragma_update(None, "wal_autocheckpoint", checkpointer::WRITER_BACKSTOP_PAGES)?;
        let readers = (0..READERS).map(|_| open_reader(path)).collect::<Result<Vec<_>, _>>()?;
        let checkpointer = Arc::new(Checkpointer::start(open_connection(path)?).map_err(StoreError::Thread)?);
        let wrote = Arc::clone(&checkpointer);
        Ok(Store {
            writer: Writer::start(writer, Arc::new(move |writes| wrote.wrote(writes))).map_err(StoreError::Thread)?,
            readers: Readers::new(readers),
            checkpointer,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Run `f` in a write transaction: committed if `f` returns Ok, undone otherwise (a panic
    /// in `f` is undone and resumed in whoever takes the answer). `f` runs once, on the
    /// writer's thread, beside other writes queued meanwhile (so it owns what it uses). Await
    /// the answer, or [`Pending::wait`] for it on a blocking thread; no thread waits meanwhile.
    pub fn write<T, E>(&self, f: impl FnOnce(&Connection) -> Result<T, E> + Send + 'static) -> Pending<T, E>
    where
        T: Send + 'static,
        E: From<rusqlite::Error> + Send + 'static,
    {
        self.writer.write(f)
    }

    /// How many writes are waiting for the writer thread.
    pub fn writes_waiting(&self) -> usize {
        self.writer.waiting()
    }

    /// Run `f` on a reader connection inside one read transaction: everything it reads is one
    /// snapshot.
    pub fn read<T, E>(&self, f: impl FnOnce(&Connection) -> Result<T, E>) -> Result<T, E>
    where
        E: From<rusqlite::Error>,
    {
        self.readers.with(|conn| {
            // Cached statements: parsing BEGIN/COMMIT cost more than a small query.
            execute(conn, "BEGIN", [])?;
            let result = f(conn);
            execute(conn, if result.is_ok() { "COMMIT" } else { "ROLLBACK" }, [])?;
            result
        })
    }

    /// Is the database answering? (for /healthz)
    pub fn ping(&self) -> bool {
        self.read(|conn| conn.query_row("SELECT 1", [], |row| row.get::<_, i64>(0))).is_ok()
    }

    /// Copy the live database to `to` with SQLite's online backup API, from a connection of
    /// its own so the service keeps writing meanwhile (a write during the copy restarts it).
    pub fn backup(&self, to: &Path) -> Result<(), StoreError> {
        let source = open_connection(&self.path)?;
        let mut target = Connection::open(to)?;
        let backup = rusqlite::backup::Backup::new(&source, &mut target)?;
        backup.run_to_completion(1024, Duration::ZERO, None)?;
        Ok(())
    }
}

/// SQLite's plan for `sql` on a fresh database, one step per `; ` (tests check that a hot
/// query is a range of the index meant for it, not a scan).
#[cfg(test)]
pub(crate) fn query_plan(sql: &str) -> String {
    explained("EXPLAIN QUERY PLAN", 3, sql).join("; ")
}

/// Whether running `sql` builds a temporary b-tree (SQLite's `OpenEphemeral`: a constant IN
/// list, a sort or DISTINCT without an index), which a hot statement should not.
#[cfg(test)]
pub(crate) fn builds_temporary_btree(sql: &str) -> bool {
    explained("EXPLAIN", 1, sql).iter().any(|opcode| opcode == "OpenEphemeral")
}

/// Column `column` of `explain sql` on a fresh database, every parameter NULL.
#[cfg(test)]
fn explained(explain: &str, column: usize, sql: &str) -> Vec<String> {
    let dir = tempfile::tempdir().expect("dir");
    let store = Store::open(&dir.path().join("plan.db")).expect("store");
    let rows = store.read(|conn| {
        let mut stmt = conn.prepare(&format!("{explain} {sql}"))?;
        let nulls = std::iter::repeat_n(rusqlite::types::Null, stmt.parameter_count());
        let rows = stmt.query_map(rusqlite::params_from_iter(nulls), |row| row.get::<_, String>(column))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
    });
    rows.expect("explain")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_applies_migrations_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/test.db");
        let store = Store::open(&path).unwrap();
        let version: i64 = store.read(|c| c.query_row("PRAGMA user_version", [], |r| r.get(0))).unwrap();
        assert_eq!(version, SCHEMA_VERSION);
        drop(store);
        let store = Store::open(&path).unwrap();
        assert!(store.ping());
    }

    #[test]
    fn the_log_is_copied_back_by_the_checkpoint_thread_not_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let backstop: u32 =
            store.write(|tx| tx.query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))).wait().unwrap();
        assert_eq!(backstop, checkpointer::WRITER_BACKSTOP_PAGES, "the writer leaves checkpoints to the thread");
        for n in 0..checkpointer::EVERY_WRITES {
            store
                .write(move |tx| {
                    tx.execute("INSERT INTO users (userid, created_at, last_seen_at) VALUES (?1, 0, 0)", [n])
                })
                .wait()
                .unwrap();
        }
        let stats = store.checkpointer.wait_for_runs(1, Duration::from_secs(30));
        assert_eq!(stats.runs, 1, "one checkpoint after {} writes", checkpointer::EVERY_WRITES);
        assert!(stats.last_copied > 0, "it copied the logged pages into the database file: {stats:?}");
        let count: i64 = store.read(|c| c.query_row("SELECT count(*) FROM users", [], |r| r.get(0))).unwrap();
        assert_eq!(count, checkpointer::EVERY_WRITES as i64);
    }

    #[test]
    fn a_failed_write_rolls_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let result: Result<(), rusqlite::Error> = store
            .write(|tx| {
                tx.execute("INSERT INTO users (userid, created_at, last_seen_at) VALUES ('a', 0, 0)", [])?;
                Err(rusqlite::Error::QueryReturnedNoRows)
            })
            .wait();
        assert!(result.is_err());
        let count: i64 = store.read(|c| c.query_row("SELECT count(*) FROM users", [], |r| r.get(0))).unwrap();
        assert_eq!(count, 0);
    }
}
