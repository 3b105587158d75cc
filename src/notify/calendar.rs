//! Bookings in the members' WeCom calendars (`[calendar] wecom`): a confirmed booking becomes a
//! schedule (oa/schedule/add), and leaves it when cancelled, closed or missed
//! (oa/schedule/del). Both go through the outbox in the booking's own sequence, so a delete
//! never overtakes its add; the schedule's id is kept on the booking when WeCom answers.

use super::{Notifier, NotifyError};
use crate::booking::{Booking, BookingState, Event};
use crate::outbox::{self, Outgoing, Weight};
use chrono::{Offset, TimeZone};
use rusqlite::{params, Connection, OptionalExtension};
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
        Event::PartnerAnswered { booking, accepted: true, .. } => add(tx, n, booking, now),
        Event::ApprovalDecided { booking, final_decision: true, decision, .. }
            if *decision == crate::booking::approval::Decision::Approve =>
        {
            add(tx, n, booking, now)
        }
        Event::Cancelled { booking, .. }
        | Event::ClosureHit { booking, .. }
        | Event::NoShow { booking, .. }
        | Event::PartnerPlaceCancelled { booking, .. } => remove(tx, booking, now),
        // Moved to one confirmed booking: its schedule is updated in place. Otherwise (to a
        // request awaiting approval, or to several slots) the old time leaves the calendar and
        // the new one comes in once confirmed.
        Event::Moved { from, to, .. } | Event::PartnerMoved { from, to, .. } => match to.as_slice() {
            [to] if to.state == BookingState::Confirmed => update(tx, n, from, to, now),
            _ => {
                remove(tx, from, now)?;
                to.iter().filter(|b| b.state == BookingState::Confirmed).try_for_each(|b| add(tx, n, b, now))
            }
        },
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

/// The sequence of a booking's calendar entries: its own, or, for a booking moved here, that of
/// the booking whose schedule it took over.
fn sequence(tx: &Connection, booking: &Booking) -> Result<String, NotifyError> {
    let sql = "SELECT calendar_sequence FROM bookings WHERE id = ?1";
    let inherited: Option<String> = crate::store::query_row(tx, sql, [booking.id], |r| r.get(0)).optional()?.flatten();
    Ok(inherited.unwrap_or_else(|| format!("booking:{}", booking.id)))
}

fn add(tx: &Connection, n: &Notifier, booking: &Booking, now: i64) -> Result<(), NotifyError> {
    let body = json!({"msgtype": "schedule_add", "booking_id": booking.id, "schedule": schedule(n, booking)});
    let entry = Outgoing::to_user(format!("schedule:{}:add", booking.id), &booking.userid, Weight::Reply, body);
    outbox::enqueue_in_sequence(tx, &entry, &sequence(tx, booking)?, now)?;
    Ok(())
}

fn remove(tx: &Connection, booking: &Booking, now: i64) -> Result<(), NotifyError> {
    let body = json!({"msgtype": "schedule_del", "booking_id": booking.id});
    let entry = Outgoing::to_user(format!("schedule:{}:del", booking.id), &booking.userid, Weight::Reply, body);
    outbox::enqueue_in_sequence(tx, &entry, &sequence(tx, booking)?, now)?;
    Ok(())
}

/// `from`'s schedule moved to `to`'s time (`oa/schedule/update`; added when `from` had none).
/// `to` takes over `from`'s sequence, so its own later removal waits for this update.
fn update(tx: &Connection, n: &Notifier, from: &Booking, to: &Booking, now: i64) -> Result<(), NotifyError> {
    let sequence = sequence(tx, from)?;
    crate::store::execute(tx, "UPDATE bookings SET calendar_sequence = ?2 WHERE id = ?1", params![to.id, sequence])?;
    let body =
        json!({"msgtype": "schedule_update", "booking_id": from.id, "moved_to": to.id, "schedule": schedule(n, to)});
    let entry = Outgoing::to_user(format!("schedule:{}:move", from.id), &to.userid, Weight::Reply, body);
    outbox::enqueue_in_sequence(tx, &entry, &sequence, now)?;
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
