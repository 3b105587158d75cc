//! Waitlist offers: a place freed less than `booking.offer_before_minutes` before its start is
//! offered to the first waiter, not given. It is held for them (it counts as taken) for
//! `booking.offer_minutes`: accepted, it is booked; declined or lapsed, the next waiter is
//! offered it; with no one left, it is free. Earlier than that, promotion stays automatic: a
//! waiter then has hours to give the place back.

use super::catalog::{Facility, Slot};
use super::events::{Event, Events};
use super::model::{Booking, BookingError};
use super::service::{insert_if_room, Rules};
use super::waitlist::waiter_booked;
use super::{query, rules};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use rusqlite::{params, Connection, OptionalExtension};

/// A freed place held for one waiter until `until` (unix seconds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offer {
    /// The waitlist entry it is made to: the card's buttons name it.
    pub entry: i64,
    pub userid: String,
    pub facility: String,
    pub date: NaiveDate,
    pub slot: u32,
    pub until: i64,
}

/// The waitlist columns an [`Offer`] is read from.
const OFFER_COLUMNS: &str = "id, userid, facility, date, slot, offered_until";

impl Offer {
    /// From [`OFFER_COLUMNS`] of a waitlist row.
    fn from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Offer> {
        let date: String = row.get(3)?;
        let date = NaiveDate::parse_from_str(&date, "%Y-%m-%d")
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(3, rusqlite::types::Type::Text, Box::new(e)))?;
        Ok(Offer {
            entry: row.get(0)?,
            userid: row.get(1)?,
            facility: row.get(2)?,
            date,
            slot: row.get(4)?,
            until: row.get(5)?,
        })
    }
}

/// Is a place of this slot, freed now, offered rather than given?
pub fn offered_not_given(rules: &Rules, date: NaiveDate, slot: &Slot, now: DateTime<Utc>) -> bool {
    let window = rules.config.offer_before_minutes;
    window > 0 && rules.catalog.slot_start(date, slot) - now < Duration::minutes(window)
}

