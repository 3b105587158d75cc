//! Read-only questions: free places, a member's bookings, queue positions, alternatives.

use super::catalog::{Facility, Slot};
use super::model::{live, Alternative, Booking, BOOKING_COLUMNS, LIVE};
use super::service::Rules;
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{params, Connection};
use std::collections::HashMap;

const USED_PLACES: &str = concat!(
    "SELECT (SELECT count(*) FROM bookings WHERE facility = ?1 AND date = ?2 AND slot = ?3 AND ",
    live!(),
    ") + (SELECT count(*) FROM waitlist WHERE facility = ?1 AND date = ?2 AND slot = ?3 AND state = 'waiting'
          AND offered_until IS NOT NULL)"
);

/// Places taken (pending, confirmed or checked in) in one facility slot, and those held for a
/// waiter it was offered to.
pub fn used_places(conn: &Connection, facility: &str, date: NaiveDate, slot: u32) -> rusqlite::Result<u32> {
    crate::store::query_row(conn, USED_PLACES, params![facility, date.to_string(), slot], |row| row.get(0))
}

/// One day's bookings and closures, read once so that every slot of every facility can be
/// looked at without another query.
#[derive(Default)]
pub struct DayView {
    /// Each slot's (start, end) that day, unix seconds, by slot number - 1: worked out once,
    /// not per facility (a time-zone conversion each).
    slot_bounds: Vec<(i64, i64)>,
    /// Facility codes in catalog order, and places taken by facility index × slots + slot - 1
    /// (a flat table: no key to allocate or hash per cell).
    facilities: Vec<String>,
    usage: Vec<u32>,
    /// Closures touching the day: (facility, start, end or None when open-ended).
    closures: Vec<(String, i64, Option<i64>)>,
}

impl DayView {
    fn cell(&self, facility: &str, slot: u32) -> Option<usize> {
        let row = self.facilities.iter().position(|code| code == facility)?;
        let column = slot.checked_sub(1)? as usize;
        (column < self.slot_bounds.len()).then(|| row * self.slot_bounds.len() + column)
    }

    pub fn used(&self, facility: &str, slot: u32) -> u32 {
        self.cell(facility, slot).and_then(|i| self.usage.get(i)).copied().unwrap_or(0)
    }

    fn closed(&self, facility: &str, start: i64, end: i64) -> bool {
        self.closures.iter().any(|(f, s, e)| f == facility && *s < end && e.is_none_or(|e| e > start))
    }

    /// Free places in one slot; None when it cannot be booked now (started, or closed).
    pub fn free(&self, facility: &Facility, slot: &Slot, now: DateTime<Utc>) -> Option<u32> {
        let &(start, end) = self.slot_bounds.get(slot.no.checked_sub(1)? as usize)?;
        if start <= now.timestamp() || self.closed(&facility.code, start, end) {
            return None;
        }
        Some(facility.capacity.saturating_sub(self.used(&facility.code, slot.no)))
    }
}

/// A day's places taken by slot (kept by triggers, see migration 0003).
const DAY_USAGE: &str = "SELECT facility, slot, used FROM slot_usage WHERE date = ?1 AND used > 0";
/// Closures touching a day (from its start to the end of the next).
const DAY_CLOSURES: &str =
    "SELECT facility, starts_at, ends_at FROM closures WHERE starts_at < ?2 AND (ends_at IS NULL OR ends_at > ?1)";

