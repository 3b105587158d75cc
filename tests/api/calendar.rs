//! Bookings in the members' WeCom calendars ([calendar] wecom): added when confirmed, removed
//! when cancelled, through the outbox in order, against the stand-in's schedule API.

use crate::common::{booking_no, deliver, TestApp};
use chrono::Duration;
use staffhome::wecom::sim::Fault;

async fn spawn() -> TestApp {
    TestApp::spawn_with(|c| c.calendar.wecom = true).await
}

fn schedule_calls(app: &TestApp) -> Vec<String> {
    app.api.calls().into_iter().map(|c| c.path).filter(|p| p.starts_with("oa/schedule/")).collect()
}

fn schedule_id(app: &TestApp, id: i64) -> Option<String> {
    app.db(|c| c.query_row("SELECT schedule_id FROM bookings WHERE id = ?1", [id], |r| r.get(0)))
}

#[tokio::test]
async fn a_booking_is_added_to_the_members_calendar_and_removed_when_cancelled() {
    let app = spawn().await;
    let id = booking_no(&app.say("zhangsan", "预约 乒乓球 明天 18:30").await);
    deliver(&app).await;
    let schedules = app.api.schedules();
    assert_eq!(schedules.len(), 1, "one schedule");
    let (sid, schedule) = &schedules[0];
    let (starts, ends): (i64, i64) = app.db(|c| {
        c.query_row("SELECT starts_at, ends_at FROM bookings WHERE id = ?1", [id], |r| Ok((r.get(0)?, r.get(1)?)))
    });
    assert_eq!((schedule["start_time"].as_i64(), schedule["end_time"].as_i64()), (Some(starts), Some(ends)));
    assert_eq!(schedule["attendees"][0]["userid"], "zhangsan");
    assert_eq!(schedule["summary"], "职工之家 · 乒乓球");
    assert_eq!(schedule["location"], "乒乓球");
    assert_eq!(schedule["reminders"]["remind_before_event_secs"], 900);
    assert!(schedule["description"].as_str().is_some_and(|d| d.contains("/pass/")), "the pass link");
    assert_eq!(schedule_id(&app, id).as_deref(), Some(sid.as_str()), "its id kept with the booking");

    app.say("zhangsan", &format!("取消 {id}")).await;
    deliver(&app).await;
    assert!(app.api.schedules().is_empty(), "removed");
    assert_eq!(schedule_id(&app, id), None);
    assert_eq!(schedule_calls(&app), ["oa/schedule/add", "oa/schedule/del"]);
}

#[tokio::test]
async fn off_by_default_nothing_reaches_the_calendar() {
    let app = TestApp::spawn().await;
    app.say("zhangsan", "预约 乒乓球 明天 18:30").await;
    deliver(&app).await;
    assert!(schedule_calls(&app).is_empty());
}

#[tokio::test]
async fn a_request_needing_approval_is_added_only_once_approved_by_the_last_level() {
    let app = spawn().await;
    let id = booking_no(&app.say("zhangsan", "预约 会议室 明天 第3节").await);
    deliver(&app).await;
    assert!(app.api.schedules().is_empty(), "pending: not in the calendar");
    assert!(app.say("dept_head", &format!("通过 {id}")).await.contains("已通过"));
    deliver(&app).await;
    assert!(app.api.schedules().is_empty(), "one level of two");
    assert!(app.say("office_admin", &format!("通过 {id}")).await.contains("已通过"));
    deliver(&app).await;
    assert_eq!(app.api.schedules().len(), 1);
}

#[tokio::test]
async fn a_failed_add_is_retried_once_and_its_delete_never_overtakes_it() {
    let app = spawn().await;
    let id = booking_no(&app.say("zhangsan", "预约 乒乓球 明天 18:30").await);
    app.say("zhangsan", &format!("取消 {id}")).await;
    // WeCom is down for the pass and the add (queued in that order): the delete queued after
    // the add must wait for it.
    app.api.inject([Fault::Status(502), Fault::Status(502)]);
    deliver(&app).await;
    assert!(schedule_calls(&app).is_empty(), "{:?}", schedule_calls(&app));
    let pending: i64 =
        app.count("SELECT count(*) FROM outbox WHERE dedupe_key LIKE 'schedule:%' AND state = 'pending'");
    assert_eq!(pending, 2, "both wait, in order");
    app.advance(Duration::minutes(5));
    deliver(&app).await;
    assert_eq!(schedule_calls(&app), ["oa/schedule/add", "oa/schedule/del"], "added once, then removed");
    assert!(app.api.schedules().is_empty());
}

