//! Sessions of the pages (admins' and members'): a signed, HttpOnly cookie `userid|expires|hmac`
//! (HMAC-SHA256 under a key derived from the app's secrets), set after WeCom OAuth proves who
//! the member is; and the per-session token a page's forms carry.

use crate::config::Config;
use actix_web::cookie::{Cookie, SameSite};
use actix_web::{http::header, HttpRequest};
use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const COOKIE: &str = "staffhome_session";
pub const LIFETIME_SECONDS: i64 = 8 * 3600;

type HmacSha256 = Hmac<Sha256>;

fn key(config: &Config) -> Vec<u8> {
    // Changing the app secret or token logs everyone out, as it should.
    let mut key = b"staffhome-session-v1:".to_vec();
    key.extend_from_slice(config.wecom.secret.expose().as_bytes());
    key.extend_from_slice(config.wecom.token.expose().as_bytes());
    key
}

fn mac(config: &Config, payload: &str) -> HmacSha256 {
    let mut mac =
        HmacSha256::new_from_slice(&key(config)).unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(payload.as_bytes());
    mac
}

/// The cookie value for `user`, valid until `now + LIFETIME_SECONDS`.
pub fn issue(config: &Config, user: &str, now: i64) -> String {
    let payload = format!("{user}|{}", now + LIFETIME_SECONDS);
    let signature = hex::encode(mac(config, &payload).finalize().into_bytes());
    format!("{payload}|{signature}")
}

/// The member a cookie value stands for, if it is ours, unaltered and unexpired.
pub fn verify(config: &Config, value: &str, now: i64) -> Option<String> {
    let (payload, signature) = value.rsplit_once('|')?;
    let (user, expires) = payload.split_once('|')?;
    let signature = hex::decode(signature).ok()?;
    // verify_slice compares in constant time.
    mac(config, payload).verify_slice(&signature).ok()?;
    (expires.parse::<i64>().ok()? > now && !user.is_empty()).then(|| user.to_string())
}

/// The signed session cookie for `user` (sent on every path: the pass pages check who opens them).
pub fn cookie(config: &Config, user: &str, now: i64) -> Cookie<'static> {
    Cookie::build(COOKIE, issue(config, user, now))
        .path("/")
        .http_only(true)
        .secure(config.server.public_url.is_https())
        .same_site(SameSite::Lax)
        .max_age(actix_web::cookie::time::Duration::seconds(LIFETIME_SECONDS))
        .finish()
}

/// The member a request's session cookie stands for.
pub fn viewer(config: &Config, request: &HttpRequest, now: i64) -> Option<String> {
    request.cookie(COOKIE).and_then(|c| verify(config, c.value(), now))
}

/// The form token of the request's session (its cookie's MAC under a purpose of its own): a
/// page's forms carry it, and a POST without it is refused (another site cannot read it).
pub fn csrf_token(config: &Config, request: &HttpRequest) -> Option<String> {
    let session = request.cookie(COOKIE)?;
    let digest = mac(config, &format!("csrf|{}", session.value())).finalize().into_bytes();
    Some(hex::encode(&digest[..16]))
}

/// `given` is the request's session's form token (compared in constant time).
pub fn csrf_ok(config: &Config, request: &HttpRequest, given: &str) -> bool {
    use subtle::ConstantTimeEq;
    csrf_token(config, request).is_some_and(|expected| {
        expected.len() == given.len() && bool::from(expected.as_bytes().ct_eq(given.as_bytes()))
    })
}

/// Opened in WeCom's own browser (where OAuth can tell who it is)?
pub fn in_wecom(request: &HttpRequest) -> bool {
    request
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ua| ua.to_ascii_lowercase().contains("wxwork"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        let text = r#"
[wecom]
corp_id = "ww1"
agent_id = 1
secret = "s"
token = "t"
encoding_aes_key = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
"#;
        Config::from_toml(text, |_| None).unwrap()
    }

    #[test]
    fn a_session_verifies_until_it_expires_and_not_when_forged() {
        let config = config();
        let cookie = issue(&config, "admin1", 1000);
        assert_eq!(verify(&config, &cookie, 1001).as_deref(), Some("admin1"));
        assert_eq!(verify(&config, &cookie, 1000 + LIFETIME_SECONDS), None, "expired");
        let forged = cookie.replacen("admin1", "admin2", 1);
        assert_eq!(verify(&config, &forged, 1001), None);
        let longer = cookie.replacen(&format!("|{}|", 1000 + LIFETIME_SECONDS), "|99999999999|", 1);
        assert_eq!(verify(&config, &longer, 1001), None);
        assert_eq!(verify(&config, "garbage", 1001), None);
    }
}
