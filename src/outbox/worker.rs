//! Delivering the outbox: due rows go to WeCom; transient failures retry with capped
//! exponential backoff and jitter; permanent ones are marked failed with the reason.
//!
//! Delivery is at least once: a crash after WeCom accepted a message but before the row is
//! marked done sends it again on restart, at most once more, and WeCom drops that resend
//! because notices carry `enable_duplicate_check`.

use super::Recipient;
use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::store::Store;
use crate::wecom::api::WeComApi;
use crate::wecom::api::{ApiError, Audience};
use rand::Rng;
use rusqlite::{params, OptionalExtension};
use serde_json::Value;

/// WeCom silently drops more than this per member per app.
pub const PER_USER_PER_MINUTE: i64 = 30;
pub const PER_USER_PER_HOUR: i64 = 1000;
const BATCH: i64 = 50;
const MAX_BACKOFF_SECONDS: i64 = 600;
/// Transient failures for ~a day (at the 10-minute cap) before a row is given up on.
const MAX_ATTEMPTS: i64 = 150;

/// What delivering uses (the application provides it).
pub trait Courier: Send + Sync + 'static {
    fn store(&self) -> &Store;
    fn api(&self) -> &WeComApi;
    fn clock(&self) -> &dyn Clock;
    fn metrics(&self) -> &Metrics;
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

struct Row {
    id: i64,
    dedupe_key: String,
    recipient: String,
    body: Value,
    attempts: i64,
    /// Sent only after the earlier messages of this sequence.
    sequence: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("blocking task failed: {0}")]
    Join(#[from] tokio::task::JoinError),
}

async fn write<T: Send + 'static>(
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
            "SELECT id, recipient, payload, attempts, dedupe_key, sequence_key FROM outbox
             WHERE state = 'pending' AND next_attempt_at <= ?1 AND (claimed_until IS NULL OR claimed_until <= ?1)
             ORDER BY next_attempt_at, id LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![now, BATCH], |row| {
            let payload: String = row.get(2)?;
            Ok(Row {
                id: row.get(0)?,
                recipient: row.get(1)?,
                body: serde_json::from_str(&payload).unwrap_or(Value::Null),
                attempts: row.get(3)?,
                dedupe_key: row.get(4)?,
                sequence: row.get(5)?,
            })
        })?;
        rows.collect()
    })
}

enum Claim {
    /// With, for a calendar entry's change or removal, the WeCom schedule it is of (read once
    /// the entries before it are marked).
    Claimed(Option<String>),
    /// Another worker (`tick` beside `serve`) is sending it.
    Taken,
    /// The member's rate limit holds it back.
    Deferred,
}

/// How long a claim holds before another worker may take the row (its worker died).
const CLAIM_SECONDS: i64 = 60;

/// Take the row for sending, unless another worker has it or the member's limit is reached
/// (then it waits until the limit allows). One write transaction, so two workers cannot both
/// take it. The previous row's outcome (`marked`) is written in the same write: one trip
/// through the writer per message instead of two, and nothing written later than before.
async fn claim(
    ctx: &impl Courier,
    row: &Row,
    recipient: &Recipient,
    now: i64,
    marked: Option<Marked>,
) -> Result<Claim, WorkerError> {
    // A calendar entry is not a message: WeCom's per-member message limit does not count it.
    let is_message = !row.body["msgtype"].as_str().is_some_and(|t| t.starts_with("schedule_"));
    let user = match recipient {
        Recipient::User(user) if is_message => Some(user.clone()),
        _ => None,
    };
    let (id, sequence) = (row.id, row.sequence.clone());
    let of_schedule = matches!(row.body["msgtype"].as_str(), Some("schedule_update" | "schedule_del"))
        .then(|| row.body["booking_id"].as_i64().unwrap_or_default());
    write(ctx, move |tx| {
        if let Some(marked) = &marked {
            marked.write(tx)?;
        }
        if let Some(until) = sequence.as_deref().map(|s| earlier_in_sequence(tx, s, id)).transpose()?.flatten() {
            crate::store::execute(tx, "UPDATE outbox SET next_attempt_at = ?2 WHERE id = ?1", params![id, until])?;
            return Ok(Claim::Deferred);
        }
        if let Some(until) = user.as_deref().map(|u| rate_limited_until(tx, u, now)).transpose()?.flatten() {
            crate::store::execute(tx, "UPDATE outbox SET next_attempt_at = ?2 WHERE id = ?1", params![id, until])?;
            return Ok(Claim::Deferred);
        }
        let taken = crate::store::execute(
            tx,
            "UPDATE outbox SET claimed_until = ?2 WHERE id = ?1 AND state = 'pending'
               AND (claimed_until IS NULL OR claimed_until <= ?3)",
            params![id, now + CLAIM_SECONDS, now],
        )?;
        if taken == 0 {
            return Ok(Claim::Taken);
        }
        let schedule_id = match of_schedule {
            Some(booking) => {
                crate::store::query_row(tx, "SELECT schedule_id FROM bookings WHERE id = ?1", [booking], |r| {
                    r.get::<_, Option<String>>(0)
                })
                .optional()?
                .flatten()
            }
            None => None,
        };
        Ok(Claim::Claimed(schedule_id))
    })
    .await
}

