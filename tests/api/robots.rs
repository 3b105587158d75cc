//! The lighter channel: light notices to everyone go to the group robots of `[[robots]]`
//! (at most 20 a minute each, the rest later, none lost); formal ones never do.

use crate::common::{deliver, TestApp};
use chrono::Duration;
use staffhome::config::{RobotConfig, Secret};

async fn spawn() -> TestApp {
    let app = TestApp::spawn().await;
    let url = app.api.robot_url("all-staff-key");
    app.restart_with(move |c| {
        c.robots = vec![RobotConfig { name: "全员群".into(), webhook_url: Secret::new(url), departments: vec![] }];
    })
    .await
}

fn app_broadcasts(app: &TestApp) -> usize {
    app.api.calls().iter().filter(|c| c.path == "message/send" && c.body["touser"] == "@all").count()
}

#[tokio::test]
async fn a_week_published_goes_to_the_robot_not_to_everyone() {
    let app = spawn().await;
    assert!(app.say("admin1", "发布 下周").await.contains("开放"));
    deliver(&app).await;
    let posted = app.api.robot_messages("all-staff-key");
    assert_eq!(posted.len(), 1, "{posted:?}");
    assert_eq!(posted[0]["msgtype"], "markdown");
    assert!(posted[0]["markdown"]["content"].as_str().is_some_and(|c| c.contains("预约已开放")));
    assert_eq!(app_broadcasts(&app), 0, "no app message to everyone");
}

#[tokio::test]
async fn without_robots_the_week_goes_to_everyone_as_before() {
    let app = TestApp::spawn().await;
    app.say("admin1", "发布 下周").await;
    deliver(&app).await;
    assert_eq!(app_broadcasts(&app), 1);
}

#[tokio::test]
async fn formal_notices_never_go_to_a_robot() {
    let app = spawn().await;
    app.say("admin1", "停用 健身房 明天 设备检修").await;
    app.say("admin1", "通知 本周六开放至 22:00").await;
    deliver(&app).await;
    assert!(app.api.robot_messages("all-staff-key").is_empty());
    assert_eq!(app_broadcasts(&app), 2, "the stop-use and the notice, as app messages");
    // Reopening is light: the robot.
    app.say("admin1", "启用 健身房").await;
    deliver(&app).await;
    assert_eq!(app.api.robot_messages("all-staff-key").len(), 1);
}

#[tokio::test]
async fn twenty_five_light_notices_in_a_minute_send_twenty_and_the_rest_a_minute_later() {
    let app = spawn().await;
    for i in 0..25 {
        // Each stop and restart of a facility reopens it: a light notice each time.
        app.say("admin1", "停用 乒乓球 明天 检修").await;
        app.advance(Duration::seconds(1));
        let reopened = app.say("admin1", "启用 乒乓球").await;
        assert!(reopened.contains("已恢复开放"), "{i}: {reopened}");
        app.advance(Duration::seconds(1));
    }
    deliver(&app).await;
    assert_eq!(app.api.robot_messages("all-staff-key").len(), 20, "WeCom's 20 a minute");
    let waiting = app.count(
        "SELECT count(*) FROM outbox WHERE recipient = 'robot:全员群' AND state = 'pending' AND last_error IS NULL",
    );
    assert_eq!(waiting, 5, "held back by the service's own count (WeCom never refused one), not lost");
    app.advance(Duration::seconds(61));
    deliver(&app).await;
    assert_eq!(app.api.robot_messages("all-staff-key").len(), 25, "the rest a minute later");
}

#[tokio::test]
async fn the_weekly_digests_public_part_goes_to_the_robot_too() {
    let app = spawn().await;
    app.say("zhangsan", "预约 健身房 明天 18:30").await;
    let monday_8 =
        chrono::DateTime::parse_from_rfc3339("2026-11-30T08:00:00+08:00").expect("t").with_timezone(&chrono::Utc);
    app.clock.set(monday_8);
    let schedules = staffhome::scheduler::Schedules::from_config(&app.ctx.config);
    assert!(staffhome::scheduler::run_due_jobs(&app.ctx, &schedules, monday_8).await.digest);
    deliver(&app).await;
    let posted = app.api.robot_messages("all-staff-key");
    let digest = posted.iter().find_map(|m| m["markdown"]["content"].as_str().filter(|c| c.contains("职工之家周报")));
    let digest = digest.expect("the digest in the group");
    assert!(!digest.contains("zhangsan"), "no one's name: {digest}");
}

#[tokio::test]
async fn at_the_digest_time_the_robot_gets_the_weeks_free_peak_places() {
    let app = spawn().await;
    let monday_8 =
        chrono::DateTime::parse_from_rfc3339("2026-11-30T08:00:00+08:00").expect("t").with_timezone(&chrono::Utc);
    app.clock.set(monday_8);
    // Tuesday 18:30 at the table-tennis tables is taken by two: it is not offered.
    app.say("zhangsan", "预约 乒乓球 明天 18:30").await;
    app.say("lisi", "预约 乒乓球 明天 18:30").await;
    let schedules = staffhome::scheduler::Schedules::from_config(&app.ctx.config);
    staffhome::scheduler::run_due_jobs(&app.ctx, &schedules, monday_8).await;
    deliver(&app).await;
    let posted = app.api.robot_messages("all-staff-key");
    let summary = posted.iter().find_map(|m| m["markdown"]["content"].as_str().filter(|c| c.contains("还有空位")));
    let summary = summary.expect("the free places in the group");
    let table_tennis = summary.lines().find(|l| l.contains("乒乓球")).expect("a line for 乒乓球");
    assert!(table_tennis.contains("周二 19:30 剩2"), "{summary}");
    assert!(!table_tennis.contains("周二 18:30"), "the full slot is left out: {summary}");
    assert!(summary.len() <= 4096, "within a robot message");
    // Once per digest time.
    staffhome::scheduler::run_due_jobs(&app.ctx, &schedules, monday_8).await;
    deliver(&app).await;
    assert_eq!(app.api.robot_messages("all-staff-key").len(), posted.len());
}
