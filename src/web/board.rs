//! `/board`: every facility × this week's days × slots — free places, full, closed (with the
//! reason), past. No personal data, so no login.

use super::{html_page, Ctx};
use crate::app::AppContext;
use crate::booking::{date_label, query, rules, week_start, weekday_zh, Facility, Slot};
use actix_web::{web, HttpResponse};
use chrono::{Datelike, Duration, NaiveDate};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

#[derive(Deserialize)]
pub struct BoardQuery {
    facility: Option<String>,
}

pub async fn board(ctx: Ctx, query: web::Query<BoardQuery>) -> HttpResponse {
    let ctx = Arc::clone(&ctx);
    let selected = query.into_inner().facility;
    match super::blocking(move || board_context(&ctx, selected.as_deref())).await {
        Some(context) => html_page("board.html", context),
        None => HttpResponse::ServiceUnavailable().content_type("text/plain; charset=utf-8").body("看板暂时不可用。\n"),
    }
}

/// One facility's slot on one day, as the board and the member's page show it.
pub(super) struct Cell {
    /// free (all places), some, full, closed, past; unopened (a week not yet published, on the
    /// member's page).
    pub class: &'static str,
    pub text: String,
    /// Why it is closed, or what a full slot offers.
    pub title: String,
}

impl Cell {
    /// A slot of a week not yet open for booking.
    pub(super) fn unopened() -> Cell {
        Cell { class: "unopened", text: "未开放".to_string(), title: "这一周还没开放预约".to_string() }
    }

    pub(super) fn of(
        ctx: &AppContext,
        conn: &rusqlite::Connection,
        view: &query::DayView,
        facility: &Facility,
        day: NaiveDate,
        slot: &Slot,
    ) -> rusqlite::Result<Cell> {
        let (start, end) = (ctx.catalog.slot_start(day, slot), ctx.catalog.slot_end(day, slot));
        let closed = rules::closure_over(conn, &facility.code, start.timestamp(), end.timestamp())?;
        let free = facility.capacity.saturating_sub(view.used(&facility.code, slot.no));
        let (class, text, title) = match closed {
            Some((reason, _)) => ("closed", "停用".to_string(), format!("停用：{reason}")),
            None if start <= ctx.clock.now() => ("past", "已过".to_string(), String::new()),
            None if free == 0 => ("full", "满".to_string(), "已约满，可排候补".to_string()),
            None if free == facility.capacity => ("free", format!("余{free}"), String::new()),
            None => ("some", format!("余{free}"), String::new()),
        };
        Ok(Cell { class, text, title })
    }
}

fn board_context(ctx: &AppContext, selected: Option<&str>) -> rusqlite::Result<Value> {
    let now = ctx.clock.now();
    let today = ctx.catalog.today(now);
    let monday = week_start(today);
    let days: Vec<_> = (0..7).map(|i| monday + Duration::days(i)).collect();
    ctx.store.read(|conn| {
        let rules = ctx.rules();
        let views: Vec<_> = days.iter().map(|d| query::day_view(conn, &rules, *d)).collect::<Result<_, _>>()?;
        let mut facilities = Vec::new();
        for facility in ctx.catalog.facilities().iter().filter(|f| selected.is_none_or(|s| s == f.code)) {
            let mut rows = Vec::new();
            for slot in ctx.catalog.slots() {
                let mut cells = Vec::new();
                for (day, view) in days.iter().zip(&views) {
                    let cell = Cell::of(ctx, conn, view, facility, *day, slot)?;
                    cells.push(
                        json!({"class": cell.class, "text": cell.text, "title": cell.title, "today": *day == today}),
                    );
                }
                rows.push(json!({"label": slot.label(), "peak": slot.peak, "cells": cells}));
            }
            facilities.push(json!({
                "code": facility.code, "name": facility.name, "capacity": facility.capacity,
                "approval": facility.needs_approval(), "rows": rows,
            }));
        }
        let day_labels: Vec<Value> = days
            .iter()
            .map(|d| json!({"label": format!("{} {}/{}", weekday_zh(*d), d.month(), d.day()), "today": *d == today}))
            .collect();
        let all: Vec<Value> =
            ctx.catalog.facilities().iter().map(|f| json!({"code": f.code, "name": f.name})).collect();
        Ok(json!({
            "week": format!("{} 至 {}", date_label(days[0]), date_label(days[6])),
            "updated": now.with_timezone(&ctx.catalog.tz()).format("%H:%M").to_string(),
            "days": day_labels, "facilities": facilities, "all_facilities": all, "selected": selected,
        }))
    })
}
