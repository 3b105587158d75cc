//! The outbox delivers every notice exactly once to the stand-in, through failures.

use crate::common::{booking_no, TestApp};
use chrono::Duration;
use staffhome::outbox::worker::{deliver_due, Delivered, PER_USER_PER_MINUTE};
use staffhome::outbox::{self, Outgoing, Weight};
use staffhome::wecom::sim::Fault;

async fn step(app: &TestApp) -> Delivered {
    deliver_due(&app.ctx).await.expect("worker pass")
}

/// Passes with the clock moved on between them, until nothing is pending (bounded).
async fn drain(app: &TestApp, between: Duration) {
    for _ in 0..200 {
        step(app).await;
        if app.count("SELECT count(*) FROM outbox WHERE state = 'pending'") == 0 {
            return;
        }
        app.advance(between);
    }
    panic!("outbox did not drain");
}

async fn queue(app: &TestApp, key: &str, user: &str, text: &str) {
    let now = app.now();
    app.ctx
        .store
        .write({
            let message = Outgoing::text(key, user, Weight::Light, text);
            move |tx| outbox::enqueue(tx, &message, now)
        })
        .await
        .expect("enqueue");
}

#[tokio::test]
async fn a_promotion_notice_is_delivered_exactly_once() {
    let app = TestApp::spawn().await;
    let id = booking_no(&app.say("a", "预约 跑步机 明天 18:30").await);
    app.say("b", "候补 跑步机 明天 18:30").await;
    app.say("a", &format!("取消 {id}")).await;
    assert_eq!(step(&app).await.sent, 2, "a's booking pass and b's promotion");
    assert!(step(&app).await.is_idle());
    let sent = app.api.sent_to("b");
    assert_eq!(sent.len(), 1);
    assert!(sent[0]["text"]["content"].as_str().unwrap_or_default().contains("已为你候补成功"));
    assert_eq!(sent[0]["enable_duplicate_check"], 1);
    assert_eq!(sent[0]["agentid"], crate::common::AGENT_ID);
    let (msgid, state): (Option<String>, String) = app.db(|c| {
        c.query_row("SELECT msgid, state FROM outbox WHERE recipient = 'b'", [], |r| Ok((r.get(0)?, r.get(1)?)))
    });
    assert_eq!(state, "done");
    assert!(msgid.is_some());
}

#[tokio::test]
async fn a_messages_outcome_is_written_with_the_next_claim() {
    let app = TestApp::spawn().await;
    for n in 0..3 {
        queue(&app, &format!("n{n}"), &format!("u{n}"), "提醒").await;
    }
    assert_eq!(step(&app).await.sent, 3);
    // Three claims, the first two carrying the previous message's outcome, then the last outcome.
    assert_eq!(app.count("SELECT count(*) FROM outbox WHERE state = 'done' AND claimed_until IS NULL"), 3);
    assert!(step(&app).await.is_idle());
    for n in 0..3 {
        assert_eq!(app.api.sent_to(&format!("u{n}")).len(), 1);
    }
}

#[tokio::test]
async fn system_busy_three_times_then_delivered_once() {
    let app = TestApp::spawn().await;
    app.api.inject([Fault::ErrCode(-1), Fault::ErrCode(-1), Fault::ErrCode(-1)]);
    queue(&app, "n1", "u1", "提醒").await;
    let first = step(&app).await;
    assert_eq!(first.retried, 1);
    assert!(step(&app).await.is_idle(), "not due again before its backoff");
    drain(&app, Duration::minutes(11)).await;
    assert_eq!(app.api.sent_to("u1").len(), 1);
    let attempts: i64 = app.count("SELECT attempts FROM outbox WHERE dedupe_key = 'n1'");
    assert_eq!(attempts, 4);
}

#[tokio::test]
async fn an_expired_token_is_refreshed_and_the_message_delivered_once() {
    let app = TestApp::spawn().await;
    queue(&app, "n1", "u1", "第一条").await;
    step(&app).await;
    assert_eq!(app.api.tokens_issued(), 1);
    app.api.expire_token();
    queue(&app, "n2", "u1", "第二条").await;
    let done = step(&app).await;
    assert_eq!(done.sent, 1, "42001 → refresh → retried at once: {done:?}");
    assert_eq!(app.api.tokens_issued(), 2);
    assert_eq!(app.api.sent_to("u1").len(), 2);
}

#[tokio::test]
async fn the_api_down_for_a_while_loses_nothing() {
    let app = TestApp::spawn().await;
    app.api.inject((0..6).map(|_| Fault::Status(502)).chain([Fault::Garbage]));
    for i in 0..3 {
        queue(&app, &format!("n{i}"), &format!("u{i}"), "停用通知").await;
    }
    drain(&app, Duration::minutes(11)).await;
    for i in 0..3 {
        assert_eq!(app.api.sent_to(&format!("u{i}")).len(), 1);
    }
    assert_eq!(app.count("SELECT count(*) FROM outbox WHERE state = 'done'"), 3);
}

