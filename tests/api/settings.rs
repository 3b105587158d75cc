//! A member's own settings: light reminders off (peak ones and formal notices still come), a
//! reminder lead of their own, quiet hours in which light messages wait.

use crate::common::TestApp;
use chrono::{DateTime, Duration, Utc};
use staffhome::outbox::worker::deliver_due;
use staffhome::scheduler::{run_due_jobs, Schedules};

/// Tuesday 2026-11-24 at `hh:mm` in Shanghai.
fn tuesday(time: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&format!("2026-11-24T{time}:00+08:00")).expect("time").with_timezone(&Utc)
}

async fn at(app: &TestApp, when: DateTime<Utc>) {
    app.clock.set(when);
    run_due_jobs(&app.ctx, &Schedules::from_config(&app.ctx.config), when).await;
    for _ in 0..5 {
        if deliver_due(&app.ctx).await.expect("deliver").is_idle() {
            break;
        }
    }
}

fn reminders_to(app: &TestApp, user: &str) -> usize {
    app.api
        .sent_to(user)
        .iter()
        .filter(|m| m["text"]["content"].as_str().is_some_and(|t| t.starts_with("提醒")))
        .count()
}

#[tokio::test]
async fn reminders_off_silences_light_ones_but_not_peak_ones_or_formal_notices() {
    let app = TestApp::spawn().await;
    let said = app.say("a", "提醒 关").await;
    assert!(said.contains("已保存") && said.contains("提醒：关"), "{said}");
    app.say("a", "预约 健身房 明天 10:30").await;
    app.say("a", "预约 乒乓球 明天 18:30").await;
    at(&app, tuesday("09:30")).await;
    assert_eq!(reminders_to(&app, "a"), 0, "the 10:30 reminder is light: off");
    at(&app, tuesday("17:30")).await;
    assert_eq!(reminders_to(&app, "a"), 1, "the peak 18:30 one still comes");
    app.say("admin1", "停用 乒乓球 今天 设备检修").await;
    at(&app, tuesday("17:31")).await;
    assert!(app.api.sent_to("a").iter().any(|m| m.to_string().contains("设备检修")), "a stop-use always arrives");
}

#[tokio::test]
async fn a_member_chooses_how_long_before_the_reminder_comes() {
    let app = TestApp::spawn().await;
    assert!(app.say("a", "提醒 提前30分钟").await.contains("开始前 30 分钟"));
    assert!(app.say("a", "提醒 提前500分钟").await.contains("5 到 180"), "out of range");
    app.say("a", "预约 健身房 明天 10:30").await;
    app.say("b", "预约 健身房 明天 10:30").await;
    at(&app, tuesday("09:30")).await;
    assert_eq!((reminders_to(&app, "a"), reminders_to(&app, "b")), (0, 1), "b at the configured hour");
    at(&app, tuesday("10:00")).await;
    assert_eq!(reminders_to(&app, "a"), 1, "a half an hour before");
}

#[tokio::test]
async fn quiet_hours_hold_light_messages_until_they_end() {
    let app = TestApp::spawn().await;
    let said = app.say("a", "免打扰 07:00-08:00").await;
    assert!(said.contains("免打扰：07:00-08:00"), "{said}");
    app.say("a", "预约 健身房 明天 08:30").await;
    at(&app, tuesday("07:30")).await;
    assert_eq!(reminders_to(&app, "a"), 0, "in the quiet hours: held");
    at(&app, tuesday("07:59")).await;
    assert_eq!(reminders_to(&app, "a"), 0);
    at(&app, tuesday("08:00")).await;
    assert_eq!(reminders_to(&app, "a"), 1, "sent when they end");
    // What the member asks for is answered at once, quiet or not: the pass came at booking.
    assert!(app.api.sent_to("a").iter().any(|m| m["msgtype"] == "textcard"));
    let settings = app.say("a", "设置").await;
    assert!(settings.contains("提醒：开") && settings.contains("07:00-08:00"), "{settings}");
    assert!(app.say("a", "免打扰 关").await.contains("免打扰：未设置"));
}

#[tokio::test]
async fn quiet_hours_may_span_midnight() {
    let app = TestApp::spawn().await;
    app.say("a", "免打扰 22:00-07:00").await;
    let zone = app.ctx.config.tz();
    let store = &app.ctx.store;
    let until = |t: DateTime<Utc>| store.read(|c| staffhome::settings::quiet_until(c, "a", zone, t)).expect("read");
    app.db(|_| Ok(()));
    assert_eq!(until(tuesday("23:30")), Some(tuesday("07:00").timestamp() + 86_400));
    assert_eq!(until(tuesday("06:59")), Some(tuesday("07:00").timestamp()));
    assert_eq!(until(tuesday("07:00")), None);
    assert_eq!(until(tuesday("21:59") + Duration::zero()), None);
}
