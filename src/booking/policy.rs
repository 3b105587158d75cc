//! What happens as time passes: confirmations and reminders are due, no-shows become
//! strikes (enough of them suspend booking), undecided requests expire at their start.
//! Each function is idempotent: it acts only on rows still in the state it changes (or not yet
//! marked), and says what happened through `events`, in the same transaction.

use super::events::{Event, Events, Withdrawn};
use super::model::{Booking, BookingState, BOOKING_COLUMNS};
use super::query;
use super::service::{set_state, Rules};
use super::waitlist::promote;
use chrono::{DateTime, Duration, Utc};
use rusqlite::{params, Connection};

fn bookings(tx: &Connection, sql_where: &str, args: impl rusqlite::Params) -> rusqlite::Result<Vec<Booking>> {
    let mut stmt =
        tx.prepare_cached(&format!("SELECT {BOOKING_COLUMNS} FROM bookings WHERE {sql_where} ORDER BY starts_at, id"))?;
    let rows = stmt.query_map(args, Booking::from_row)?;
    rows.collect()
}

/// Peak bookings starting within `confirm_before_minutes` (and not started) whose confirmation
/// was not asked for yet: it is due, once each. A late one is still due while the slot is ahead.
/// A booking made inside that window (booked, moved or an offer taken an hour before) is not
/// asked: it was just made, and a card a minute later asking whether it stands is noise.
pub fn send_confirmations(
    tx: &Connection,
    rules: &Rules,
    now: DateTime<Utc>,
    events: &mut Events,
) -> rusqlite::Result<u32> {
    let window = rules.config.confirm_before_minutes * 60;
    let due = bookings(
        tx,
        "state = 'confirmed' AND starts_at > ?1 AND starts_at <= ?1 + ?2 AND user_confirmed_at IS NULL
         AND confirm_asked_at IS NULL AND created_at < starts_at - ?2",
        params![now.timestamp(), window],
    )?;
    let mut asked = 0;
    for booking in due.into_iter().filter(|b| rules.catalog.slot(b.slot).is_some_and(|s| s.peak)) {
        crate::store::execute(
            tx,
            "UPDATE bookings SET confirm_asked_at = ?2 WHERE id = ?1",
            params![booking.id, now.timestamp()],
        )?;
        let waiting = query::waitlist_len(tx, &booking.facility, booking.date, booking.slot)?;
        events.push(Event::ConfirmationDue { booking, waiting });
        asked += 1;
    }
    Ok(asked)
}

/// Confirmed bookings starting within their member's reminder lead (the configured one unless
/// the member chose another) whose reminder is not yet due: due now, once each. A booking made
/// inside its lead (ten minutes before the start) is not reminded: its reply said it all.
pub fn send_reminders(
    tx: &Connection,
    rules: &Rules,
    now: DateTime<Utc>,
    events: &mut Events,
) -> rusqlite::Result<u32> {
    // A member may choose their own lead time (提醒 提前30分钟, at most three hours).
    let longest = rules.config.remind_before_minutes.max(*crate::settings::LEAD_MINUTES.end());
    let lead = "60 * COALESCE(
        (SELECT remind_before_minutes FROM member_settings s WHERE s.userid = bookings.userid), ?3)";
    let due = bookings(
        tx,
        &format!(
            "state = 'confirmed' AND starts_at > ?1 AND starts_at <= ?1 + ?2 * 60 AND reminded_at IS NULL
             AND starts_at <= ?1 + {lead} AND created_at < starts_at - {lead}"
        ),
        params![now.timestamp(), longest, rules.config.remind_before_minutes],
    )?;
    let reminded = due.len() as u32;
    for booking in due {
        crate::store::execute(
            tx,
            "UPDATE bookings SET reminded_at = ?2 WHERE id = ?1",
            params![booking.id, now.timestamp()],
        )?;
        events.push(Event::ReminderDue { booking });
    }
    Ok(reminded)
}

/// What the no-show pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct NoShows {
    pub marked: u32,
    pub promoted: u32,
    pub suspended: u32,
}

/// Confirmed bookings with no check-in `no_show_after_minutes` after start become no-shows:
/// the place goes to the waitlist while the slot runs, a strike is counted, and the strike
/// that reaches the limit within the window suspends booking.
pub fn mark_no_shows(
    tx: &Connection,
    rules: &Rules,
    now: DateTime<Utc>,
    events: &mut Events,
) -> rusqlite::Result<NoShows> {
    let cutoff = now.timestamp() - rules.config.no_show_after_minutes * 60;
    // The grace period runs from the start, or from the booking if it came later (a waiter
    // promoted into a running slot needs time to get there).
    let due =
        bookings(tx, "state = 'confirmed' AND starts_at <= ?1 AND max(starts_at, created_at) <= ?1", params![cutoff])?;
    let mut done = NoShows::default();
    for booking in &due {
        set_state(tx, booking.id, BookingState::NoShow, None, Some("未签到"), now.timestamp())?;
        done.marked += 1;
        crate::store::execute(
            tx,
            "INSERT INTO strikes (userid, booking_id, at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
            params![booking.userid, booking.id, now.timestamp()],
        )?;
        let strikes = active_strikes(tx, rules, &booking.userid, now)?;
        if promote(tx, rules, &booking.facility, booking.date, booking.slot, now, events)?.is_some() {
            done.promoted += 1;
        }
        super::series::after_no_show(tx, rules, booking, now, events)?;
        let suspended_until = if strikes >= rules.config.strike_limit {
            let until = now + Duration::days(rules.config.suspend_days);
            crate::store::execute(
                tx,
                "UPDATE users SET suspended_until = max(COALESCE(suspended_until, 0), ?2) WHERE userid = ?1",
                params![booking.userid, until.timestamp()],
            )?;
            done.suspended += 1;
            Some(until)
        } else {
            None
        };
        let booking = Booking { state: BookingState::NoShow, ..booking.clone() };
        events.push(Event::NoShow { booking, strikes, suspended_until });
    }
    Ok(done)
}

/// Strikes in the window that were not forgiven.
pub fn active_strikes(tx: &Connection, rules: &Rules, user: &str, now: DateTime<Utc>) -> rusqlite::Result<u32> {
    let since = now - Duration::days(rules.config.strike_window_days);
    crate::store::query_row(
        tx,
        "SELECT count(*) FROM strikes WHERE userid = ?1 AND at > ?2 AND forgiven_at IS NULL",
        params![user, since.timestamp()],
        |row| row.get(0),
    )
}

/// Pending requests that reach their start without a decision expire.
pub fn expire_pending(tx: &Connection, now: DateTime<Utc>, events: &mut Events) -> rusqlite::Result<Vec<Booking>> {
    let due = bookings(tx, "state = 'pending' AND starts_at <= ?1", params![now.timestamp()])?;
    for booking in &due {
        set_state(tx, booking.id, BookingState::Expired, None, Some("审批超时"), now.timestamp())?;
        super::approval::withdraw(booking, Withdrawn::Expired, events);
        let booking = Booking { state: BookingState::Expired, ..booking.clone() };
        events.push(Event::RequestExpired { booking });
    }
    Ok(due)
}
