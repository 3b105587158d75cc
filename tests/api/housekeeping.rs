//! Tables that would otherwise only grow: demand counted once, old rows pruned by the scheduler.

use crate::common::{block_on, monday_10am, TestApp};
use chrono::{DateTime, Duration, Utc};
use staffhome::outbox::worker::deliver_due;
use staffhome::scheduler::{run_due_jobs, Pruned, Schedules};

async fn pass(app: &TestApp, at: DateTime<Utc>) -> Pruned {
    app.clock.set(at);
    let schedules = Schedules::from_config(&app.ctx.config);
    run_due_jobs(&app.ctx, &schedules, at).await.pruned
}

#[tokio::test]
async fn a_member_refused_again_and_again_for_a_full_slot_counts_once() {
    let app = TestApp::spawn().await;
    assert!(app.say("a", "预约 跑步机 明天 18:30").await.contains("预约成功"));
    for _ in 0..5 {
        let reply = app.say("b", "预约 跑步机 明天 18:30").await;
        assert!(reply.contains("已约满"), "{reply}");
    }
    app.say("c", "预约 跑步机 明天 18:30").await;
    let refused = "SELECT count(*) FROM demand_events WHERE kind = 'refused_full'";
    assert_eq!(app.count(refused), 2, "b once, c once");
    // Another slot is other demand.
    app.say("a2", "预约 跑步机 明天 19:30").await;
    app.say("b", "预约 跑步机 明天 19:30").await;
    assert_eq!(app.count(refused), 3);
    let tomorrow = app.ctx.catalog.today(app.ctx.clock.now()) + Duration::days(1);
    let report = app.db(|c| staffhome::report::build(c, &app.ctx.catalog, tomorrow, tomorrow));
    assert_eq!(report.refused_full, 3);
}

#[tokio::test]
async fn delivered_and_failed_messages_go_after_keep_days_pending_ones_never() {
    let app = TestApp::spawn_with(|c| c.database.keep_days = 30).await;
    app.say("a", "预约 健身房 明天 9:30").await;
    app.say("b", "预约 健身房 明天 10:30").await;
    deliver_due(&app.ctx).await.expect("deliver");
    // One given up on, one still waiting (queued later, never delivered here).
    block_on(
        app.ctx
            .store
            .write(|tx| tx.execute("UPDATE outbox SET state = 'failed' WHERE id = (SELECT min(id) FROM outbox)", [])),
    )
    .expect("mark failed");
    app.say("c", "预约 健身房 明天 12:00").await;
    let states = || {
        app.db(|c| {
            let mut stmt = c.prepare("SELECT state FROM outbox WHERE dedupe_key LIKE 'pass:%' ORDER BY id")?;
            let rows = stmt.query_map([], |r| r.get::<_, String>(0))?;
            rows.collect::<rusqlite::Result<Vec<_>>>()
        })
    };
    assert_eq!(states(), ["failed", "done", "pending"], "the three pass messages");

    let start = monday_10am();
    assert_eq!(pass(&app, start + Duration::days(29)).await.messages, 0, "kept for keep_days");
    assert_eq!(pass(&app, start + Duration::days(31)).await.messages, 2);
    assert_eq!(states(), ["pending"]);
    assert_eq!(pass(&app, start + Duration::days(400)).await.messages, 0, "a waiting message is never pruned");
    assert_eq!(app.count("SELECT count(*) FROM bookings"), 3, "only the messages go");
}

#[tokio::test]
async fn demand_older_than_400_days_goes() {
    let app = TestApp::spawn().await;
    let today = app.ctx.catalog.today(monday_10am());
    block_on(app.ctx.store.write(move |tx| {
        for (user, days_ago) in [("old", 401), ("kept", 399)] {
            tx.execute(
                "INSERT INTO demand_events (kind, userid, facility, date, slot, at) VALUES ('waitlist_join', ?1, 'gym', ?2, 1, 0)",
                rusqlite::params![user, (today - Duration::days(days_ago)).to_string()],
            )?;
        }
        Ok::<_, rusqlite::Error>(())
    }))
    .expect("demand");
    assert_eq!(pass(&app, monday_10am()).await.demand, 1);
    assert_eq!(app.count("SELECT count(*) FROM demand_events WHERE userid = 'kept'"), 1);
    assert_eq!(app.count("SELECT count(*) FROM demand_events"), 1);
}
