//! The HTTP side: every route is listed in [`routes`]; anything else is a 404.

mod admin;
mod board;
pub mod callback;
mod health;
mod ics;
mod member;
mod member_view;
pub mod oauth;
pub mod pages;
mod pass;
pub mod session;

use crate::app::AppContext;
use actix_web::web;
use std::sync::Arc;

/// Run a page's blocking reads off the async executor: the value, or None (the cause logged).
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> rusqlite::Result<T> + Send + 'static,
) -> Option<T> {
    match web::block(work).await {
        Ok(Ok(value)) => Some(value),
        Ok(Err(error)) => {
            tracing::error!(%error, "a page's read failed");
            None
        }
        Err(error) => {
            tracing::error!(%error, "a page's work failed");
            None
        }
    }
}

/// Every route the service answers.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/wecom/callback")
            .route(web::get().to(callback::verify_url))
            .route(web::post().to(callback::receive)),
    )
    .route("/pass/{token}", web::get().to(pass::pass))
    .route("/board", web::get().to(board::board))
    .route("/calendar/facility/{file}", web::get().to(ics::facility_feed))
    .route("/calendar/{file}", web::get().to(ics::member_feed))
    .service(
        web::scope("/m")
            .app_data(member::query_config())
            .app_data(member::form_config())
            .route("", web::get().to(member::page))
            .route("/slot", web::get().to(member::slot))
            .route("/{action}", web::post().to(member::act)),
    )
    .route("/admin", web::get().to(admin::page))
    .route("/admin/export.csv", web::get().to(admin::export_csv))
    .route("/healthz", web::get().to(health::healthz))
    .route("/metrics", web::get().to(health::metrics));
}

/// Whether the request carries `Authorization: Bearer <admin_token>` (constant-time compare).
pub fn bearer_is_admin(ctx: &AppContext, request: &actix_web::HttpRequest) -> bool {
    use subtle::ConstantTimeEq;
    let expected = ctx.config.server.admin_token.expose();
    if expected.is_empty() {
        return false;
    }
    let given = request
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default();
    given.len() == expected.len() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

pub type Ctx = web::Data<Arc<AppContext>>;

/// Headers on every answer: no sniffing, no referrer leaks, pages framed only by WeCom, and a
/// content security policy with no script from anywhere but this server.
pub fn security_headers() -> actix_web::middleware::DefaultHeaders {
    actix_web::middleware::DefaultHeaders::new()
        .add(("X-Content-Type-Options", "nosniff"))
        .add(("Referrer-Policy", "no-referrer"))
        .add((
            "Content-Security-Policy",
            "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
             form-action 'self'; base-uri 'none'; frame-ancestors 'self' https://*.qq.com https://*.weixin.qq.com",
        ))
}

/// A rendered page, or a plain error page when a template fails.
pub fn html_page(name: &str, context: serde_json::Value) -> actix_web::HttpResponse {
    match pages::render(name, context) {
        Ok(html) => actix_web::HttpResponse::Ok().content_type("text/html; charset=utf-8").body(html),
        Err(message) => {
            actix_web::HttpResponse::InternalServerError().content_type("text/plain; charset=utf-8").body(message)
        }
    }
}
