//! Percent-encoding for the URLs the service builds (OAuth redirects, signed query strings).

/// Percent-encode a query value (base64's `+ / =` must not reach the server raw).
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
