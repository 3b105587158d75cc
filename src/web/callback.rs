//! `/wecom/callback`: URL verification (GET) and message delivery (POST).
//!
//! Bad input never panics and never gets a 200 with content: each refusal is a 4xx, a log
//! line with the reason, and a count in /metrics.

use crate::app::AppContext;
use crate::inbox;
use crate::wecom::xml::{self, Reply};
use crate::wecom::CryptoError;
use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};
use futures_util::StreamExt;
use serde::Deserialize;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// WeCom's bodies are under 4 KiB; anything past this is not WeCom.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// WeCom gives up after 5 s; answer before then even if the work is slow (it finishes anyway
/// and its reply goes out through the outbox).
const REPLY_DEADLINE: Duration = Duration::from_millis(4000);

#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    msg_signature: Option<String>,
    timestamp: Option<String>,
    nonce: Option<String>,
    echostr: Option<String>,
}

/// Why a callback was refused: the status to answer and a label for logs and metrics.
#[derive(Debug)]
struct Rejection {
    status: StatusCode,
    reason: &'static str,
    detail: String,
}

impl Rejection {
    fn new(status: StatusCode, reason: &'static str, detail: impl Into<String>) -> Self {
        Rejection { status, reason, detail: detail.into() }
    }

    fn crypto(error: CryptoError) -> Self {
        let status = match error {
            CryptoError::ValidateSignature | CryptoError::ValidateReceiveId => StatusCode::FORBIDDEN,
            _ => StatusCode::BAD_REQUEST,
        };
        Rejection::new(status, error.reason(), error.to_string())
    }

    fn respond(self, ctx: &AppContext) -> HttpResponse {
        tracing::warn!(reason = self.reason, detail = %self.detail, status = self.status.as_u16(), "callback refused");
        ctx.metrics.reject(self.reason);
        HttpResponse::build(self.status).content_type("text/plain; charset=utf-8").body(self.reason)
    }
}

struct Signed<'a> {
    signature: &'a str,
    timestamp: &'a str,
    nonce: &'a str,
}

fn signed(query: &CallbackQuery) -> Result<Signed<'_>, Rejection> {
    match (&query.msg_signature, &query.timestamp, &query.nonce) {
        (Some(signature), Some(timestamp), Some(nonce)) => Ok(Signed { signature, timestamp, nonce }),
        _ => Err(Rejection::new(
            StatusCode::BAD_REQUEST,
            "missing_params",
            "msg_signature, timestamp and nonce are required",
        )),
    }
}

/// WeCom signs the time it sent a callback. One sent further than the window from the service's
/// clock is a replay (or a clock badly off): refused before anything else is done with it. WeCom's
/// own retries keep the first delivery's timestamp and come within seconds.
fn within_window(ctx: &AppContext, timestamp: &str) -> Result<(), Rejection> {
    let window = ctx.config.wecom.max_timestamp_skew_seconds;
    if window == 0 {
        return Ok(());
    }
    let sent = timestamp
        .trim()
        .parse::<i64>()
        .map_err(|_| Rejection::new(StatusCode::BAD_REQUEST, "bad_timestamp", "timestamp is not a number"))?;
    let skew = ctx.clock.now().timestamp().abs_diff(sent);
    if skew > window {
        let detail = format!("signed at {sent}, {skew} s from the service's clock (window {window} s)");
        return Err(Rejection::new(StatusCode::FORBIDDEN, "stale_timestamp", detail));
    }
    Ok(())
}

/// GET: answer the decrypted echostr exactly (no quotes, no newline).
pub async fn verify_url(ctx: web::Data<Arc<AppContext>>, query: web::Query<CallbackQuery>) -> HttpResponse {
    let started = Instant::now();
    let response = match verify_url_inner(&ctx, &query) {
        Ok(echo) => {
            ctx.metrics.callback("verify_url", "ok");
            HttpResponse::Ok().content_type("text/plain").body(echo)
        }
        Err(rejection) => rejection.respond(&ctx),
    };
    ctx.metrics.observe("callback_get", started.elapsed().as_secs_f64());
    response
}

fn verify_url_inner(ctx: &AppContext, query: &CallbackQuery) -> Result<String, Rejection> {
    let s = signed(query)?;
    within_window(ctx, s.timestamp)?;
    let echostr = query
        .echostr
        .as_deref()
        .ok_or_else(|| Rejection::new(StatusCode::BAD_REQUEST, "missing_params", "echostr is required"))?;
    let open = |echo: &str| ctx.crypto.open(s.signature, s.timestamp, s.nonce, echo);
    match open(echostr) {
        // Some proxies decode '+' to ' ' once more; try the base64 form back (wecom-protocol §9.3).
        Err(CryptoError::ValidateSignature) if echostr.contains(' ') => open(&echostr.replace(' ', "+")),
        other => other,
    }
    .map_err(Rejection::crypto)
}

