//! Answers to read-only questions, remembered for WeCom's retries.
//!
//! A question that changes nothing (空闲, 我的, 帮助…) needs no durable record: a retry of
//! it has no effect to repeat. WeCom retries within seconds of a delivery it thinks failed,
//! so the replies of the last minutes are kept here and a retry gets the first reply. After a
//! restart, or once an answer has aged out, a retry is answered afresh; which is harmless.
//! (Commands with effects keep their durable record in `processed_callbacks`.)

use crate::sync::lock;
use crate::wecom::Reply;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

/// Long past WeCom's retries (three, each after a 5-second timeout).
const KEEP_SECONDS: i64 = 300;
/// Memory for remembered answers, whatever the load: thousands of answers (a free-slot
/// overview is about 1 KiB, a refusal a few hundred bytes), i.e. many minutes at the peak of a
/// large company, about a second under a saturating benchmark.
const KEEP_BYTES: usize = 8 << 20;
/// Bookkeeping per answer besides its text (map and queue entries).
const OVERHEAD_BYTES: usize = 96;

#[derive(Default)]
pub struct RecentAnswers {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    replies: HashMap<String, Reply>,
    /// Dedupe keys oldest first, with when they were answered.
    order: VecDeque<(String, i64)>,
    bytes: usize,
}

fn size(key: &str, reply: &Reply) -> usize {
    let text = match reply {
        Reply::Text(text) | Reply::UpdateButton(text) => text.len(),
        Reply::Empty => 0,
    };
    2 * key.len() + text + OVERHEAD_BYTES
}

impl RecentAnswers {
    pub fn get(&self, dedupe_key: &str) -> Option<Reply> {
        lock(&self.state).replies.get(dedupe_key).cloned()
    }

    /// Remember `reply` as the answer to `dedupe_key`, unless a delivery of the same callback
    /// was answered first: then that reply is returned and kept.
    pub fn remember_first(&self, dedupe_key: &str, reply: &Reply, now: i64) -> Option<Reply> {
        let mut state = lock(&self.state);
        if let Some(earlier) = state.replies.get(dedupe_key) {
            return Some(earlier.clone());
        }
        let needed = size(dedupe_key, reply);
        while let Some((_, at)) = state.order.front() {
            if state.bytes + needed <= KEEP_BYTES && *at > now - KEEP_SECONDS {
                break;
            }
            if let Some((old, _)) = state.order.pop_front() {
                if let Some(gone) = state.replies.remove(&old) {
                    state.bytes -= size(&old, &gone);
                }
            }
        }
        state.bytes += needed;
        state.replies.insert(dedupe_key.to_string(), reply.clone());
        state.order.push_back((dedupe_key.to_string(), now));
        None
    }

    pub fn len(&self) -> usize {
        lock(&self.state).order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Reply {
        Reply::Text(s.into())
    }

    #[test]
    fn the_first_answer_is_kept_for_retries() {
        let recent = RecentAnswers::default();
        assert_eq!(recent.remember_first("a", &text("first"), 0), None);
        assert_eq!(recent.remember_first("a", &text("second"), 1), Some(text("first")));
        assert_eq!(recent.get("a"), Some(text("first")));
        assert_eq!(recent.get("b"), None);
    }

    #[test]
    fn old_answers_age_out_and_memory_stays_bounded() {
        let recent = RecentAnswers::default();
        recent.remember_first("old", &text("x"), 0);
        recent.remember_first("new", &text("y"), KEEP_SECONDS);
        assert_eq!(recent.get("old"), None, "aged out");
        assert_eq!(recent.get("new"), Some(text("y")));
        let kilobyte = text(&"x".repeat(1024));
        let fits = KEEP_BYTES / size("k00000", &kilobyte);
        for i in 0..fits + 10 {
            recent.remember_first(&format!("k{i:05}"), &kilobyte, KEEP_SECONDS);
        }
        assert_eq!(recent.len(), fits);
        assert!(lock(&recent.state).bytes <= KEEP_BYTES);
        assert_eq!(recent.get("k00000"), None, "the oldest made room");
        assert!(recent.get(&format!("k{:05}", fits + 9)).is_some());
    }
}
