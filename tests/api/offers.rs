//! Waitlist offers: a place freed shortly before its start is offered to the first waiter (a
//! card: 接受 / 放弃), held for them meanwhile; declined or lapsed, it goes to the next.

use crate::common::{booking_no, tap, NowUtc, TestApp};
use chrono::Duration;
use serde_json::Value;

/// The clock starts on Monday 10:00: 今天 12:00 starts in two hours, inside the 180 minutes.
const SOON: &str = "跑步机 今天 12:00";

/// The latest offer card queued for `user`.
fn offer_card(app: &TestApp, user: &str) -> Option<Value> {
    app.db(|c| staffhome::outbox::queued_for(c, user))
        .into_iter()
        .rev()
        .map(|m| m.body)
        .find(|b| b["template_card"]["main_title"]["title"].as_str().is_some_and(|t| t.contains("候补名额")))
}

fn key(card: &Value, text: &str) -> String {
    let buttons = card["template_card"]["button_list"].as_array().expect("buttons");
    let button = buttons.iter().find(|b| b["text"] == text).expect("the button");
    button["key"].as_str().expect("key").to_string()
}

fn live_bookings(app: &TestApp, user: &str) -> i64 {
    let sql = format!(
        "SELECT count(*) FROM bookings WHERE userid = '{user}' AND state IN ('pending', 'confirmed', 'checked_in')"
    );
    app.count(&sql)
}

/// `a` holds the treadmill's only place at 12:00; `b`, then `c` wait for it; `a` cancels.
async fn freed_with_two_waiting() -> TestApp {
    let app = TestApp::spawn().await;
    let id = booking_no(&app.say("a", &format!("预约 {SOON}")).await);
    let waiting = app.say("b", &format!("候补 {SOON}")).await;
    assert!(waiting.contains("第 1 位"), "{waiting}");
    assert!(app.say("c", &format!("候补 {SOON}")).await.contains("第 2 位"));
    app.say("a", &format!("取消 {id}")).await;
    app
}

#[tokio::test]
async fn a_place_freed_shortly_before_is_offered_held_and_booked_on_accept() {
    let app = freed_with_two_waiting().await;
    assert_eq!(live_bookings(&app, "b"), 0, "offered, not given");
    let card = offer_card(&app, "b").expect("an offer card");
    let mine = app.say("b", "我的").await;
    assert!(mine.contains("名额为你保留至 10:15"), "{mine}");
    // Held: someone else cannot take it meanwhile.
    let refused = app.say("d", &format!("预约 {SOON}")).await;
    assert!(refused.contains("满"), "{refused}");
    app.assert_slot_usage_agrees();

    assert_eq!(tap(&app, "b", &card, &key(&card, "接受")).await, "已接受");
    assert_eq!(live_bookings(&app, "b"), 1);
    assert!(offer_card(&app, "c").is_none(), "the next waiter is not offered it");
    app.assert_slot_usage_agrees();
    // A second tap (not WeCom's retry of the first: a second later) changes nothing.
    app.advance(Duration::seconds(1));
    assert_eq!(tap(&app, "b", &card, &key(&card, "接受")).await, "名额已失效");
    assert_eq!(live_bookings(&app, "b"), 1);
}

#[tokio::test]
async fn declined_the_place_is_offered_to_the_next_waiter() {
    let app = freed_with_two_waiting().await;
    let reply = app.say("b", "放弃").await;
    assert!(reply.contains("已放弃"), "{reply}");
    assert!(offer_card(&app, "c").is_some(), "offered on");
    assert!(app.say("c", "接受").await.contains("已接受"));
    assert_eq!((live_bookings(&app, "b"), live_bookings(&app, "c")), (0, 1));
    app.assert_slot_usage_agrees();
}

#[tokio::test]
async fn an_offer_lapses_after_its_minutes_and_goes_on() {
    let app = freed_with_two_waiting().await;
    app.advance(Duration::minutes(16));
    let schedules = staffhome::scheduler::Schedules::from_config(&app.ctx.config);
    let report = staffhome::scheduler::run_due_jobs(&app.ctx, &schedules, app.clock.now_utc()).await;
    assert_eq!(report.offers_lapsed, 1);
    let told = app.db(|c| staffhome::outbox::queued_for(c, "b"));
    assert!(told.iter().any(|m| m.body["text"]["content"].as_str().is_some_and(|t| t.contains("已让给下一位"))));
    assert!(offer_card(&app, "c").is_some(), "offered on");
    app.assert_slot_usage_agrees();
}

#[tokio::test]
async fn an_offer_accepted_after_it_lapsed_is_refused_and_goes_on_at_once() {
    let app = freed_with_two_waiting().await;
    let card = offer_card(&app, "b").expect("an offer card");
    // The member taps late, before the scheduler has seen the offer lapse.
    app.advance(Duration::minutes(16));
    assert_eq!(tap(&app, "b", &card, &key(&card, "接受")).await, "已过时");
    assert_eq!(live_bookings(&app, "b"), 0);
    assert!(offer_card(&app, "c").is_some(), "offered on");
    assert!(app.say("c", "接受").await.contains("已接受"));
    app.assert_slot_usage_agrees();
}

#[tokio::test]
async fn a_place_freed_earlier_is_given_at_once_with_how_to_give_it_back() {
    let app = TestApp::spawn().await;
    let id = booking_no(&app.say("a", "预约 跑步机 明天 12:00").await);
    app.say("b", "候补 跑步机 明天 12:00").await;
    app.say("a", &format!("取消 {id}")).await;
    assert_eq!(live_bookings(&app, "b"), 1, "promoted");
    assert!(offer_card(&app, "b").is_none());
    let told = app.db(|c| staffhome::outbox::queued_for(c, "b"));
    assert!(told.iter().any(|m| m.body["text"]["content"].as_str().is_some_and(|t| t.contains("取消"))));
}

#[tokio::test]
async fn with_no_offer_there_is_nothing_to_accept() {
    let app = TestApp::spawn().await;
    assert!(app.say("b", "接受").await.contains("没有保留给你的候补名额，也没有待回复的同伴邀请"));
    assert!(app.say("b", "放弃").await.contains("没有保留给你的候补名额"));
    // 拒绝 from a member who decides no approvals: about an invitation, not approvals.
    assert_eq!(app.say("b", "拒绝").await, "你现在没有待回复的同伴邀请。");
}

#[tokio::test]
async fn leaving_the_queue_while_offered_a_place_offers_it_on() {
    let app = freed_with_two_waiting().await;
    assert!(offer_card(&app, "b").is_some());
    assert!(app.say("b", &format!("退出候补 {SOON}")).await.contains("已退出"));
    assert!(offer_card(&app, "c").is_some(), "offered on");
    app.assert_slot_usage_agrees();
}
