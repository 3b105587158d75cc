//! Every official WeCom test vector (tests/data/wecom-vectors.json), as a named test.

use proptest::prelude::*;
use serde_json::Value;
use staffhome::wecom::crypto::{signature, CryptoError, EncodingAesKey, WeComCrypto};
use staffhome::wecom::xml;

fn vector(name: &str) -> Value {
    let all: Value = serde_json::from_str(include_str!("../data/wecom-vectors.json")).expect("vectors parse");
    all["vectors"]
        .as_array()
        .expect("vector list")
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("no vector {name}"))
        .clone()
}

fn s<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or_else(|| panic!("{key} missing"))
}

/// Key, signature and decryption: what every vector checks.
fn check_common(v: &Value) -> WeComCrypto {
    let key = EncodingAesKey::parse(s(v, "encoding_aes_key")).expect("official key decodes");
    assert_eq!(hex::encode(key.bytes()), s(v, "aes_key_hex"));
    assert_eq!(&hex::encode(key.bytes())[..32], s(v, "iv_hex"));
    assert_eq!(signature(s(v, "token"), s(v, "timestamp"), s(v, "nonce"), s(v, "encrypt")), s(v, "msg_signature"));
    let crypto = WeComCrypto::new(s(v, "token"), s(v, "encoding_aes_key"), s(v, "receive_id")).expect("crypto");
    crypto
        .verify_signature(s(v, "msg_signature"), s(v, "timestamp"), s(v, "nonce"), s(v, "encrypt"))
        .expect("signature verifies");
    let expected = &v["expected"];
    let decrypted = crypto.decrypt(s(v, "encrypt")).expect("decrypts");
    assert_eq!(decrypted.msg, s(expected, "msg"));
    assert_eq!(decrypted.msg.len() as u64, expected["msg_len"].as_u64().expect("msg_len"));
    assert_eq!(decrypted.receive_id, s(expected, "receive_id"));
    assert_eq!(decrypted.random.as_slice(), s(expected, "random16").as_bytes());
    assert_eq!(u64::from(decrypted.pad), expected["pad"].as_u64().expect("pad"));
    crypto
}

fn check_encrypt(v: &Value) {
    let crypto = check_common(v);
    let expected = &v["expected"];
    let random: [u8; 16] = s(expected, "random16").as_bytes().try_into().expect("16 bytes");
    let encrypt = crypto.encrypt_with_random(s(expected, "msg"), &random, s(v, "receive_id"));
    assert_eq!(encrypt, s(v, "encrypt"), "byte-exact encryption");
    assert_eq!(crypto.sign(s(v, "timestamp"), s(v, "nonce"), &encrypt), s(v, "msg_signature"));
}

fn check_post_body(v: &Value) {
    let envelope = xml::parse_envelope(s(v, "post_body")).expect("envelope parses");
    assert_eq!(envelope.encrypt, s(v, "encrypt"));
    let crypto = check_common(v);
    let plain = crypto.open(s(v, "msg_signature"), s(v, "timestamp"), s(v, "nonce"), &envelope.encrypt).expect("opens");
    let msg = xml::parse_inbound(&plain).expect("inner XML parses");
    assert!(matches!(msg.inbound, xml::Inbound::Text { .. }));
}

#[test]
fn official_get_2014() {
    let v = vector("official_get_2014");
    check_common(&v);
    // The raw query, decoded once by a standard decoder, gives back the echostr.
    let query: Vec<(String, String)> = serde_urlencoded_pairs(s(&v, "raw_query"));
    let echostr = &query.iter().find(|(k, _)| k == "echostr").expect("echostr").1;
    assert_eq!(echostr, s(&v, "encrypt"));
}

/// Percent-decoding of a query string (what actix's Query extractor does).
fn serde_urlencoded_pairs(q: &str) -> Vec<(String, String)> {
    q.split('&').filter_map(|pair| pair.split_once('=')).map(|(k, v)| (k.to_string(), percent_decode(v))).collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).expect("hex"));
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).expect("utf8")
}

#[test]
fn official_post_2014() {
    check_post_body(&vector("official_post_2014"));
}

#[test]
fn official_get_2016() {
    check_common(&vector("official_get_2016"));
}

