//! Stop-use (停用): close a facility for a period. In one transaction: record the closure,
//! end every live booking and pending request it hits (state `closed`), clear its waitlist,
//! and say what happened: each booking hit, with free places instead, then the closure.

use super::catalog::{date_label, Catalog};
use super::events::{Event, Events, Withdrawn};
use super::model::{Booking, BookingState, BOOKING_COLUMNS};
use super::service::{set_state, Rules};
use super::{approval, query};
use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{params, Connection};

/// What a stop-use did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Closed {
    pub closure_id: i64,
    pub bookings: u32,
    pub members_told: Vec<String>,
    pub waiters_cleared: u32,
}

/// `11月25日 周三 00:00 至 11月26日 周四 24:00`, or `… 起` when open-ended.
pub fn period_label(catalog: &Catalog, start: DateTime<Utc>, end: Option<DateTime<Utc>>) -> String {
    let tz = catalog.tz();
    let local = |t: DateTime<Utc>| {
        let l = tz.from_utc_datetime(&t.naive_utc());
        format!("{} {}", date_label(l.date_naive()), l.format("%H:%M"))
    };
    match end {
        Some(end) => format!("{} 至 {}", local(start), local(end)),
        None => format!("{} 起（恢复时间另行通知）", local(start)),
    }
}

/// A stop-use as an admin asked for it: `end` None = until reopened.
pub struct StopUse<'a> {
    pub facility: &'a str,
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
    pub reason: &'a str,
}

/// Close a facility over the stop-use's period.
pub fn close(
    tx: &Connection,
    rules: &Rules,
    stop: &StopUse,
    admin: &str,
    now: DateTime<Utc>,
    events: &mut Events,
) -> rusqlite::Result<Closed> {
    let StopUse { facility, start, end, reason } = *stop;
    crate::store::execute(tx,
        "INSERT INTO closures (facility, starts_at, ends_at, reason, created_by, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![facility, start.timestamp(), end.map(|e| e.timestamp()), reason, admin, now.timestamp()],
    )?;
    let closure_id = tx.last_insert_rowid();
    let hit: Vec<Booking> = {
        let mut stmt = tx.prepare(&format!(
            "SELECT {BOOKING_COLUMNS} FROM bookings WHERE facility = ?1 AND state IN ('pending', 'confirmed')
             AND ends_at > ?2 AND ends_at > ?4 AND (?3 IS NULL OR starts_at < ?3) ORDER BY starts_at"
        ))?;
        let rows = stmt.query_map(
            params![facility, start.timestamp(), end.map(|e| e.timestamp()), now.timestamp()],
            Booking::from_row,
        )?;
        rows.collect::<Result<_, _>>()?
    };
    let mut told = Vec::new();
    for booking in &hit {
        set_state(tx, booking.id, BookingState::Closed, Some(admin), Some(reason), now.timestamp())?;
        approval::withdraw(booking, Withdrawn::Closed, events);
        let alternatives = match (rules.catalog.facility(&booking.facility), rules.catalog.slot(booking.slot)) {
            (Some(f), Some(s)) => query::alternatives(tx, rules, &booking.userid, f, booking.date, s, now)?,
            _ => Vec::new(),
        };
        let closed = Booking { state: BookingState::Closed, ..booking.clone() };
        let reason = reason.to_string();
        events.push(Event::ClosureHit { closure_id, booking: closed, start, end, reason, alternatives });
        if !told.contains(&booking.userid) {
            told.push(booking.userid.clone());
        }
    }
    let waiters_cleared = clear_waitlist(tx, rules, facility, start, end, now)?;
    let (facility, reason) = (facility.to_string(), reason.to_string());
    events.push(Event::FacilityClosed { closure_id, facility, start, end, reason });
    Ok(Closed { closure_id, bookings: hit.len() as u32, members_told: told, waiters_cleared })
}

/// End the facility's current and future closures now. Returns how many closures ended.
pub fn reopen(
    tx: &Connection,
    facility: &str,
    admin: &str,
    now: DateTime<Utc>,
    events: &mut Events,
) -> rusqlite::Result<u32> {
    let t = now.timestamp();
    let ended = crate::store::execute(
        tx,
        "UPDATE closures SET ends_at = max(starts_at, ?2), ended_at = ?2
         WHERE facility = ?1 AND ended_at IS NULL AND (ends_at IS NULL OR ends_at > ?2)",
        params![facility, t],
    )? as u32;
    if ended > 0 {
        events.push(Event::FacilityReopened { facility: facility.to_string(), by: admin.to_string(), at: now });
    }
    Ok(ended)
}

/// Waitlist entries whose slot overlaps the closure end (state `closed`).
fn clear_waitlist(
    tx: &Connection,
    rules: &Rules,
    facility: &str,
    start: DateTime<Utc>,
    end: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> rusqlite::Result<u32> {
    let entries: Vec<(i64, String, u32)> = {
        let mut stmt =
            tx.prepare("SELECT id, date, slot FROM waitlist WHERE facility = ?1 AND state = 'waiting' AND date >= ?2")?;
        let rows = stmt.query_map(params![facility, rules.catalog.today(start).to_string()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })?;
        rows.collect::<Result<_, _>>()?
    };
    let mut cleared = 0;
    for (id, date, slot) in entries {
        let (Ok(date), Some(slot)) = (chrono::NaiveDate::parse_from_str(&date, "%Y-%m-%d"), rules.catalog.slot(slot))
        else {
            continue;
        };
        let (s, e) = (rules.catalog.slot_start(date, slot), rules.catalog.slot_end(date, slot));
        if e > start && end.is_none_or(|end| s < end) {
            crate::store::execute(
                tx,
                "UPDATE waitlist SET state = 'closed', updated_at = ?2 WHERE id = ?1",
                params![id, now.timestamp()],
            )?;
            cleared += 1;
        }
    }
    Ok(cleared)
}
