//! Booking and cancelling (the waitlist and promotion are `waitlist`): each call runs inside
//! the caller's write transaction (`BEGIN IMMEDIATE`), and the database refuses what the
//! rules refuse.

use super::catalog::{date_label, Catalog, Facility, Slot};
use super::events::{Event, Events, Withdrawn};
use super::model::{Booking, BookingError, BookingState, BOOKING_COLUMNS};
use super::{query, rules};
use crate::config::BookingConfig;
use chrono::{DateTime, NaiveDate, Utc};
use rand::Rng;
use rusqlite::{params, Connection, OptionalExtension};

/// What the booking rules need besides the database.
pub struct Rules<'a> {
    pub catalog: &'a Catalog,
    pub config: &'a BookingConfig,
    /// Who decides a request level whose only approver is its applicant (`[roles] admins`).
    pub admins: &'a [String],
}

pub(super) fn is_unique_violation(error: &rusqlite::Error) -> bool {
    matches!(
        error,
        rusqlite::Error::SqliteFailure(e, _) if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    )
}

fn new_codes() -> (String, String) {
    let mut rng = rand::thread_rng();
    let checkin = format!("{:06}", rng.gen_range(0..1_000_000));
    let token: [u8; 16] = rng.gen();
    (checkin, hex::encode(token))
}

pub fn booking_by_id(conn: &Connection, id: i64) -> rusqlite::Result<Option<Booking>> {
    crate::store::query_row(
        conn,
        &format!("SELECT {BOOKING_COLUMNS} FROM bookings WHERE id = ?1"),
        [id],
        Booking::from_row,
    )
    .optional()
}

/// Booking `id`, when `actor` may act on it: their own, or any for an admin.
pub(super) fn booking_to_act_on(
    tx: &Connection,
    id: i64,
    actor: &str,
    actor_is_admin: bool,
) -> Result<Booking, BookingError> {
    let booking = booking_by_id(tx, id)?.ok_or(BookingError::NotFound)?;
    if booking.userid != actor && !actor_is_admin {
        return Err(BookingError::NotYours);
    }
    Ok(booking)
}

/// Run `f` all or none: in a savepoint, undone with the events it pushed when it fails.
pub(super) fn all_or_none<T>(
    tx: &Connection,
    events: &mut Events,
    f: impl FnOnce(&mut Events) -> Result<T, BookingError>,
) -> Result<T, BookingError> {
    let before = events.len();
    crate::store::execute(tx, "SAVEPOINT all_or_none", [])?;
    match f(events) {
        Ok(done) => {
            crate::store::execute(tx, "RELEASE all_or_none", [])?;
            Ok(done)
        }
        Err(error) => {
            tx.execute_batch("ROLLBACK TO all_or_none; RELEASE all_or_none")?;
            events.truncate(before);
            Err(error)
        }
    }
}

/// Insert a booking only while the slot has room. The count and the insert run in the
/// caller's write transaction (`BEGIN IMMEDIATE`: no other write in between), so no
/// interleaving can overfill a slot. Two statements, not an `INSERT … SELECT` that counts
/// the same table: SQLite copies such a select into a temporary table first, which cost more
/// than the insert. `Ok(None)` = full; else the booking as written (not read back).
#[allow(clippy::too_many_arguments)]
pub(super) fn insert_if_room(
    tx: &Connection,
    rules: &Rules,
    user: &str,
    facility: &Facility,
    date: NaiveDate,
    slot: &Slot,
    source: &str,
    now: i64,
) -> Result<Option<Booking>, rusqlite::Error> {
    if query::used_places(tx, &facility.code, date, slot.no)? >= facility.capacity {
        return Ok(None);
    }
    let (state, level) =
        if facility.needs_approval() { (BookingState::Pending, Some(1)) } else { (BookingState::Confirmed, None) };
    let (checkin_code, pass_token) = new_codes();
    let starts = rules.catalog.slot_start(date, slot).timestamp();
    let ends = rules.catalog.slot_end(date, slot).timestamp();
    crate::store::execute(
        tx,
        "INSERT INTO bookings (userid, facility, date, slot, starts_at, ends_at, state, approval_level,
                               source, checkin_code, pass_token, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)",
        params![
            user,
            facility.code,
            date.to_string(),
            slot.no,
            starts,
            ends,
            state.as_str(),
            level,
            source,
            checkin_code,
            pass_token,
            now
        ],
    )?;
    Ok(Some(Booking {
        id: tx.last_insert_rowid(),
        userid: user.to_string(),
        facility: facility.code.clone(),
        date,
        slot: slot.no,
        starts_at: starts,
        ends_at: ends,
        state,
        approval_level: level,
        checkin_code,
        pass_token,
    }))
}

