//! 签退: a member who leaves early ends their visit. The booking becomes `completed` with its
//! real end (`ended_at`), its place is free for the rest of the slot, and the member's later
//! slots of the same range (booked together as 12:00-14:00) are freed too; each freed place
//! goes to the waitlist as a cancellation's would.

use super::events::Events;
use super::model::{Booking, BookingError, BookingState, BOOKING_COLUMNS};
use super::service::{booking_by_id, cancel, Rules};
use super::waitlist::promote;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

/// A door QR scanned again this long after the check-in signs out (a second scan on arrival
/// does not).
pub const RESCAN_SIGNS_OUT_AFTER_SECONDS: i64 = 10 * 60;

#[derive(Debug, thiserror::Error)]
pub enum SignOutRefusal {
    /// No booking of this member is checked in and running now.
    #[error("nothing checked in to sign out of")]
    NotCheckedIn,
    #[error("not your booking")]
    NotYours,
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
}

/// What a sign-out ended and freed.
#[derive(Debug, Clone)]
pub struct SignedOut {
    pub booking: Booking,
    /// The later slots of the same range, cancelled.
    pub later: Vec<Booking>,
}

/// The member's booking checked in and running now (at `facility` if given).
pub fn running_checked_in(
    conn: &Connection,
    user: &str,
    facility: Option<&str>,
    now: DateTime<Utc>,
) -> rusqlite::Result<Option<(Booking, i64)>> {
    let sql = format!(
        "SELECT {BOOKING_COLUMNS}, checked_in_at FROM bookings WHERE userid = ?1 AND (?2 IS NULL OR facility = ?2)
           AND state = 'checked_in' AND starts_at <= ?3 AND ends_at > ?3 ORDER BY starts_at LIMIT 1"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    // The column after the booking's own.
    let checked_in_at = BOOKING_COLUMNS.split(',').count();
    stmt.query_row(params![user, facility, now.timestamp()], |row| {
        Ok((Booking::from_row(row)?, row.get::<_, Option<i64>>(checked_in_at)?.unwrap_or_default()))
    })
    .optional()
}

/// Sign `user` out of booking `id`, or of the one they are checked in to now.
pub fn sign_out(
    tx: &Connection,
    rules: &Rules,
    user: &str,
    id: Option<i64>,
    now: DateTime<Utc>,
    events: &mut Events,
) -> Result<SignedOut, SignOutRefusal> {
    let booking = match id {
        Some(id) => {
            let booking = booking_by_id(tx, id)?.ok_or(SignOutRefusal::NotCheckedIn)?;
            if booking.userid != user {
                return Err(SignOutRefusal::NotYours);
            }
            booking
        }
        None => running_checked_in(tx, user, None, now)?.ok_or(SignOutRefusal::NotCheckedIn)?.0,
    };
    let t = now.timestamp();
    if booking.state != BookingState::CheckedIn || booking.ends_at <= t {
        return Err(SignOutRefusal::NotCheckedIn);
    }
    crate::store::execute(
        tx,
        "UPDATE bookings SET state = 'completed', ended_at = ?2, updated_at = ?2 WHERE id = ?1",
        params![booking.id, t],
    )?;
    promote(tx, rules, &booking.facility, booking.date, booking.slot, now, events)?;
    let mut later = Vec::new();
    let mut end = booking.ends_at;
    while let Some(next) = next_of_range(tx, &booking, end)? {
        end = next.ends_at;
        match cancel(tx, rules, user, false, next.id, now, events) {
            Ok(cancelled) => later.push(cancelled.booking),
            Err(BookingError::Db(e)) => return Err(e.into()),
            Err(_) => break,
        }
    }
    let booking = booking_by_id(tx, booking.id)?.unwrap_or(booking);
    Ok(SignedOut { booking, later })
}

/// The member's confirmed booking of the same facility that starts where the last one ends.
fn next_of_range(tx: &Connection, of: &Booking, at: i64) -> rusqlite::Result<Option<Booking>> {
    let sql = format!(
        "SELECT {BOOKING_COLUMNS} FROM bookings WHERE userid = ?1 AND facility = ?2 AND starts_at = ?3
           AND state = 'confirmed' LIMIT 1"
    );
    tx.prepare_cached(&sql)?.query_row(params![of.userid, of.facility, at], Booking::from_row).optional()
}
