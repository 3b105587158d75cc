//! `/pass/{token}`: the booking pass page, readable on a phone, with a QR code for the desk.

use super::oauth::{self, ExchangeLimit};
use super::{html_page, session, Ctx};
use crate::app::AppContext;
use crate::booking::{date_label, Booking, BookingState};
use actix_web::{http::header, web, HttpRequest, HttpResponse};
use rusqlite::OptionalExtension;
use serde_json::json;
use std::sync::Arc;

fn not_found() -> HttpResponse {
    HttpResponse::NotFound().content_type("text/plain; charset=utf-8").body("没有这张预约凭证。\n")
}

#[derive(serde::Deserialize)]
pub struct PassQuery {
    code: Option<String>,
    state: Option<String>,
}

/// Inside WeCom the viewer is known (OAuth, then a session cookie) and must own the pass or be
/// an admin; elsewhere (the desk scanning the QR code) the unguessable token is the key. The
/// pass is looked up first: no sign-in for a pass that does not exist.
pub async fn pass(
    ctx: Ctx,
    limit: web::Data<ExchangeLimit>,
    request: HttpRequest,
    token: web::Path<String>,
    query: web::Query<PassQuery>,
) -> HttpResponse {
    let token = token.into_inner();
    // Tokens are 32 hex characters; anything else is not one of ours.
    if token.len() != 32 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return not_found();
    }
    let Some(booking) = find(&ctx, token).await else { return not_found() };
    let page = format!("/pass/{}", booking.pass_token);
    let now = ctx.clock.now().timestamp();
    let viewer = session::viewer(&ctx.config, &request, now);
    if viewer.is_none() {
        if let Some(code) = query.code.as_deref().filter(|c| !c.is_empty() && c.len() <= 512) {
            return match oauth::finish(&ctx, &limit, &request, code, query.state.as_deref()).await {
                Ok(user) => HttpResponse::Found()
                    .insert_header((header::LOCATION, page))
                    .cookie(session::cookie(&ctx.config, &user, now))
                    .cookie(oauth::expired_state())
                    .finish(),
                Err(refusal) => refusal.response(),
            };
        }
        if session::in_wecom(&request) {
            return oauth::begin(&ctx.config, &page);
        }
    }
    if let Some(viewer) = viewer {
        if viewer != booking.userid && !super::admin::admin_now(&ctx, &viewer).await {
            return not_found();
        }
    }
    render(&ctx, &booking)
}

/// The booking whose pass `token` is.
async fn find(ctx: &Ctx, token: String) -> Option<Booking> {
    let ctx = Arc::clone(ctx);
    super::blocking(move || {
        ctx.store.read(|conn| {
            crate::store::query_row(
                conn,
                &format!("SELECT {} FROM bookings WHERE pass_token = ?1", crate::booking::model::BOOKING_COLUMNS),
                [&token],
                Booking::from_row,
            )
            .optional()
        })
    })
    .await
    .flatten()
}

fn render(ctx: &AppContext, booking: &Booking) -> HttpResponse {
    let facility = ctx.catalog.facility(&booking.facility).map_or(booking.facility.clone(), |f| f.name.clone());
    let time = ctx.catalog.slot(booking.slot).map(|s| s.label()).unwrap_or_default();
    let url = ctx.config.server.public_url.join(&format!("/pass/{}", booking.pass_token));
    let qr = crate::qr::svg(&url, 4, None).unwrap_or_default();
    let state = match booking.state {
        BookingState::Confirmed => "有效",
        other => other.label(),
    };
    html_page(
        "pass.html",
        json!({
            "id": booking.id, "facility": facility, "date": date_label(booking.date), "time": time,
            "code": booking.checkin_code, "state": state, "qr": qr,
        }),
    )
}