/// A member asked for a place they could not get: counted for demand reports and ranking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Demand {
    pub kind: &'static str,
    pub user: String,
    pub facility: String,
    pub date: NaiveDate,
    pub slot: u32,
    pub at: i64,
}

impl Demand {
    pub fn record(&self, conn: &Connection) -> rusqlite::Result<()> {
        crate::store::execute(
            conn,
            // A refusal is counted once per member and slot (index `demand_refused_once`).
            "INSERT INTO demand_events (kind, userid, facility, date, slot, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT DO NOTHING",
            params![self.kind, self.user, self.facility, self.date.to_string(), self.slot, self.at],
        )?;
        Ok(())
    }
}

pub(super) fn record_demand(
    tx: &Connection,
    kind: &'static str,
    user: &str,
    facility: &str,
    date: NaiveDate,
    slot: u32,
    now: i64,
) -> rusqlite::Result<()> {
    let (user, facility) = (user.to_string(), facility.to_string());
    Demand { kind, user, facility, date, slot, at: now }.record(tx)
}

/// The rules a booking request must pass before any place is taken (time, closures, the
/// member's limits, not already held).
fn check_request(
    conn: &Connection,
    rules: &Rules,
    user: &str,
    facility: &Facility,
    date: NaiveDate,
    slots: &[&Slot],
    now: DateTime<Utc>,
) -> Result<(), BookingError> {
    for slot in slots {
        rules::check_bookable(conn, rules, facility, date, slot, now)?;
    }
    rules::check_user_may_book(conn, rules, user, date, slots.len() as u32, now)?;
    for slot in slots {
        if let Some(id) = rules::live_booking_of(conn, user, &facility.code, date, slot.no)? {
            return Err(BookingError::AlreadyBooked { id });
        }
    }
    Ok(())
}

/// The refusal for a full slot: nearby free places and the queue's length.
fn slot_full(
    conn: &Connection,
    rules: &Rules,
    user: &str,
    facility: &Facility,
    date: NaiveDate,
    slot: &Slot,
    now: DateTime<Utc>,
) -> Result<BookingError, BookingError> {
    let alternatives = query::alternatives(conn, rules, user, facility, date, slot, now)?;
    let waitlist_len = query::waitlist_len(conn, &facility.code, date, slot.no)?;
    Ok(BookingError::SlotFull { alternatives, waitlist_len })
}

/// Book `slots` (consecutive, all or none) of `facility` on `date` for `user`.
#[allow(clippy::too_many_arguments)]
pub fn book(
    tx: &Connection,
    rules: &Rules,
    user: &str,
    facility: &Facility,
    date: NaiveDate,
    slot_nos: &[u32],
    now: DateTime<Utc>,
    events: &mut Events,
) -> Result<Vec<Booking>, BookingError> {
    let slots: Vec<&Slot> =
        slot_nos.iter().map(|no| rules.catalog.slot(*no).ok_or(BookingError::NoSuchSlot)).collect::<Result<_, _>>()?;
    check_request(tx, rules, user, facility, date, &slots, now)?;
    // A savepoint makes a range all-or-none while the refusal's demand record still commits.
    // One slot needs none: a refused insert leaves nothing to undo.
    let range = slots.len() > 1;
    if range {
        crate::store::execute(tx, "SAVEPOINT booking_range", [])?;
    }
    let rollback = || -> rusqlite::Result<()> {
        if range {
            crate::store::execute(tx, "ROLLBACK TO booking_range", [])?;
            crate::store::execute(tx, "RELEASE booking_range", [])?;
        }
        Ok(())
    };
    let mut bookings = Vec::new();
    for slot in &slots {
        match insert_if_room(tx, rules, user, facility, date, slot, "direct", now.timestamp()) {
            Ok(Some(booking)) => bookings.push(booking),
            Ok(None) => {
                rollback()?;
                record_demand(tx, "refused_full", user, &facility.code, date, slot.no, now.timestamp())?;
                return Err(slot_full(tx, rules, user, facility, date, slot, now)?);
            }
            Err(e) if is_unique_violation(&e) => {
                rollback()?;
                let id = rules::live_booking_of(tx, user, &facility.code, date, slot.no)?.unwrap_or_default();
                return Err(BookingError::AlreadyBooked { id });
            }
            Err(e) => {
                rollback()?;
                return Err(e.into());
            }
        }
    }
    if range {
        crate::store::execute(tx, "RELEASE booking_range", [])?;
    }
    for booking in &bookings {
        if booking.state == BookingState::Pending {
            super::approval::request(tx, rules, booking, events)?;
        } else {
            events.push(Event::Booked { booking: booking.clone() });
        }
    }
    Ok(bookings)
}