#[tokio::test]
async fn the_chat_reminder_can_leave_reminding_to_the_calendar() {
    let app = TestApp::spawn_with(|c| {
        c.calendar.wecom = true;
        c.calendar.remind_in_chat = false;
    })
    .await;
    app.say("zhangsan", "预约 健身房 明天 10:30").await;
    let start =
        chrono::DateTime::parse_from_rfc3339("2026-11-24T10:30:00+08:00").expect("t").with_timezone(&chrono::Utc);
    app.clock.set(start - Duration::minutes(60));
    let schedules = staffhome::scheduler::Schedules::from_config(&app.ctx.config);
    let report = staffhome::scheduler::run_due_jobs(&app.ctx, &schedules, start - Duration::minutes(60)).await;
    assert_eq!(report.reminders, 1, "the reminder is due");
    assert_eq!(app.count("SELECT count(*) FROM outbox WHERE dedupe_key LIKE 'remind:%'"), 0, "but not sent in chat");
}

#[tokio::test]
async fn turned_on_later_it_adds_the_upcoming_bookings_but_not_the_past_ones() {
    let app = TestApp::spawn().await;
    let past = booking_no(&app.say("zhangsan", "预约 健身房 今天 12:00").await);
    let upcoming = booking_no(&app.say("zhangsan", "预约 健身房 明天 18:30").await);
    app.advance(Duration::hours(3)); // 13:00: today's 12:00 has begun
    let app = app.restart_with(|c| c.calendar.wecom = true).await;
    assert_eq!(staffhome::scheduler::backfill_calendar(&app.ctx).await, 1);
    assert_eq!(staffhome::scheduler::backfill_calendar(&app.ctx).await, 1, "asked again: the same add, queued once");
    deliver(&app).await;
    assert_eq!(app.api.schedules().len(), 1);
    assert!(schedule_id(&app, upcoming).is_some());
    assert_eq!(schedule_id(&app, past), None);
}

#[tokio::test]
async fn a_stop_use_removes_the_bookings_it_closes_from_the_calendars() {
    let app = spawn().await;
    let id = booking_no(&app.say("zhangsan", "预约 健身房 明天 18:30").await);
    deliver(&app).await;
    assert_eq!(app.api.schedules().len(), 1);
    let closed = app.say("admin1", "停用 健身房 明天 设备检修").await;
    assert!(closed.contains("停用"), "{closed}");
    deliver(&app).await;
    assert!(app.api.schedules().is_empty(), "removed with the closure");
    assert_eq!(schedule_id(&app, id), None);
}

/// The member's only confirmed booking (after a move, the one moved to).
fn confirmed_booking(app: &TestApp, user: &str) -> i64 {
    let sql = "SELECT id FROM bookings WHERE userid = ?1 AND state = 'confirmed'";
    app.db(|c| c.query_row(sql, [user], |r| r.get(0)))
}

#[tokio::test]
async fn a_move_updates_the_schedule_in_place_and_a_later_cancellation_removes_it() {
    let app = spawn().await;
    let id = booking_no(&app.say("zhangsan", "预约 乒乓球 明天 18:30").await);
    deliver(&app).await;
    let (sid, _) = app.api.schedules()[0].clone();

    let moved = app.say("zhangsan", &format!("改约 {id} 19:30")).await;
    assert!(moved.contains("已改约"), "{moved}");
    let new_id = confirmed_booking(&app, "zhangsan");
    deliver(&app).await;
    let schedules = app.api.schedules();
    assert_eq!(schedules.len(), 1, "still one schedule: {schedules:?}");
    assert_eq!(schedules[0].0, sid, "the same schedule");
    let starts: i64 = app.db(|c| c.query_row("SELECT starts_at FROM bookings WHERE id = ?1", [new_id], |r| r.get(0)));
    assert_eq!(schedules[0].1["start_time"].as_i64(), Some(starts), "at the new time");
    assert_eq!((schedule_id(&app, id), schedule_id(&app, new_id)), (None, Some(sid)), "passed to the new booking");

    app.say("zhangsan", &format!("取消 {new_id}")).await;
    deliver(&app).await;
    assert!(app.api.schedules().is_empty(), "removed");
    assert_eq!(schedule_calls(&app), ["oa/schedule/add", "oa/schedule/update", "oa/schedule/del"]);
}