/// `date`'s places taken and closures, read once.
pub fn day_view(conn: &Connection, rules: &Rules, date: NaiveDate) -> rusqlite::Result<DayView> {
    let catalog = rules.catalog;
    let slot_bounds: Vec<(i64, i64)> = catalog
        .slots()
        .iter()
        .map(|slot| (catalog.slot_start(date, slot).timestamp(), catalog.slot_end(date, slot).timestamp()))
        .collect();
    let mut view = DayView {
        facilities: catalog.facilities().iter().map(|f| f.code.clone()).collect(),
        usage: vec![0; catalog.facilities().len() * slot_bounds.len()],
        slot_bounds,
        closures: Vec::new(),
    };
    let mut stmt = conn.prepare_cached(DAY_USAGE)?;
    let mut rows = stmt.query([date.to_string()])?;
    while let Some(row) = rows.next()? {
        // Rows of facilities or slots no longer configured are left out.
        let facility = row.get_ref(0)?.as_str()?;
        if let Some(i) = view.cell(facility, row.get(1)?) {
            view.usage[i] = row.get(2)?;
        }
    }
    let day_start = catalog.instant(date, chrono::NaiveTime::MIN).timestamp();
    let mut stmt = conn.prepare_cached(DAY_CLOSURES)?;
    view.closures = stmt
        .query_map(params![day_start, day_start + 2 * 86_400], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
        .collect::<Result<_, _>>()?;
    Ok(view)
}

pub fn waitlist_len(conn: &Connection, facility: &str, date: NaiveDate, slot: u32) -> rusqlite::Result<u32> {
    crate::store::query_row(
        conn,
        "SELECT count(*) FROM waitlist WHERE facility = ?1 AND date = ?2 AND slot = ?3 AND state = 'waiting'",
        params![facility, date.to_string(), slot],
        |row| row.get(0),
    )
}

/// 1-based place of `user` in the queue, if waiting.
pub fn waitlist_position(
    conn: &Connection,
    user: &str,
    facility: &str,
    date: NaiveDate,
    slot: u32,
) -> rusqlite::Result<Option<u32>> {
    crate::store::query_row(conn,
        "SELECT (SELECT count(*) FROM waitlist o WHERE o.facility = w.facility AND o.date = w.date AND o.slot = w.slot
                 AND o.state = 'waiting' AND o.id <= w.id)
         FROM waitlist w WHERE w.userid = ?1 AND w.facility = ?2 AND w.date = ?3 AND w.slot = ?4 AND w.state = 'waiting'",
        params![user, facility, date.to_string(), slot],
        |row| row.get(0),
    )
    .map(Some)
    .or_else(|e| if e == rusqlite::Error::QueryReturnedNoRows { Ok(None) } else { Err(e) })
}

/// Free places per slot of one facility on `date`: None for a slot that is past or closed.
pub fn free_by_slot(
    conn: &Connection,
    rules: &Rules,
    facility: &Facility,
    date: NaiveDate,
    now: DateTime<Utc>,
) -> rusqlite::Result<Vec<(Slot, Option<u32>)>> {
    let day = day_view(conn, rules, date)?;
    Ok(rules.catalog.slots().iter().map(|slot| (*slot, day.free(facility, slot, now))).collect())
}

/// Up to 3 free places instead of a full one: the same facility at the nearest slots that
/// day, then similar facilities at the same slot, those this member used before first.
pub fn alternatives(
    conn: &Connection,
    rules: &Rules,
    user: &str,
    facility: &Facility,
    date: NaiveDate,
    slot: &Slot,
    now: DateTime<Utc>,
) -> rusqlite::Result<Vec<Alternative>> {
    const MAX: usize = 3;
    let day = day_view(conn, rules, date)?;
    let mut nearby: Vec<(u32, Alternative)> = Vec::new();
    for other in rules.catalog.slots().iter().filter(|s| s.no != slot.no) {
        if let Some(free) = day.free(facility, other, now).filter(|f| *f > 0) {
            nearby.push((
                other.no.abs_diff(slot.no),
                Alternative { facility: facility.code.clone(), date, slot: other.no, free },
            ));
        }
    }
    nearby.sort_by_key(|(distance, a)| (*distance, a.slot));
    let habits = usual_facilities(conn, user)?;
    let mut similar: Vec<(u32, Alternative)> = Vec::new();
    for other in rules.catalog.facilities().iter().filter(|f| f.is_similar_to(facility)) {
        if let Some(free) = day.free(other, slot, now).filter(|f| *f > 0) {
            let used_before = habits.get(&other.code).copied().unwrap_or(0);
            similar.push((used_before, Alternative { facility: other.code.clone(), date, slot: slot.no, free }));
        }
    }
    similar.sort_by_key(|(used_before, _)| std::cmp::Reverse(*used_before));
    // Keep room for one similar facility when there is one, so both kinds are offered.
    let same_facility = MAX - usize::from(!similar.is_empty()).min(MAX);
    let mut out: Vec<Alternative> = nearby.iter().take(same_facility).map(|(_, a)| a.clone()).collect();
    out.extend(similar.into_iter().map(|(_, a)| a));
    out.extend(nearby.into_iter().skip(same_facility).map(|(_, a)| a));
    out.truncate(MAX);
    Ok(out)
}

