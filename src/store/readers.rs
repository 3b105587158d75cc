//! A fixed pool of reader connections, each keeping its compiled statements. A reader that
//! finds them all busy waits for one rather than opening another (a fresh connection compiles
//! every statement anew).

use crate::sync::lock;
use rusqlite::Connection;
use std::sync::{Condvar, Mutex};

pub struct Readers {
    idle: Mutex<Vec<Connection>>,
    returned: Condvar,
}

impl Readers {
    pub fn new(connections: Vec<Connection>) -> Readers {
        Readers { idle: Mutex::new(connections), returned: Condvar::new() }
    }

    /// Run `f` on the next free reader.
    pub fn with<T>(&self, f: impl FnOnce(&Connection) -> T) -> T {
        let mut idle = lock(&self.idle);
        let conn = loop {
            match idle.pop() {
                Some(conn) => break conn,
                None => idle = self.returned.wait(idle).unwrap_or_else(|e| e.into_inner()),
            }
        };
        drop(idle);
        let lent = Lent { readers: self, conn: Some(conn) };
        f(lent.conn.as_ref().expect("lent until dropped"))
    }
}

/// A reader on loan; back to the pool when dropped, even if its user panicked.
struct Lent<'a> {
    readers: &'a Readers,
    conn: Option<Connection>,
}

impl Drop for Lent<'_> {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        // A user that failed (or panicked) inside a read transaction must not hand it on.
        if !conn.is_autocommit() && conn.execute_batch("ROLLBACK").is_err() {
            return; // dropped: the pool is one short, but never hands out a broken connection
        }
        lock(&self.readers.idle).push(conn);
        self.readers.returned.notify_one();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn busy_readers_are_waited_for_and_a_panic_returns_its_reader_clean() {
        let readers = Arc::new(Readers::new(vec![Connection::open_in_memory().unwrap()]));
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            readers.with(|conn| {
                conn.execute_batch("BEGIN").unwrap();
                panic!("bug while reading");
            })
        }));
        assert!(panicked.is_err());
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let readers = Arc::clone(&readers);
                std::thread::spawn(move || readers.with(|conn| conn.is_autocommit()))
            })
            .collect();
        for thread in threads {
            assert!(thread.join().unwrap(), "the reader came back outside any transaction");
        }
    }
}