#[tokio::test]
async fn booked_moved_and_cancelled_while_wecom_is_down_leaves_no_schedule() {
    let app = spawn().await;
    let id = booking_no(&app.say("zhangsan", "预约 乒乓球 明天 18:30").await);
    app.say("zhangsan", &format!("改约 {id} 19:30")).await;
    let new_id = confirmed_booking(&app, "zhangsan");
    app.say("zhangsan", &format!("取消 {new_id}")).await;
    // WeCom is down for the pass and the add: the update and the new booking's removal wait.
    app.api.inject([Fault::Status(502), Fault::Status(502)]);
    deliver(&app).await;
    assert!(schedule_calls(&app).is_empty(), "{:?}", schedule_calls(&app));
    app.advance(Duration::minutes(5));
    deliver(&app).await;
    assert!(app.api.schedules().is_empty(), "the removal waited for the add and the update");
    assert_eq!(schedule_calls(&app), ["oa/schedule/add", "oa/schedule/update", "oa/schedule/del"]);
}

/// zhangsan books the gym tomorrow at `time` with lisi, who accepts; both entries delivered.
async fn booked_with_lisi(app: &TestApp, time: &str) -> i64 {
    app.say("lisi", "你好").await;
    let id = booking_no(&app.say("zhangsan", &format!("预约 健身房 明天 {time} 和 lisi")).await);
    assert!(app.say("lisi", "接受").await.contains("已接受"));
    deliver(app).await;
    id
}

/// 改约 of a booking made with a partner who accepted: the partner's calendar entry moves too
/// (updated in place, as the booker's), not removed.
#[tokio::test]
async fn a_partners_entry_moves_with_the_bookers_move() {
    let app = spawn().await;
    let id = booked_with_lisi(&app, "18:30").await;
    assert_eq!(app.api.schedules().len(), 2, "the booker's and the partner's");
    assert!(app.say("zhangsan", &format!("改约 {id} 明天 19:30")).await.contains("同伴 lisi"));
    deliver(&app).await;
    let schedules = app.api.schedules();
    let lisi: Vec<_> = schedules.iter().filter(|(_, s)| s["attendees"][0]["userid"] == "lisi").collect();
    assert_eq!(lisi.len(), 1, "moved, not removed or doubled: {schedules:?}");
    let starts: i64 = app.db(|c| {
        let sql = "SELECT starts_at FROM bookings WHERE userid = 'lisi' AND state = 'confirmed'";
        c.query_row(sql, [], |r| r.get(0))
    });
    assert_eq!(lisi[0].1["start_time"].as_i64(), Some(starts), "at the new time");
}

/// Moved into a two-slot range: the accepted partner is told once, of both places, and both
/// are in their calendar (the old entry gone).
#[tokio::test]
async fn a_partner_moved_into_a_range_is_told_once_and_has_both_in_the_calendar() {
    let app = spawn().await;
    let id = booked_with_lisi(&app, "16:30").await;
    assert!(app.say("zhangsan", &format!("改约 {id} 明天 17:30-19:30")).await.contains("同伴 lisi"));
    deliver(&app).await;
    let told: Vec<String> = app
        .db(|c| staffhome::outbox::queued_for(c, "lisi"))
        .into_iter()
        .filter_map(|m| m.body["text"]["content"].as_str().map(str::to_string))
        .filter(|t| t.contains("改到了"))
        .collect();
    assert_eq!(told.len(), 1, "{told:?}");
    assert!(told[0].contains("17:30-18:30") && told[0].contains("18:30-19:30"), "{told:?}");
    let schedules = app.api.schedules();
    let mut lisi: Vec<i64> = schedules
        .iter()
        .filter(|(_, s)| s["attendees"][0]["userid"] == "lisi")
        .filter_map(|(_, s)| s["start_time"].as_i64())
        .collect();
    lisi.sort();
    let starts: Vec<i64> = app.db(|c| {
        let sql = "SELECT starts_at FROM bookings WHERE userid = 'lisi' AND state = 'confirmed' ORDER BY starts_at";
        let mut stmt = c.prepare(sql)?;
        let rows = stmt.query_map([], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<Vec<i64>>>()
    });
    assert_eq!(starts.len(), 2);
    assert_eq!(lisi, starts, "both new places, not the old one: {schedules:?}");
}
