//! Bookings in the members' WeCom calendars (`[calendar] wecom`): a confirmed booking becomes a
//! schedule (oa/schedule/add), and leaves it when cancelled, closed or missed
//! (oa/schedule/del). Both go through the outbox in the booking's own sequence, so a delete
//! never overtakes its add; the schedule's id is kept on the booking when WeCom answers.

use super::{Notifier, NotifyError};
use crate::booking::{Booking, BookingState, Event};
use crate::outbox::{self, Outgoing, Weight};
use chrono::{Offset, TimeZone};
use rusqlite::Connection;
use serde_json::{json, Value};

/// The calendar entries `event` calls for.
pub fn queue(tx: &Connection, n: &Notifier, event: &Event, now: i64) -> Result<(), NotifyError> {
    if !n.calendar.wecom {
        return Ok(());
    }
    match event {
        Event::Booked { booking } | Event::Promoted { booking } if booking.state == BookingState::Confirmed => {
            add(tx, n, booking, now)
        }
        Event::ApprovalDecided { booking, final_decision: true, decision, .. }
            if *decision == crate::booking::approval::Decision::Approve =>
        {
            add(tx, n, booking, now)
        }
        Event::Cancelled { booking, .. } | Event::ClosureHit { booking, .. } | Event::NoShow { booking, .. } => {
            remove(tx, booking, now)
        }
        // The old time leaves the calendar, the new one (once confirmed) comes in.
        Event::Moved { from, to, .. } => {
            remove(tx, from, now)?;
            to.iter().filter(|b| b.state == BookingState::Confirmed).try_for_each(|b| add(tx, n, b, now))
        }
        _ => Ok(()),
    }
}

/// Upcoming confirmed bookings without a schedule get one (the option was turned on after they
/// were made; bookings already past are left alone). Queued once per booking (the add's key).
pub fn backfill(tx: &Connection, n: &Notifier, now: i64) -> Result<usize, NotifyError> {
    if !n.calendar.wecom {
        return Ok(0);
    }
    let mut stmt = tx.prepare(&format!(
        "SELECT {} FROM bookings WHERE state = 'confirmed' AND starts_at > ?1 AND schedule_id IS NULL",
        crate::booking::model::BOOKING_COLUMNS
    ))?;
    let bookings = stmt.query_map([now], Booking::from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
    for booking in &bookings {
        add(tx, n, booking, now)?;
    }
    Ok(bookings.len())
}

/// The sequence of a booking's calendar entries.
fn sequence(booking: &Booking) -> String {
    format!("booking:{}", booking.id)
}

fn add(tx: &Connection, n: &Notifier, booking: &Booking, now: i64) -> Result<(), NotifyError> {
    let body = json!({"msgtype": "schedule_add", "booking_id": booking.id, "schedule": schedule(n, booking)});
    let entry = Outgoing::to_user(format!("schedule:{}:add", booking.id), &booking.userid, Weight::Reply, body);
    outbox::enqueue_in_sequence(tx, &entry, &sequence(booking), now)?;
    Ok(())
}

fn remove(tx: &Connection, booking: &Booking, now: i64) -> Result<(), NotifyError> {
    let body = json!({"msgtype": "schedule_del", "booking_id": booking.id});
    let entry = Outgoing::to_user(format!("schedule:{}:del", booking.id), &booking.userid, Weight::Reply, body);
    outbox::enqueue_in_sequence(tx, &entry, &sequence(booking), now)?;
    Ok(())
}

/// The schedule of a booking: `职工之家 · 乒乓球`, at the facility, the pass in the description.
fn schedule(n: &Notifier, booking: &Booking) -> Value {
    let facility = n.catalog.facility(&booking.facility).map_or(booking.facility.as_str(), |f| f.name.as_str());
    let offset_hours = n.catalog.tz().offset_from_utc_date(&booking.date).fix().local_minus_utc() / 3600;
    let remind = n.calendar.remind_before_seconds;
    json!({
        "start_time": booking.starts_at,
        "end_time": booking.ends_at,
        "attendees": [{"userid": booking.userid}],
        "summary": format!("职工之家 · {facility}"),
        "location": facility,
        "description": format!("预约 #{}，签到码 {}。凭证：{}", booking.id, booking.checkin_code, n.pass_url(booking)),
        "reminders": {"is_remind": 1, "remind_before_event_secs": remind, "timezone": offset_hours},
    })
}
