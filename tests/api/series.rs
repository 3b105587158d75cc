//! Recurring bookings: each occurrence by the rules of one booking, weeks not yet open held
//! and booked as they open (within the facility's share), one or all cancelled, and a series
//! ended by three missed occurrences.

use crate::common::{booking_no, TestApp};
use chrono::{DateTime, Utc};

fn at(date_time: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&format!("{date_time}:00+08:00")).expect("time").with_timezone(&Utc)
}

fn live(app: &TestApp, user: &str) -> Vec<(i64, String)> {
    let sql = "SELECT id, date FROM bookings WHERE userid = ?1 AND state IN ('pending', 'confirmed') ORDER BY date";
    app.db(|c| c.prepare(sql)?.query_map([user], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
}

/// The clock starts on Monday 2026-11-23 10:00; this week is open, the next ones are not.
#[tokio::test]
async fn a_weekly_series_books_the_open_week_holds_the_rest_and_books_them_as_they_open() {
    let app = TestApp::spawn().await;
    let reply = app.say("a", "预约 羽毛球 每周三 18:30 3周").await;
    assert!(reply.contains("周期预约：羽毛球 每周三 18:30，3 周"), "{reply}");
    assert!(reply.contains("11月25日 周三 18:30-19:30"), "{reply}");
    assert!(reply.contains("待开放周，开放时优先为你预约：12月2日 周三、12月9日 周三"), "{reply}");
    let first = booking_no(&reply);
    assert_eq!(live(&app, "a").len(), 1);

    assert!(app.say("admin1", "发布 下周").await.contains("已开放"));
    assert_eq!(live(&app, "a").iter().map(|(_, d)| d.as_str()).collect::<Vec<_>>(), ["2026-11-25", "2026-12-02"]);
    let mine = app.say("a", "我的").await;
    assert!(mine.contains("（每周三，之后 12-02、12-09（待开放））"), "one line for the series: {mine}");
    assert!(!mine.contains(&format!("#{} ", first + 1)), "its other bookings are not listed again: {mine}");

    // One occurrence, then the rest.
    assert!(app.say("a", &format!("取消 {first}")).await.contains("已取消"));
    assert_eq!(live(&app, "a").len(), 1);
    let second = live(&app, "a")[0].0;
    let reply = app.say("a", &format!("取消 {second} 全部")).await;
    assert!(reply.contains("已取消周期预约之后的 1 次") && reply.contains("待开放周的 1 次也不再保留"), "{reply}");
    assert!(live(&app, "a").is_empty());
    assert_eq!(app.count("SELECT count(*) FROM series_holds WHERE state = 'held'"), 0);
    app.assert_slot_usage_agrees();
}

/// 取消 N 全部 is a cancellation like any: the waiter for a freed place gets it and is told.
#[tokio::test]
async fn cancelling_the_rest_of_a_series_promotes_and_tells_the_waiter() {
    let app = TestApp::spawn().await;
    let first = booking_no(&app.say("a", "预约 跑步机 每周三 18:30 2周").await);
    assert!(app.say("w", "候补 跑步机 周三 18:30").await.contains("第 1 位"));
    assert!(app.say("a", &format!("取消 {first} 全部")).await.contains("已取消周期预约"));
    assert_eq!(live(&app, "w").len(), 1, "the waiter has the place");
    let told = app.db(|c| staffhome::outbox::queued_for(c, "w"));
    assert!(told.iter().any(|m| m.body.to_string().contains("候补成功")), "and is told: {told:?}");
}

#[tokio::test]
async fn each_occurrence_passes_every_rule_and_the_reply_says_why_not() {
    let app = TestApp::spawn().await;
    // Monday to Sunday at 18:30: a member holds at most 4 live bookings.
    let reply = app.say("a", "预约 健身房 每天 18:30 1周").await;
    assert_eq!(live(&app, "a").len(), 4, "{reply}");
    assert!(reply.contains("未能预约：11月27日 周五（超出预约上限）"), "{reply}");
    // A series takes no partners (said, not silently dropped).
    assert!(app.say("c", "预约 健身房 每周五 9:30 和 a").await.contains("周期预约不能带同伴"));
    // More weeks than allowed are cut to the limit, and the reply says so.
    let reply = app.say("b", "预约 健身房 每周五 9:30 10周").await;
    assert!(reply.contains("（最多 8 周）"), "{reply}");
}

#[tokio::test]
async fn held_dates_take_only_the_facilitys_share_of_places_and_the_rest_are_told() {
    let app = TestApp::spawn().await;
    // 乒乓球 has 2 places: half of them may go to series as a week opens.
    app.say("a", "预约 乒乓球 每周二 18:30 2周").await;
    app.say("b", "预约 乒乓球 每周二 18:30 2周").await;
    app.say("admin1", "发布 下周").await;
    let held_booked = |user: &str| live(&app, user).iter().filter(|(_, d)| d == "2026-12-01").count();
    assert_eq!((held_booked("a"), held_booked("b")), (1, 0), "the earlier series first, one place");
    let told = app.db(|c| staffhome::outbox::queued_for(c, "b"));
    let told = told
        .iter()
        .filter_map(|m| m.body["text"]["content"].as_str())
        .any(|t| t.contains("周期预约在 乒乓球 12月1日 周二 18:30-19:30 没能预约成功（已达该时段留给周期预约的名额）"));
    assert!(told, "b is told");
    // Walk-ins keep the other place.
    assert!(app.say("c", "预约 乒乓球 12-01 18:30").await.contains("预约成功"));
}

#[tokio::test]
async fn three_missed_occurrences_end_the_series() {
    let app = TestApp::spawn().await;
    let reply = app.say("a", "预约 羽毛球 每天 18:30 1周").await;
    assert_eq!(live(&app, "a").len(), 4, "{reply}");
    let schedules = staffhome::scheduler::Schedules::from_config(&app.ctx.config);
    for day in ["2026-11-23", "2026-11-24", "2026-11-25"] {
        let after = at(&format!("{day}T18:50"));
        app.clock.set(after);
        staffhome::scheduler::run_due_jobs(&app.ctx, &schedules, after).await;
    }
    assert!(live(&app, "a").is_empty(), "Thursday's occurrence went with the series");
    let told = app.db(|c| staffhome::outbox::queued_for(c, "a"));
    assert!(told
        .iter()
        .filter_map(|m| m.body["text"]["content"].as_str())
        .any(|t| t.contains("已有 3 次未到场，系列已结束")));
    app.assert_slot_usage_agrees();
}

#[tokio::test]
async fn a_series_with_only_held_dates_shows_in_mine_and_one_with_none_ends() {
    let app = TestApp::spawn().await;
    // Monday 10:00: today's 8:30 has begun, the next Mondays are in weeks not yet open.
    let reply = app.say("a", "预约 羽毛球 每周一 8:30 3周").await;
    assert!(reply.contains("待开放周") && !reply.contains("已约上"), "{reply}");
    let mine = app.say("a", "我的").await;
    assert!(mine.contains("周期预约待开放") && mine.contains("羽毛球 每周一 08:30：11-30、12-07"), "{mine}");
    // One week of Mondays from today: nothing left to book or hold.
    app.say("b", "预约 羽毛球 每周一 8:30 1周").await;
    assert_eq!(app.count("SELECT count(*) FROM series WHERE userid = 'b' AND state = 'active'"), 0);
}
