//! `/m`: the member's page inside WeCom (the app's home page). Signed in through WeCom OAuth
//! as `/admin` is, a member sees this week's slots and their own bookings, and books, queues,
//! confirms, checks in and cancels by tapping: plain HTML forms (no JavaScript), each POST with
//! the session's form token, then a redirect back to the page with what happened. Every action
//! is the chat command of the same name, run as if typed (`chat::run_for_page`), so its rules
//! and its messages to others are the same.

use super::oauth::{self, ExchangeLimit, Visitor};
use super::{html_page, member_view, session, Ctx};
use crate::chat::dates::SlotSpec;
use crate::chat::{self, Command, SlotRequest};
use crate::inbox::InboxContext;
use actix_web::cookie::Cookie;
use actix_web::{http::header, web, HttpRequest, HttpResponse};
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::Value;
use std::sync::Arc;

/// A short-lived cookie carrying what the last action did to the page it redirects to.
const FLASH: &str = "staffhome_flash";

#[derive(Deserialize)]
pub struct PageQuery {
    facility: Option<String>,
    /// `next`: next week instead of this one.
    week: Option<String>,
    code: Option<String>,
    state: Option<String>,
    /// Sign in through WeCom even outside WeCom's browser (WeCom then says where to open it;
    /// the demo's stand-in signs the browser in).
    signin: Option<String>,
    /// 改约: the member's booking being moved; a tapped cell then offers to move it there.
    moving: Option<i64>,
}

#[derive(Deserialize)]
pub struct SlotQuery {
    facility: String,
    date: String,
    slot: u32,
    /// The booking to move here (改约), instead of booking the slot.
    moving: Option<i64>,
}

/// A form's fields: the token always; a slot or a booking number by action.
#[derive(Deserialize)]
pub struct ActionForm {
    csrf: Option<String>,
    facility: Option<String>,
    date: Option<String>,
    slot: Option<u32>,
    booking: Option<i64>,
}

/// A page address whose fields do not parse (a number that is not one) is answered in words a
/// member can act on, not with the parser's message.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|error, _| {
        let answer = plain(HttpResponse::BadRequest(), "链接有误，请从应用里重新打开页面。\n");
        actix_web::error::InternalError::from_response(error, answer).into()
    })
}

/// Likewise a form whose fields do not parse.
pub fn form_config() -> web::FormConfig {
    web::FormConfig::default().error_handler(|error, _| {
        let answer = plain(HttpResponse::BadRequest(), "表单有误，请返回页面重试。\n");
        actix_web::error::InternalError::from_response(error, answer).into()
    })
}

fn plain(mut response: actix_web::HttpResponseBuilder, body: &str) -> HttpResponse {
    response.content_type("text/plain; charset=utf-8").body(body.to_string())
}

/// `/m` itself.
pub async fn page(
    ctx: Ctx,
    limit: web::Data<ExchangeLimit>,
    request: HttpRequest,
    query: web::Query<PageQuery>,
) -> HttpResponse {
    // Back here after signing in, the move (a 我的 card's 改约) included.
    let back = page_of(query.facility.as_deref(), query.week.as_deref() == Some("next"), query.moving);
    let returned = (query.code.as_deref(), query.state.as_deref());
    let user = match oauth::visitor(&ctx, &limit, &request, returned, query.signin.is_some(), &back).await {
        Visitor::Member(user) => user,
        Visitor::Answer(response) => return response,
    };
    let (ctx, selected, week) = (Arc::clone(&ctx), query.facility.clone(), query.week.clone());
    let (csrf, flash) = (session::csrf_token(&ctx.config, &request), flash_of(&request));
    let (viewer, moving) = (user.clone(), query.moving);
    let built = super::blocking(move || {
        let shown = member_view::Shown { facility: selected.as_deref(), week: week.as_deref(), moving };
        ctx.store.read(|conn| member_view::page(&ctx, conn, &viewer, shown))
    })
    .await;
    let Some(mut context) = built else {
        return plain(HttpResponse::ServiceUnavailable(), "页面暂时不可用，请稍后再试。\n");
    };
    context["user"] = Value::from(user);
    context["csrf"] = Value::from(csrf);
    context["flash"] = Value::from(flash);
    let mut response = html_page("member.html", context);
    if request.cookie(FLASH).is_some() {
        let mut gone = Cookie::build(FLASH, "").path("/m").finish();
        gone.make_removal();
        let _ = response.add_cookie(&gone);
    }
    response
}

/// `/m/slot`: one slot's confirm step (book it, or queue for it when full).
pub async fn slot(ctx: Ctx, request: HttpRequest, query: web::Query<SlotQuery>) -> HttpResponse {
    let now = ctx.clock.now().timestamp();
    let Some(user) = session::viewer(&ctx.config, &request, now) else {
        return HttpResponse::SeeOther().insert_header((header::LOCATION, "/m")).finish();
    };
    let Ok(date) = NaiveDate::parse_from_str(&query.date, "%Y-%m-%d") else {
        return plain(HttpResponse::BadRequest(), "日期应为 YYYY-MM-DD。\n");
    };
    let (code, no, csrf) = (query.facility.clone(), query.slot, session::csrf_token(&ctx.config, &request));
    let (ctx, moving) = (Arc::clone(&ctx), query.moving);
    let built = move || {
        ctx.store.read(|conn| member_view::slot(&ctx, conn, (&code, date, no), moving.map(|id| (user.as_str(), id))))
    };
    match super::blocking(built).await {
        Some(Some(mut context)) => {
            context["csrf"] = Value::from(csrf);
            html_page("member_slot.html", context)
        }
        Some(None) => plain(HttpResponse::NotFound(), "没有这个设施或时段。\n"),
        None => plain(HttpResponse::ServiceUnavailable(), "页面暂时不可用，请稍后再试。\n"),
    }
}

