//! 改约: a booking moved in one step; the old place freed (its waitlist promoted) only when the
//! new one is had; an approval facility asks again; the calendar follows.

use crate::common::{booking_no, cards, deliver, tap, TestApp};

fn state(app: &TestApp, id: i64) -> String {
    app.db(|c| c.query_row("SELECT state FROM bookings WHERE id = ?1", [id], |r| r.get(0)))
}

#[tokio::test]
async fn a_booking_moves_to_another_slot_and_its_old_place_goes_to_the_waitlist() {
    let app = TestApp::spawn().await;
    let id = booking_no(&app.say("a", "预约 跑步机 明天 18:30").await);
    assert!(app.say("b", "候补 跑步机 明天 18:30").await.contains("第 1 位"));
    let moved = app.say("a", &format!("改约 {id} 19:30")).await;
    assert!(moved.contains("已改约") && moved.contains("19:30-20:30"), "{moved}");
    assert_eq!(state(&app, id), "cancelled");
    let new = app.count("SELECT id FROM bookings WHERE userid = 'a' AND state = 'confirmed' AND slot = 11");
    assert!(new > id, "a new booking for 19:30");
    assert_eq!(
        app.count("SELECT count(*) FROM bookings WHERE userid = 'b' AND slot = 10 AND state = 'confirmed'"),
        1,
        "b promoted"
    );
    let queued = app.db(|c| staffhome::outbox::queued_for(c, "a"));
    assert!(queued.iter().any(|m| m.dedupe_key == format!("pass:{new}")), "the new booking's pass");
}

#[tokio::test]
async fn when_the_new_slot_cannot_be_had_the_old_booking_stays() {
    let app = TestApp::spawn().await;
    let id = booking_no(&app.say("a", "预约 跑步机 明天 18:30").await);
    app.say("c", "预约 跑步机 明天 19:30").await;
    app.say("b", "候补 跑步机 明天 18:30").await;
    let refused = app.say("a", &format!("改约 {id} 19:30")).await;
    assert!(refused.contains("改约没有成功") && refused.contains(&format!("#{id}")), "{refused}");
    assert_eq!(state(&app, id), "confirmed", "kept");
    assert_eq!(app.count("SELECT count(*) FROM bookings WHERE userid = 'b'"), 0, "no one promoted");
    assert_eq!(app.count("SELECT count(*) FROM waitlist WHERE userid = 'b' AND state = 'waiting'"), 1);
    // Another member's booking cannot be moved.
    assert!(!app.say("b", &format!("改约 {id} 20:30")).await.contains("已改约"));
}

#[tokio::test]
async fn moving_a_request_needing_approval_asks_again_and_the_calendar_follows() {
    let app = TestApp::spawn_with(|c| c.calendar.wecom = true).await;
    let id = booking_no(&app.say("a", "预约 健身房 明天 18:30").await);
    deliver(&app).await;
    assert_eq!(app.api.schedules().len(), 1);
    app.say("a", &format!("改约 {id} 后天 19:30")).await;
    deliver(&app).await;
    let schedules = app.api.schedules();
    assert_eq!(schedules.len(), 1, "the old time removed, the new one added");
    let starts: i64 = app.count("SELECT starts_at FROM bookings WHERE userid = 'a' AND state = 'confirmed'");
    assert_eq!(schedules[0].1["start_time"].as_i64(), Some(starts));

    let room = booking_no(&app.say("a", "预约 会议室 明天 第3节").await);
    app.say("dept_head", &format!("通过 {room}")).await;
    app.say("office_admin", &format!("通过 {room}")).await;
    assert_eq!(state(&app, room), "confirmed");
    let moved = app.say("a", &format!("改约 {room} 第4节")).await;
    assert!(moved.contains("已改约"), "{moved}");
    assert_eq!(
        app.count("SELECT count(*) FROM bookings WHERE userid = 'a' AND facility = 'room' AND state = 'pending'"),
        1,
        "approval again"
    );
    let pending = app.count("SELECT id FROM bookings WHERE userid = 'a' AND facility = 'room' AND state = 'pending'");
    let queued = app.db(|c| staffhome::outbox::queued_for(c, "a"));
    assert!(!queued.iter().any(|m| m.dedupe_key == format!("pass:{pending}")), "no pass while it waits for approval");
    let asked = app.db(|c| staffhome::outbox::queued_for(c, "dept_head"));
    assert!(asked.iter().any(|m| m.dedupe_key.contains(&format!("{pending}"))), "the approver asked again: {asked:?}");
}

#[tokio::test]
async fn a_move_racing_a_booking_of_the_new_slot_leaves_one_place_taken_once() {
    for _ in 0..3 {
        let app = TestApp::spawn().await;
        let id = booking_no(&app.say("a", "预约 跑步机 明天 18:30").await);
        let move_text = format!("改约 {id} 19:30");
        let (moved, booked) = tokio::join!(app.say("a", &move_text), app.say("c", "预约 跑步机 明天 19:30"));
        let taken = app.count("SELECT count(*) FROM bookings WHERE slot = 11 AND state = 'confirmed'");
        assert_eq!(taken, 1, "the one place, once: {moved} / {booked}");
        if moved.contains("已改约") {
            assert_eq!(state(&app, id), "cancelled");
            assert!(!booked.contains("预约成功"), "{booked}");
        } else {
            assert_eq!(state(&app, id), "confirmed", "kept: {moved}");
            assert!(booked.contains("预约成功"), "{booked}");
        }
        app.assert_slot_usage_agrees();
    }
}

/// The new number in a move's reply (「已改约：原 #1 … 预约成功！#2 …」).
fn moved_to(reply: &str) -> i64 {
    booking_no(reply.split("预约成功").nth(1).unwrap_or_else(|| panic!("not moved: {reply}")))
}

#[tokio::test]
async fn the_old_number_of_a_moved_booking_leads_to_the_new_one() {
    let app = TestApp::spawn().await;
    let id = booking_no(&app.say("a", "预约 健身房 明天 18:30").await);
    app.say("a", "我的").await;
    let old_card = cards(&app, "a").into_iter().last().expect("a card for the booking");
    let first = moved_to(&app.say("a", &format!("改约 {id} 19:30")).await);
    // The member says the number they remember.
    let cancel = app.say("a", &format!("取消 {id}")).await;
    assert!(cancel.contains(&format!("已改约为 #{first}")) && cancel.contains("19:30-20:30"), "{cancel}");
    assert!(app.say("a", &format!("签到 {id}")).await.contains(&format!("已改约为 #{first}")));
    assert_eq!(tap(&app, "a", &old_card, &format!("cancel:{id}")).await, format!("已改约为 #{first}"));
    assert_eq!(state(&app, first), "confirmed", "nothing done to the new one by the old number");
    // Moved again: the first number leads to the latest.
    let moved = app.say("a", &format!("改约 {first} 周四 18:30")).await;
    assert!(moved.contains("已改约"), "{moved}");
    let second = moved_to(&moved);
    let confirm = app.say("a", &format!("确认 {id}")).await;
    assert!(confirm.contains(&format!("已改约为 #{second}")) && confirm.contains("18:30-19:30"), "{confirm}");
    // Another member learns nothing of a's booking from its number.
    let other = app.say("b", &format!("取消 {id}")).await;
    assert!(!other.contains("改约"), "{other}");
}
