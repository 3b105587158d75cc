//! The waitlist: joining and leaving a full slot's queue, and promotion, which gives a freed
//! place to the first waiter who can take it (or, shortly before the start, offers it:
//! `offers`). Each call runs inside the caller's write transaction.

use super::catalog::Facility;
use super::events::{Event, Events};
use super::model::{Booking, BookingError, BookingState};
use super::service::{insert_if_room, is_unique_violation, record_demand, Rules};
use super::{query, rules};
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{params, Connection, OptionalExtension};

/// Give a freed place to the first waiter who can take it, and tell them (same transaction);
/// shortly before the start, offer it instead (`offers`).
pub fn promote(
    tx: &Connection,
    rules: &Rules,
    facility_code: &str,
    date: NaiveDate,
    slot_no: u32,
    now: DateTime<Utc>,
    events: &mut Events,
) -> rusqlite::Result<Option<Booking>> {
    let (Some(facility), Some(slot)) = (rules.catalog.facility(facility_code), rules.catalog.slot(slot_no)) else {
        return Ok(None);
    };
    if rules.catalog.slot_end(date, slot) <= now {
        return Ok(None);
    }
    if super::offers::offered_not_given(rules, date, slot, now) {
        return super::offers::offer_next(tx, rules, facility, date, slot, now, events).map(|_| None);
    }
    loop {
        let next: Option<(i64, String)> = crate::store::query_row(
            tx,
            "SELECT id, userid FROM waitlist WHERE facility = ?1 AND date = ?2 AND slot = ?3 AND state = 'waiting'
             ORDER BY id LIMIT 1",
            params![facility_code, date.to_string(), slot_no],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
        let Some((entry, waiter)) = next else {
            return Ok(None);
        };
        match insert_if_room(tx, rules, &waiter, facility, date, slot, "waitlist", now.timestamp()) {
            Ok(None) => return Ok(None), // still full (e.g. capacity shared by a pending request)
            Ok(Some(booking)) => {
                waiter_booked(tx, rules, entry, &booking, now, events)?;
                return Ok(Some(booking));
            }
            Err(e) if is_unique_violation(&e) => {
                // The waiter already holds this slot: their wait is over.
                crate::store::execute(
                    tx,
                    "UPDATE waitlist SET state = 'left', updated_at = ?2 WHERE id = ?1",
                    params![entry, now.timestamp()],
                )?;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Waitlist entry `entry` got `booking`: the wait ends, the promotion is counted as demand,
/// and the member is told (a facility that needs approval asks its approvers first).
pub(super) fn waiter_booked(
    tx: &Connection,
    rules: &Rules,
    entry: i64,
    booking: &Booking,
    now: DateTime<Utc>,
    events: &mut Events,
) -> rusqlite::Result<()> {
    crate::store::execute(
        tx,
        "UPDATE waitlist SET state = 'promoted', offered_until = NULL, booking_id = ?2, updated_at = ?3 WHERE id = ?1",
        params![entry, booking.id, now.timestamp()],
    )?;
    let (user, facility) = (&booking.userid, &booking.facility);
    record_demand(tx, "promotion", user, facility, booking.date, booking.slot, now.timestamp())?;
    events.push(Event::Promoted { booking: booking.clone() });
    if booking.state == BookingState::Pending {
        super::approval::request(tx, rules, booking, events)?;
    }
    Ok(())
}

/// Leave the queue for a slot: true when `user` was waiting there. A place offered to them
/// goes on to the next waiter.
#[allow(clippy::too_many_arguments)]
pub fn leave_waitlist(
    tx: &Connection,
    rules: &Rules,
    user: &str,
    facility: &str,
    date: NaiveDate,
    slot: u32,
    now: DateTime<Utc>,
    events: &mut Events,
) -> rusqlite::Result<bool> {
    let waiting = "SELECT offered_until IS NOT NULL FROM waitlist
                   WHERE userid = ?1 AND facility = ?2 AND date = ?3 AND slot = ?4 AND state = 'waiting'";
    let key = params![user, facility, date.to_string(), slot];
    let Some(held_an_offer) = crate::store::query_row(tx, waiting, key, |r| r.get::<_, bool>(0)).optional()? else {
        return Ok(false);
    };
    crate::store::execute(
        tx,
        "UPDATE waitlist SET state = 'left', offered_until = NULL, updated_at = ?5
         WHERE userid = ?1 AND facility = ?2 AND date = ?3 AND slot = ?4 AND state = 'waiting'",
        params![user, facility, date.to_string(), slot, now.timestamp()],
    )?;
    if held_an_offer {
        promote(tx, rules, facility, date, slot, now, events)?;
    }
    Ok(true)
}

/// A place in the queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiting {
    pub facility: String,
    pub date: NaiveDate,
    pub slot: u32,
    pub position: u32,
    /// False when the member was already in the queue (joining is idempotent).
    pub newly_joined: bool,
}

/// Join the queue of a full slot.
pub fn join_waitlist(
    tx: &Connection,
    rules: &Rules,
    user: &str,
    facility: &Facility,
    date: NaiveDate,
    slot_no: u32,
    now: DateTime<Utc>,
) -> Result<Waiting, BookingError> {
    let slot = rules.catalog.slot(slot_no).ok_or(BookingError::NoSuchSlot)?;
    rules::check_bookable(tx, rules, facility, date, slot, now)?;
    if let Some(id) = rules::live_booking_of(tx, user, &facility.code, date, slot_no)? {
        return Err(BookingError::AlreadyBooked { id });
    }
    let used = query::used_places(tx, &facility.code, date, slot_no)?;
    if used < facility.capacity {
        return Err(BookingError::NotFull { free: facility.capacity - used });
    }
    let inserted = crate::store::execute(
        tx,
        "INSERT INTO waitlist (userid, facility, date, slot, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?5)
         ON CONFLICT DO NOTHING",
        params![user, facility.code, date.to_string(), slot_no, now.timestamp()],
    )?;
    if inserted == 1 {
        record_demand(tx, "waitlist_join", user, &facility.code, date, slot_no, now.timestamp())?;
    }
    let position = query::waitlist_position(tx, user, &facility.code, date, slot_no)?.unwrap_or(1);
    Ok(Waiting { facility: facility.code.clone(), date, slot: slot_no, position, newly_joined: inserted == 1 })
}
