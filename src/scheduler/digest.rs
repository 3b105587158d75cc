//! The weekly digest to every admin: worked out on a reader, sent once per digest time.

use super::{JobContext, JobError};
use crate::booking::Catalog;
use crate::notify;
use chrono::{DateTime, Duration, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use std::sync::Arc;

/// A digest worked out for one digest time.
pub(super) struct Digest {
    /// The day it fired on: `job_runs` marks it sent.
    period: String,
    /// None when nothing happened that week (a new installation): no empty report is sent.
    content: Option<String>,
    /// The week's free peak places, for the robots (None without robots, or none free).
    free_places: Option<String>,
}

/// The digest for the digest time `fired`, read on a blocking thread; None when it was sent
/// already (or cannot be read now: the next tick tries again).
pub(super) async fn prepare<C: JobContext>(ctx: &Arc<C>, fired: DateTime<Utc>, now: DateTime<Utc>) -> Option<Digest> {
    let ctx = Arc::clone(ctx);
    let read = tokio::task::spawn_blocking(move || ctx.store().read(|conn| read(conn, &*ctx, fired, now))).await;
    match read {
        Ok(Ok(digest)) => digest,
        Ok(Err(error)) => {
            tracing::error!(error = %error, "weekly digest could not be read; it is tried again at the next tick");
            None
        }
        Err(error) => {
            tracing::error!(error = %error, "weekly digest panicked; it is tried again at the next tick");
            None
        }
    }
}

fn read(
    conn: &Connection,
    ctx: &impl JobContext,
    fired: DateTime<Utc>,
    now: DateTime<Utc>,
) -> rusqlite::Result<Option<Digest>> {
    let catalog = ctx.catalog();
    let to = catalog.today(fired);
    let period = to.to_string();
    let sent = crate::store::query_row(
        conn,
        "SELECT 1 FROM job_runs WHERE job = 'weekly_digest' AND period = ?1",
        [&period],
        |_| Ok(()),
    )
    .optional()?;
    if sent.is_some() {
        return Ok(None);
    }
    let from = to - Duration::days(7);
    let activity: i64 = crate::store::query_row(
        conn,
        "SELECT (SELECT count(*) FROM bookings WHERE date >= ?1 AND date < ?2)
              + (SELECT count(*) FROM demand_events WHERE date >= ?1 AND date < ?2)",
        params![from.to_string(), to.to_string()],
        |row| row.get(0),
    )?;
    let content = match activity {
        0 => None,
        _ => Some(crate::report::digest_markdown(catalog, conn, from, to)?),
    };
    let free_places = match ctx.config().robots.is_empty() {
        true => None,
        false => super::free_places::summary(conn, &ctx.rules(), now)?,
    };
    Ok(Some(Digest { period, content, free_places }))
}

impl Digest {
    /// Mark the digest time and queue the digest to every admin, unless it was marked meanwhile.
    pub(super) fn send(&self, ctx: &impl JobContext, tx: &Connection, now: DateTime<Utc>) -> Result<bool, JobError> {
        let inserted = crate::store::execute(
            tx,
            "INSERT INTO job_runs (job, period, ran_at) VALUES ('weekly_digest', ?1, ?2) ON CONFLICT DO NOTHING",
            params![self.period, now.timestamp()],
        )?;
        if inserted != 1 {
            return Ok(false);
        }
        let notifier = ctx.notifier();
        if let Some(free_places) = &self.free_places {
            let key = format!("free_places:{}", self.period);
            notify::robots::to_robots(tx, &notifier, &key, free_places, now.timestamp())?;
        }
        let Some(content) = self.content.as_deref() else {
            return Ok(false);
        };
        for admin in &ctx.config().roles.admins {
            notify::markdown_to(tx, format!("digest:{}:{admin}", self.period), admin, content, now.timestamp())?;
        }
        // Its public part (usage, no one's name) to the staff groups' robots.
        let key = format!("digest:{}", self.period);
        notify::robots::to_robots(tx, &notifier, &key, content, now.timestamp())?;
        Ok(true)
    }
}

/// Slots ranked by demand over the last 4 weeks (bookings, refusals for full, waitlist joins),
/// busiest first: shows whether the configured peak slots are the busy ones.
pub fn rank_slots_by_demand(
    conn: &Connection,
    catalog: &Catalog,
    now: DateTime<Utc>,
) -> rusqlite::Result<Vec<(u32, u32)>> {
    let today = catalog.today(now);
    let from = (today - Duration::days(28)).to_string();
    let to = today.to_string();
    let mut demand: Vec<(u32, u32)> = catalog.slots().iter().map(|s| (s.no, 0)).collect();
    let mut stmt = conn.prepare_cached(
        "SELECT slot, count(*) FROM (
             SELECT slot FROM bookings WHERE date >= ?1 AND date < ?2
             UNION ALL SELECT slot FROM demand_events WHERE kind IN ('refused_full', 'waitlist_join') AND date >= ?1 AND date < ?2)
         GROUP BY slot",
    )?;
    let rows = stmt.query_map(params![from, to], |row| Ok((row.get::<_, u32>(0)?, row.get::<_, u32>(1)?)))?;
    for row in rows {
        let (slot, count) = row?;
        if let Some(entry) = demand.iter_mut().find(|(s, _)| *s == slot) {
            entry.1 = count;
        }
    }
    demand.sort_by_key(|(slot, count)| (std::cmp::Reverse(*count), *slot));
    Ok(demand)
}
