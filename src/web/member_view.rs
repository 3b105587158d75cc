//! What the member's page shows: this week's or next week's slots of one facility (free places
//! per cell, a tap on a free or full one opens its confirm step; next week's cells say 未开放
//! until the week is published) and the member's own bookings and queues.

use super::board::Cell;
use crate::app::AppContext;
use crate::booking::{date_label, in_a_later_week, query, service, week_start, weekday_zh, Booking, Facility};
use chrono::{Datelike, Duration, NaiveDate};
use rusqlite::Connection;
use serde_json::{json, Value};

/// What the page is asked to show: a facility (a code; else the first), a week (`this` or
/// `next`; when not said, this week until its last slot has started and next week is open, as
/// on a Sunday evening), and the booking being moved (改约), if one is.
pub struct Shown<'a> {
    pub facility: Option<&'a str>,
    pub week: Option<&'a str>,
    pub moving: Option<i64>,
}

/// The page of `user`, as `shown` asks.
pub fn page(ctx: &AppContext, conn: &Connection, user: &str, shown: Shown<'_>) -> rusqlite::Result<Value> {
    let Shown { facility: selected, week: asked, moving } = shown;
    let now = ctx.clock.now();
    let upcoming = query::upcoming_bookings(conn, user, now)?;
    // Only the member's own booking, not yet begun, is moved; any other number is ignored.
    let moving = moving.and_then(|id| upcoming.iter().find(|b| b.id == id && may_move(b, now)));
    let facilities = ctx.catalog.facilities();
    let facility = selected.and_then(|code| ctx.catalog.facility(code)).or_else(|| facilities.first());
    let all: Vec<Value> = facilities.iter().map(|f| json!({"code": f.code, "name": f.name})).collect();
    let today = ctx.catalog.today(now);
    let this_monday = week_start(today);
    let next_week = match asked {
        Some(asked) => asked == "next",
        None => {
            let sunday = this_monday + Duration::days(6);
            let over = ctx.catalog.slots().last().is_none_or(|s| ctx.catalog.slot_start(sunday, s) <= now);
            over && crate::booking::rules::week_is_open(conn, this_monday + Duration::days(7), today)?
        }
    };
    let monday = this_monday + Duration::days(if next_week { 7 } else { 0 });
    let open = crate::booking::rules::week_is_open(conn, monday, today)?;
    Ok(json!({
        "week": format!("{} 至 {}", date_label(monday), date_label(monday + Duration::days(6))),
        "next_week": next_week,
        "open": open,
        "facilities": all,
        "facility": facility.map(|f| json!({"code": f.code, "name": f.name, "capacity": f.capacity, "approval": f.needs_approval()})),
        "days": match facility { Some(f) => week(ctx, conn, f, (monday, open), today, moving)?, None => vec![] },
        "bookings": bookings(ctx, conn, user, &upcoming)?,
        "moving": moving.map(|b| moving_view(ctx, b)),
        "waits": waits(ctx, conn, user, today)?,
    }))
}

/// Monday to Sunday of `facility` (`open`: its week is published): each day's slots, a link on
/// those one can book or queue for.
fn week(
    ctx: &AppContext,
    conn: &Connection,
    facility: &Facility,
    (monday, open): (NaiveDate, bool),
    today: NaiveDate,
    moving: Option<&Booking>,
) -> rusqlite::Result<Vec<Value>> {
    let carried = moving.map(|b| format!("&moving={}", b.id)).unwrap_or_default();
    // The booking being moved: its own cell says so, and is not offered.
    let is_moving =
        |day: NaiveDate, no: u32| moving.is_some_and(|b| b.facility == facility.code && b.date == day && b.slot == no);
    let rules = ctx.rules();
    let mut days = Vec::new();
    for day in (0..7).map(|i| monday + Duration::days(i)) {
        let view = query::day_view(conn, &rules, day)?;
        let mut cells = Vec::new();
        for slot in ctx.catalog.slots() {
            let cell = Cell::of(ctx, conn, &view, facility, day, slot)?;
            // A week not yet published is shown, not offered (a stop-use still says why).
            let cell = if open || cell.class == "closed" { cell } else { Cell::unopened() };
            let current = is_moving(day, slot.no);
            let href = (matches!(cell.class, "free" | "some" | "full") && !current)
                .then(|| format!("/m/slot?facility={}&date={day}&slot={}{carried}", facility.code, slot.no));
            let text = if current { "原时段".to_string() } else { cell.text };
            cells.push(json!({
                "time": slot.start_label(), "peak": slot.peak, "class": cell.class, "text": text,
                "title": cell.title, "href": href,
            }));
        }
        let label = format!("{} {}/{}", weekday_zh(day), day.month(), day.day());
        days.push(json!({"label": label, "today": day == today, "past": day < today, "cells": cells}));
    }
    Ok(days)
}

