//! Partners: `预约 羽毛球 周三 18:30 和 lisi wangwu` takes a place for the booker and one for
//! each partner, all or none. A partner's place is their own booking (their pass, their
//! check-in, in their 我的), booked by the booker, whose quota it counts against. Each partner
//! is invited (接受 / 拒绝); a refusal frees the place for the waitlist and tells the booker,
//! and the booker's cancellation cancels the partners' places and tells them.

use super::catalog::Facility;
use super::events::{Event, Events};
use super::model::{Booking, BookingError, BOOKING_COLUMNS, LIVE};
use super::service::{all_or_none, book, booking_by_id, insert_if_room, set_state, Rules};
use super::waitlist::promote;
use super::{rules, BookingState};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

/// The most partners one booking may bring.
pub const MAX_PARTNERS: usize = 5;

/// Book `slots` for `booker` and each of `partners` (members the service knows), all or none.
#[allow(clippy::too_many_arguments)]
pub fn book_with_partners(
    tx: &Connection,
    rules: &Rules,
    booker: &str,
    facility: &Facility,
    date: chrono::NaiveDate,
    slots: &[u32],
    partners: &[String],
    now: DateTime<Utc>,
    events: &mut Events,
) -> Result<Vec<Booking>, BookingError> {
    check_partners(tx, booker, facility, partners)?;
    // The booker's quota holds their place and every partner's.
    let places = (slots.len() * (1 + partners.len())) as u32;
    rules::check_user_may_book(tx, rules, booker, date, places, now)?;
    all_or_none(tx, events, |events| {
        let mut all = book(tx, rules, booker, facility, date, slots, now, events)?;
        book_partners(tx, rules, booker, facility, date, slots, partners, now, events, &mut all)?;
        Ok(all)
    })
}

fn check_partners(tx: &Connection, booker: &str, facility: &Facility, partners: &[String]) -> Result<(), BookingError> {
    if facility.needs_approval() {
        return Err(BookingError::PartnersNotHere);
    }
    if partners.len() > MAX_PARTNERS {
        return Err(BookingError::TooManyPartners { max: MAX_PARTNERS as u32 });
    }
    for partner in partners {
        let known: Option<i64> =
            crate::store::query_row(tx, "SELECT 1 FROM users WHERE userid = ?1", [partner], |r| r.get(0)).optional()?;
        if known.is_none() || partner == booker {
            return Err(BookingError::UnknownPartner { userid: partner.clone() });
        }
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn book_partners(
    tx: &Connection,
    rules: &Rules,
    booker: &str,
    facility: &Facility,
    date: chrono::NaiveDate,
    slots: &[u32],
    partners: &[String],
    now: DateTime<Utc>,
    events: &mut Events,
    all: &mut Vec<Booking>,
) -> Result<(), BookingError> {
    for partner in partners {
        for no in slots {
            let booking = place(tx, rules, (booker, partner, INVITED), facility, date, *no, now)?;
            events.push(Event::PartnerInvited { booking: booking.clone(), booker: booker.to_string() });
            all.push(booking);
        }
    }
    Ok(())
}

const INVITED: &str = "invited";
const ACCEPTED: &str = "accepted";

/// A place for `partner` in slot `no`, booked by `booker`, their answer so far `state`.
fn place(
    tx: &Connection,
    rules: &Rules,
    (booker, partner, state): (&str, &str, &str),
    facility: &Facility,
    date: chrono::NaiveDate,
    no: u32,
    now: DateTime<Utc>,
) -> Result<Booking, BookingError> {
    let slot = rules.catalog.slot(no).ok_or(BookingError::NoSuchSlot)?;
    if let Some(id) = rules::live_booking_of(tx, partner, &facility.code, date, no)? {
        return Err(BookingError::PartnerAlreadyBooked { userid: partner.to_string(), id });
    }
    let Some(booking) = insert_if_room(tx, rules, partner, facility, date, slot, "direct", now.timestamp())? else {
        return Err(BookingError::SlotFull { alternatives: Vec::new(), waitlist_len: 0 });
    };
    crate::store::execute(
        tx,
        "UPDATE bookings SET booked_by = ?2, partner_state = ?3 WHERE id = ?1",
        params![booking.id, booker, state],
    )?;
    Ok(booking)
}

/// The partners' live places booked with `booking` (its slot, by its member), each with the
/// partner's answer so far; none when `booking` is itself a partner's place.
pub fn places_of(tx: &Connection, booking: &Booking) -> rusqlite::Result<Vec<(Booking, String)>> {
    if booker_of(tx, booking.id)?.is_some() {
        return Ok(Vec::new());
    }
    // The answer is the column after the booking's own (`Booking::from_row` reads those).
    let answer = BOOKING_COLUMNS.split(',').count();
    let sql = format!(
        "SELECT {BOOKING_COLUMNS}, partner_state FROM bookings
         WHERE booked_by = ?1 AND facility = ?2 AND date = ?3 AND slot = ?4 AND {LIVE}"
    );
    let mut stmt = tx.prepare_cached(&sql)?;
    let places = stmt
        .query_map(params![booking.userid, booking.facility, booking.date.to_string(), booking.slot], |row| {
            Ok((Booking::from_row(row)?, row.get::<_, Option<String>>(answer)?.unwrap_or_default()))
        })?;
    places.collect()
}

/// 改约 of a booking made with partners: each partner gets a place in the new `slots` too (all
/// or none, in the caller's savepoint), their answer kept. One who had accepted is told of the
/// move (`PartnerMoved`); one who had not answered is asked again for the new time. The old
/// places are the caller's to cancel.
#[allow(clippy::too_many_arguments)]
pub(super) fn move_places(
    tx: &Connection,
    rules: &Rules,
    booker: &str,
    places: &[(Booking, String)],
    (facility, date, slots): (&Facility, chrono::NaiveDate, &[u32]),
    now: DateTime<Utc>,
    events: &mut Events,
) -> Result<Vec<Booking>, BookingError> {
    let mut moved = Vec::new();
    for (old, state) in places {
        let state = if state == ACCEPTED { ACCEPTED } else { INVITED };
        let mut to = Vec::new();
        for no in slots {
            let new = place(tx, rules, (booker, &old.userid, state), facility, date, *no, now)?;
            if state == INVITED {
                events.push(Event::PartnerInvited { booking: new.clone(), booker: booker.to_string() });
            }
            to.push(new);
        }
        if let Some(first) = to.first() {
            super::moves::record_move(tx, old.id, first.id)?;
        }
        if state == ACCEPTED {
            events.push(Event::PartnerMoved { from: old.clone(), to: to.clone(), booker: booker.to_string() });
        }
        moved.extend(to);
    }
    Ok(moved)
}

/// A partner's place as the partner sees it: who booked it, and whether they answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerPlace {
    pub booker: String,
    pub state: String,
}

/// A member's partner places starting after `since` (one range of `bookings_by_user`).
pub fn partner_places(conn: &Connection, user: &str, since: i64) -> rusqlite::Result<Vec<(i64, PartnerPlace)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, booked_by, partner_state FROM bookings WHERE userid = ?1 AND starts_at > ?2 AND booked_by IS NOT NULL",
    )?;
    let rows = stmt.query_map(params![user, since], |r| {
        Ok((r.get(0)?, PartnerPlace { booker: r.get(1)?, state: r.get::<_, Option<String>>(2)?.unwrap_or_default() }))
    })?;
    rows.collect()
}

