//! Signing in to the pages through WeCom's silent OAuth (snsapi_base).
//!
//! The way out carries a random `state`, also set in a short-lived cookie; the way back is
//! believed only when both agree (else anyone could send a member's browser back with the
//! attacker's code: login CSRF). Only then is the code exchanged for the member's id, and at
//! most [`EXCHANGES_PER_MINUTE`] times a minute per client address.

use crate::config::Config;
use crate::sync::lock;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::{http::header, HttpRequest, HttpResponse};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

pub const STATE_COOKIE: &str = "staffhome_oauth";
/// How long a sign-in may take from leaving for WeCom to coming back.
pub const STATE_LIFETIME_SECONDS: i64 = 600;
/// Code exchanges per client address and minute (a sign-in is one; a session lasts hours).
pub const EXCHANGES_PER_MINUTE: u32 = 20;
/// Addresses remembered per minute at most: past it, exchanges wait for the next minute.
const ADDRESSES: usize = 10_000;

/// Send the browser to WeCom to learn who it is; it comes back to `page` with a code.
pub fn begin(config: &Config, page: &str) -> HttpResponse {
    let state = hex::encode(rand::random::<[u8; 16]>());
    let cookie = Cookie::build(STATE_COOKIE, state.clone())
        .path("/")
        .http_only(true)
        .secure(config.server.public_url.is_https())
        // Lax: WeCom sends the browser back with a top-level GET, which carries it.
        .same_site(SameSite::Lax)
        .max_age(actix_web::cookie::time::Duration::seconds(STATE_LIFETIME_SECONDS))
        .finish();
    HttpResponse::Found().insert_header((header::LOCATION, authorize_url(config, page, &state))).cookie(cookie).finish()
}

fn authorize_url(config: &Config, page: &str, state: &str) -> String {
    let encode = crate::wecom::url::urlencode;
    format!(
        "{}/connect/oauth2/authorize?appid={}&redirect_uri={}&response_type=code&scope=snsapi_base&state={}&agentid={}#wechat_redirect",
        config.wecom.oauth_base.trim_end_matches('/'),
        encode(&config.wecom.corp_id),
        encode(&config.server.public_url.join(page)),
        state,
        config.wecom.agent_id
    )
}

/// Why a return from WeCom was not believed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No state, or not the one this browser was sent out with.
    State,
    /// Too many exchanges from this address this minute.
    TooMany,
    /// WeCom did not accept the code (expired, used, forged).
    Code,
    /// The code is valid but names no member of this company.
    NotMember,
}

impl Refusal {
    pub fn response(self) -> HttpResponse {
        let text = |mut response: actix_web::HttpResponseBuilder, body: &'static str| {
            response.content_type("text/plain; charset=utf-8").cookie(expired_state()).body(body)
        };
        match self {
            Refusal::State => text(HttpResponse::Forbidden(), "登录已过期或并非由本页发起，请重新打开页面。\n"),
            Refusal::TooMany => text(HttpResponse::TooManyRequests(), "登录尝试过于频繁，请一分钟后再试。\n"),
            Refusal::Code => text(HttpResponse::Forbidden(), "登录失败（授权码无效或已过期），请重新打开页面。\n"),
            Refusal::NotMember => text(HttpResponse::Forbidden(), "只有本企业成员可以访问。\n"),
        }
    }
}

/// The state cookie, cleared: a state is good for one return.
pub fn expired_state() -> Cookie<'static> {
    let mut cookie = Cookie::build(STATE_COOKIE, "").path("/").http_only(true).finish();
    cookie.make_removal();
    cookie
}

/// The state this browser was sent out with matches the one it came back with.
fn state_matches(request: &HttpRequest, state: Option<&str>) -> bool {
    use subtle::ConstantTimeEq;
    let (Some(given), Some(cookie)) = (state, request.cookie(STATE_COOKIE)) else { return false };
    let expected = cookie.value();
    !expected.is_empty() && given.len() == expected.len() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}

