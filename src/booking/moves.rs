//! 改约: a booking moved to another slot in one step. The old place is released and the new one
//! taken inside one savepoint: when the new one cannot be had, everything is rolled back and
//! the old booking stays as it was; no one else can come between the two (one writer).

use super::events::{Event, Events};
use super::model::{Booking, BookingError};
use super::service::{all_or_none, book, booking_to_act_on, cancel, Rules};
use super::Facility;
use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::Connection;

/// What a move did: the booking left and the one taken instead (pending where the new time
/// needs approval again).
#[derive(Debug, Clone)]
pub struct Moved {
    pub from: Booking,
    pub to: Vec<Booking>,
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
    let before = events.len();
    let to = all_or_none(tx, events, |events| {
        cancel(tx, rules, actor, actor_is_admin, id, now, events)
            .and_then(|_| book(tx, rules, &old.userid, facility, date, slots, now, events))
    })?;
    // One event for the pair: the member is not told of a cancellation and a booking.
    events.retain_from(before, |e| {
        !matches!(e, Event::Cancelled { booking, .. } if booking.id == id)
            && !matches!(e, Event::Booked { booking } if to.iter().any(|b| b.id == booking.id))
    });
    events.push(Event::Moved { from: old.clone(), to: to.clone(), by: actor.to_string() });
    Ok(Moved { from: old, to })
}
