//! Records of read-only answers, kept in memory until written in bulk.
//!
//! A question that changes nothing (空闲, 我的, 帮助…) still leaves a record: the reply a
//! WeCom retry must get, and the member's first contact / last-seen time. Writing that record
//! before answering cost two thirds of a read's time, all of it serialised on the single
//! writer; here it is answered from memory at once and written with others in one
//! transaction just after. Should the process die in between, a retry of such a question is
//! answered afresh, which is harmless: it had no effect to repeat.

use crate::wecom::Reply;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

/// One callback's record, as `processed_callbacks` will hold it.
#[derive(Debug, Clone)]
pub struct Record {
    pub dedupe_key: String,
    pub userid: String,
    pub kind: &'static str,
    pub reply: Reply,
    pub at: i64,
}

#[derive(Default)]
pub struct PendingRecords {
    state: Mutex<State>,
    /// Held for a whole flush, so that a flush returns only when everything added before it
    /// is written (tests and shutdown rely on that).
    flushing: Mutex<()>,
}

#[derive(Default)]
struct State {
    /// Replies not yet written, by dedupe key (queued or being written).
    replies: HashMap<String, Reply>,
    queue: Vec<Record>,
    flush_scheduled: bool,
}

/// What became of a record offered with `add`.
#[derive(Debug, PartialEq, Eq)]
pub enum Added {
    /// Kept; the caller should start a flush (none is scheduled yet).
    StartFlush,
    /// Kept; a flush already scheduled will write it.
    Queued,
    /// A delivery of the same callback got here first: answer with its reply.
    Duplicate(Reply),
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl PendingRecords {
    /// The unwritten reply to this callback, if a delivery of it was answered.
    pub fn reply_for(&self, dedupe_key: &str) -> Option<Reply> {
        lock(&self.state).replies.get(dedupe_key).cloned()
    }

    pub fn add(&self, record: Record) -> Added {
        let mut state = lock(&self.state);
        if let Some(reply) = state.replies.get(&record.dedupe_key) {
            return Added::Duplicate(reply.clone());
        }
        state.replies.insert(record.dedupe_key.clone(), record.reply.clone());
        state.queue.push(record);
        if std::mem::replace(&mut state.flush_scheduled, true) {
            Added::Queued
        } else {
            Added::StartFlush
        }
    }

    /// Write everything queued with `write` (one transaction); the replies stay answerable
    /// from memory until it has committed. Returns how many records were written.
    pub fn flush<E>(&self, write: impl FnOnce(&[Record]) -> Result<(), E>) -> Result<usize, E> {
        let _one_at_a_time = lock(&self.flushing);
        let records = {
            let mut state = lock(&self.state);
            state.flush_scheduled = false;
            std::mem::take(&mut state.queue)
        };
        if records.is_empty() {
            return Ok(0);
        }
        let written = write(&records);
        let mut state = lock(&self.state);
        match written {
            Ok(()) => {
                for record in &records {
                    state.replies.remove(&record.dedupe_key);
                }
                Ok(records.len())
            }
            Err(error) => {
                // Kept for the next flush (the next read-only answer or shutdown starts one).
                let newer = std::mem::replace(&mut state.queue, records);
                state.queue.extend(newer);
                Err(error)
            }
        }
    }

    /// How many records wait to be written.
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

    fn record(key: &str, text: &str) -> Record {
        Record { dedupe_key: key.into(), userid: "u".into(), kind: "text", reply: Reply::Text(text.into()), at: 0 }
    }

    #[test]
    fn the_first_delivery_wins_and_one_flush_is_started() {
        let pending = PendingRecords::default();
        assert_eq!(pending.add(record("a", "first")), Added::StartFlush);
        assert_eq!(pending.add(record("b", "other")), Added::Queued);
        assert_eq!(pending.add(record("a", "second")), Added::Duplicate(Reply::Text("first".into())));
        assert_eq!(pending.len(), 2);
    }

    #[test]
    fn replies_stay_answerable_until_written() {
        let pending = PendingRecords::default();
        pending.add(record("a", "first"));
        let flushed = pending.flush(|records| {
            assert_eq!(records.len(), 1);
            // Mid-write, a retry still finds the reply.
            assert_eq!(pending.reply_for("a"), Some(Reply::Text("first".into())));
            Ok::<(), ()>(())
        });
        assert_eq!(flushed, Ok(1));
        assert_eq!(pending.reply_for("a"), None);
        assert_eq!(pending.add(record("c", "x")), Added::StartFlush, "a new flush is needed");
    }

    #[test]
    fn a_failed_flush_keeps_the_records_in_order() {
        let pending = PendingRecords::default();
        pending.add(record("a", "1"));
        assert_eq!(pending.flush(|_| Err("disk full")), Err("disk full"));
        pending.add(record("b", "2"));
        let mut keys = Vec::new();
        pending
            .flush(|records| {
                keys = records.iter().map(|r| r.dedupe_key.clone()).collect();
                Ok::<(), ()>(())
            })
            .unwrap();
        assert_eq!(keys, ["a", "b"]);
        assert!(pending.is_empty());
    }
}