/// Code exchanges per client address in the current minute.
#[derive(Default)]
pub struct ExchangeLimit {
    counts: Mutex<(i64, HashMap<IpAddr, u32>)>,
}

impl ExchangeLimit {
    /// Count one exchange from `client` at `now`; false when it is one too many.
    fn allow(&self, client: Option<IpAddr>, now: i64) -> bool {
        let client = client.unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let mut counts = lock(&self.counts);
        let (minute, by_client) = &mut *counts;
        if *minute != now.div_euclid(60) {
            *minute = now.div_euclid(60);
            by_client.clear();
        }
        if by_client.len() >= ADDRESSES && !by_client.contains_key(&client) {
            return false;
        }
        let count = by_client.entry(client).or_default();
        *count += 1;
        *count <= EXCHANGES_PER_MINUTE
    }
}

/// The member a return from WeCom proves: the state checked first, then the exchange counted,
/// then the code exchanged.
pub async fn finish(
    ctx: &crate::app::AppContext,
    limit: &ExchangeLimit,
    request: &HttpRequest,
    code: &str,
    state: Option<&str>,
) -> Result<String, Refusal> {
    if !state_matches(request, state) {
        tracing::warn!("an OAuth return without this browser's state: not exchanged");
        return Err(Refusal::State);
    }
    if !limit.allow(request.peer_addr().map(|a| a.ip()), ctx.clock.now().timestamp()) {
        tracing::warn!(client = ?request.peer_addr(), "OAuth code exchanges over the limit");
        return Err(Refusal::TooMany);
    }
    match ctx.api.user_of_code(code).await {
        Ok(Some(user)) => Ok(user),
        Ok(None) => Err(Refusal::NotMember),
        Err(error) => {
            tracing::warn!(error = %error, "OAuth code exchange failed");
            Err(Refusal::Code)
        }
    }
}

/// Who opens a member's page.
pub enum Visitor {
    /// Signed in (a session).
    Member(String),
    /// What to answer instead: off to sign in, back to the page with a new session, a refusal.
    Answer(HttpResponse),
}

/// Who opens `page` (a path with its query): the session's member; coming back from WeCom, the
/// member the code proves (given a session, sent back to `page`); in WeCom's browser without a
/// session (or when `sign_in` is asked for), off to sign in; anywhere else, told to open it in
/// WeCom.
pub async fn visitor(
    ctx: &crate::app::AppContext,
    limit: &ExchangeLimit,
    request: &HttpRequest,
    (code, state): (Option<&str>, Option<&str>),
    sign_in: bool,
    page: &str,
) -> Visitor {
    let now = ctx.clock.now().timestamp();
    if let Some(user) = super::session::viewer(&ctx.config, request, now) {
        return Visitor::Member(user);
    }
    if let Some(code) = code.filter(|c| !c.is_empty() && c.len() <= 512) {
        return Visitor::Answer(match finish(ctx, limit, request, code, state).await {
            Ok(user) => HttpResponse::Found()
                .insert_header((header::LOCATION, page.to_string()))
                .cookie(super::session::cookie(&ctx.config, &user, now))
                .cookie(expired_state())
                .finish(),
            Err(refusal) => refusal.response(),
        });
    }
    if sign_in || super::session::in_wecom(request) {
        return Visitor::Answer(begin(&ctx.config, page));
    }
    Visitor::Answer(
        HttpResponse::Forbidden()
            .content_type("text/plain; charset=utf-8")
            .body("请在企业微信中打开「职工之家」应用，登录后使用（或打开 /m?signin=1 经企业微信登录）。\n"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exchanges_are_limited_per_address_and_minute() {
        let limit = ExchangeLimit::default();
        let (a, b) = (Some(IpAddr::from([10, 0, 0, 1])), Some(IpAddr::from([10, 0, 0, 2])));
        for _ in 0..EXCHANGES_PER_MINUTE {
            assert!(limit.allow(a, 120));
        }
        assert!(!limit.allow(a, 179), "one too many in the minute");
        assert!(limit.allow(b, 179), "another address has its own count");
        assert!(limit.allow(a, 180), "the next minute starts again");
    }
}
