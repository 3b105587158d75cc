//! Delivering the outbox: due rows go to WeCom, up to [`IN_FLIGHT`] recipients at once (one
//! while the service is busy answering: answers come first), each recipient's rows one after
//! another in the order queued (so a call that stalls holds up only its own recipient); transient failures retry with capped exponential backoff and jitter;
//! permanent ones are marked failed with the reason.
//!
//! Delivery is at least once: a crash after WeCom accepted a message but before the row is
//! marked done sends it again on restart, at most once more, and WeCom drops that resend
//! because notices carry `enable_duplicate_check`.

use super::claim::{claim, Claim};
use super::send::{describe, schedule_change, send, Mark, Marked, Stored};
use super::Recipient;
use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::wecom::api::WeComApi;
use rand::Rng;
use rusqlite::params;
use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

/// WeCom silently drops more than this per member per app.
pub const PER_USER_PER_MINUTE: i64 = 30;
pub const PER_USER_PER_HOUR: i64 = 1000;
const BATCH: i64 = 200;
/// Recipients sent to at once.
pub const IN_FLIGHT: usize = 16;
/// Callbacks being answered, or writes waiting for the store's writer, beyond which the
/// service is busy: then messages go out one recipient at a time, and answers come first.
const BUSY: usize = 4;

/// How many recipients to send to at once now.
fn room(ctx: &impl Courier) -> usize {
    if ctx.answering() > BUSY || ctx.store().writes_waiting() > BUSY {
        1
    } else {
        IN_FLIGHT
    }
}
const MAX_BACKOFF_SECONDS: i64 = 600;
/// Transient failures for ~a day (at the 10-minute cap) before a row is given up on.
const MAX_ATTEMPTS: i64 = 150;

/// What delivering uses (the application provides it).
pub trait Courier: Send + Sync + 'static {
    fn store(&self) -> &Store;
    fn api(&self) -> &WeComApi;
    fn clock(&self) -> &dyn Clock;
    fn metrics(&self) -> &Metrics;
    /// App messages a day (`wecom.daily_message_budget`; 0: none watched), and who is told
    /// when 80 % of it is reached.
    fn budget(&self) -> (u64, &[String]) {
        (0, &[])
    }
    /// The zone members' quiet hours are in (the service's).
    fn zone(&self) -> chrono_tz::Tz {
        chrono_tz::UTC
    }
    /// The address of the group robot `name` of `[[robots]]`.
    fn robot_url(&self, _name: &str) -> Option<String> {
        None
    }
    /// Callbacks being answered now (0 where there are none, as in `staffhome tick`).
    fn answering(&self) -> usize {
        0
    }
}

/// What one pass of the worker did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Delivered {
    pub sent: u32,
    pub retried: u32,
    pub failed: u32,
    /// Held back to respect the per-member rate limit.
    pub deferred: u32,
}

impl Delivered {
    pub fn is_idle(&self) -> bool {
        *self == Delivered::default()
    }
}

