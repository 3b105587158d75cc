//! Facts learnt while answering from a reader, written in bulk just after.
//!
//! A question (or a booking whose slot the snapshot already shows full) is answered without
//! waiting for the single writer. What it leaves to record: the member's row (created on first
//! contact, last-seen refreshed at most once a minute) and, for a full slot, the refused demand, is
//! queued here and written with others in one transaction just after. Should the process die
//! in between, the member is recorded at their next message and a few demand counts are lost.

use crate::booking::service::Demand;
use crate::sync::lock;
use std::collections::HashMap;
use std::sync::Mutex;

/// What one flush writes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Facts {
    /// Member → the latest time seen.
    pub touches: HashMap<String, i64>,
    pub demand: Vec<Demand>,
}

impl Facts {
    fn is_empty(&self) -> bool {
        self.touches.is_empty() && self.demand.is_empty()
    }

    fn len(&self) -> usize {
        self.touches.len() + self.demand.len()
    }

    fn touch(&mut self, userid: &str, at: i64) {
        let seen = self.touches.entry(userid.to_string()).or_insert(at);
        *seen = (*seen).max(at);
    }

    fn absorb(&mut self, newer: Facts) {
        for (user, at) in newer.touches {
            self.touch(&user, at);
        }
        self.demand.extend(newer.demand);
    }
}

#[derive(Default)]
pub struct PendingFacts {
    state: Mutex<State>,
    /// Held for a whole flush, so that a flush returns only when everything queued before
    /// it is written (shutdown and tests rely on that).
    flushing: Mutex<()>,
}

#[derive(Default)]
struct State {
    queue: Facts,
    flush_scheduled: bool,
}

impl PendingFacts {
    /// Queue a member's contact at `at`; true when the caller should start a flush.
    pub fn touch(&self, userid: &str, at: i64) -> bool {
        self.queue(|facts| facts.touch(userid, at))
    }

    /// Queue a refused demand; true when the caller should start a flush.
    pub fn demand(&self, demand: Demand) -> bool {
        self.queue(|facts| facts.demand.push(demand))
    }

    fn queue(&self, add: impl FnOnce(&mut Facts)) -> bool {
        let mut state = lock(&self.state);
        add(&mut state.queue);
        !std::mem::replace(&mut state.flush_scheduled, true)
    }

    /// Write everything queued with `write` (one transaction); returns how many facts.
    /// On failure they are queued again (before newer ones) for the next flush.
    pub fn flush<E>(&self, write: impl FnOnce(&Facts) -> Result<(), E>) -> Result<usize, E> {
        let _one_at_a_time = lock(&self.flushing);
        let facts = {
            let mut state = lock(&self.state);
            state.flush_scheduled = false;
            std::mem::take(&mut state.queue)
        };
        if facts.is_empty() {
            return Ok(0);
        }
        match write(&facts) {
            Ok(()) => Ok(facts.len()),
            Err(error) => {
                let mut state = lock(&self.state);
                let newer = std::mem::replace(&mut state.queue, facts);
                state.queue.absorb(newer);
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

    fn demand(slot: u32) -> Demand {
        let date = chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        Demand { kind: "refused_full", user: "a".into(), facility: "gym".into(), date, slot, at: 0 }
    }

    #[test]
    fn one_flush_is_started_and_a_member_is_written_once_with_the_latest_time() {
        let pending = PendingFacts::default();
        assert!(pending.touch("a", 10));
        assert!(!pending.touch("a", 20));
        assert!(!pending.touch("b", 15));
        assert!(!pending.demand(demand(9)));
        let mut written = Facts::default();
        let count = pending
            .flush(|facts| {
                written.absorb(Facts { touches: facts.touches.clone(), demand: facts.demand.clone() });
                Ok::<(), ()>(())
            })
            .unwrap();
        assert_eq!(count, 3);
        assert_eq!(written.touches, HashMap::from([("a".to_string(), 20), ("b".to_string(), 15)]));
        assert_eq!(written.demand, vec![demand(9)]);
        assert!(pending.touch("c", 30), "a new flush is needed");
    }

    #[test]
    fn a_failed_flush_keeps_the_facts_in_order() {
        let pending = PendingFacts::default();
        pending.demand(demand(1));
        assert_eq!(pending.flush(|_| Err("disk full")), Err("disk full"));
        assert!(pending.demand(demand(2)), "the failed flush is no longer scheduled");
        let mut slots = Vec::new();
        pending
            .flush(|facts| {
                slots = facts.demand.iter().map(|d| d.slot).collect();
                Ok::<(), ()>(())
            })
            .unwrap();
        assert_eq!(slots, [1, 2]);
        assert!(pending.is_empty());
    }
}
