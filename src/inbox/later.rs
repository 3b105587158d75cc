//! What a question's answer does not wait for, written together: the members seen (a first
//! contact, or a last-seen time at most once a minute) and the cards sent after answering.
//!
//! A question is answered without waiting for the writer. Each of these writes would be a
//! commit of its own; here what comes meanwhile waits in one place, and one queued write takes
//! all of it when the writer reaches it. (A crash in that moment loses a card, never an answer:
//! the card repeats what the answer said.)

use crate::notify::Message;
use crate::store::Store;
use crate::sync::lock;
use crate::users;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Default)]
pub struct Later {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Member → the latest time seen.
    seen: HashMap<String, i64>,
    /// Messages to queue, with when they were worked out.
    messages: Vec<(Message, i64)>,
    /// A write that will take all of it is queued.
    queued: bool,
}

impl Later {
    /// Record that `user` was seen at `at`: queued for the writer, not waited for.
    pub fn seen(self: &Arc<Self>, store: &Store, user: &str, at: i64) {
        self.add(store, |state| {
            let latest = state.seen.entry(user.to_string()).or_insert(at);
            *latest = (*latest).max(at);
        });
    }

    /// Queue `messages` in the outbox (once per key): not waited for. A card still waiting here
    /// that one of them replaces (the member asked again meanwhile) is dropped.
    pub fn send(self: &Arc<Self>, store: &Store, messages: Vec<Message>, at: i64) {
        self.add(store, |state| {
            for message in messages {
                if message.replaces.is_some() {
                    state.messages.retain(|(m, _)| m.to != message.to || m.replaces != message.replaces);
                }
                state.messages.push((message, at));
            }
        });
    }

    fn add(self: &Arc<Self>, store: &Store, change: impl FnOnce(&mut State)) {
        let queue_a_write = {
            let mut state = lock(&self.state);
            change(&mut state);
            !std::mem::replace(&mut state.queued, true)
        };
        if queue_a_write {
            let later = Arc::clone(self);
            drop(store.write(move |tx| {
                let (seen, messages) = {
                    let mut state = lock(&later.state);
                    state.queued = false;
                    (std::mem::take(&mut state.seen), std::mem::take(&mut state.messages))
                };
                for (user, at) in &seen {
                    users::touch(tx, user, *at)?;
                }
                for (message, at) in messages {
                    let key = message.key.clone();
                    if let Err(error) = message.queue(tx, at) {
                        tracing::error!(error = %error, key = %key, "a card could not be queued");
                    }
                }
                Ok::<(), rusqlite::Error>(())
            }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;

    /// A write that holds the writer until the barrier is passed: writes queued meanwhile wait.
    fn keep_the_writer_busy(store: &Store) -> (crate::store::Pending<(), rusqlite::Error>, Arc<Barrier>) {
        let (started, release) = (Arc::new(Barrier::new(2)), Arc::new(Barrier::new(2)));
        let (s, r) = (Arc::clone(&started), Arc::clone(&release));
        let busy = store.write(move |_| {
            s.wait();
            r.wait();
            Ok::<(), rusqlite::Error>(())
        });
        started.wait();
        (busy, release)
    }

    #[tokio::test]
    async fn members_seen_meanwhile_are_written_by_one_write() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let touches = Arc::new(Later::default());
        // The writer is kept busy, so the members seen meanwhile wait for one write.
        let (busy, release) = keep_the_writer_busy(&store);
        for (user, at) in [("a", 10), ("b", 11), ("a", 12)] {
            touches.seen(&store, user, at);
        }
        let (waiting_members, waiting_writes) = (lock(&touches.state).seen.len(), store.writes_waiting());
        release.wait();
        assert_eq!(waiting_members, 2, "waiting together");
        assert_eq!(waiting_writes, 1, "for one write");
        busy.await.unwrap();
        // FIFO: this write runs after the one that took the members.
        let rows: Vec<(String, i64)> = store
            .write(|tx| {
                let mut stmt = tx.prepare("SELECT userid, last_seen_at FROM users ORDER BY userid")?;
                let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await
            .unwrap();
        assert_eq!(rows, vec![("a".to_string(), 12), ("b".to_string(), 11)], "each once, at the latest time");
        assert!(lock(&touches.state).seen.is_empty());
    }

    #[tokio::test]
    async fn a_card_still_waiting_here_gives_way_to_the_members_next_one() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("t.db")).unwrap();
        let later = Arc::new(Later::default());
        let (busy, release) = keep_the_writer_busy(&store);
        let card = |key: &str, to: &str| Message {
            key: key.to_string(),
            to: to.to_string(),
            body: serde_json::json!({"msgtype": "template_card", "template_card": {}}),
            replaces: Some("choices".to_string()),
        };
        later.send(&store, vec![card("a1", "a"), card("b1", "b")], 10);
        later.send(&store, vec![card("a2", "a")], 11);
        release.wait();
        busy.await.unwrap();
        let keys: Vec<String> = store
            .write(|tx| {
                let mut stmt = tx.prepare("SELECT dedupe_key FROM outbox ORDER BY id")?;
                let rows = stmt.query_map([], |r| r.get(0))?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await
            .unwrap();
        assert_eq!(keys, ["b1", "a2"], "a's first card never queued; b's kept");
    }
}