/// `POST /m/{action}`: book, waitlist, unwait, cancel, move, confirm, checkin, calendar.
pub async fn act(
    ctx: Ctx,
    request: HttpRequest,
    action: web::Path<String>,
    form: web::Form<ActionForm>,
) -> HttpResponse {
    let now = ctx.clock.now();
    let Some(user) = session::viewer(&ctx.config, &request, now.timestamp()) else {
        return plain(HttpResponse::Forbidden(), "登录已过期，请重新打开页面。\n");
    };
    if !form.csrf.as_deref().is_some_and(|token| session::csrf_ok(&ctx.config, &request, token)) {
        tracing::warn!(user = %user, action = %action, "a page action without its form token");
        return plain(HttpResponse::Forbidden(), "表单已过期或来源不明（缺少令牌），请返回页面重试。\n");
    }
    let Some(command) = command_of(&action, &form) else {
        return plain(HttpResponse::BadRequest(), "看不懂这个操作。\n");
    };
    let key = format!("page:{user}:{}:{}", now.timestamp_nanos_opt().unwrap_or_default(), action.as_str());
    let (write_ctx, who) = (Arc::clone(&ctx), user.clone());
    let done = ctx.store.write(move |tx| chat::run_for_page(write_ctx.chat(), tx, &who, command, now, &key)).await;
    let said = match done {
        Ok(text) => text,
        Err(error) => {
            tracing::error!(error = %error, user = %user, "a page action failed");
            "操作没有完成，请稍后再试。".to_string()
        }
    };
    // Back to the week the slot acted on is in (a booking made for next week shows there).
    let today = ctx.catalog.today(now);
    let slot_date = form.date.as_deref().and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok());
    let next_week = slot_date.is_some_and(|date| crate::booking::in_a_later_week(date, today));
    let back = page_of(form.facility.as_deref(), next_week, None);
    let flash = Cookie::build(FLASH, hex::encode(said.as_bytes()))
        .path("/m")
        .http_only(true)
        .max_age(actix_web::cookie::time::Duration::seconds(60))
        .finish();
    HttpResponse::SeeOther().insert_header((header::LOCATION, back)).cookie(flash).finish()
}

/// The member's page showing `facility` (or the first), this week or the next, moving a booking.
fn page_of(facility: Option<&str>, next_week: bool, moving: Option<i64>) -> String {
    let facility = facility.map(|code| format!("facility={}", crate::wecom::url::urlencode(code)));
    let week = next_week.then(|| "week=next".to_string());
    let query: Vec<String> = facility.into_iter().chain(week).chain(moving.map(|id| format!("moving={id}"))).collect();
    if query.is_empty() {
        "/m".to_string()
    } else {
        format!("/m?{}", query.join("&"))
    }
}

/// The chat command a page action is.
fn command_of(action: &str, form: &ActionForm) -> Option<Command> {
    let slot = || -> Option<SlotRequest> {
        Some(SlotRequest {
            facility: Some(form.facility.clone()?),
            date: Some(NaiveDate::parse_from_str(form.date.as_deref()?, "%Y-%m-%d").ok()?),
            slot: Some(SlotSpec::Number(form.slot?)),
            ..SlotRequest::default()
        })
    };
    Some(match action {
        "book" => Command::Book(slot()?),
        "waitlist" => Command::Waitlist(slot()?),
        "unwait" => Command::LeaveWaitlist(slot()?),
        "cancel" => Command::Cancel(Some(form.booking?)),
        "confirm" => Command::Confirm(Some(form.booking?)),
        "checkin" => Command::CheckIn(Some(form.booking?)),
        "calendar" => Command::Calendar { reset: false },
        // A waitlist offer: `booking` carries its entry's number, as the offer's card does.
        "accept_offer" => Command::AcceptOffer(Some(form.booking?)),
        // A partner's invitation, by its booking's number (as typed: 接受 12 / 拒绝 12).
        "accept_invitation" => Command::AcceptOffer(Some(form.booking?)),
        "decline_invitation" => Command::Reject { booking: Some(form.booking?), reason: None },
        "decline_offer" => Command::DeclineOffer(Some(form.booking?)),
        // 改约 by tapping: the booking, and the slot tapped.
        "move" => Command::Move { booking: Some(form.booking?), to: slot()? },
        _ => return None,
    })
}

/// What the last action did, from its cookie.
fn flash_of(request: &HttpRequest) -> Option<String> {
    let bytes = hex::decode(request.cookie(FLASH)?.value()).ok()?;
    String::from_utf8(bytes).ok().map(|s| s.chars().take(600).collect())
}
