//! Calendar feeds (RFC 5545): a member's bookings at `/calendar/<token>.ics` (the token is the
//! key; `日历` gives it, `日历 重置` replaces it), a facility's at `/calendar/facility/<code>.ics`
//! for admins. One VEVENT per booking of the last 30 days and every upcoming one, its UID
//! stable, its SEQUENCE the booking's revision (raised on every change), a cancelled one as
//! `STATUS:CANCELLED` so that subscribed calendars remove it. Times in UTC.

use super::{bearer_is_admin, Ctx};
use crate::app::AppContext;
use crate::booking::{model::BOOKING_COLUMNS, Booking, BookingState};
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Duration, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use std::sync::Arc;

/// How long an ended or cancelled booking stays in a feed.
const KEPT_DAYS: i64 = 30;

/// `/calendar/{file}`: `<token>.ics`, a member's feed.
pub async fn member_feed(ctx: Ctx, file: web::Path<String>) -> HttpResponse {
    let Some(token) = file.strip_suffix(".ics").filter(|t| t.len() == 32 && t.bytes().all(|b| b.is_ascii_hexdigit()))
    else {
        return not_found();
    };
    let (ctx, token) = (Arc::clone(&ctx), token.to_string());
    let feed = super::blocking(move || {
        ctx.store.read(|conn| {
            let user: Option<String> =
                crate::store::query_row(conn, "SELECT userid FROM calendar_feeds WHERE token = ?1", [&token], |row| {
                    row.get(0)
                })
                .optional()?;
            let Some(user) = user else { return Ok(None) };
            let bookings = recent_and_upcoming(conn, &ctx, "userid = ?1", &user)?;
            Ok(Some(render(&ctx, "职工之家 · 我的预约", &bookings, false)))
        })
    })
    .await;
    match feed {
        Some(Some(body)) => calendar(body),
        Some(None) => not_found(),
        None => HttpResponse::ServiceUnavailable().finish(),
    }
}

#[derive(serde::Deserialize)]
pub struct FacilityQuery {
    /// The admin token, for calendar apps that cannot send a header.
    token: Option<String>,
}

/// `/calendar/facility/{file}`: `<code>.ics`, every booking of a facility, for admins (the
/// admin token as a bearer header or as `?token=`).
pub async fn facility_feed(
    ctx: Ctx,
    request: HttpRequest,
    file: web::Path<String>,
    query: web::Query<FacilityQuery>,
) -> HttpResponse {
    let expected = ctx.config.server.admin_token.expose();
    let by_query = query.token.as_deref().is_some_and(|given| {
        use subtle::ConstantTimeEq;
        !expected.is_empty() && given.len() == expected.len() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
    });
    if !by_query && !bearer_is_admin(&ctx, &request) {
        return HttpResponse::Forbidden()
            .content_type("text/plain; charset=utf-8")
            .body("设施日历只对管理员开放（admin token）。\n");
    }
    let Some(code) = file.strip_suffix(".ics").filter(|c| ctx.catalog.facility(c).is_some()).map(str::to_string) else {
        return not_found();
    };
    let ctx = Arc::clone(&ctx);
    let feed = super::blocking(move || {
        ctx.store.read(|conn| {
            let name = ctx.catalog.facility(&code).map(|f| f.name.clone()).unwrap_or_default();
            let bookings = recent_and_upcoming(conn, &ctx, "facility = ?1", &code)?;
            Ok(render(&ctx, &format!("职工之家 · {name}"), &bookings, true))
        })
    })
    .await;
    match feed {
        Some(body) => calendar(body),
        None => HttpResponse::ServiceUnavailable().finish(),
    }
}

fn not_found() -> HttpResponse {
    HttpResponse::NotFound().content_type("text/plain; charset=utf-8").body("没有这个日历。\n")
}

fn calendar(body: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/calendar; charset=utf-8")
        .insert_header(("Cache-Control", "no-cache"))
        .body(body)
}

/// A booking and its revision and last change (the feed's SEQUENCE and DTSTAMP), and the
/// booking it was moved to (改约), if it was.
struct Entry {
    booking: Booking,
    revision: i64,
    updated_at: i64,
    moved_to: Option<i64>,
}