#[test]
fn official_post_2016() {
    let v = vector("official_post_2016");
    check_post_body(&v);
    // msg_len counts UTF-8 bytes: 你好 is 6 of them.
    assert!(s(&v["expected"], "msg").contains("你好"));
}

#[test]
fn wechatpy_check_signature() {
    let v = vector("wechatpy_check_signature");
    check_common(&v);
    let negative = &v["negative"];
    let nonce = negative["nonce"].as_str().unwrap_or("437374424");
    let crypto = WeComCrypto::new(s(&v, "token"), s(&v, "encoding_aes_key"), s(&v, "receive_id")).expect("crypto");
    assert_eq!(
        crypto.verify_signature(s(&v, "msg_signature"), s(&v, "timestamp"), nonce, s(&v, "encrypt")),
        Err(CryptoError::ValidateSignature)
    );
}

#[test]
fn wechatpy_decrypt_message() {
    check_common(&vector("wechatpy_decrypt_message"));
}

#[test]
fn wechatpy_encrypt_message_deterministic() {
    check_encrypt(&vector("wechatpy_encrypt_message_deterministic"));
}

#[test]
fn computed_encrypt_official_key() {
    check_encrypt(&vector("computed_encrypt_official_key"));
}

#[test]
fn computed_full_block_pad32() {
    check_encrypt(&vector("computed_full_block_pad32"));
}

#[test]
fn official_json_robot_2016() {
    check_common(&vector("official_json_robot_2016"));
}

#[test]
fn every_vector_in_the_file_has_a_named_test() {
    let all: Value = serde_json::from_str(include_str!("../data/wecom-vectors.json")).expect("vectors parse");
    let names: Vec<&str> = all["vectors"].as_array().expect("list").iter().filter_map(|v| v["name"].as_str()).collect();
    let this_file = include_str!("vectors.rs");
    for name in names {
        assert!(this_file.contains(&format!("fn {name}()")), "vector {name} has no test");
    }
}

#[test]
fn wrong_token_and_wrong_receive_id_are_refused() {
    let v = vector("official_post_2014");
    let wrong_token = WeComCrypto::new("QDG6eL", s(&v, "encoding_aes_key"), s(&v, "receive_id")).expect("crypto");
    assert_eq!(
        wrong_token.open(s(&v, "msg_signature"), s(&v, "timestamp"), s(&v, "nonce"), s(&v, "encrypt")),
        Err(CryptoError::ValidateSignature)
    );
    let wrong_corp = WeComCrypto::new(s(&v, "token"), s(&v, "encoding_aes_key"), "wx5823bf96d3bd56c8").expect("crypto");
    assert_eq!(
        wrong_corp.open(s(&v, "msg_signature"), s(&v, "timestamp"), s(&v, "nonce"), s(&v, "encrypt")),
        Err(CryptoError::ValidateReceiveId)
    );
    assert_eq!(CryptoError::ValidateReceiveId.code(), -40005);
}

#[test]
fn both_last_character_variants_of_a_key_decode_alike() {
    let a = EncodingAesKey::parse("kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR").expect("a");
    let b = EncodingAesKey::parse("kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aQ").expect("b");
    assert_eq!(a.bytes(), b.bytes());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn encrypt_then_decrypt_round_trips(msg in "\\PC{0,1700}", corp in "[a-z0-9]{1,20}") {
        // \PC{0,1700}: any non-control UTF-8, up to ~5000 bytes.
        let crypto = WeComCrypto::new("token", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", &corp).expect("crypto");
        let encrypted = crypto.encrypt(&msg);
        let decrypted = crypto.decrypt(&encrypted).expect("decrypts");
        prop_assert_eq!(decrypted.msg, msg);
        prop_assert_eq!(decrypted.receive_id, corp);
        prop_assert!((1..=32).contains(&decrypted.pad));
    }

    #[test]
    fn decrypt_never_panics_on_garbage(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        use base64::Engine;
        let crypto = WeComCrypto::new("token", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "corp").expect("crypto");
        let _ = crypto.decrypt(&base64::engine::general_purpose::STANDARD.encode(&bytes));
    }
}
