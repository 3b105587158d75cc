//! Tap instead of type: cards of free slots that book, a full slot's alternatives and waitlist,
//! and a card per upcoming booking, all through the real protocol.

use crate::common::{booking_no, cards, deliver, tap, tap_event, TestApp};
use serde_json::Value;
use staffhome::wecom::sim::SimReply;

fn buttons(card: &Value) -> Vec<(String, String)> {
    card["template_card"]["button_list"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|b| (b["text"].as_str().unwrap_or_default().into(), b["key"].as_str().unwrap_or_default().into()))
                .collect()
        })
        .unwrap_or_default()
}

fn texts(app: &TestApp, user: &str) -> Vec<String> {
    app.db(|c| staffhome::outbox::queued_for(c, user))
        .into_iter()
        .filter_map(|m| m.body["text"]["content"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn free_slots_come_with_a_card_and_one_tap_books_once() {
    let app = TestApp::spawn().await;
    let reply = app.say("a", "空闲 健身房 明天").await;
    assert!(reply.contains("健身房"), "{reply}");
    let card = cards(&app, "a").pop().expect("a card of free slots");
    let offered = buttons(&card);
    assert_eq!(offered.len(), 6, "WeCom's six buttons at most: {offered:?}");
    assert_eq!(offered[0], ("08:30 剩10".to_string(), "book:gym:2026-11-24:1".to_string()));
    // Eleven slots are free: the evening's peak slots are on the card, the rest are typed.
    let starts: Vec<&str> = offered.iter().map(|(text, _)| text.split(' ').next().unwrap_or_default()).collect();
    assert_eq!(starts, ["08:30", "09:30", "10:30", "17:30", "18:30", "19:30"]);
    assert_eq!(card["template_card"]["main_title"]["desc"], "点一下即预约；未列出的时段请打字预约");
    // WeCom (the stand-in, which checks cards as WeCom does) takes it.
    staffhome::outbox::worker::deliver_due(&app.ctx).await.expect("deliver");
    let delivered = app.api.sent_to("a");
    assert!(
        delivered.iter().any(|m| m["template_card"]["task_id"] == card["template_card"]["task_id"]),
        "{delivered:?}"
    );

    // One tap books, exactly as typing would (the pass is queued as for 预约).
    let key = "book:gym:2026-11-24:3";
    let msg = app.member.message("a", app.now(), tap_event(&card, key));
    let callback = app.member.sign(&msg);
    let first = app.member.post(&callback).await;
    let retry = app.member.post(&callback).await;
    assert_eq!(first, retry, "a retried tap gets the first answer");
    let SimReply::Message(label) = first else { panic!("an update") };
    assert_eq!((label.msg_type.as_str(), label.content.as_str()), ("update_button", "已预约 #1 10:30"));
    assert_eq!(app.count("SELECT count(*) FROM bookings WHERE userid = 'a' AND slot = 3"), 1, "booked once");
    let pass = app.db(|c| staffhome::outbox::queued_for(c, "a"));
    assert!(pass.iter().any(|m| m.dedupe_key == "pass:1"), "the same pass as typing");
    // A second tap a minute later is a second attempt: already booked.
    app.advance(chrono::Duration::minutes(1));
    assert_eq!(tap(&app, "a", &card, key).await, "未能预约");
    assert!(texts(&app, "a").iter().any(|t| t.contains("已预约")), "{:?}", texts(&app, "a"));
    assert_eq!(app.count("SELECT count(*) FROM bookings WHERE userid = 'a'"), 1);
}

#[tokio::test]
async fn a_slot_that_filled_meanwhile_offers_alternatives_and_its_waitlist() {
    let app = TestApp::spawn().await;
    app.say("a", "空闲 跑步机 明天").await;
    let card = cards(&app, "a").pop().expect("card");
    assert!(app.say("b", "预约 跑步机 明天 18:30").await.contains("预约成功"));
    // a taps the slot b took: told so, with what is free instead and the waitlist.
    assert_eq!(tap(&app, "a", &card, "book:treadmill:2026-11-24:10").await, "未能预约");
    let said = texts(&app, "a");
    assert!(said.iter().any(|t| t.contains("已约满") && t.contains("候补")), "{said:?}");
    let alternatives = cards(&app, "a").pop().expect("alternatives");
    let offered = buttons(&alternatives);
    let waitlist = offered.iter().find(|(_, k)| k == "waitlist:treadmill:2026-11-24:10").expect("a waitlist button");
    assert!(offered.iter().any(|(_, k)| k.starts_with("book:")), "alternatives: {offered:?}");
    assert_eq!(tap(&app, "a", &alternatives, &waitlist.1.clone()).await, "已候补 第1位");
    assert_eq!(app.count("SELECT count(*) FROM waitlist WHERE userid = 'a' AND state = 'waiting'"), 1);
}

#[tokio::test]
async fn a_card_for_a_day_gone_by_answers_with_the_current_state() {
    let app = TestApp::spawn().await;
    app.say("a", "空闲 健身房 明天").await;
    let card = cards(&app, "a").pop().expect("card");
    app.advance(chrono::Duration::days(2));
    assert_eq!(tap(&app, "a", &card, "book:gym:2026-11-24:10").await, "未能预约");
    assert!(texts(&app, "a").iter().any(|t| t.contains("已过")), "{:?}", texts(&app, "a"));
    // A key no card of ours made.
    assert_eq!(tap(&app, "a", &card, "book:gym:yesterday:1").await, "无效操作");
    assert_eq!(app.count("SELECT count(*) FROM bookings"), 0);
}

#[tokio::test]
async fn a_question_for_the_slot_comes_with_a_card_and_approval_facilities_ask_for_approval() {
    let app = TestApp::spawn().await;
    let asked = app.say("a", "预约 会议室 明天").await;
    assert!(asked.contains("时段"), "{asked}");
    let card = cards(&app, "a").pop().expect("a card of the day's slots");
    assert_eq!(tap(&app, "a", &card, "book:room:2026-11-24:3").await, "已申请 #1 10:30（待审批）");
    assert_eq!(app.count("SELECT state = 'pending' FROM bookings WHERE id = 1"), 1);
    let approver = app.db(|c| staffhome::outbox::queued_for(c, "dept_head"));
    assert!(!approver.is_empty(), "the approver's card, as for typing");
}

#[tokio::test]
async fn mine_sends_a_card_per_upcoming_booking_with_what_applies() {
    let app = TestApp::spawn().await;
    let soon = booking_no(&app.say("a", "预约 健身房 今天 10:30").await);
    let peak = booking_no(&app.say("a", "预约 健身房 明天 18:30").await);
    app.advance(chrono::Duration::minutes(20)); // 10:20: check-in for 10:30 is open
    app.say("a", "我的").await;
    let all = cards(&app, "a");
    let card_of = |id: i64| {
        all.iter().find(|c| {
            c["template_card"]["main_title"]["title"].as_str().is_some_and(|t| t.starts_with(&format!("#{id} ")))
        })
    };
    let soon_card = card_of(soon).expect("a card for the booking starting soon");
    // Buttons that call back, by key; 改约 opens the member's page moving that booking.
    let keys = |card: &Value| buttons(card).into_iter().map(|(_, k)| k).filter(|k| !k.is_empty()).collect::<Vec<_>>();
    assert_eq!(keys(soon_card), [format!("checkin:{soon}"), format!("cancel:{soon}")]);
    let peak_card = card_of(peak).expect("a card for the peak booking");
    assert_eq!(keys(peak_card), [format!("confirm:{peak}"), format!("cancel:{peak}")]);
    let link = &peak_card["template_card"]["button_list"][1];
    assert_eq!((link["text"].as_str(), link["type"].as_i64()), (Some("改约"), Some(1)));
    let page = link["url"].as_str().unwrap_or_default();
    assert_eq!(page, app.url(&format!("/m?facility=gym&week=this&moving={peak}")));
    // Opened in WeCom without a session: signed in, and back on the page still moving it.
    let signed_in = app.oauth_round(&page.replace(&app.url(""), ""), "a").await;
    assert_eq!(crate::common::location(&signed_in), format!("/m?facility=gym&moving={peak}"));

    assert_eq!(tap(&app, "a", soon_card, &format!("checkin:{soon}")).await, format!("已签到 #{soon}"));
    assert_eq!(tap(&app, "a", peak_card, &format!("cancel:{peak}")).await, "已取消");
    assert_eq!(app.count(&format!("SELECT state = 'cancelled' FROM bookings WHERE id = {peak}")), 1);
    // Someone else's card key does nothing to a's booking.
    assert_ne!(tap(&app, "b", soon_card, &format!("cancel:{soon}")).await, "已取消");
    assert_eq!(app.count(&format!("SELECT state = 'checked_in' FROM bookings WHERE id = {soon}")), 1);
}

#[tokio::test]
async fn a_full_slot_without_alternatives_sends_no_card_and_says_how_to_queue() {
    let app = TestApp::spawn().await;
    // 19:00: the treadmill's 19:30 is the day's last slot, and nothing like it is left.
    let evening = chrono::DateTime::parse_from_rfc3339("2026-11-23T19:00:00+08:00").expect("t");
    app.clock.set(evening.with_timezone(&chrono::Utc));
    assert!(app.say("x", "预约 跑步机 今天 19:30").await.contains("预约成功"));
    let refused = app.say("a", "预约 跑步机 今天 19:30").await;
    assert!(refused.contains("候补"), "{refused}");
    assert!(cards(&app, "a").is_empty(), "no card with a lone 候补 button");
}

/// The template cards sent to `user` so far.
fn cards_sent(app: &TestApp, user: &str) -> Vec<Value> {
    app.api.sent_to(user).into_iter().filter(|m| m["msgtype"] == "template_card").collect()
}

#[tokio::test]
async fn a_card_not_yet_sent_gives_way_to_the_card_of_the_next_question() {
    let app = TestApp::spawn().await;
    app.say("a", "空闲 健身房 明天").await;
    app.say("a", "空闲 健身房 周三").await;
    // b's first card went before b asked again: b gets both.
    app.say("b", "空闲 健身房 明天").await;
    app.count("SELECT 1"); // the cards are queued
    deliver(&app).await;
    app.say("b", "空闲 健身房 周三").await;
    app.count("SELECT 1");
    deliver(&app).await;

    let sent = cards_sent(&app, "a");
    assert_eq!(sent.len(), 1, "a gets the newer card only: {sent:?}");
    assert_eq!(buttons(&sent[0])[0].1, "book:gym:2026-11-25:1", "the slots of the day asked last");
    assert_eq!(cards_sent(&app, "b").len(), 2, "a card sent is not taken back");
    let unsent = "SELECT count(*) FROM outbox WHERE recipient = 'a' AND state = 'done' AND sent_at IS NULL";
    assert_eq!(app.count(unsent), 1, "the older card is done, not sent");

    // 我的 asked twice before its cards go: one card per booking.
    let id = booking_no(&app.say("c", "预约 健身房 明天 10:30").await);
    app.say("c", "我的").await;
    app.say("c", "我的").await;
    app.count("SELECT 1");
    deliver(&app).await;
    assert_eq!(cards_sent(&app, "c").len(), 1, "booking #{id}'s card once");
}