/// When an earlier message of `sequence` than `id` is still to be sent: not before it is due.
fn earlier_in_sequence(tx: &rusqlite::Connection, sequence: &str, id: i64) -> rusqlite::Result<Option<i64>> {
    crate::store::query_row(
        tx,
        "SELECT max(next_attempt_at) FROM outbox WHERE sequence_key = ?1 AND id < ?2 AND state = 'pending'",
        params![sequence, id],
        |row| row.get(0),
    )
}

/// When a member may next receive a message (None = now), from what was sent to them in
/// the last minute and hour.
fn rate_limited_until(conn: &rusqlite::Connection, user: &str, now: i64) -> rusqlite::Result<Option<i64>> {
    let window = |seconds: i64, limit: i64| -> rusqlite::Result<Option<i64>> {
        let (count, oldest): (i64, Option<i64>) =
            crate::store::query_row(conn, SENT_TO_RECENTLY, params![user, now - seconds, limit], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })?;
        Ok((count >= limit).then(|| oldest.unwrap_or(now) + seconds))
    };
    Ok(window(60, PER_USER_PER_MINUTE)?.max(window(3600, PER_USER_PER_HOUR)?))
}

/// How many messages went to a member since a time (up to a limit), and the oldest of them;
/// a range of the `outbox_sent_to` index.
const SENT_TO_RECENTLY: &str = "SELECT count(*), min(sent_at) FROM (SELECT sent_at FROM outbox
     WHERE recipient = ?1 AND sent_at > ?2 ORDER BY sent_at DESC LIMIT ?3)";