/// How often the member booked each facility before.
fn usual_facilities(conn: &Connection, user: &str) -> rusqlite::Result<HashMap<String, u32>> {
    let mut stmt =
        conn.prepare_cached("SELECT facility, count(*) FROM bookings WHERE userid = ?1 GROUP BY facility")?;
    let rows = stmt.query_map([user], |row| Ok((row.get(0)?, row.get(1)?)))?;
    rows.collect()
}

/// A member's live bookings that have not ended, soonest first.
pub fn upcoming_bookings(conn: &Connection, user: &str, now: DateTime<Utc>) -> rusqlite::Result<Vec<Booking>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {BOOKING_COLUMNS} FROM bookings WHERE userid = ?1 AND {LIVE} AND ends_at > ?2
         ORDER BY starts_at, facility"
    ))?;
    let rows = stmt.query_map(params![user, now.timestamp()], Booking::from_row)?;
    rows.collect()
}

/// What a member may do now with an upcoming booking besides cancelling it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpenActions {
    /// 确认参加: a confirmed booking of a peak slot whose member has not confirmed yet.
    pub confirm: bool,
    /// 签到: the check-in window is open.
    pub check_in: bool,
}

pub fn open_actions(
    conn: &Connection,
    rules: &Rules,
    b: &Booking,
    now: DateTime<Utc>,
) -> rusqlite::Result<OpenActions> {
    if b.state != super::BookingState::Confirmed {
        return Ok(OpenActions::default());
    }
    let now = now.timestamp();
    let opens = b.starts_at - rules.config.checkin_open_minutes * 60;
    let closes = b.starts_at + rules.config.no_show_after_minutes * 60;
    let peak = rules.catalog.slot(b.slot).is_some_and(|s| s.peak);
    let confirmed: Option<i64> = if peak {
        crate::store::query_row(conn, "SELECT user_confirmed_at FROM bookings WHERE id = ?1", [b.id], |row| row.get(0))?
    } else {
        None
    };
    Ok(OpenActions { confirm: peak && confirmed.is_none(), check_in: (opens..closes).contains(&now) })
}

/// A member's places in queues, with their positions.
pub fn waiting_entries(conn: &Connection, user: &str, today: NaiveDate) -> rusqlite::Result<Vec<QueuePlace>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, facility, date, slot, offered_until FROM waitlist WHERE userid = ?1 AND state = 'waiting'
           AND date >= ?2 ORDER BY date, slot",
    )?;
    let rows: Vec<(i64, String, String, u32, Option<i64>)> = stmt
        .query_map(params![user, today.to_string()], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?))
        })?
        .collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    for (entry, facility, date, slot, offered_until) in rows {
        let date = NaiveDate::parse_from_str(&date, "%Y-%m-%d").unwrap_or(today);
        let position = waitlist_position(conn, user, &facility, date, slot)?.unwrap_or(0);
        out.push(QueuePlace { entry, facility, date, slot, position, offered_until });
    }
    Ok(out)
}

/// A member's place in a slot's queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuePlace {
    /// The waitlist entry (an offer's card and the page's forms name it).
    pub entry: i64,
    pub facility: String,
    pub date: NaiveDate,
    pub slot: u32,
    pub position: u32,
    /// A freed place is held for them until then (a waitlist offer: 接受 / 放弃).
    pub offered_until: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counting_a_slots_places_is_a_range_of_its_partial_index() {
        let plan = crate::store::query_plan(USED_PLACES);
        assert!(
            plan.contains("SEARCH bookings USING INDEX bookings_live_by_slot (facility=? AND date=? AND slot=?)"),
            "{plan}"
        );
        // The places held for offered waiters: a range of the slot's queue, not a scan.
        assert!(
            plan.contains("SEARCH waitlist USING INDEX waitlist_queue (facility=? AND date=? AND slot=?)"),
            "{plan}"
        );
        assert!(!crate::store::builds_temporary_btree(USED_PLACES), "{plan}");
    }

    #[test]
    fn a_days_usage_is_one_range_of_the_counter_table() {
        let plan = crate::store::query_plan(DAY_USAGE);
        assert!(plan.contains("SEARCH slot_usage USING PRIMARY KEY (date=?)"), "{plan}");
    }
}