/// What a cancellation did.
#[derive(Debug, Clone)]
pub struct Cancelled {
    pub booking: Booking,
    /// The waiter who got the freed place.
    pub promoted: Option<Booking>,
}

/// Cancel a live booking before it starts: the owner's own, or any by an admin.
pub fn cancel(
    tx: &Connection,
    rules: &Rules,
    actor: &str,
    actor_is_admin: bool,
    id: i64,
    now: DateTime<Utc>,
    events: &mut Events,
) -> Result<Cancelled, BookingError> {
    let booking = booking_to_act_on(tx, id, actor, actor_is_admin)?;
    if !matches!(booking.state, BookingState::Pending | BookingState::Confirmed) {
        return Err(BookingError::NotActive { state: booking.state });
    }
    if booking.has_begun(now) {
        return Err(BookingError::InPast);
    }
    set_state(tx, id, BookingState::Cancelled, Some(actor), None, now.timestamp())?;
    super::approval::withdraw(&booking, Withdrawn::Cancelled, events);
    let cancelled = Booking { state: BookingState::Cancelled, ..booking.clone() };
    events.push(Event::Cancelled { booking: cancelled, by: actor.to_string() });
    super::partners::after_cancel(tx, rules, &booking, actor, now, events)?;
    let promoted = super::waitlist::promote(tx, rules, &booking.facility, booking.date, booking.slot, now, events)?;
    let booking = booking_by_id(tx, id)?.ok_or(BookingError::NotFound)?;
    Ok(Cancelled { booking, promoted })
}

/// Move a booking out of its live state (cancelled, rejected, no-show, closed, expired).
pub fn set_state(
    tx: &Connection,
    id: i64,
    state: BookingState,
    by: Option<&str>,
    reason: Option<&str>,
    now: i64,
) -> rusqlite::Result<()> {
    crate::store::execute(
        tx,
        "UPDATE bookings SET state = ?2, updated_at = ?5,
             cancelled_at = CASE WHEN ?2 IN ('cancelled', 'closed') THEN ?5 ELSE cancelled_at END,
             cancelled_by = COALESCE(?3, cancelled_by), reason = COALESCE(?4, reason)
         WHERE id = ?1",
        params![id, state.as_str(), by, reason, now],
    )?;
    Ok(())
}

/// `健身房 11月25日 周三 18:30-19:30`
pub fn describe(catalog: &Catalog, facility: &str, date: NaiveDate, slot: u32) -> String {
    let name = catalog.facility(facility).map_or(facility, |f| f.name.as_str());
    let time = catalog.slot(slot).map(Slot::label).unwrap_or_default();
    format!("{name} {} {time}", date_label(date))
}

/// Open `week` (its Monday) for booking, once. False if already open.
pub fn publish_week(
    tx: &Connection,
    rules: &Rules,
    week: NaiveDate,
    by: &str,
    now: DateTime<Utc>,
    events: &mut Events,
) -> rusqlite::Result<bool> {
    let inserted = crate::store::execute(
        tx,
        "INSERT INTO open_weeks (week_start, opened_at, opened_by) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
        params![week.to_string(), now.timestamp(), by],
    )?;
    if inserted == 1 {
        // Held dates of recurring bookings first, in the same step: no one else comes between.
        super::series::book_held(tx, rules, week, now, events)?;
        events.push(Event::WeekPublished { week });
    }
    Ok(inserted == 1)
}
