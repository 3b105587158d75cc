//! The checks a request must pass before it may take a place.

use super::catalog::{week_start, Facility, Slot};
use super::model::{live, BookingError};

/// A member's live bookings not yet over, and those of one week: one range of `bookings_by_user`.
/// A place a partner booked for them counts for the partner, not for them.
const HELD_BY_USER: &str = concat!(
    "SELECT count(*) FILTER (WHERE ends_at > ?2), count(*) FILTER (WHERE date >= ?3 AND date < ?4)
     FROM bookings WHERE userid = ?1 AND booked_by IS NULL AND ",
    live!()
);
/// The places a member booked for partners, counted likewise: one range of `bookings_by_booker`.
const HELD_FOR_PARTNERS: &str = concat!(
    "SELECT count(*) FILTER (WHERE ends_at > ?2), count(*) FILTER (WHERE date >= ?3 AND date < ?4)
     FROM bookings WHERE booked_by = ?1 AND ",
    live!()
);
const LIVE_BOOKING_OF: &str =
    concat!("SELECT id FROM bookings WHERE userid = ?1 AND facility = ?2 AND date = ?3 AND slot = ?4 AND ", live!());
use super::service::Rules;
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use rusqlite::{params, Connection, OptionalExtension};

/// Is this slot open for booking at all: not started, in an open week, facility not closed?
pub fn check_bookable(
    conn: &Connection,
    rules: &Rules,
    facility: &Facility,
    date: NaiveDate,
    slot: &Slot,
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    let start = rules.catalog.slot_start(date, slot);
    let end = rules.catalog.slot_end(date, slot);
    if start <= now {
        return Err(BookingError::InPast);
    }
    let week = week_start(date);
    if !week_is_open(conn, week, rules.catalog.today(now))? {
        return Err(BookingError::WeekNotOpen { week_start: week });
    }
    if let Some((reason, until)) = closure_over(conn, &facility.code, start.timestamp(), end.timestamp())? {
        return Err(BookingError::Closed { reason, until: until.and_then(|t| Utc.timestamp_opt(t, 0).single()) });
    }
    Ok(())
}

/// The current week is always open; later weeks once published.
pub fn week_is_open(conn: &Connection, week: NaiveDate, today: NaiveDate) -> rusqlite::Result<bool> {
    if week <= week_start(today) {
        return Ok(true);
    }
    let found: Option<i64> =
        crate::store::query_row(conn, "SELECT 1 FROM open_weeks WHERE week_start = ?1", [week.to_string()], |row| {
            row.get(0)
        })
        .optional()?;
    Ok(found.is_some())
}

/// The stop-use that covers any of `start..end`: its reason and when it ends (None = open-ended).
pub fn closure_over(
    conn: &Connection,
    facility: &str,
    start: i64,
    end: i64,
) -> rusqlite::Result<Option<(String, Option<i64>)>> {
    crate::store::query_row(
        conn,
        "SELECT reason, ends_at FROM closures
         WHERE facility = ?1 AND starts_at < ?3 AND (ends_at IS NULL OR ends_at > ?2)
         ORDER BY starts_at LIMIT 1",
        params![facility, start, end],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )
    .optional()
}

/// Suspension and per-user limits (active bookings, bookings per week).
pub fn check_user_may_book(
    conn: &Connection,
    rules: &Rules,
    user: &str,
    date: NaiveDate,
    adding: u32,
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    let suspended: Option<i64> =
        crate::store::query_row(conn, "SELECT suspended_until FROM users WHERE userid = ?1", [user], |row| row.get(0))
            .optional()?
            .flatten();
    if let Some(until) = suspended.filter(|t| *t > now.timestamp()) {
        return Err(BookingError::Suspended { until: Utc.timestamp_opt(until, 0).single().unwrap_or(now) });
    }
    let week = week_start(date);
    let held = |sql: &str| -> rusqlite::Result<(u32, u32)> {
        crate::store::query_row(
            conn,
            sql,
            params![user, now.timestamp(), week.to_string(), (week + Duration::days(7)).to_string()],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
    };
    let ((own, own_week), (partners, partners_week)) = (held(HELD_BY_USER)?, held(HELD_FOR_PARTNERS)?);
    let (active, this_week) = (own + partners, own_week + partners_week);
    if active + adding > rules.config.max_active_per_user {
        return Err(BookingError::OverLimit { limit: rules.config.max_active_per_user });
    }
    let weekly = rules.config.max_per_week_per_user;
    if weekly > 0 && this_week + adding > weekly {
        return Err(BookingError::OverWeeklyLimit { limit: weekly });
    }
    Ok(())
}

/// The member's live booking of this facility slot, if any.
pub fn live_booking_of(
    conn: &Connection,
    user: &str,
    facility: &str,
    date: NaiveDate,
    slot: u32,
) -> rusqlite::Result<Option<i64>> {
    crate::store::query_row(conn, LIVE_BOOKING_OF, params![user, facility, date.to_string(), slot], |row| row.get(0))
        .optional()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_places_a_member_booked_for_partners_are_a_range_of_their_index() {
        let plan = crate::store::query_plan(HELD_FOR_PARTNERS);
        assert!(plan.contains("SEARCH bookings USING INDEX bookings_by_booker (booked_by=?)"), "{plan}");
        assert!(!crate::store::builds_temporary_btree(HELD_FOR_PARTNERS));
    }

    #[test]
    fn a_members_live_booking_of_a_slot_is_found_in_the_index_that_keeps_it_unique() {
        let plan = crate::store::query_plan(LIVE_BOOKING_OF);
        assert!(plan.contains("SEARCH bookings USING INDEX bookings_one_per_user_slot ("), "{plan}");
        assert!(!crate::store::builds_temporary_btree(LIVE_BOOKING_OF));
    }

    #[test]
    fn both_limits_are_counted_in_one_range_of_the_members_bookings() {
        let plan = crate::store::query_plan(HELD_BY_USER);
        assert!(plan.contains("SEARCH bookings USING INDEX bookings_by_user (userid=?)"), "{plan}");
        assert!(!crate::store::builds_temporary_btree(HELD_BY_USER));
    }
}
