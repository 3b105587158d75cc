//! 签退: leaving early ends the visit, frees its place and the later slots of the same range
//! (each to the waitlist as a cancellation would), and the report shows the real end.

use crate::common::{booking_no, TestApp};
use chrono::{DateTime, NaiveDate, Utc};
use staffhome::wecom::sim::SimReply;
use staffhome::wecom::Inbound;

fn at(time: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&format!("2026-11-23T{time}:00+08:00")).expect("time").with_timezone(&Utc)
}

async fn scan(app: &TestApp, user: &str) -> String {
    let door =
        Inbound::ScanCodeWaitMsg { key: "scan".into(), scan_type: "qrcode".into(), scan_result: "treadmill".into() };
    match app.send(user, door).await {
        SimReply::Message(m) => m.content,
        other => panic!("no reply to a scan: {other:?}"),
    }
}

fn state(app: &TestApp, id: i64) -> (String, Option<i64>) {
    app.db(|c| c.query_row("SELECT state, ended_at FROM bookings WHERE id = ?1", [id], |r| Ok((r.get(0)?, r.get(1)?))))
}

#[tokio::test]
async fn signing_out_early_frees_the_rest_of_the_range_and_the_report_shows_it() {
    let app = TestApp::spawn().await;
    let first = booking_no(&app.say("a", "预约 跑步机 今天 12:00-14:00").await);
    let second = first + 1;
    assert!(app.say("b", "候补 跑步机 今天 13:00").await.contains("第 1 位"));
    app.clock.set(at("11:55"));
    assert!(app.say("a", "签到").await.contains("签到成功"));

    app.clock.set(at("12:40"));
    let reply = app.say("a", "签退").await;
    assert!(reply.contains("已签退") && reply.contains("提前 20 分钟"), "{reply}");
    assert!(reply.contains(&format!("#{second}")), "the later slot named: {reply}");
    assert_eq!(state(&app, first), ("completed".to_string(), Some(at("12:40").timestamp())));
    assert_eq!(state(&app, second).0, "cancelled");
    app.assert_slot_usage_agrees();
    // 13:00 starts in 20 minutes: its waiter is offered the place.
    let offered = app.count("SELECT count(*) FROM waitlist WHERE userid = 'b' AND offered_until IS NOT NULL");
    assert_eq!(offered, 1);

    let today = NaiveDate::from_ymd_opt(2026, 11, 23).expect("date");
    let report = app.db(|c| staffhome::report::build(c, &app.ctx.catalog, today, today)).clone();
    assert_eq!((report.checked_in, report.signed_out_early, report.minutes_given_back), (1, 1, 20));
    assert!(staffhome::report::markdown(&report, &app.ctx.catalog, "报表").contains("提前签退 1 次，让出 20 分钟"));
    // Signed out once: a second 签退 finds nothing.
    assert!(app.say("a", "签退").await.contains("没有签到中的预约"));
}

#[tokio::test]
async fn the_door_code_scanned_again_later_signs_out_but_not_right_after_checking_in() {
    let app = TestApp::spawn().await;
    let id = booking_no(&app.say("a", "预约 跑步机 今天 12:00").await);
    app.clock.set(at("12:00"));
    assert!(scan(&app, "a").await.contains("签到成功"));
    app.clock.set(at("12:02"));
    assert!(!scan(&app, "a").await.contains("已签退"), "a second scan on arrival is no sign-out");
    assert_eq!(state(&app, id).0, "checked_in");
    app.clock.set(at("12:30"));
    assert!(scan(&app, "a").await.contains("已签退"));
    assert_eq!(state(&app, id).0, "completed");
}

#[tokio::test]
async fn only_a_checked_in_visit_can_be_signed_out() {
    let app = TestApp::spawn().await;
    let id = booking_no(&app.say("a", "预约 跑步机 今天 12:00").await);
    app.clock.set(at("12:05"));
    assert!(app.say("a", "签退").await.contains("没有签到中的预约"));
    assert!(app.say("a", &format!("签退 {id}")).await.contains("没有签到中的预约"), "named, still not checked in");
    assert!(app.say("b", &format!("签退 {id}")).await.contains("不是你的预约"));
    assert_eq!(state(&app, id).0, "confirmed");
}
