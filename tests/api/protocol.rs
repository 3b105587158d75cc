//! The WeCom callback as WeCom calls it: URL verification, round trips, bad input,
//! duplicates, concurrency.

use crate::common::TestApp;
use staffhome::wecom::sim::SimReply;
use staffhome::wecom::Inbound;

fn refused(reply: &SimReply) -> u16 {
    match reply {
        SimReply::Refused { status, .. } => *status,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn healthy(app: &TestApp) {
    let body: serde_json::Value = reqwest::get(app.url("/healthz")).await.expect("healthz").json().await.expect("json");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn url_verification_answers_the_echostr_exactly() {
    let app = TestApp::spawn().await;
    let (status, body) = app.member.verify_url("1616140317555161061", app.now()).await;
    assert_eq!(status, 200);
    assert_eq!(body, "1616140317555161061");
}

#[tokio::test]
async fn url_verification_with_a_bad_signature_is_refused() {
    let app = TestApp::spawn().await;
    let (status, _) = app
        .member
        .get_raw("msg_signature=0000000000000000000000000000000000000000&timestamp=1&nonce=2&echostr=abc")
        .await;
    assert_eq!(status, 403);
    let (status, _) = app.member.get_raw("timestamp=1&nonce=2").await;
    assert_eq!(status, 400);
    healthy(&app).await;
}

#[tokio::test]
async fn help_round_trip_through_the_encrypted_protocol() {
    let app = TestApp::spawn().await;
    let reply = app.member.say("zhangsan", app.now(), "帮助").await;
    let SimReply::Message(message) = reply else { panic!("no reply: {reply:?}") };
    assert_eq!(message.to_user, "zhangsan");
    assert_eq!(message.msg_type, "text");
    assert!(message.content.contains("预约"), "{}", message.content);
    assert!(message.content.len() <= 2048);
    assert_eq!(app.say("zhangsan", "help").await, message.content);
    // The member now exists.
    assert_eq!(app.count("SELECT count(*) FROM users WHERE userid = 'zhangsan'"), 1);
}

#[tokio::test]
async fn a_duplicate_delivery_gets_the_same_reply_and_one_effect() {
    let app = TestApp::spawn().await;
    let msg = app.member.message(
        "lisi",
        app.now(),
        Inbound::Text { content: "预约 健身房 明天 18:30".into(), msg_id: app.member.next_msg_id() },
    );
    let callback = app.member.sign(&msg);
    let first = app.member.post(&callback).await;
    let second = app.member.post(&callback).await;
    let third = app.member.post(&callback).await;
    assert!(first.text().contains("预约成功"), "{first:?}");
    assert_eq!(first, second);
    assert_eq!(first, third);
    assert_eq!(app.count("SELECT count(*) FROM bookings WHERE userid = 'lisi'"), 1);
    assert_eq!(app.count("SELECT count(*) FROM processed_callbacks"), 1);
}

#[tokio::test]
async fn a_retried_question_gets_its_first_answer_and_leaves_no_durable_record() {
    let app = TestApp::spawn().await;
    let msg = app.member.message(
        "zhao",
        app.now(),
        Inbound::Text { content: "空闲 跑步机 明天".into(), msg_id: app.member.next_msg_id() },
    );
    let callback = app.member.sign(&msg);
    let first = app.member.post(&callback).await;
    assert!(first.text().contains("18:30-19:30★ 剩1"), "{first:?}");
    // The place goes; a fresh answer would now differ, the retry must not.
    assert!(app.say("qian", "预约 跑步机 明天 18:30").await.contains("预约成功"));
    assert_eq!(app.member.post(&callback).await, first, "retry answered from memory");
    // A question had no effect to guard against repeating: no durable record, but the
    // member's first contact is written.
    assert_eq!(app.count("SELECT count(*) FROM processed_callbacks WHERE userid = 'zhao'"), 0);
    assert_eq!(app.count("SELECT count(*) FROM users WHERE userid = 'zhao'"), 1, "first contact recorded");
    assert_eq!(app.member.post(&callback).await, first);
}

#[tokio::test]
async fn a_question_in_the_middle_of_a_request_ends_it_before_the_next_message() {
    let app = TestApp::spawn().await;
    assert!(app.say("sun", "预约 健身房").await.contains("哪个时段"));
    assert!(app.say("sun", "空闲").await.contains("健身房"));
    let after = app.say("sun", "18:30").await;
    assert!(!after.contains("预约成功"), "the question ended the request: {after}");
    assert_eq!(app.count("SELECT count(*) FROM bookings WHERE userid = 'sun'"), 0);
}

#[tokio::test]
async fn duplicate_events_are_deduplicated_by_user_time_and_key() {
    let app = TestApp::spawn().await;
    let msg = app.member.message("wang", app.now(), Inbound::Click { key: "mine".into() });
    let callback = app.member.sign(&msg);
    let first = app.member.post(&callback).await;
    assert!(app.say("wang", "预约 健身房 明天 18:30").await.contains("预约成功"));
    assert_eq!(first, app.member.post(&callback).await, "a retry gets the first reply");
    // The same click a second later is a new event, answered afresh.
    let later = app.member.message("wang", app.now() + 1, Inbound::Click { key: "mine".into() });
    let fresh = app.member.post(&app.member.sign(&later)).await;
    assert!(fresh.text().contains("#1 健身房") && !first.text().contains("#1"), "{first:?} / {fresh:?}");
}

/// `query` with its msg_signature changed by `change`.
fn with_signature(query: &str, change: impl Fn(&str) -> String) -> String {
    query
        .split('&')
        .map(|pair| match pair.strip_prefix("msg_signature=") {
            Some(signature) => format!("msg_signature={}", change(signature)),
            None => pair.to_string(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// `signature` (hex) with the character at `at` changed to another hex digit: same length.
fn flip(signature: &str, at: usize) -> String {
    let mut chars: Vec<char> = signature.chars().collect();
    chars[at] = if chars[at] == '0' { '1' } else { '0' };
    chars.into_iter().collect()
}

#[tokio::test]
async fn every_bad_input_gets_an_error_status_and_the_server_stays_healthy() {
    let app = TestApp::spawn().await;
    let good =
        app.member.sign(&app.member.message("zhao", app.now(), Inbound::Text { content: "帮助".into(), msg_id: 1 }));
    let (good_query, good_body) = (good.query.clone(), good.body.clone());
    let mut cases: Vec<(&str, String, String, u16)> = vec![
        ("missing signature", "timestamp=1&nonce=2".into(), good_body.clone(), 400),
        (
            "wrong signature, last character",
            with_signature(&good_query, |s| flip(s, s.len() - 1)),
            good_body.clone(),
            403,
        ),
        ("wrong signature, first character", with_signature(&good_query, |s| flip(s, 0)), good_body.clone(), 403),
        (
            "signature one character long",
            with_signature(&good_query, |s| s[..s.len() - 1].to_string()),
            good_body.clone(),
            403,
        ),
        ("broken XML", good_query.clone(), "<xml><Encrypt>abc".into(), 400),
        ("not XML at all", good_query.clone(), "hello there".into(), 400),
        ("no Encrypt element", good_query.clone(), "<xml><ToUserName>x</ToUserName></xml>".into(), 400),
        ("body over 64 KiB", good_query.clone(), format!("<xml><Encrypt>{}</Encrypt></xml>", "A".repeat(70_000)), 413),
    ];
    // Well-signed payloads whose content is bad: the signature is right, so the refusal
    // comes from the later check.
    let crypto =
        staffhome::wecom::WeComCrypto::new(crate::common::TOKEN, crate::common::AES_KEY, crate::common::CORP_ID)
            .expect("crypto");
    let now = app.now().to_string();
    let signed = |encrypt: &str| {
        let signature = crypto.sign(&now, "42", encrypt);
        (
            format!("msg_signature={signature}&timestamp={now}&nonce=42"),
            format!("<xml><Encrypt><![CDATA[{encrypt}]]></Encrypt></xml>"),
        )
    };
    let other_corp = staffhome::wecom::WeComCrypto::new(crate::common::TOKEN, crate::common::AES_KEY, "wwsomeoneelse")
        .expect("crypto");
    let for_other_corp = other_corp.encrypt("<xml><FromUserName>u</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType><Content>hi</Content><MsgId>1</MsgId></xml>");
    let padding_out_of_range = {
        use base64::Engine;
        // 32 zero bytes encrypted without padding: the last plaintext byte is 0.
        use aes::cipher::{block_padding::NoPadding, BlockEncryptMut, KeyIvInit};
        let key = staffhome::wecom::crypto::EncodingAesKey::parse(crate::common::AES_KEY).expect("key");
        let mut buf = [0u8; 32];
        let iv: [u8; 16] = key.bytes()[..16].try_into().expect("iv");
        let ct = cbc::Encryptor::<aes::Aes256>::new(key.bytes().into(), &iv.into())
            .encrypt_padded_mut::<NoPadding>(&mut buf, 32)
            .expect("encrypt")
            .to_vec();
        base64::engine::general_purpose::STANDARD.encode(ct)
    };
    for (name, encrypt, status) in [
        ("bad base64", "***not base64***".to_string(), 400),
        ("wrong receive id", for_other_corp, 403),
        ("padding out of range", padding_out_of_range, 400),
        ("inner XML not a message", crypto.encrypt("<xml><Nothing/></xml>"), 400),
        ("inner payload not XML", crypto.encrypt("just text"), 400),
    ] {
        let (query, body) = signed(&encrypt);
        cases.push((name, query, body, status));
    }
    for (name, query, body, status) in cases {
        let reply = app.member.post_raw(&query, body).await;
        assert_eq!(refused(&reply), status, "{name}: {reply:?}");
    }
    healthy(&app).await;
    let metrics = reqwest::get(app.url("/metrics")).await.expect("metrics").text().await.expect("text");
    for reason in [
        "bad_signature",
        "bad_xml",
        "too_large",
        "bad_base64",
        "bad_receive_id",
        "bad_ciphertext",
        "bad_inner_xml",
        "missing_params",
    ] {
        assert!(metrics.contains(&format!("reason=\"{reason}\"")), "metrics lack {reason}:\n{metrics}");
    }
    // Still serving real messages.
    assert!(app.say("zhao", "帮助").await.contains("预约"));
}

#[tokio::test]
async fn a_length_field_past_the_buffer_is_refused() {
    use aes::cipher::{block_padding::NoPadding, BlockEncryptMut, KeyIvInit};
    use base64::Engine;
    let app = TestApp::spawn().await;
    let key = staffhome::wecom::crypto::EncodingAesKey::parse(crate::common::AES_KEY).expect("key");
    let mut plain = b"0123456789abcdef".to_vec();
    plain.extend_from_slice(&5000u32.to_be_bytes());
    plain.extend_from_slice(crate::common::CORP_ID.as_bytes());
    let pad = 32 - plain.len() % 32;
    plain.resize(plain.len() + pad, pad as u8);
    let len = plain.len();
    let iv: [u8; 16] = key.bytes()[..16].try_into().expect("iv");
    let ct = cbc::Encryptor::<aes::Aes256>::new(key.bytes().into(), &iv.into())
        .encrypt_padded_mut::<NoPadding>(&mut plain, len)
        .expect("encrypt")
        .to_vec();
    let encrypt = base64::engine::general_purpose::STANDARD.encode(ct);
    let crypto =
        staffhome::wecom::WeComCrypto::new(crate::common::TOKEN, crate::common::AES_KEY, crate::common::CORP_ID)
            .expect("crypto");
    let now = app.now().to_string();
    let signature = crypto.sign(&now, "2", &encrypt);
    let reply = app
        .member
        .post_raw(
            &format!("msg_signature={signature}&timestamp={now}&nonce=2"),
            format!("<xml><Encrypt>{encrypt}</Encrypt></xml>"),
        )
        .await;
    assert_eq!(refused(&reply), 400);
    healthy(&app).await;
}

#[tokio::test]
async fn unknown_message_kinds_get_an_empty_200() {
    let app = TestApp::spawn().await;
    let reply = app.send("qian", Inbound::Other { msg_type: "image".into(), event: None }).await;
    assert_eq!(reply, SimReply::Empty);
    let reply = app.send("qian", Inbound::Other { msg_type: "event".into(), event: Some("LOCATION".into()) }).await;
    assert_eq!(reply, SimReply::Empty);
    assert_eq!(app.send("qian", Inbound::EnterAgent).await, SimReply::Empty);
}

#[tokio::test]
async fn fifty_concurrent_callbacks_are_all_answered() {
    let app = TestApp::spawn().await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let member = app.member.clone();
        let now = app.now();
        tasks.push(tokio::spawn(async move { member.say(&format!("user{i}"), now, "帮助").await }));
    }
    for task in tasks {
        let reply = task.await.expect("task");
        assert!(reply.text().contains("预约"), "{reply:?}");
    }
    assert_eq!(app.count("SELECT count(*) FROM users"), 50);
}

#[tokio::test]
async fn other_paths_are_not_found_and_metrics_are_prometheus_text() {
    let app = TestApp::spawn().await;
    for path in ["/", "/admin.php", "/wecom/callback/extra", "/.env"] {
        let status = reqwest::get(app.url(path)).await.expect("get").status().as_u16();
        assert_eq!(status, 404, "{path}");
    }
    app.say("a", "帮助").await;
    let metrics = reqwest::get(app.url("/metrics")).await.expect("metrics").text().await.expect("text");
    assert!(metrics.contains("staffhome_callbacks_total{kind=\"text\",outcome=\"ok\"} 1"), "{metrics}");
    assert!(metrics.contains("staffhome_request_seconds_bucket"), "{metrics}");
    assert!(metrics.contains("staffhome_outbox_rows{state=\"pending\"}"), "{metrics}");
}

/// A callback signed too long ago (or too far ahead) is a replay: refused with 403, counted,
/// and nothing is done; one inside the window goes through, and the window can be turned off.
#[tokio::test]
async fn replayed_and_future_callbacks_are_refused_and_change_nothing() {
    let app = TestApp::spawn().await;
    let grant = |at: i64| {
        app.member.sign(&app.member.message(
            "admin1",
            at,
            Inbound::Text { content: "授权 zhangsan 管理员".into(), msg_id: at as u64 },
        ))
    };
    for (name, at) in
        [("eight days old", app.now() - 8 * 86_400), ("301 s old", app.now() - 301), ("301 s ahead", app.now() + 301)]
    {
        let replay = grant(at);
        assert_eq!(refused(&app.member.post(&replay).await), 403, "{name}");
    }
    assert_eq!(app.count("SELECT count(*) FROM users WHERE role = 'admin'"), 0, "nothing was done");
    let (status, _) = app.member.verify_url("echo", app.now() - 301).await;
    assert_eq!(status, 403, "the URL check too");
    let metrics = reqwest::get(app.url("/metrics")).await.expect("metrics").text().await.expect("text");
    assert!(metrics.contains("reason=\"stale_timestamp\"} 4"), "{metrics}");
    // Inside the window (WeCom's own retries keep the first timestamp): acted on.
    let fresh = app.member.post(&grant(app.now() - 299)).await;
    assert!(fresh.text().contains("已授予"), "{fresh:?}");
    assert_eq!(app.member.verify_url("echo", app.now() + 299).await, (200, "echo".to_string()));
}

#[tokio::test]
async fn the_replay_window_can_be_turned_off() {
    let app = TestApp::spawn_with(|c| c.wecom.max_timestamp_skew_seconds = 0).await;
    assert_eq!(app.member.verify_url("echo", 1_409_659_589).await, (200, "echo".to_string()));
}