/// The member's upcoming bookings, with what may be done with each.
fn bookings(ctx: &AppContext, conn: &Connection, user: &str, upcoming: &[Booking]) -> rusqlite::Result<Vec<Value>> {
    let now = ctx.clock.now();
    let rules = ctx.rules();
    // A partner's place not yet answered asks 接受 / 拒绝 first, as its card does.
    let invited: std::collections::HashMap<i64, String> =
        crate::booking::partners::partner_places(conn, user, now.timestamp())?
            .into_iter()
            .filter(|(_, place)| place.state == "invited")
            .map(|(id, place)| (id, place.booker))
            .collect();
    let today = ctx.catalog.today(now);
    upcoming
        .iter()
        .map(|b| {
            let open = query::open_actions(conn, &rules, b, now)?;
            Ok(json!({
                "id": b.id, "what": service::describe(&ctx.catalog, &b.facility, b.date, b.slot),
                "state": b.state.label(), "confirm": open.confirm, "check_in": open.check_in,
                "pass": format!("/pass/{}", b.pass_token), "invited_by": invited.get(&b.id),
                "facility": b.facility, "week": if in_a_later_week(b.date, today) { "next" } else { "this" },
                "movable": may_move(b, now),
            }))
        })
        .collect()
}

/// Whether the page offers to move booking `b` (one of the member's upcoming ones): not begun.
fn may_move(b: &Booking, now: chrono::DateTime<chrono::Utc>) -> bool {
    !b.has_begun(now)
}

/// Booking `id` if it may be moved from the page: the member's own, not yet begun.
fn movable(ctx: &AppContext, conn: &Connection, user: &str, id: i64) -> rusqlite::Result<Option<Booking>> {
    let now = ctx.clock.now();
    let found = query::upcoming_bookings(conn, user, now)?.into_iter().find(|b| b.id == id);
    Ok(found.filter(|b| may_move(b, now)))
}

/// A booking being moved, as the page and the confirm step name it.
fn moving_view(ctx: &AppContext, b: &Booking) -> Value {
    json!({"id": b.id, "what": service::describe(&ctx.catalog, &b.facility, b.date, b.slot),
           "facility": b.facility, "date": b.date.to_string(), "slot": b.slot})
}

/// The member's places in queues.
fn waits(ctx: &AppContext, conn: &Connection, user: &str, today: NaiveDate) -> rusqlite::Result<Vec<Value>> {
    Ok(query::waiting_entries(conn, user, today)?
        .into_iter()
        .map(|w| {
            json!({
                "facility": w.facility, "date": w.date.to_string(), "slot": w.slot, "position": w.position,
                "what": service::describe(&ctx.catalog, &w.facility, w.date, w.slot), "offered": w.offered_until.is_some(),
                "entry": w.entry,
            })
        })
        .collect())
}

/// The confirm step of one slot: what it is and whether it can be booked or queued for, or,
/// with `moving` (the member and their booking), whether that booking can be moved here.
pub fn slot(
    ctx: &AppContext,
    conn: &Connection,
    (code, date, no): (&str, NaiveDate, u32),
    moving: Option<(&str, i64)>,
) -> rusqlite::Result<Option<Value>> {
    let (Some(facility), Some(slot)) = (ctx.catalog.facility(code), ctx.catalog.slot(no)) else { return Ok(None) };
    let view = query::day_view(conn, &ctx.rules(), date)?;
    let cell = Cell::of(ctx, conn, &view, facility, date, slot)?;
    let today = ctx.catalog.today(ctx.clock.now());
    let open = crate::booking::rules::week_is_open(conn, week_start(date), today)?;
    let cell = if open || cell.class == "closed" { cell } else { Cell::unopened() };
    Ok(Some(json!({
        "facility": facility.code, "name": facility.name, "date": date.to_string(), "slot": no,
        "what": service::describe(&ctx.catalog, &facility.code, date, no), "class": cell.class,
        "text": cell.text, "title": cell.title, "approval": facility.needs_approval(),
        "week": if in_a_later_week(date, today) { "next" } else { "" },
        "moving": moving.map(|(user, id)| movable(ctx, conn, user, id)).transpose()?.flatten().map(|b| moving_view(ctx, &b)),
    })))
}
