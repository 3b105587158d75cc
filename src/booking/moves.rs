//! 改约: a booking moved to another slot in one step. The old place is released and the new one
//! taken inside one savepoint: when the new one cannot be had, everything is rolled back and
//! the old booking stays as it was; no one else can come between the two (one writer). The
//! partners booked with it move too, all or none.

use super::events::{Event, Events};
use super::model::{Booking, BookingError};
use super::partners;
use super::service::{all_or_none, book, booking_to_act_on, cancel, Rules};
use super::Facility;
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::{Connection, OptionalExtension};

/// What a move did: the booking left and the one taken instead (pending where the new time
/// needs approval again), and the places of the partners booked with it, moved along.
#[derive(Debug, Clone)]
pub struct Moved {
    pub from: Booking,
    pub to: Vec<Booking>,
    pub partners: Vec<Booking>,
}

/// Move booking `id` (the actor's own, or any for an admin) to `slots` of `facility` on `date`.
#[allow(clippy::too_many_arguments)]
pub fn move_booking(
    tx: &Connection,
    rules: &Rules,
    actor: &str,
    actor_is_admin: bool,
    id: i64,
    (facility, date, slots): (&Facility, NaiveDate, &[u32]),
    now: DateTime<Utc>,
    events: &mut Events,
) -> Result<Moved, BookingError> {
    let old = booking_to_act_on(tx, id, actor, actor_is_admin)?;
    // Partners booked with it come along: cancelling the old booking cancels their places.
    let partner_places = partners::places_of(tx, &old)?;
    let before = events.len();
    let (to, partners) = all_or_none(tx, events, |events| {
        cancel(tx, rules, actor, actor_is_admin, id, now, events)?;
        let to = book(tx, rules, &old.userid, facility, date, slots, now, events)?;
        let at = (facility, date, slots);
        let partners = partners::move_places(tx, rules, &old.userid, &partner_places, at, now, events)?;
        Ok((to, partners))
    })?;
    // One event for the pair: the member is not told of a cancellation and a booking, nor a
    // partner of their place cancelled.
    events.retain_from(before, |e| {
        !matches!(e, Event::Cancelled { booking, .. } if booking.id == id)
            && !matches!(e, Event::Booked { booking } if to.iter().any(|b| b.id == booking.id))
            && !matches!(e, Event::PartnerPlaceCancelled { booking, .. }
                if partner_places.iter().any(|(place, _)| place.id == booking.id))
    });
    if let Some(first) = to.first() {
        record_move(tx, old.id, first.id)?;
    }
    events.push(Event::Moved { from: old.clone(), to: to.clone(), by: actor.to_string() });
    Ok(Moved { from: old, to, partners })
}

/// Remember that booking `from` went on as `to`, so that its old number still leads somewhere.
pub(super) fn record_move(tx: &Connection, from: i64, to: i64) -> rusqlite::Result<()> {
    crate::store::execute(tx, "UPDATE bookings SET moved_to = ?2 WHERE id = ?1", rusqlite::params![from, to])?;
    Ok(())
}

/// The booking a moved one went on as, following later moves too (`#1` moved to `#3`, then
/// to `#5`, is `#5` now); None when `id` was never moved.
pub fn moved_on(conn: &Connection, id: i64) -> rusqlite::Result<Option<Booking>> {
    let next = |id: i64| -> rusqlite::Result<Option<i64>> {
        let mut stmt = conn.prepare_cached("SELECT moved_to FROM bookings WHERE id = ?1")?;
        Ok(stmt.query_row([id], |r| r.get::<_, Option<i64>>(0)).optional()?.flatten())
    };
    let mut last = None;
    let mut at = id;
    // A move always makes a new, higher number, so the chain ends; the bound is a guard.
    for _ in 0..64 {
        match next(at)? {
            Some(to) if to > at => {
                last = Some(to);
                at = to;
            }
            _ => break,
        }
    }
    match last {
        Some(id) => super::service::booking_by_id(conn, id),
        None => Ok(None),
    }
}