pub(super) struct Row {
    pub id: i64,
    pub dedupe_key: String,
    pub recipient: String,
    /// The message's `msgtype` (its body is read when the row is claimed: a pass reads up to
    /// [`BATCH`] rows, and parsing every body at every pass cost more than sending).
    pub kind: String,
    pub attempts: i64,
    /// Sent only after the earlier messages of this sequence.
    pub sequence: Option<String>,
    /// A light notice: it waits for the end of its member's quiet hours.
    pub waits_for_quiet: bool,
    /// A formal notice: it goes even past the day's budget.
    pub formal: bool,
    /// What the card shows, when a newer card of the same to its member replaces it.
    pub replaces: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("blocking task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

pub(super) async fn write<T: Send + 'static>(
    ctx: &impl Courier,
    f: impl FnOnce(&rusqlite::Connection) -> rusqlite::Result<T> + Send + 'static,
) -> Result<T, WorkerError> {
    Ok(ctx.store().write(f).await?)
}

/// Exponential backoff with jitter: 2, 4, 8 … seconds, capped at 10 minutes.
fn backoff_seconds(attempts: i64) -> i64 {
    let base = 2i64.saturating_pow(attempts.clamp(1, 20) as u32).min(MAX_BACKOFF_SECONDS);
    let jitter = rand::thread_rng().gen_range(0..=base / 4 + 1);
    (base + jitter).min(MAX_BACKOFF_SECONDS)
}

fn due_rows(ctx: &impl Courier, now: i64) -> rusqlite::Result<Vec<Row>> {
    ctx.store().read(|conn| {
        let mut stmt = conn.prepare_cached(
            "SELECT id, recipient, kind, attempts, dedupe_key, sequence_key, waits_for_quiet, formal, replaces FROM outbox
             WHERE state = 'pending' AND next_attempt_at <= ?1 AND (claimed_until IS NULL OR claimed_until <= ?1)
             ORDER BY next_attempt_at, id LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![now, BATCH], |row| {
            Ok(Row {
                id: row.get(0)?,
                recipient: row.get(1)?,
                kind: row.get(2)?,
                attempts: row.get(3)?,
                dedupe_key: row.get(4)?,
                sequence: row.get(5)?,
                waits_for_quiet: row.get(6)?,
                formal: row.get(7)?,
                replaces: row.get(8)?,
            })
        })?;
        rows.collect()
    })
}

/// The due rows (oldest first) of each recipient, recipients in the order of their oldest.
fn by_recipient(rows: Vec<Row>) -> Vec<Vec<Row>> {
    let mut groups: Vec<Vec<Row>> = Vec::new();
    let mut index: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    for row in rows {
        match index.get(&row.recipient) {
            Some(&i) => groups[i].push(row),
            None => {
                index.insert(row.recipient.clone(), groups.len());
                groups.push(vec![row]);
            }
        }
    }
    groups
}

async fn due(ctx: &Arc<impl Courier>, now: i64) -> Result<Vec<Row>, WorkerError> {
    let ctx = Arc::clone(ctx);
    Ok(tokio::task::spawn_blocking(move || due_rows(&*ctx, now)).await??)
}

/// One pass: deliver what is due now, [`IN_FLIGHT`] recipients at once. Tests call this
/// directly instead of sleeping.
pub async fn deliver_due<C: Courier>(ctx: &Arc<C>) -> Result<Delivered, WorkerError> {
    let now = ctx.clock().now().timestamp();
    let mut groups = by_recipient(due(ctx, now).await?).into_iter();
    let mut tasks = tokio::task::JoinSet::new();
    let mut done = Delivered::default();
    loop {
        while tasks.len() < room(&**ctx) {
            let Some(group) = groups.next() else { break };
            let ctx = Arc::clone(ctx);
            tasks.spawn(async move { deliver_to(&ctx, group, now).await });
        }
        let Some(finished) = tasks.join_next().await else { return Ok(done) };
        done.add(finished??);
    }
}

/// The worker loop of `serve`: up to [`IN_FLIGHT`] recipients at once; as soon as one is
/// done, the next due recipient starts (a stalled call holds up only its own recipient).
pub async fn run<C: Courier>(ctx: Arc<C>) -> Result<(), WorkerError> {
    let mut tasks = tokio::task::JoinSet::new();
    let mut busy: HashSet<String> = HashSet::new();
    // Recipients read and not yet started: the due rows are read again only once these are
    // started (sending one at a time, a read per message cost more than the message).
    let mut waiting: VecDeque<Vec<Row>> = VecDeque::new();
    loop {
        if tasks.len() < room(&*ctx) && waiting.is_empty() {
            let now = ctx.clock().now().timestamp();
            match due(&ctx, now).await {
                Ok(rows) => waiting.extend(by_recipient(rows)),
                Err(error) => tracing::error!(error = %error, "outbox read failed; retrying"),
            }
        }
        while tasks.len() < room(&*ctx) {
            let Some(group) = waiting.pop_front() else { break };
            let recipient = group[0].recipient.clone();
            // Still sending to them (read before): their rows are read again later.
            if !busy.insert(recipient.clone()) {
                continue;
            }
            let (ctx, now) = (Arc::clone(&ctx), ctx.clock().now().timestamp());
            tasks.spawn(async move { (recipient, deliver_to(&ctx, group, now).await) });
        }
        let pause = if tasks.is_empty() { 500 } else { 100 };
        tokio::select! {
            Some(finished) = tasks.join_next(), if !tasks.is_empty() => match finished {
                Ok((recipient, outcome)) => {
                    busy.remove(&recipient);
                    if let Err(error) = outcome {
                        tracing::error!(error = %error, "outbox delivery failed; retrying");
                    }
                }
                Err(error) => {
                    // A panicked task: its recipient's rows are claimed until the claim lapses.
                    tracing::error!(error = %error, "outbox task failed");
                    busy.clear();
                }
            },
            _ = tokio::time::sleep(std::time::Duration::from_millis(pause)) => {}
        }
    }
}

impl Delivered {
    fn add(&mut self, other: Delivered) {
        self.sent += other.sent;
        self.retried += other.retried;
        self.failed += other.failed;
        self.deferred += other.deferred;
    }
}

/// One recipient's due rows, in order.
async fn deliver_to(ctx: &Arc<impl Courier>, rows: Vec<Row>, now: i64) -> Result<Delivered, WorkerError> {
    let api = ctx.api();
    let mut done = Delivered::default();
    // The last sent row's outcome, written with the next claim (or alone at the end).
    let mut marked = None;
    for row in rows {
        let recipient = Recipient::decode(&row.recipient);
        let (payload, schedule_id) = match claim(&**ctx, &row, &recipient, now, marked.take()).await? {
            Claim::Claimed { payload, schedule_id } => (payload, schedule_id),
            Claim::Taken | Claim::Replaced => continue,
            Claim::Deferred => {
                done.deferred += 1;
                continue;
            }
            Claim::OverBudget => {
                ctx.metrics().deferred_for_budget.inc();
                done.deferred += 1;
                continue;
            }
        };
        let robot_url = match &recipient {
            Recipient::Robot(name) => ctx.robot_url(name),
            _ => None,
        };
        let stored = Stored { kind: &row.kind, payload: &payload };
        let result = send(api, &recipient, &stored, schedule_id.as_deref(), robot_url.as_deref()).await;
        let mark_as = match result {
            Ok(sent) => {
                ctx.metrics().outbox_sent.inc();
                done.sent += 1;
                let schedule = schedule_change(&stored, sent.schedule_id);
                Mark::Done { msgid: sent.msgid, response_code: sent.response_code, schedule }
            }
            Err(error) if error.is_transient() && row.attempts + 1 < MAX_ATTEMPTS => {
                tracing::warn!(outbox = row.id, error = %error, "delivery failed; will retry");
                ctx.metrics().outbox_retried.inc();
                done.retried += 1;
                Mark::Retry { error: error.to_string(), at: now + backoff_seconds(row.attempts + 1) }
            }
            Err(error) => {
                tracing::error!(outbox = row.id, error = %error, "delivery failed for good");
                if let Some(text) = stored.body()["fallback"].as_str() {
                    // A card update WeCom refused (response code spent or expired): say it in text.
                    queue_fallback(&**ctx, &row.dedupe_key, &row.recipient, text).await?;
                }
                ctx.metrics().outbox_failed.inc();
                done.failed += 1;
                Mark::Failed { error: describe(&error) }
            }
        };
        marked = Some(Marked { id: row.id, how: mark_as, at: ctx.clock().now().timestamp() });
    }
    if let Some(marked) = marked {
        write(&**ctx, move |tx| marked.write(tx)).await?;
    }
    Ok(done)
}

async fn queue_fallback(ctx: &impl Courier, key: &str, recipient: &str, text: &str) -> Result<(), WorkerError> {
    let (key, recipient, text) = (format!("{key}:fallback"), recipient.to_string(), text.to_string());
    let now = ctx.clock().now().timestamp();
    write(ctx, move |tx| {
        super::enqueue(tx, &super::Outgoing::text(&key, &recipient, super::Weight::Light, &text), now).map(|_| ())
    })
    .await
}
