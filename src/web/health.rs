//! `/healthz` and `/metrics`.

use super::{bearer_is_admin, Ctx};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;
use std::sync::Arc;

pub async fn healthz(ctx: Ctx) -> HttpResponse {
    let ctx = Arc::clone(&ctx);
    let db_ok = actix_web::web::block(move || ctx.store.ping()).await.unwrap_or(false);
    let body = json!({
        "status": if db_ok { "ok" } else { "degraded" },
        "version": env!("CARGO_PKG_VERSION"),
        "database": if db_ok { "ok" } else { "unreachable" },
    });
    if db_ok {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

pub async fn metrics(ctx: Ctx, request: HttpRequest) -> HttpResponse {
    if ctx.config.server.metrics_need_auth() && !bearer_is_admin(&ctx, &request) {
        return HttpResponse::Unauthorized()
            .content_type("text/plain; charset=utf-8")
            .body("/metrics needs Authorization: Bearer <admin_token>\n");
    }
    let ctx = Arc::clone(&ctx);
    let body = actix_web::web::block(move || {
        if let Ok(counts) = crate::outbox::counts_by_state(&ctx.store) {
            for (state, rows) in counts {
                ctx.metrics.set_outbox_rows(&state, rows);
            }
        }
        let today = ctx.catalog.today(ctx.clock.now()).to_string();
        if let Ok(sent) = ctx.store.read(|conn| crate::outbox::budget::sent_on(conn, &today)) {
            ctx.metrics.sent_today.set(sent);
        }
        ctx.metrics.budget.set(ctx.config.wecom.daily_message_budget as i64);
        ctx.metrics.render()
    })
    .await
    .unwrap_or_default();
    HttpResponse::Ok().content_type("application/openmetrics-text; version=1.0.0; charset=utf-8").body(body)
}
