//! The durable outbox: every message to send is a row written in the same transaction as
//! the change that causes it, with a dedupe key so the same notice is never queued twice.

pub mod budget;
mod claim;
mod send;
pub mod worker;

use crate::store::Store;
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{json, Value};

/// Who a message goes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    User(String),
    /// Everyone in the app's visible range (`@all`).
    All,
    /// Departments by id ('|'-joined in the API).
    Parties(Vec<String>),
    /// A group robot of `[[robots]]`, by name.
    Robot(String),
}

impl Recipient {
    pub fn encode(&self) -> String {
        match self {
            Recipient::User(user) => user.clone(),
            Recipient::All => "@all".into(),
            Recipient::Parties(parties) => format!("party:{}", parties.join("|")),
            Recipient::Robot(name) => format!("robot:{name}"),
        }
    }

    pub fn decode(stored: &str) -> Recipient {
        if stored == "@all" {
            Recipient::All
        } else if let Some(name) = stored.strip_prefix("robot:") {
            Recipient::Robot(name.to_string())
        } else if let Some(parties) = stored.strip_prefix("party:") {
            Recipient::Parties(parties.split('|').map(str::to_string).collect())
        } else {
            Recipient::User(stored.to_string())
        }
    }
}

/// How a message weighs: formal notices always go at once; light ones (reminders, an
/// approver's card) wait for the member's quiet hours; replies (to what the member just did or
/// asked) go at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Weight {
    Formal,
    Light,
    Reply,
}

/// One message to queue.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// Unique per logical notice, e.g. `promote:12` or `confirm:12`.
    pub dedupe_key: String,
    pub recipient: Recipient,
    pub weight: Weight,
    /// The message/send body without `touser`/`agentid` (`msgtype` + its object).
    pub body: Value,
}

impl Outgoing {
    pub fn text(dedupe_key: impl Into<String>, user: &str, weight: Weight, content: &str) -> Outgoing {
        Outgoing::to_user(dedupe_key, user, weight, json!({"msgtype": "text", "text": {"content": content}}))
    }

    /// Any message body to one member.
    pub fn to_user(dedupe_key: impl Into<String>, user: &str, weight: Weight, body: Value) -> Outgoing {
        Outgoing { dedupe_key: dedupe_key.into(), recipient: Recipient::User(user.to_string()), weight, body }
    }

    fn kind(&self) -> &str {
        self.body["msgtype"].as_str().unwrap_or("unknown")
    }
}

/// Queue a message; false when a message with the same dedupe key was already queued.
pub fn enqueue(tx: &Connection, message: &Outgoing, now: i64) -> rusqlite::Result<bool> {
    insert(tx, message, Order::Any, now)
}

/// Queue a message that is sent only after every earlier message of `sequence` (a booking's
/// calendar entry: its delete never overtakes its add).
pub fn enqueue_in_sequence(tx: &Connection, message: &Outgoing, sequence: &str, now: i64) -> rusqlite::Result<bool> {
    insert(tx, message, Order::Sequence(sequence), now)
}

/// Queue a card showing `replaces` (e.g. `choices`: the free slots of a day asked): while it
/// waits, the member's earlier card of the same that has not gone yet is not sent (a member who
/// asks again before a card arrives gets the card of the newer question only; see `claim`).
pub fn enqueue_replacing(tx: &Connection, message: &Outgoing, replaces: &str, now: i64) -> rusqlite::Result<bool> {
    insert(tx, message, Order::Replacing(replaces), now)
}

/// What a row waits for or takes the place of.
enum Order<'a> {
    Any,
    Sequence(&'a str),
    Replacing(&'a str),
}

fn insert(tx: &Connection, message: &Outgoing, order: Order, now: i64) -> rusqlite::Result<bool> {
    let payload = message.body.to_string();
    let (sequence, replaces) = match order {
        Order::Any => (None, None),
        Order::Sequence(sequence) => (Some(sequence), None),
        Order::Replacing(replaces) => (None, Some(replaces)),
    };
    let inserted = crate::store::execute(
        tx,
        "INSERT INTO outbox (dedupe_key, recipient, kind, formal, payload, next_attempt_at, created_at, sequence_key,
                             waits_for_quiet, replaces)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?8, ?9)
         ON CONFLICT (dedupe_key) DO NOTHING",
        params![
            message.dedupe_key,
            message.recipient.encode(),
            message.kind(),
            message.weight == Weight::Formal,
            payload,
            now,
            sequence,
            message.weight == Weight::Light,
            replaces
        ],
    )?;
    Ok(inserted == 1)
}

/// Messages waiting (the queue's depth) and given up on (kept `database.keep_days`), for
/// /metrics: each a count over the `outbox_due` index, never a scan of what was delivered.
pub fn counts_by_state(store: &Store) -> rusqlite::Result<Vec<(String, i64)>> {
    store.read(|conn| {
        let mut stmt = conn.prepare_cached("SELECT count(*) FROM outbox WHERE state = ?1")?;
        ["pending", "failed"]
            .iter()
            .map(|state| Ok((state.to_string(), stmt.query_row([state], |row| row.get(0))?)))
            .collect()
    })
}

/// A queued message as stored (tests and the demo read these).
#[derive(Debug, Clone)]
pub struct QueuedMessage {
    pub id: i64,
    pub dedupe_key: String,
    pub recipient: String,
    pub state: String,
    pub body: Value,
}

/// Messages queued for `recipient`, oldest first.
pub fn queued_for(conn: &Connection, recipient: &str) -> rusqlite::Result<Vec<QueuedMessage>> {
    let mut stmt =
        conn.prepare("SELECT id, dedupe_key, recipient, state, payload FROM outbox WHERE recipient = ?1 ORDER BY id")?;
    let rows = stmt.query_map([recipient], |row| {
        let payload: String = row.get(4)?;
        Ok(QueuedMessage {
            id: row.get(0)?,
            dedupe_key: row.get(1)?,
            recipient: row.get(2)?,
            state: row.get(3)?,
            body: serde_json::from_str(&payload).unwrap_or(Value::Null),
        })
    })?;
    rows.collect()
}

/// The message a dedupe key queued, if any.
pub fn find(conn: &Connection, dedupe_key: &str) -> rusqlite::Result<Option<i64>> {
    crate::store::query_row(conn, "SELECT id FROM outbox WHERE dedupe_key = ?1", [dedupe_key], |row| row.get(0))
        .optional()
}
