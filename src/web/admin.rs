//! `/admin` (the report for a period) and `/admin/export.csv` (every booking), for admins only:
//! inside WeCom through OAuth and a signed session cookie, for scripts with
//! `Authorization: Bearer <admin_token>`. Everyone else gets 403 with a plain explanation.

use super::oauth::{self, ExchangeLimit};
use super::{bearer_is_admin, html_page, session, Ctx};
use crate::app::AppContext;
use crate::booking::{week_start, weekday_zh};
use crate::report::{self, Report};
use crate::users::{self, Role};
use actix_web::cookie::Cookie;
use actix_web::{http::header, web, HttpRequest, HttpResponse};
use chrono::{Duration, NaiveDate};
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;

#[derive(Deserialize)]
pub struct AdminQuery {
    from: Option<String>,
    to: Option<String>,
    code: Option<String>,
    state: Option<String>,
}

/// Who is asking, once proven.
enum Access {
    Admin(String),
    /// Signed in: back to the page with the session cookie, without the code.
    SignedIn {
        location: String,
        cookie: Cookie<'static>,
    },
    /// Off to WeCom to learn who it is.
    SignIn(HttpResponse),
    Refused(oauth::Refusal),
    Denied(&'static str),
}

fn forbidden(why: &str) -> HttpResponse {
    HttpResponse::Forbidden().content_type("text/plain; charset=utf-8").body(format!(
        "{why}\n管理页面只对管理员开放：请在企业微信工作台中打开，或在脚本中使用 Authorization: Bearer <admin_token>。\n"
    ))
}

/// Is `user` an admin now (config or granted)? Read on a blocking thread.
pub(super) async fn admin_now(ctx: &Arc<AppContext>, user: &str) -> bool {
    let (ctx, user) = (Arc::clone(ctx), user.to_string());
    web::block(move || {
        ctx.store.read(|conn| users::role(conn, &ctx.config, &user)).is_ok_and(|role| role == Role::Admin)
    })
    .await
    .unwrap_or(false)
}

/// `page` with the period asked for, if any.
fn page_with_period(page: &str, query: &AdminQuery) -> String {
    let encode = crate::wecom::url::urlencode;
    match (&query.from, &query.to) {
        (Some(from), Some(to)) => format!("{page}?from={}&to={}", encode(from), encode(to)),
        _ => page.to_string(),
    }
}

async fn access(
    ctx: &Arc<AppContext>,
    limit: &ExchangeLimit,
    request: &HttpRequest,
    query: &AdminQuery,
    page: &str,
) -> Access {
    if bearer_is_admin(ctx, request) {
        return Access::Admin("admin_token".into());
    }
    let now = ctx.clock.now().timestamp();
    if let Some(user) = session::viewer(&ctx.config, request, now) {
        let still_admin = admin_now(ctx, &user).await;
        return if still_admin { Access::Admin(user) } else { Access::Denied("你已不是管理员。") };
    }
    if let Some(code) = query.code.as_deref().filter(|c| !c.is_empty() && c.len() <= 512) {
        let user = match oauth::finish(ctx, limit, request, code, query.state.as_deref()).await {
            Ok(user) => user,
            Err(refusal) => return Access::Refused(refusal),
        };
        if !admin_now(ctx, &user).await {
            tracing::warn!(user = %user, "non-admin opened the admin pages");
            return Access::Denied("你不是管理员。");
        }
        let cookie = session::cookie(&ctx.config, &user, now);
        // Back to the page without the single-use code in the address.
        return Access::SignedIn { location: page_with_period(page, query), cookie };
    }
    if session::in_wecom(request) {
        return Access::SignIn(oauth::begin(&ctx.config, &page_with_period(page, query)));
    }
    Access::Denied("需要管理员身份。")
}

fn respond_to(access: Access) -> Result<String, Box<HttpResponse>> {
    match access {
        Access::Admin(user) => Ok(user),
        Access::Denied(why) => Err(Box::new(forbidden(why))),
        Access::Refused(refusal) => Err(Box::new(refusal.response())),
        Access::SignIn(response) => Err(Box::new(response)),
        Access::SignedIn { location, cookie } => Err(Box::new(
            HttpResponse::Found()
                .insert_header((header::LOCATION, location))
                .cookie(cookie)
                .cookie(oauth::expired_state())
                .finish(),
        )),
    }
}

/// The period asked for: `from`/`to` as YYYY-MM-DD, this week by default, at most a year.
fn period(ctx: &AppContext, query: &AdminQuery) -> Result<(NaiveDate, NaiveDate), Box<HttpResponse>> {
    let today = ctx.catalog.today(ctx.clock.now());
    let parse =
        |s: &Option<String>| s.as_deref().filter(|s| !s.is_empty()).map(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d"));
    let bad = || {
        Box::new(
            HttpResponse::BadRequest()
                .content_type("text/plain; charset=utf-8")
                .body("from/to 应为 YYYY-MM-DD，且 from ≤ to，跨度不超过一年。\n"),
        )
    };
    let from = match parse(&query.from) {
        None => week_start(today),
        Some(Ok(d)) => d,
        Some(Err(_)) => return Err(bad()),
    };
    let to = match parse(&query.to) {
        None => from + Duration::days(6),
        Some(Ok(d)) => d,
        Some(Err(_)) => return Err(bad()),
    };
    if !report::span_allowed(from, to) {
        return Err(bad());
    }
    Ok((from, to))
}

pub async fn page(
    ctx: Ctx,
    limit: web::Data<ExchangeLimit>,
    request: HttpRequest,
    query: web::Query<AdminQuery>,
) -> HttpResponse {
    let ctx = ctx.into_inner();
    let viewer = match respond_to(access(&ctx, &limit, &request, &query, "/admin").await) {
        Ok(user) => user,
        Err(response) => return *response,
    };
    let (from, to) = match period(&ctx, &query) {
        Ok(p) => p,
        Err(response) => return *response,
    };
    let built = {
        let ctx = Arc::clone(&ctx);
        super::blocking(move || ctx.store.read(|conn| report::build(conn, &ctx.catalog, from, to))).await
    };
    match built {
        Some(report) => html_page("admin.html", admin_context(&ctx, &report, &viewer)),
        None => HttpResponse::ServiceUnavailable().content_type("text/plain; charset=utf-8").body("报表暂时不可用。\n"),
    }
}

fn admin_context(ctx: &AppContext, report: &Report, viewer: &str) -> Value {
    let bars: Vec<Value> = report
        .facilities
        .iter()
        .map(|f| {
            let percent = (f.utilisation * 100.0).round() as u32;
            json!({
                "code": f.code, "name": f.name, "booked": f.booked, "offered": f.offered, "percent": percent,
                "width": (f.utilisation.clamp(0.0, 1.0) * 300.0).round() as u32,
            })
        })
        .collect();
    let busiest: Vec<String> = report
        .busiest
        .iter()
        .map(|c| {
            let time = ctx.catalog.slot(c.slot).map(|s| s.start_label()).unwrap_or_default();
            format!("{} {time}（{}）", weekday_name(c.weekday), c.count)
        })
        .collect();
    json!({
        "from": report.from.to_string(), "to": report.to.to_string(), "viewer": viewer,
        "bars": bars, "heat": heatmap(ctx, report), "r": report, "busiest": busiest,
    })
}

fn weekday_name(weekday: u32) -> &'static str {
    // 2024-01-01 was a Monday.
    let monday = NaiveDate::from_ymd_opt(2024, 1, 1).unwrap_or_default();
    weekday_zh(monday + Duration::days(weekday.into()))
}

/// Colour for `count` on a white → red scale of `max`.
fn shade(count: u32, max: u32) -> String {
    if count == 0 || max == 0 {
        return "#f3f4f6".into();
    }
    let t = f64::from(count) / f64::from(max);
    let channel = |from: f64, to: f64| (from + (to - from) * t).round() as u8;
    format!("#{:02x}{:02x}{:02x}", channel(254.0, 215.0), channel(224.0, 48.0), channel(210.0, 31.0))
}

fn heatmap(ctx: &AppContext, report: &Report) -> Value {
    let (cell, left, top) = (28u32, 36u32, 22u32);
    let slots = ctx.catalog.slots();
    let max = report.heatmap.iter().flatten().copied().max().unwrap_or(0);
    let mut cells = Vec::new();
    for (day, row) in report.heatmap.iter().enumerate() {
        for (i, count) in row.iter().enumerate() {
            let slot = &slots[i.min(slots.len() - 1)];
            cells.push(json!({
                "x": left + i as u32 * (cell + 2), "y": top + day as u32 * (cell + 2),
                "fill": shade(*count, max), "peak": slot.peak, "weekday": day, "slot": slot.no, "count": count,
                "title": format!("{} {}：{count} 次", weekday_name(day as u32), slot.label()),
            }));
        }
    }
    let width = left + slots.len() as u32 * (cell + 2) + 10;
    let legend_y = top + 7 * (cell + 2) + 8;
    let mut steps: Vec<u32> = (0..=4).map(|i| max * i / 4).collect();
    steps.dedup();
    let legend: Vec<Value> = steps
        .iter()
        .enumerate()
        .map(|(i, count)| json!({"x": left + i as u32 * 30, "fill": shade(*count, max.max(1)), "label": count}))
        .collect();
    json!({
        "cell": cell, "width": width, "height": legend_y + 34, "cells": cells, "legend": legend, "legend_y": legend_y,
        "slot_labels": slots.iter().enumerate().map(|(i, s)| json!({
            "x": left + i as u32 * (cell + 2) + cell / 2, "label": s.start_label(),
        })).collect::<Vec<_>>(),
        "day_labels": (0..7).map(|d| json!({"y": top + d * (cell + 2) + 18, "label": weekday_name(d)})).collect::<Vec<_>>(),
    })
}

/// Quote a CSV field when it holds a separator, quote or line break.
/// One CSV cell. A cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return is a
/// formula to a spreadsheet (a member id like `=1+2` would run): a leading `'` keeps it text.
fn csv_field(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{s}") } else { s.to_string() };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

pub async fn export_csv(
    ctx: Ctx,
    limit: web::Data<ExchangeLimit>,
    request: HttpRequest,
    query: web::Query<AdminQuery>,
) -> HttpResponse {
    let ctx = ctx.into_inner();
    if let Err(response) = respond_to(access(&ctx, &limit, &request, &query, "/admin/export.csv").await) {
        return *response;
    }
    let (from, to) = match period(&ctx, &query) {
        Ok(p) => p,
        Err(response) => return *response,
    };
    let csv = {
        let ctx = Arc::clone(&ctx);
        super::blocking(move || bookings_csv(&ctx, from, to)).await
    };
    match csv {
        Some(body) => HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"bookings-{from}-{to}.csv\"")))
            .body(body),
        None => HttpResponse::ServiceUnavailable().content_type("text/plain; charset=utf-8").body("导出暂时不可用。\n"),
    }
}