/// 接受 / 拒绝 an invitation: booking `id`, or the member's earliest one still unanswered.
pub fn answer(
    tx: &Connection,
    rules: &Rules,
    partner: &str,
    id: Option<i64>,
    accept: bool,
    now: DateTime<Utc>,
    events: &mut Events,
) -> Result<Booking, BookingError> {
    let sql = format!(
        "SELECT {BOOKING_COLUMNS} FROM bookings WHERE userid = ?1 AND (?2 IS NULL OR id = ?2) AND booked_by IS NOT NULL
           AND partner_state = 'invited' AND starts_at > ?3 AND {LIVE} ORDER BY starts_at LIMIT 1"
    );
    let booking = tx
        .prepare_cached(&sql)?
        .query_row(params![partner, id, now.timestamp()], Booking::from_row)
        .optional()?
        .ok_or(BookingError::NoInvitation)?;
    let state = if accept { ACCEPTED } else { "declined" };
    crate::store::execute(tx, "UPDATE bookings SET partner_state = ?2 WHERE id = ?1", params![booking.id, state])?;
    if accept {
        let booker = booker_of(tx, booking.id)?.unwrap_or_default();
        events.push(Event::PartnerAnswered { booking: booking.clone(), booker, accepted: true });
        return Ok(booking);
    }
    // A refusal is the partner cancelling their place: the waitlist gets it, the booker is told.
    super::service::cancel(tx, rules, partner, false, booking.id, now, events)?;
    Ok(booking_by_id(tx, booking.id)?.unwrap_or(booking))
}

fn booker_of(tx: &Connection, id: i64) -> rusqlite::Result<Option<String>> {
    crate::store::query_row(tx, "SELECT booked_by FROM bookings WHERE id = ?1", [id], |r| r.get(0))
}

/// After `booking` was cancelled by `actor`: a partner's own cancellation (or refusal) tells the
/// booker; the booker's cancels the partners' places of that slot and tells them.
pub(super) fn after_cancel(
    tx: &Connection,
    rules: &Rules,
    booking: &Booking,
    actor: &str,
    now: DateTime<Utc>,
    events: &mut Events,
) -> rusqlite::Result<()> {
    if let Some(booker) = booker_of(tx, booking.id)? {
        if actor == booking.userid {
            let cancelled = Booking { state: BookingState::Cancelled, ..booking.clone() };
            events.push(Event::PartnerAnswered { booking: cancelled, booker, accepted: false });
        }
        return Ok(());
    }
    for (place, _) in places_of(tx, booking)? {
        set_state(tx, place.id, BookingState::Cancelled, Some(actor), None, now.timestamp())?;
        let cancelled = Booking { state: BookingState::Cancelled, ..place };
        events.push(Event::PartnerPlaceCancelled { booking: cancelled.clone(), booker: booking.userid.clone() });
        promote(tx, rules, &cancelled.facility, cancelled.date, cancelled.slot, now, events)?;
    }
    Ok(())
}