#[tokio::test]
async fn a_permanent_error_marks_the_row_failed_with_the_reason() {
    let app = TestApp::spawn().await;
    app.api.inject([Fault::ErrCode(81013)]);
    queue(&app, "n1", "ghost", "hello").await;
    assert_eq!(step(&app).await.failed, 1);
    let error: String =
        app.db(|c| c.query_row("SELECT last_error FROM outbox WHERE dedupe_key = 'n1'", [], |r| r.get(0)));
    assert!(error.contains("81013"), "{error}");
    let metrics = reqwest::get(app.url("/metrics")).await.expect("metrics").text().await.expect("text");
    assert!(metrics.contains("staffhome_outbox_failed_total 1"), "{metrics}");
    assert!(metrics.contains("staffhome_outbox_rows{state=\"failed\"} 1"), "{metrics}");
}

#[tokio::test]
async fn undelivered_rows_are_delivered_after_a_restart() {
    let app = TestApp::spawn().await;
    queue(&app, "n1", "u1", "重启前排队").await;
    let app = app.restart().await;
    assert_eq!(step(&app).await.sent, 1);
    assert_eq!(app.api.sent_to("u1").len(), 1);
}

#[tokio::test]
async fn the_same_notice_is_never_queued_twice() {
    let app = TestApp::spawn().await;
    queue(&app, "same-key", "u1", "一次").await;
    queue(&app, "same-key", "u1", "一次").await;
    drain(&app, Duration::seconds(1)).await;
    assert_eq!(app.api.sent_to("u1").len(), 1);
}

#[tokio::test]
async fn a_burst_of_100_to_one_member_respects_30_a_minute() {
    let app = TestApp::spawn().await;
    for i in 0..100 {
        queue(&app, &format!("burst{i}"), "busy", &format!("第{i}条")).await;
    }
    drain(&app, Duration::seconds(5)).await;
    assert_eq!(app.api.sent_to("busy").len(), 100, "all delivered, none dropped");
    let times: Vec<i64> = app.db(|c| {
        let mut stmt = c.prepare("SELECT sent_at FROM outbox WHERE recipient = 'busy' ORDER BY sent_at")?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect()
    });
    for (i, start) in times.iter().enumerate() {
        let in_minute = times[i..].iter().take_while(|t| **t < start + 60).count() as i64;
        assert!(in_minute <= PER_USER_PER_MINUTE, "{in_minute} messages within a minute from {start}");
    }
}

#[tokio::test]
async fn a_broadcast_is_one_api_call() {
    let app = TestApp::spawn().await;
    app.say("admin1", "发布 下周").await;
    drain(&app, Duration::seconds(1)).await;
    let calls: Vec<_> = app.api.calls().into_iter().filter(|c| c.body["touser"] == "@all").collect();
    assert_eq!(calls.len(), 1);
    assert!(calls[0].body["text"]["content"].as_str().unwrap_or_default().contains("预约已开放"));
}

#[tokio::test]
async fn metrics_show_depth_sent_and_retried() {
    let app = TestApp::spawn().await;
    app.api.inject([Fault::ErrCode(45009)]);
    queue(&app, "n1", "u1", "a").await;
    queue(&app, "n2", "u2", "b").await;
    step(&app).await;
    let metrics = reqwest::get(app.url("/metrics")).await.expect("metrics").text().await.expect("text");
    assert!(metrics.contains("staffhome_outbox_sent_total 1"), "{metrics}");
    assert!(metrics.contains("staffhome_outbox_retried_total 1"), "{metrics}");
    assert!(metrics.contains("staffhome_outbox_rows{state=\"pending\"} 1"), "{metrics}");
}

#[tokio::test]
async fn a_formal_notice_is_a_card_the_stand_in_accepts() {
    let app = TestApp::spawn().await;
    let id = booking_no(&app.say("a", "预约 健身房 明天 18:30").await);
    let reply = app.say("admin1", &format!("取消 {id}")).await;
    assert!(reply.contains("已取消"), "{reply}");
    assert_eq!(step(&app).await.sent, 2, "the booking pass, then the formal notice");
    let sent: Vec<_> = app.api.sent_to("a").into_iter().filter(|m| m["msgtype"] == "template_card").collect();
    assert_eq!(sent.len(), 1, "the stand-in validated and accepted the card");
    assert_eq!(sent[0]["template_card"]["card_type"], "text_notice");
    assert!(sent[0]["template_card"]["card_action"]["url"].as_str().unwrap_or_default().ends_with("/board"));
}

#[tokio::test]
async fn a_stalled_call_holds_up_only_its_own_recipient() {
    let app = TestApp::spawn().await;
    for user in ["a", "b", "c"] {
        assert!(app.say(user, "预约 健身房 明天 18:30").await.contains("预约成功"));
    }
    // WeCom stalls on a's notice; the others must not wait for it.
    app.api.hold("a");
    let ctx = std::sync::Arc::clone(&app.ctx);
    let pass = tokio::spawn(async move { deliver_due(&ctx).await });
    let others = tokio::time::timeout(std::time::Duration::from_secs(10), async {
        while app.api.sent_to("b").is_empty() || app.api.sent_to("c").is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    })
    .await;
    assert!(others.is_ok(), "b and c got theirs while a's call stalled");
    assert!(app.api.sent_to("a").is_empty(), "a's is still stalled");
    app.api.release("a");
    let done = pass.await.expect("pass").expect("delivered");
    assert_eq!(done.sent, 3);
    assert_eq!(app.api.sent_to("a").len(), 1, "then a's, once");
}