/// Every booking of the period, UTF-8 with a BOM so Excel reads the Chinese correctly.
fn bookings_csv(ctx: &AppContext, from: NaiveDate, to: NaiveDate) -> rusqlite::Result<String> {
    let tz = ctx.catalog.tz();
    let local = |t: Option<i64>| {
        t.and_then(|t| chrono::DateTime::from_timestamp(t, 0))
            .map(|t| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default()
    };
    ctx.store.read(|conn| {
        let mut out = String::from("\u{feff}预约号,用户,设施,日期,星期,节次,时间,状态,创建时间,取消时间,签到时间\r\n");
        let mut stmt = conn.prepare(
            "SELECT id, userid, facility, date, slot, state, created_at, cancelled_at, checked_in_at FROM bookings
             WHERE date >= ?1 AND date <= ?2 ORDER BY date, slot, id",
        )?;
        let mut rows = stmt.query(rusqlite::params![from.to_string(), to.to_string()])?;
        while let Some(row) = rows.next()? {
            let date: String = row.get(3)?;
            let slot: u32 = row.get(4)?;
            let facility: String = row.get(2)?;
            let parsed = NaiveDate::parse_from_str(&date, "%Y-%m-%d").ok();
            let fields = [
                row.get::<_, i64>(0)?.to_string(),
                row.get::<_, String>(1)?,
                ctx.catalog.facility(&facility).map_or(facility.clone(), |f| f.name.clone()),
                date.clone(),
                parsed.map(weekday_zh).unwrap_or_default().to_string(),
                slot.to_string(),
                ctx.catalog.slot(slot).map(|s| s.label()).unwrap_or_default(),
                crate::booking::BookingState::parse(&row.get::<_, String>(5)?).label().to_string(),
                local(row.get(6)?),
                local(row.get(7)?),
                local(row.get(8)?),
            ];
            out.push_str(&fields.iter().map(|f| csv_field(f)).collect::<Vec<_>>().join(","));
            out.push_str("\r\n");
        }
        Ok(out)
    })
}
