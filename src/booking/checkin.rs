//! Check-in: by the 签到 command or by scanning the QR code at the facility door, inside
//! the window from `checkin_open_minutes` before start to `no_show_after_minutes` after.

use super::model::{Booking, BookingState, BOOKING_COLUMNS, LIVE};
use super::service::{booking_by_id, Rules};
use chrono::{DateTime, TimeZone, Utc};
use rusqlite::{params, Connection};

/// Why a check-in did not happen; each refusal gets its own answer.
#[derive(Debug, thiserror::Error)]
pub enum CheckInRefusal {
    /// No live booking of this member matches (at this facility, or at all).
    #[error("no booking to check in")]
    NoBooking,
    #[error("not your booking")]
    NotYours,
    #[error("check-in not open yet")]
    TooEarly { opens_at: DateTime<Utc> },
    #[error("check-in closed")]
    TooLate,
    #[error("already checked in")]
    AlreadyCheckedIn { booking: Box<Booking> },
    #[error("booking not confirmed")]
    NotConfirmed { state: BookingState },
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
}

/// The window of a booking: (opens, closes).
pub fn window(rules: &Rules, booking: &Booking) -> (i64, i64) {
    (
        booking.starts_at - rules.config.checkin_open_minutes * 60,
        booking.starts_at + rules.config.no_show_after_minutes * 60,
    )
}

fn live_today(
    conn: &Connection,
    user: &str,
    facility: Option<&str>,
    from: i64,
    to: i64,
) -> rusqlite::Result<Vec<Booking>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {BOOKING_COLUMNS} FROM bookings WHERE userid = ?1 AND (?2 IS NULL OR facility = ?2)
         AND {LIVE} AND starts_at >= ?3 AND starts_at < ?4 ORDER BY starts_at"
    ))?;
    let rows = stmt.query_map(params![user, facility, from, to], Booking::from_row)?;
    rows.collect()
}

/// Check `user` in: booking `id` if given, else their booking (at `facility` if given) whose
/// window is open now. Idempotent: a second check-in says it was already done.
pub fn check_in(
    tx: &Connection,
    rules: &Rules,
    user: &str,
    id: Option<i64>,
    facility: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Booking, CheckInRefusal> {
    let booking = match id {
        Some(id) => match booking_by_id(tx, id)? {
            None => return Err(CheckInRefusal::NoBooking),
            Some(b) if b.userid != user => return Err(CheckInRefusal::NotYours),
            Some(b) => b,
        },
        None => {
            let day = rules.catalog.today(now);
            let midnight = rules.catalog.instant(day, chrono::NaiveTime::MIN).timestamp();
            let today = live_today(tx, user, facility, midnight, midnight + 86_400)?;
            // The one whose window is open; else the next one ahead (to say when it opens);
            // else the last (to say it closed).
            let t = now.timestamp();
            let open = today.iter().find(|b| {
                let (o, c) = window(rules, b);
                o <= t && t <= c
            });
            match open.or_else(|| today.iter().find(|b| window(rules, b).0 > t)).or(today.last()) {
                Some(b) => b.clone(),
                None => return Err(CheckInRefusal::NoBooking),
            }
        }
    };
    if facility.is_some_and(|f| f != booking.facility) {
        return Err(CheckInRefusal::NoBooking);
    }
    match booking.state {
        BookingState::CheckedIn => return Err(CheckInRefusal::AlreadyCheckedIn { booking: Box::new(booking) }),
        BookingState::Confirmed => {}
        state => return Err(CheckInRefusal::NotConfirmed { state }),
    }
    let (opens, closes) = window(rules, &booking);
    let t = now.timestamp();
    if t < opens {
        let opens_at = Utc.timestamp_opt(opens, 0).single().unwrap_or(now);
        return Err(CheckInRefusal::TooEarly { opens_at });
    }
    if t > closes {
        return Err(CheckInRefusal::TooLate);
    }
    crate::store::execute(tx,
        "UPDATE bookings SET state = 'checked_in', checked_in_at = ?2, updated_at = ?2 WHERE id = ?1 AND state = 'confirmed'",
        params![booking.id, t],
    )?;
    Ok(booking_by_id(tx, booking.id)?.unwrap_or(booking))
}

/// The facility code a door QR names: the code itself, or a URL ending with it.
pub fn facility_of_scan<'c>(rules: &'c Rules, scanned: &str) -> Option<&'c str> {
    let last = scanned.trim().trim_end_matches('/').rsplit(['/', '=', '#', '?']).next().unwrap_or_default();
    rules.catalog.facilities().iter().find(|f| f.code == last.to_ascii_lowercase()).map(|f| f.code.as_str())
}

/// An admin forgives a strike (a member's latest, or booking `id`'s); lifts the suspension
/// when the member is back under the limit. Returns the member, or None if nothing to forgive.
pub fn forgive(
    tx: &Connection,
    rules: &Rules,
    admin: &str,
    target: &str,
    now: DateTime<Utc>,
) -> rusqlite::Result<Option<(String, u32)>> {
    let strike: Option<(i64, String)> = match target.trim_start_matches('#').parse::<i64>() {
        Ok(id) => tx
            .query_row("SELECT id, userid FROM strikes WHERE booking_id = ?1 AND forgiven_at IS NULL", [id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .ok(),
        Err(_) => tx
            .query_row(
                "SELECT id, userid FROM strikes WHERE userid = ?1 AND forgiven_at IS NULL ORDER BY at DESC LIMIT 1",
                [target],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .ok(),
    };
    let Some((strike, user)) = strike else { return Ok(None) };
    crate::store::execute(
        tx,
        "UPDATE strikes SET forgiven_at = ?2, forgiven_by = ?3 WHERE id = ?1",
        params![strike, now.timestamp(), admin],
    )?;
    let left = super::policy::active_strikes(tx, rules, &user, now)?;
    if left < rules.config.strike_limit {
        crate::store::execute(tx, "UPDATE users SET suspended_until = NULL WHERE userid = ?1", [&user])?;
    }
    tracing::info!(admin, user = %user, strike, "strike forgiven");
    Ok(Some((user, left)))
}
