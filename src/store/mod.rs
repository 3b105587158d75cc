//! SQLite storage: the one place that owns connections.
//!
//! One writer connection (SQLite allows one writer at a time anyway) whose transactions
//! start with `BEGIN IMMEDIATE`, so a rule checked inside one cannot be raced, and are shared
//! by concurrent writes (group commit, see `writer`); a few reader
//! connections for queries, which WAL lets run beside the writer. Callers run these on
//! blocking threads (callbacks' looks on `AppContext::look_threads`, pages through
//! `web::block`, jobs through `spawn_blocking`), never on the async executor; callbacks'
//! writes go to the writer's own committer thread (`write_queued`).

mod checkpointer;
mod committer;
mod migrations;
mod readers;
mod writer;

use checkpointer::Checkpointer;
use committer::Committer;
use readers::Readers;
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use writer::Writer;

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

/// A write handed to the committer thread panicked (nothing of it was kept).
#[derive(Debug, thiserror::Error)]
#[error("the write panicked")]
pub struct WritePanicked;

pub struct Store {
    writer: Arc<Writer>,
    committer: Committer,
    readers: Readers,
    checkpointer: Checkpointer,
    /// Writes ended so far (see `generation`).
    generation: AtomicU64,
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
    // Each write runs in a savepoint (group commit, see `writer`); the pages a savepoint
    // changes are journalled for its rollback, and past 64 KiB SQLite moved that journal to a
    // temporary file: a tenth of a booking's time went to those writes. It is short-lived and
    // small (emptied when the savepoint is released), so memory it is.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    // Every statement the service runs stays compiled (see `execute` / `query_row`).
    conn.set_prepared_statement_cache_capacity(256);
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
        let readers = (0..READERS).map(|_| open_connection(path)).collect::<Result<Vec<_>, _>>()?;
        let checkpointer = Checkpointer::start(open_connection(path)?).map_err(StoreError::Thread)?;
        let writer = Arc::new(Writer::new(writer));
        Ok(Store {
            committer: Committer::start(Arc::clone(&writer)).map_err(StoreError::Thread)?,
            writer,
            readers: Readers::new(readers),
            checkpointer,
            generation: AtomicU64::new(0),
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Run `f` atomically in a write transaction (`BEGIN IMMEDIATE`, perhaps shared with
    /// concurrent writes): committed before this returns if `f` returns Ok, undone otherwise.
    pub fn write<T, E>(&self, f: impl FnOnce(&Connection) -> Result<T, E>) -> Result<T, E>
    where
        E: From<rusqlite::Error>,
    {
        let result = self.write_bookkeeping(f);
        self.moved_generation();
        result
    }

    /// After a write's commit: a snapshot opened once the new generation is read holds it.
    fn moved_generation(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// `write` from the async executor, through the committer thread (no thread waits for the
    /// connection or the commit): resolves once `f`'s effects are committed. `f` may run twice
    /// (a batch mate failed and the batch ran again), so it must change nothing but the database.
    pub async fn write_queued<T, E>(
        &self,
        f: impl FnMut(&Connection) -> Result<T, E> + Send + 'static,
    ) -> Result<Result<T, E>, WritePanicked>
    where
        T: Send + 'static,
        E: From<rusqlite::Error> + Send + 'static,
    {
        let answer = self.committer.submit(f).await;
        self.checkpointer.wrote();
        self.moved_generation();
        answer.map_err(|_| WritePanicked)
    }

    /// `write` for bookkeeping that no answer shows from a shared view (members' last-seen
    /// times, demand records): it leaves the write generation as it is, so the views that
    /// answers share stay in use. Anything that changes bookings or closures uses `write`.
    pub fn write_bookkeeping<T, E>(&self, f: impl FnOnce(&Connection) -> Result<T, E>) -> Result<T, E>
    where
        E: From<rusqlite::Error>,
    {
        let result = self.writer.write(f);
        self.checkpointer.wrote();
        result
    }

    /// How many writes of this process have ended (but `write_bookkeeping`): what a reader
    /// reads of bookings and closures is the same between two values (but for other
    /// processes' writes), so answers may share what they read.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// How many writes are waiting for the writer connection (behind the one it runs).
    pub fn writes_waiting(&self) -> usize {
        self.writer.waiting() + self.committer.waiting()
    }

    /// Run `f` on a reader connection (a consistent snapshot if it opens a transaction).
    pub fn read<T, E>(&self, f: impl FnOnce(&Connection) -> Result<T, E>) -> Result<T, E>
    where
        E: From<rusqlite::Error>,
    {
        self.readers.with(f)
    }

    /// Run `f` on a reader inside one read transaction: everything it reads is one snapshot.
    pub fn read_snapshot<T, E>(&self, f: impl FnOnce(&Connection) -> Result<T, E>) -> Result<T, E>
    where
        E: From<rusqlite::Error>,
    {
        self.read(|conn| {
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
        let backstop: u32 = store.write(|tx| tx.query_row("PRAGMA wal_autocheckpoint", [], |r| r.get(0))).unwrap();
        assert_eq!(backstop, checkpointer::WRITER_BACKSTOP_PAGES, "the writer leaves checkpoints to the thread");
        for n in 0..checkpointer::EVERY_WRITES {
            store
                .write(|tx| tx.execute("INSERT INTO users (userid, created_at, last_seen_at) VALUES (?1, 0, 0)", [n]))
                .unwrap();
        }
        let stats = store.checkpointer.wait_for_runs(1, Duration::from_secs(30));
        assert_eq!(stats.runs, 1, "one checkpoint after {} writes", checkpointer::EVERY_WRITES);
        assert!(stats.last_copied > 0, "it copied the logged pages into the database file: {stats:?}");
        let count: i64 = store.read(|c| c.query_row("SELECT count(*) FROM users", [], |r| r.get(0))).unwrap();
        assert_eq!(count, checkpointer::EVERY_WRITES as i64);
    }

    #[test]
    fn writes_move_the_generation_and_bookkeeping_does_not() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let start = store.generation();
        let touch = "INSERT INTO users (userid, created_at, last_seen_at) VALUES ('a', 0, 0) ON CONFLICT DO NOTHING";
        store.write(|tx| tx.execute(touch, [])).unwrap();
        assert_eq!(store.generation(), start + 1);
        store.write_bookkeeping(|tx| tx.execute(touch, [])).unwrap();
        assert_eq!(store.generation(), start + 1);
    }

    #[test]
    fn a_failed_write_rolls_back() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let result: Result<(), rusqlite::Error> = store.write(|tx| {
            tx.execute("INSERT INTO users (userid, created_at, last_seen_at) VALUES ('a', 0, 0)", [])?;
            Err(rusqlite::Error::QueryReturnedNoRows)
        });
        assert!(result.is_err());
        let count: i64 = store.read(|c| c.query_row("SELECT count(*) FROM users", [], |r| r.get(0))).unwrap();
        assert_eq!(count, 0);
    }
}
