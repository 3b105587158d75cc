//! Arbitrary ciphertext carrying a valid signature: every check after the signature runs.
#![no_main]
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use staffhome::wecom::WeComCrypto;
use std::sync::OnceLock;

fn crypto() -> &'static WeComCrypto {
    static CRYPTO: OnceLock<WeComCrypto> = OnceLock::new();
    CRYPTO.get_or_init(|| {
        WeComCrypto::new("QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "wx5823bf96d3bd56c7").expect("key")
    })
}

fuzz_target!(|data: &[u8]| {
    let crypto = crypto();
    // As raw ciphertext (base64-encoded here) …
    let encrypt = base64::engine::general_purpose::STANDARD.encode(data);
    let signature = crypto.sign("1409659813", "1372623149", &encrypt);
    let _ = crypto.open(&signature, "1409659813", "1372623149", &encrypt);
    // … and as the Encrypt text itself (bad base64 included).
    if let Ok(text) = std::str::from_utf8(data) {
        let signature = crypto.sign("1", "2", text);
        let _ = crypto.open(&signature, "1", "2", text);
    }
});
