//! The app's daily send budget: past 80 % the admins are told once, light messages wait for the
//! next day, formal ones still go.

use crate::common::{deliver, TestApp};
use chrono::Duration;

fn passes_sent(app: &TestApp) -> usize {
    app.api.calls().iter().filter(|c| c.path == "message/send" && c.body["msgtype"] == "textcard").count()
}

#[tokio::test]
async fn past_eighty_percent_light_messages_wait_for_tomorrow_and_admins_are_told_once() {
    let app = TestApp::spawn_with(|c| c.wecom.daily_message_budget = 10).await;
    for i in 0..12 {
        let time = if i % 2 == 0 { "18:30" } else { "19:30" };
        assert!(app.say(&format!("m{i}"), &format!("预约 健身房 明天 {time}")).await.contains("预约成功"));
    }
    deliver(&app).await;
    assert_eq!(passes_sent(&app), 8, "80 % of the day's 10");
    let warnings: Vec<String> = app
        .api
        .sent_to("admin1")
        .iter()
        .filter_map(|m| m["text"]["content"].as_str().map(str::to_string))
        .filter(|t| t.contains("80%"))
        .collect();
    assert_eq!(warnings.len(), 1, "told once: {warnings:?}");
    // A formal notice still goes.
    app.say("admin1", "通知 今晚闭馆一小时").await;
    deliver(&app).await;
    assert_eq!(app.api.calls().iter().filter(|c| c.body["touser"] == "@all").count(), 1);
    assert_eq!(passes_sent(&app), 8, "the light ones still wait");
    let metrics = reqwest::get(app.url("/metrics")).await.expect("metrics").text().await.expect("text");
    assert!(metrics.contains("staffhome_message_budget 10"), "{metrics}");
    assert!(metrics.contains("staffhome_messages_sent_today 10"), "8 passes, the warning, the notice: {metrics}");
    assert!(metrics.contains("staffhome_outbox_deferred_for_budget_total"), "{metrics}");
    // The next day they go, and the warning is not repeated for the old day.
    app.advance(Duration::hours(15));
    deliver(&app).await;
    assert_eq!(passes_sent(&app), 12, "none lost");
    let warned = app.count("SELECT count(*) FROM outbox WHERE dedupe_key LIKE 'budget:%'");
    assert_eq!(warned, 1);
}

#[tokio::test]
async fn no_budget_no_limit() {
    let app = TestApp::spawn().await;
    for i in 0..12 {
        let time = if i % 2 == 0 { "18:30" } else { "19:30" };
        app.say(&format!("m{i}"), &format!("预约 健身房 明天 {time}")).await;
    }
    deliver(&app).await;
    assert_eq!(passes_sent(&app), 12);
}
