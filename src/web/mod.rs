//! HTTP routes: the WeCom callback, health, metrics. Anything else is a 404.

pub mod callback;
mod health;

use crate::app::AppContext;
use actix_web::web;
use std::sync::Arc;

/// Every route the service answers.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/wecom/callback")
            .route(web::get().to(callback::verify_url))
            .route(web::post().to(callback::receive)),
    )
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