/// Bookings matching `filter` (`?1` is `value`) that end after 30 days ago.
fn recent_and_upcoming(conn: &Connection, ctx: &AppContext, filter: &str, value: &str) -> rusqlite::Result<Vec<Entry>> {
    let since = (ctx.clock.now() - Duration::days(KEPT_DAYS)).timestamp();
    let mut stmt = conn.prepare(&format!(
        "SELECT {BOOKING_COLUMNS}, revision, updated_at, moved_to FROM bookings WHERE {filter} AND ends_at > ?2 \
         ORDER BY starts_at, id"
    ))?;
    let rows = stmt.query_map(params![value, since], |row| {
        let (revision, updated_at, moved_to) = (row.get(11)?, row.get(12)?, row.get(13)?);
        Ok(Entry { booking: Booking::from_row(row)?, revision, updated_at, moved_to })
    })?;
    rows.collect()
}

fn render(ctx: &AppContext, name: &str, entries: &[Entry], with_member: bool) -> String {
    let mut lines = vec![
        "BEGIN:VCALENDAR".to_string(),
        "VERSION:2.0".into(),
        "PRODID:-//staffhome//职工之家//ZH".into(),
        "CALSCALE:GREGORIAN".into(),
        "METHOD:PUBLISH".into(),
        format!("X-WR-CALNAME:{}", escape(name)),
    ];
    let host = ctx.config.server.public_url.host();
    for Entry { booking: b, revision, updated_at, moved_to } in entries {
        let facility = ctx.catalog.facility(&b.facility).map_or(b.facility.as_str(), |f| f.name.as_str());
        let summary = match with_member {
            true => format!("{facility} · {}", b.userid),
            false => format!("职工之家 · {facility}"),
        };
        let pass = ctx.config.server.public_url.join(&format!("/pass/{}", b.pass_token));
        lines.extend([
            "BEGIN:VEVENT".to_string(),
            format!("UID:booking-{}@{host}", b.id),
            format!("DTSTAMP:{}", utc(*updated_at)),
            format!("DTSTART:{}", utc(b.starts_at)),
            format!("DTEND:{}", utc(b.ends_at)),
            format!("SEQUENCE:{revision}"),
            format!("STATUS:{}", status(b.state)),
            format!("SUMMARY:{}", escape(&summary)),
            format!("LOCATION:{}", escape(facility)),
            format!(
                "DESCRIPTION:{}",
                escape(&format!(
                    "预约 #{}（{}），签到码 {}\n凭证：{pass}",
                    b.id,
                    state_label(b, *moved_to),
                    b.checkin_code
                ))
            ),
            format!("URL:{pass}"),
            "END:VEVENT".into(),
        ]);
    }
    lines.push("END:VCALENDAR".into());
    lines.iter().map(|line| fold(line)).collect::<Vec<_>>().join("")
}

/// A booking's state as its event says it: a moved one names where it went.
fn state_label(booking: &Booking, moved_to: Option<i64>) -> String {
    match moved_to {
        Some(to) => format!("已改约为 #{to}"),
        None => booking.state.label().to_string(),
    }
}

fn status(state: BookingState) -> &'static str {
    match state {
        BookingState::Pending => "TENTATIVE",
        BookingState::Confirmed | BookingState::CheckedIn | BookingState::NoShow | BookingState::Completed => {
            "CONFIRMED"
        }
        BookingState::Cancelled | BookingState::Rejected | BookingState::Closed | BookingState::Expired => "CANCELLED",
    }
}

fn utc(seconds: i64) -> String {
    DateTime::<Utc>::from_timestamp(seconds, 0).unwrap_or_default().format("%Y%m%dT%H%M%SZ").to_string()
}

/// TEXT values: backslash, semicolon, comma and newline escaped (RFC 5545 3.3.11).
fn escape(text: &str) -> String {
    text.replace('\\', "\\\\").replace(';', "\\;").replace(',', "\\,").replace('\n', "\\n")
}

/// A content line folded at 75 octets, never inside a character, each part ending CRLF
/// (RFC 5545 3.1).
fn fold(line: &str) -> String {
    let mut out = String::with_capacity(line.len() + 8);
    let mut width = 0;
    for c in line.chars() {
        if width + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += c.len_utf8();
    }
    out.push_str("\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_fold_at_75_octets_between_characters() {
        let line = format!("DESCRIPTION:{}", "职工之家".repeat(20));
        let folded = fold(&line);
        for part in folded.split("\r\n").filter(|p| !p.is_empty()) {
            assert!(part.len() <= 75, "{} octets", part.len());
        }
        let unfolded = folded.replace("\r\n ", "").trim_end().to_string();
        assert_eq!(unfolded, line);
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(escape("a,b;c\\d\ne"), "a\\,b\\;c\\\\d\\ne");
    }
}
