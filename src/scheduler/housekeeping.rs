//! Tables that would otherwise only grow: callback records past the retry window, delivered and
//! failed messages past `database.keep_days`, demand older than any report compares.
//!
//! Each deletes at most [`PER_PASS`] rows a pass, so that a first pass over a long backlog does
//! not hold the writer for long (the rest goes at the next ticks).

use chrono::{Duration, NaiveDate};
use rusqlite::{params, Connection};

/// How long a callback's reply is kept for its retries. WeCom retries within seconds; a week
/// also covers a delivery replayed by hand after an incident.
pub const CALLBACK_RECORDS_KEPT_SECONDS: i64 = 7 * 24 * 3600;
/// Demand (refusals, waitlist joins, promotions) is kept this long: a year's report compared
/// with the year before still finds it.
pub const DEMAND_KEPT_DAYS: i64 = 400;
/// Rows deleted per table and pass at most.
pub const PER_PASS: i64 = 5_000;

/// What one pass deleted.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    pub callbacks: u32,
    pub messages: u32,
    pub demand: u32,
}

impl Pruned {
    pub fn is_empty(&self) -> bool {
        *self == Pruned::default()
    }
}

/// Delete what is past keeping as of `now` (`today` in the service's zone).
pub fn prune(tx: &Connection, now: i64, today: NaiveDate, keep_days: u32) -> rusqlite::Result<Pruned> {
    Ok(Pruned {
        callbacks: forget_old_callbacks(tx, now)?,
        messages: prune_messages(tx, now - i64::from(keep_days) * 24 * 3600)?,
        demand: prune_demand(tx, today - Duration::days(DEMAND_KEPT_DAYS))?,
    })
}

fn forget_old_callbacks(tx: &Connection, now: i64) -> rusqlite::Result<u32> {
    let deleted = crate::store::execute(
        tx,
        "DELETE FROM processed_callbacks WHERE rowid IN
           (SELECT rowid FROM processed_callbacks WHERE created_at < ?1 ORDER BY created_at LIMIT ?2)",
        params![now - CALLBACK_RECORDS_KEPT_SECONDS, PER_PASS],
    )?;
    Ok(deleted as u32)
}

/// Delivered and given-up messages last attempted before `before` (a message's last attempt is
/// never before it was queued; `outbox_due` indexes it). Pending ones are never deleted.
fn prune_messages(tx: &Connection, before: i64) -> rusqlite::Result<u32> {
    let deleted = crate::store::execute(
        tx,
        "DELETE FROM outbox WHERE id IN
           (SELECT id FROM outbox WHERE state IN ('done', 'failed') AND next_attempt_at < ?1 LIMIT ?2)",
        params![before, PER_PASS],
    )?;
    Ok(deleted as u32)
}

fn prune_demand(tx: &Connection, before: NaiveDate) -> rusqlite::Result<u32> {
    let deleted = crate::store::execute(
        tx,
        "DELETE FROM demand_events WHERE id IN (SELECT id FROM demand_events WHERE date < ?1 LIMIT ?2)",
        params![before.to_string(), PER_PASS],
    )?;
    Ok(deleted as u32)
}
