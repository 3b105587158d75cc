//! Checkpoints off the writer's path.
//!
//! In WAL mode SQLite copies the log back into the database file (a checkpoint, with fsyncs)
//! from the connection whose commit crossed the log's threshold: that would be the writer, with
//! every write queued behind it. Here a thread with its own connection runs a PASSIVE checkpoint
//! (which never blocks the writer or a reader) every `EVERY_WRITES` writes. The writer keeps
//! SQLite's own checkpoint past `WRITER_BACKSTOP_PAGES` as a backstop: under sustained load only
//! a checkpoint right after a commit lets the log restart from its beginning, so without it the
//! log grows without bound. (BENCHMARKS.md has the measurements behind both numbers.)

use crate::sync::lock;
use crossbeam_channel::{Sender, TrySendError};
use rusqlite::Connection;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

/// Writes between checkpoints: a checkpoint copies each page once however often it was logged
/// since the last, so fewer checkpoints copy less; 512 stays well below the backstop.
pub const EVERY_WRITES: usize = 512;
/// The writer's own automatic checkpoint: bounds the log under sustained load (about 33 MiB).
pub const WRITER_BACKSTOP_PAGES: u32 = 8_000;

pub struct Checkpointer {
    writes: AtomicUsize,
    nudge: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
    #[cfg_attr(not(test), allow(dead_code))] // what tests wait for
    done: Arc<Done>,
}

/// What the checkpoints did so far (read by tests and nothing else).
#[derive(Default)]
struct Done {
    state: Mutex<Stats>,
    changed: Condvar,
}

#[derive(Default, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stats {
    pub runs: u64,
    /// Frames copied into the database file by the last run.
    pub last_copied: i64,
}

impl Checkpointer {
    /// Start the checkpoint thread on `conn` (a connection of its own to the database).
    pub fn start(conn: Connection) -> std::io::Result<Checkpointer> {
        // One nudge waiting is enough: the next run copies everything logged by then.
        let (nudge, nudged) = crossbeam_channel::bounded::<()>(1);
        let done = Arc::new(Done::default());
        let thread_done = Arc::clone(&done);
        let thread = std::thread::Builder::new().name("staffhome-checkpoint".into()).spawn(move || {
            for () in nudged {
                match checkpoint(&conn) {
                    Ok(copied) => thread_done.record(copied),
                    Err(error) => tracing::warn!(%error, "checkpoint failed; the next one retries"),
                }
            }
        })?;
        Ok(Checkpointer { writes: AtomicUsize::new(0), nudge: Some(nudge), thread: Some(thread), done })
    }

    /// The writer committed `writes` more writes.
    pub fn wrote(&self, writes: usize) {
        let before = self.writes.fetch_add(writes, Ordering::Relaxed);
        if (before + writes) / EVERY_WRITES > before / EVERY_WRITES {
            if let Some(nudge) = &self.nudge {
                match nudge.try_send(()) {
                    Ok(()) | Err(TrySendError::Full(())) => {}
                    Err(TrySendError::Disconnected(())) => tracing::warn!("the checkpoint thread is gone"),
                }
            }
        }
    }

    /// Wait until at least `runs` checkpoints have ended, or `timeout` passed.
    #[cfg(test)]
    pub fn wait_for_runs(&self, runs: u64, timeout: std::time::Duration) -> Stats {
        let state = lock(&self.done.state);
        let (state, _) = self
            .done
            .changed
            .wait_timeout_while(state, timeout, |stats| stats.runs < runs)
            .unwrap_or_else(|e| e.into_inner());
        *state
    }
}

impl Done {
    fn record(&self, copied: i64) {
        let mut state = lock(&self.state);
        state.runs += 1;
        state.last_copied = copied;
        drop(state);
        self.changed.notify_all();
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        // Closing the channel ends the thread's loop after any run in progress.
        self.nudge = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One PASSIVE checkpoint: copies what no reader still needs; returns the frames copied.
fn checkpoint(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| row.get(2))
}