/// Offer the freed place to the first waiter not yet offered one, if the slot has room beyond
/// the offers already held. A waiter who meanwhile holds the slot leaves the queue.
pub(super) fn offer_next(
    tx: &Connection,
    rules: &Rules,
    facility: &Facility,
    date: NaiveDate,
    slot: &Slot,
    now: DateTime<Utc>,
    events: &mut Events,
) -> rusqlite::Result<Option<Offer>> {
    if query::used_places(tx, &facility.code, date, slot.no)? >= facility.capacity {
        return Ok(None);
    }
    loop {
        let next: Option<(i64, String)> = crate::store::query_row(
            tx,
            "SELECT id, userid FROM waitlist WHERE facility = ?1 AND date = ?2 AND slot = ?3 AND state = 'waiting'
               AND offered_until IS NULL ORDER BY id LIMIT 1",
            params![facility.code, date.to_string(), slot.no],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
        let Some((entry, userid)) = next else { return Ok(None) };
        if rules::live_booking_of(tx, &userid, &facility.code, date, slot.no)?.is_some() {
            end(tx, entry, "left", now)?;
            continue;
        }
        let until = (now + Duration::minutes(rules.config.offer_minutes)).timestamp();
        crate::store::execute(
            tx,
            "UPDATE waitlist SET offered_until = ?2, updated_at = ?3 WHERE id = ?1",
            params![entry, until, now.timestamp()],
        )?;
        let offer = Offer { entry, userid, facility: facility.code.clone(), date, slot: slot.no, until };
        events.push(Event::Offered { offer: offer.clone() });
        return Ok(Some(offer));
    }
}

/// End an entry's wait (and any offer it held).
fn end(tx: &Connection, entry: i64, state: &str, now: DateTime<Utc>) -> rusqlite::Result<()> {
    crate::store::execute(
        tx,
        "UPDATE waitlist SET state = ?2, offered_until = NULL, updated_at = ?3 WHERE id = ?1",
        params![entry, state, now.timestamp()],
    )?;
    Ok(())
}

/// The offer `entry` holds for `user`, or the earliest one they hold when no entry is named.
fn held_offer(tx: &Connection, user: &str, entry: Option<i64>) -> Result<Offer, BookingError> {
    let sql = format!(
        "SELECT {OFFER_COLUMNS} FROM waitlist WHERE userid = ?1 AND (?2 IS NULL OR id = ?2) AND state = 'waiting'
           AND offered_until IS NOT NULL ORDER BY offered_until LIMIT 1"
    );
    let found = crate::store::query_row(tx, &sql, params![user, entry], Offer::from_row).optional()?;
    found.ok_or(BookingError::NoOffer)
}

/// 接受: the held place becomes the member's booking (a pending request where the facility
/// needs approval). Too late, the offer lapses here and goes to the next waiter.
pub fn accept(
    tx: &Connection,
    rules: &Rules,
    user: &str,
    entry: Option<i64>,
    now: DateTime<Utc>,
    events: &mut Events,
) -> Result<Booking, BookingError> {
    let offer = held_offer(tx, user, entry)?;
    let (Some(facility), Some(slot)) = (rules.catalog.facility(&offer.facility), rules.catalog.slot(offer.slot)) else {
        return Err(BookingError::NoSuchSlot);
    };
    if offer.until <= now.timestamp() {
        lapse(tx, rules, &offer, now, events)?;
        return Err(BookingError::OfferExpired);
    }
    // The hold is released in the same step as the place is taken: no one can come between.
    end(tx, offer.entry, "promoted", now)?;
    let booking = insert_if_room(tx, rules, user, facility, offer.date, slot, "waitlist", now.timestamp())?
        .ok_or(BookingError::NoOffer)?;
    waiter_booked(tx, rules, offer.entry, &booking, now, events)?;
    Ok(booking)
}

/// 放弃: the member leaves the queue and the place goes to the next waiter.
pub fn decline(
    tx: &Connection,
    rules: &Rules,
    user: &str,
    entry: Option<i64>,
    now: DateTime<Utc>,
    events: &mut Events,
) -> Result<Offer, BookingError> {
    let offer = held_offer(tx, user, entry)?;
    end(tx, offer.entry, "left", now)?;
    pass_on(tx, rules, &offer, now, events)?;
    Ok(offer)
}

/// Offers whose time is up (the scheduler, every tick): each lapses, its member is told, and
/// the place is offered to the next waiter.
pub fn lapse_due(tx: &Connection, rules: &Rules, now: DateTime<Utc>, events: &mut Events) -> rusqlite::Result<usize> {
    let mut stmt = tx.prepare_cached(&format!(
        "SELECT {OFFER_COLUMNS} FROM waitlist
         WHERE offered_until IS NOT NULL AND state = 'waiting' AND offered_until <= ?1 ORDER BY offered_until"
    ))?;
    let due = stmt.query_map([now.timestamp()], Offer::from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
    for offer in &due {
        lapse(tx, rules, offer, now, events)?;
    }
    Ok(due.len())
}

fn lapse(
    tx: &Connection,
    rules: &Rules,
    offer: &Offer,
    now: DateTime<Utc>,
    events: &mut Events,
) -> rusqlite::Result<()> {
    end(tx, offer.entry, "expired", now)?;
    events.push(Event::OfferLapsed { offer: offer.clone() });
    pass_on(tx, rules, offer, now, events)
}

/// The place `offer` held, to the next waiter (or free, with none left or the slot over).
fn pass_on(
    tx: &Connection,
    rules: &Rules,
    offer: &Offer,
    now: DateTime<Utc>,
    events: &mut Events,
) -> rusqlite::Result<()> {
    super::waitlist::promote(tx, rules, &offer.facility, offer.date, offer.slot, now, events).map(|_| ())
}
