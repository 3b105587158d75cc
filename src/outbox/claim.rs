//! Taking a row for sending: not while another worker has it, not before the earlier entries
//! of its sequence, not past its member's send limit.

use super::budget::{spend, Verdict};
use super::send::Marked;
use super::worker::{write, Courier, Row, WorkerError, PER_USER_PER_HOUR, PER_USER_PER_MINUTE};
use super::Recipient;
use rusqlite::{params, OptionalExtension};

pub(super) enum Claim {
    /// The message's body as stored and, for a calendar entry's change or removal, the WeCom
    /// schedule it is of (read once the entries before it are marked).
    Claimed { payload: String, schedule_id: Option<String> },
    /// Another worker (`tick` beside `serve`) is sending it.
    Taken,
    /// A newer card of the same to its member waits: this one is done without being sent.
    Replaced,
    /// The member's rate limit holds it back.
    Deferred,
    /// Past 80 % of the day's budget: a light message waits for tomorrow.
    OverBudget,
}

/// How long a claim holds before another worker may take the row (its worker died).
const CLAIM_SECONDS: i64 = 60;

/// Take the row for sending, unless another worker has it or the member's limit is reached
/// (then it waits until the limit allows). One write transaction, so two workers cannot both
/// take it. The previous row's outcome (`marked`) is written in the same write: one trip
/// through the writer per message instead of two, and nothing written later than before.
pub(super) async fn claim(
    ctx: &impl Courier,
    row: &Row,
    recipient: &Recipient,
    now: i64,
    marked: Option<Marked>,
) -> Result<Claim, WorkerError> {
    // A calendar entry is not a message: WeCom's per-member message limit does not count it.
    let is_message = !row.kind.starts_with("schedule_");
    let limits: Option<(String, &'static [(i64, i64)])> = match recipient {
        Recipient::User(user) if is_message => Some((user.clone(), PER_MEMBER)),
        Recipient::Robot(_) => Some((recipient.encode(), PER_ROBOT)),
        _ => None,
    };
    let (id, sequence) = (row.id, row.sequence.clone());
    let quiet_for = match recipient {
        Recipient::User(user) if row.waits_for_quiet => Some(user.clone()),
        _ => None,
    };
    let zone = ctx.zone();
    // What WeCom counts against the app's day: messages to members, departments, everyone.
    let counted = is_message && !matches!(recipient, Recipient::Robot(_));
    let (budget, admins) = ctx.budget();
    // Who to tell at 80 %: copied only where a budget is watched (this runs for every message).
    let admins = if budget > 0 { admins.to_vec() } else { Vec::new() };
    let formal = row.formal;
    let of_schedule = matches!(row.kind.as_str(), "schedule_update" | "schedule_del");
    let replaces = row.replaces.clone().map(|replaces| (row.recipient.clone(), replaces));
    write(ctx, move |tx| {
        if let Some(marked) = &marked {
            marked.write(tx)?;
        }
        if let Some((to, replaces)) = &replaces {
            let replaced = crate::store::execute(tx, REPLACED_BY_NEWER, params![id, to, replaces, now])?;
            if replaced == 1 {
                return Ok(Claim::Replaced);
            }
        }
        if let Some(until) = sequence.as_deref().map(|s| earlier_in_sequence(tx, s, id)).transpose()?.flatten() {
            crate::store::execute(tx, "UPDATE outbox SET next_attempt_at = ?2 WHERE id = ?1", params![id, until])?;
            return Ok(Claim::Deferred);
        }
        let at = chrono::DateTime::from_timestamp(now, 0).unwrap_or_default();
        let quiet = quiet_for.as_deref().map(|user| crate::settings::quiet_until(tx, user, zone, at)).transpose()?;
        if let Some(until) = quiet.flatten() {
            crate::store::execute(tx, "UPDATE outbox SET next_attempt_at = ?2 WHERE id = ?1", params![id, until])?;
            return Ok(Claim::Deferred);
        }
        let limited = limits.as_ref().map(|(to, windows)| rate_limited_until(tx, to, windows, now)).transpose()?;
        if let Some(until) = limited.flatten() {
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
        if counted {
            if let Verdict::WaitUntil(until) = spend(tx, (budget, &admins), formal, zone, now)? {
                let wait = "UPDATE outbox SET next_attempt_at = ?2, claimed_until = NULL WHERE id = ?1";
                crate::store::execute(tx, wait, params![id, until])?;
                return Ok(Claim::OverBudget);
            }
        }
        let payload: String =
            crate::store::query_row(tx, "SELECT payload FROM outbox WHERE id = ?1", [id], |r| r.get(0))?;
        let schedule_id = if of_schedule { schedule_of(tx, &payload)? } else { None };
        Ok(Claim::Claimed { payload, schedule_id })
    })
    .await
}

/// The WeCom schedule of the booking a calendar entry's `payload` names, if it has one yet.
fn schedule_of(tx: &rusqlite::Connection, payload: &str) -> rusqlite::Result<Option<String>> {
    let body: serde_json::Value = serde_json::from_str(payload).unwrap_or_default();
    let booking = body["booking_id"].as_i64().unwrap_or_default();
    let sql = "SELECT schedule_id FROM bookings WHERE id = ?1";
    Ok(crate::store::query_row(tx, sql, [booking], |r| r.get::<_, Option<String>>(0)).optional()?.flatten())
}

/// A card done without being sent, when a newer card of the same waits for its member (and
/// no other worker has it): the member's unsent rows are a range of `outbox_sent_to`.
const REPLACED_BY_NEWER: &str = "UPDATE outbox SET state = 'done' WHERE id = ?1 AND state = 'pending'
       AND (claimed_until IS NULL OR claimed_until <= ?4)
       AND EXISTS (SELECT 1 FROM outbox newer WHERE newer.recipient = ?2 AND newer.sent_at IS NULL
                     AND newer.replaces = ?3 AND newer.id > ?1 AND newer.state = 'pending')";

/// When an earlier message of `sequence` than `id` is still to be sent: not before it is due.
fn earlier_in_sequence(tx: &rusqlite::Connection, sequence: &str, id: i64) -> rusqlite::Result<Option<i64>> {
    crate::store::query_row(
        tx,
        "SELECT max(next_attempt_at) FROM outbox WHERE sequence_key = ?1 AND id < ?2 AND state = 'pending'",
        params![sequence, id],
        |row| row.get(0),
    )
}

/// WeCom's limits: per member 30 a minute and 1,000 an hour; per group robot 20 a minute.
const PER_MEMBER: &[(i64, i64)] = &[(60, PER_USER_PER_MINUTE), (3600, PER_USER_PER_HOUR)];
const PER_ROBOT: &[(i64, i64)] = &[(60, 20)];

/// When `recipient` (as stored) may next be sent to (None = now), from what was sent to it in
/// each window (seconds, at most so many).
pub(super) fn rate_limited_until(
    conn: &rusqlite::Connection,
    recipient: &str,
    windows: &[(i64, i64)],
    now: i64,
) -> rusqlite::Result<Option<i64>> {
    let mut until = None;
    for &(seconds, limit) in windows {
        let (count, oldest): (i64, Option<i64>) =
            crate::store::query_row(conn, SENT_TO_RECENTLY, params![recipient, now - seconds, limit], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })?;
        if count >= limit {
            until = until.max(Some(oldest.unwrap_or(now) + seconds));
        }
    }
    Ok(until)
}

/// How many messages went to a member since a time (up to a limit), and the oldest of them;
/// a range of the `outbox_sent_to` index.
const SENT_TO_RECENTLY: &str = "SELECT count(*), min(sent_at) FROM (SELECT sent_at FROM outbox
     WHERE recipient = ?1 AND sent_at > ?2 ORDER BY sent_at DESC LIMIT ?3)";

#[cfg(test)]
mod tests {
    #[test]
    fn a_members_waiting_cards_are_a_range_of_an_index() {
        let plan = crate::store::query_plan(super::REPLACED_BY_NEWER);
        assert!(plan.contains("USING INDEX outbox_sent_to (recipient=? AND sent_at=?"), "{plan}");
    }

    #[test]
    fn a_members_recent_deliveries_are_a_range_of_an_index() {
        let plan = crate::store::query_plan(super::SENT_TO_RECENTLY);
        assert!(plan.contains("USING COVERING INDEX outbox_sent_to (recipient=? AND sent_at>?)"), "{plan}");
    }
}