/// One pass: deliver what is due now. Tests call this directly instead of sleeping.
pub async fn deliver_due(ctx: &std::sync::Arc<impl Courier>) -> Result<Delivered, WorkerError> {
    let api = ctx.api();
    let now = ctx.clock().now().timestamp();
    let rows = {
        let ctx = std::sync::Arc::clone(ctx);
        tokio::task::spawn_blocking(move || due_rows(&*ctx, now)).await??
    };
    let mut done = Delivered::default();
    // The last sent row's outcome, written with the next claim (or alone at the end).
    let mut marked = None;
    for row in rows {
        let recipient = Recipient::decode(&row.recipient);
        let schedule_id = match claim(&**ctx, &row, &recipient, now, marked.take()).await? {
            Claim::Claimed(schedule_id) => schedule_id,
            Claim::Taken => continue,
            Claim::Deferred => {
                done.deferred += 1;
                continue;
            }
        };
        let result = send(api, &recipient, &row.body, schedule_id.as_deref()).await;
        let mark_as = match result {
            Ok(sent) => {
                ctx.metrics().outbox_sent.inc();
                done.sent += 1;
                let schedule = schedule_change(&row.body, sent.schedule_id);
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
                if let Some(text) = row.body["fallback"].as_str() {
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

/// Send one row: a message, a card update (`msgtype` "update_card"), or a booking's calendar
/// entry (`schedule_add`, `schedule_update`, `schedule_del`, the latter two of `schedule_id`).
async fn send(
    api: &crate::wecom::api::WeComApi,
    recipient: &Recipient,
    body: &Value,
    schedule_id: Option<&str>,
) -> Result<crate::wecom::api::SendResult, ApiError> {
    let nothing = crate::wecom::api::SendResult::default();
    match body["msgtype"].as_str() {
        Some("update_card") => {
            let Recipient::User(user) = recipient else {
                return Err(ApiError::Garbage("a card update goes to one member".into()));
            };
            let code = body["response_code"].as_str().unwrap_or_default();
            let label = body["label"].as_str().unwrap_or("已处理");
            api.update_buttons(code, std::slice::from_ref(user), label).await?;
            return Ok(nothing);
        }
        Some("schedule_add") => {
            let id = api.add_schedule(&body["schedule"]).await?;
            return Ok(crate::wecom::api::SendResult { schedule_id: Some(id), ..nothing });
        }
        // No schedule (its add failed for good, or came before the calendar was turned on):
        // nothing to change.
        Some("schedule_update" | "schedule_del") if schedule_id.is_none() => return Ok(nothing),
        Some("schedule_update") => {
            let mut schedule = body["schedule"].clone();
            schedule["schedule_id"] = Value::from(schedule_id);
            api.update_schedule(&schedule).await?;
            return Ok(nothing);
        }
        Some("schedule_del") => {
            api.delete_schedule(schedule_id.unwrap_or_default()).await?;
            return Ok(nothing);
        }
        _ => {}
    }
    match recipient {
        Recipient::User(user) => api.send(Audience::Users(std::slice::from_ref(user)), body, true).await,
        Recipient::All => api.send(Audience::All, body, true).await,
        Recipient::Parties(parties) => api.send(Audience::Parties(parties), body, true).await,
    }
}

/// What a calendar entry sent changes on its booking: the schedule's id (added), or none
/// (removed).
fn schedule_change(body: &Value, added: Option<String>) -> Option<(i64, Option<String>)> {
    let booking = body["booking_id"].as_i64()?;
    match body["msgtype"].as_str() {
        Some("schedule_add") => Some((booking, added)),
        Some("schedule_del") => Some((booking, None)),
        _ => None,
    }
}

async fn queue_fallback(ctx: &impl Courier, key: &str, recipient: &str, text: &str) -> Result<(), WorkerError> {
    let (key, recipient, text) = (format!("{key}:fallback"), recipient.to_string(), text.to_string());
    let now = ctx.clock().now().timestamp();
    write(ctx, move |tx| {
        super::enqueue(tx, &super::Outgoing::text(&key, &recipient, super::Weight::Light, &text), now).map(|_| ())
    })
    .await
}

fn describe(error: &ApiError) -> String {
    match error.errcode() {
        Some(code) => format!("errcode {code}: {error}"),
        None => error.to_string(),
    }
}

enum Mark {
    /// `schedule`: a booking's calendar entry, added (its id) or removed (None).
    Done {
        msgid: Option<String>,
        response_code: Option<String>,
        schedule: Option<(i64, Option<String>)>,
    },
    Retry {
        error: String,
        at: i64,
    },
    Failed {
        error: String,
    },
}

/// A sent row's outcome, to write.
struct Marked {
    id: i64,
    how: Mark,
    at: i64,
}

impl Marked {
    fn write(&self, tx: &rusqlite::Connection) -> rusqlite::Result<()> {
        let Marked { id, how, at } = self;
        match how {
            Mark::Done { msgid, response_code, schedule } => {
                if let Some((booking, schedule_id)) = schedule {
                    let set = "UPDATE bookings SET schedule_id = ?2 WHERE id = ?1";
                    crate::store::execute(tx, set, params![booking, schedule_id])?;
                }
                crate::store::execute(
                    tx,
                    "UPDATE outbox SET state = 'done', sent_at = ?2, msgid = ?3, response_code = ?4,
                         attempts = attempts + 1, last_error = NULL, claimed_until = NULL WHERE id = ?1",
                    params![id, at, msgid, response_code],
                )
            }
            Mark::Retry { error, at: next } => crate::store::execute(
                tx,
                "UPDATE outbox SET attempts = attempts + 1, next_attempt_at = ?2, last_error = ?3, claimed_until = NULL
                 WHERE id = ?1",
                params![id, next, error],
            ),
            Mark::Failed { error } => crate::store::execute(
                tx,
                "UPDATE outbox SET state = 'failed', attempts = attempts + 1, last_error = ?2, claimed_until = NULL
                 WHERE id = ?1",
                params![id, error],
            ),
        }?;
        Ok(())
    }
}

/// The worker loop of `serve`: a pass, then a short pause when there was nothing to do.
pub async fn run(ctx: std::sync::Arc<impl Courier>) -> Result<(), WorkerError> {
    loop {
        match deliver_due(&ctx).await {
            Ok(done) if !done.is_idle() => continue,
            Ok(_) => {}
            Err(error) => tracing::error!(error = %error, "outbox pass failed; retrying"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_members_recent_deliveries_are_a_range_of_an_index() {
        let plan = crate::store::query_plan(super::SENT_TO_RECENTLY);
        assert!(plan.contains("USING COVERING INDEX outbox_sent_to (recipient=? AND sent_at>?)"), "{plan}");
    }
}
