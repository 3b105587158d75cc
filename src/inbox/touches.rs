//! Members' first contact and last-seen times from read-only questions, written in bulk.
//!
//! A question is answered from a reader without waiting for the single writer; the member's
//! row (created on first contact, last-seen refreshed at most once a minute) is queued here
//! and written with others in one transaction just after. Should the process die in between,
//! the member is recorded at their next message.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

#[derive(Default)]
pub struct PendingTouches {
    state: Mutex<State>,
    /// Held for a whole flush, so that a flush returns only when everything queued before
    /// it is written (shutdown and tests rely on that).
    flushing: Mutex<()>,
}

#[derive(Default)]
struct State {
    /// Member → the latest time seen.
    queue: HashMap<String, i64>,
    flush_scheduled: bool,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl PendingTouches {
    /// Queue a member's contact at `at`; true when the caller should start a flush.
    pub fn add(&self, userid: &str, at: i64) -> bool {
        let mut state = lock(&self.state);
        let seen = state.queue.entry(userid.to_string()).or_insert(at);
        *seen = (*seen).max(at);
        !std::mem::replace(&mut state.flush_scheduled, true)
    }

    /// Write everything queued with `write` (one transaction); returns how many members.
    /// On failure the touches are queued again for the next flush.
    pub fn flush<E>(&self, write: impl FnOnce(&[(String, i64)]) -> Result<(), E>) -> Result<usize, E> {
        let _one_at_a_time = lock(&self.flushing);
        let touches: Vec<(String, i64)> = {
            let mut state = lock(&self.state);
            state.flush_scheduled = false;
            state.queue.drain().collect()
        };
        if touches.is_empty() {
            return Ok(0);
        }
        match write(&touches) {
            Ok(()) => Ok(touches.len()),
            Err(error) => {
                let mut state = lock(&self.state);
                for (user, at) in touches {
                    let seen = state.queue.entry(user).or_insert(at);
                    *seen = (*seen).max(at);
                }
                Err(error)
            }
        }
    }

    pub fn len(&self) -> usize {
        lock(&self.state).queue.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_flush_is_started_and_a_member_is_written_once_with_the_latest_time() {
        let touches = PendingTouches::default();
        assert!(touches.add("a", 10));
        assert!(!touches.add("a", 20));
        assert!(!touches.add("b", 15));
        let mut written = Vec::new();
        let count = touches
            .flush(|t| {
                written = t.to_vec();
                Ok::<(), ()>(())
            })
            .unwrap();
        written.sort();
        assert_eq!((count, written), (2, vec![("a".to_string(), 20), ("b".to_string(), 15)]));
        assert!(touches.add("c", 30), "a new flush is needed");
    }

    #[test]
    fn a_failed_flush_keeps_the_touches() {
        let touches = PendingTouches::default();
        touches.add("a", 10);
        assert_eq!(touches.flush(|_| Err("disk full")), Err("disk full"));
        assert_eq!(touches.len(), 1);
        assert!(touches.add("b", 11), "the failed flush is no longer scheduled");
        assert_eq!(touches.flush(|_| Ok::<(), ()>(())), Ok(2));
        assert!(touches.is_empty());
    }
}