/// POST: verify, decrypt, handle once, answer with an encrypted passive reply.
pub async fn receive(
    ctx: web::Data<Arc<AppContext>>,
    request: HttpRequest,
    query: web::Query<CallbackQuery>,
    payload: web::Payload,
) -> HttpResponse {
    let started = Instant::now();
    let ctx = ctx.into_inner();
    let _answering = Answering::new(&ctx.answering);
    let response = match receive_inner(&ctx, &request, &query, payload).await {
        Ok(response) => response,
        Err(rejection) => rejection.respond(&ctx),
    };
    ctx.metrics.observe("callback_post", started.elapsed().as_secs_f64());
    response
}

/// Counts a callback as being answered while it lives (the outbox worker gives way to answers).
struct Answering(Arc<std::sync::atomic::AtomicUsize>);

impl Answering {
    fn new(count: &Arc<std::sync::atomic::AtomicUsize>) -> Answering {
        count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Answering(Arc::clone(count))
    }
}

impl Drop for Answering {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

async fn receive_inner(
    ctx: &Arc<AppContext>,
    request: &HttpRequest,
    query: &CallbackQuery,
    payload: web::Payload,
) -> Result<HttpResponse, Rejection> {
    let s = signed(query)?;
    within_window(ctx, s.timestamp)?;
    let body = read_body(request, payload).await?;
    let body = std::str::from_utf8(&body)
        .map_err(|_| Rejection::new(StatusCode::BAD_REQUEST, "bad_xml", "body is not UTF-8"))?;
    let envelope =
        xml::parse_envelope(body).map_err(|e| Rejection::new(StatusCode::BAD_REQUEST, "bad_xml", e.to_string()))?;
    let plain = ctx.crypto.open(s.signature, s.timestamp, s.nonce, &envelope.encrypt).map_err(Rejection::crypto)?;
    let message = xml::parse_inbound(&plain)
        .map_err(|e| Rejection::new(StatusCode::BAD_REQUEST, "bad_inner_xml", e.to_string()))?;
    let kind = message.inbound.kind();
    let span = tracing::info_span!("callback", user = %message.from_user_name, kind);
    let _entered = span.enter();

    let user = message.from_user_name.clone();
    let mut work = Box::pin(inbox::handle(Arc::clone(ctx), Arc::new(message)));
    let handled = match tokio::time::timeout(REPLY_DEADLINE, &mut work).await {
        Ok(Ok(handled)) => handled,
        Ok(Err(error)) => {
            // Nothing was committed; WeCom retries on a non-200 and the retry starts afresh.
            tracing::error!(%error, "callback handling failed");
            ctx.metrics.callback(kind, "error");
            return Err(Rejection::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", error.to_string()));
        }
        Err(_elapsed) => {
            tracing::warn!("callback is slow; answering empty, its reply will go out through the outbox");
            ctx.metrics.callback(kind, "late");
            let late_ctx = Arc::clone(ctx);
            tokio::spawn(async move {
                if let Ok(handled) = work.await {
                    if let Err(error) = inbox::send_late_reply(&*late_ctx, &user, &handled).await {
                        tracing::error!(%error, "could not queue a late reply");
                    }
                }
            });
            return Ok(HttpResponse::Ok().finish());
        }
    };
    ctx.metrics.callback(kind, if handled.duplicate { "duplicate" } else { "ok" });
    Ok(encrypted_reply(ctx, &handled.reply, &user))
}

/// Read the body, refusing anything over the limit without reading it all.
async fn read_body(request: &HttpRequest, mut payload: web::Payload) -> Result<Vec<u8>, Rejection> {
    let too_large = || Rejection::new(StatusCode::PAYLOAD_TOO_LARGE, "too_large", "body over 64 KiB");
    let declared = request
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > MAX_BODY_BYTES) {
        return Err(too_large());
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(1024).min(MAX_BODY_BYTES));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| Rejection::new(StatusCode::BAD_REQUEST, "bad_body", e.to_string()))?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn encrypted_reply(ctx: &AppContext, reply: &Reply, user: &str) -> HttpResponse {
    let now = ctx.clock.now().timestamp();
    let Some(plain) = xml::reply_xml(reply, user, &ctx.config.wecom.corp_id, now) else {
        return HttpResponse::Ok().finish();
    };
    let encrypt = ctx.crypto.encrypt(&plain);
    let timestamp = now.to_string();
    let nonce = rand::random::<u32>().to_string();
    let signature = ctx.crypto.sign(&timestamp, &nonce, &encrypt);
    HttpResponse::Ok()
        .content_type("application/xml; charset=utf-8")
        .body(xml::encrypted_reply_xml(&encrypt, &signature, &timestamp, &nonce))
}
