//! Admin by chat: roles, stop-use, broadcasts, reports.

use crate::common::{booking_no, deliver, TestApp};
use chrono::NaiveDate;

async fn spawn() -> TestApp {
    TestApp::spawn_with(|c| {
        c.departments.insert("办公室".into(), "7".into());
    })
    .await
}

#[tokio::test]
async fn admin_commands_refuse_everyone_else() {
    let app = spawn().await;
    for command in
        ["停用 健身房 明天 维修", "启用 健身房", "通知 大家好", "报表 上周", "发布 下周", "授权 a 管理员", "免责 a"]
    {
        let reply = app.say("staff1", command).await;
        assert!(reply.contains("只有管理员可以使用"), "{command}: {reply}");
    }
    assert_eq!(app.count("SELECT count(*) FROM closures"), 0);
    assert_eq!(app.count("SELECT count(*) FROM outbox"), 0);
}

#[tokio::test]
async fn every_admin_command_in_either_language_refuses_everyone_else() {
    use staffhome::chat::command::{Who, TABLE};
    let app = spawn().await;
    // lisi holds a granted admin role: a member's 撤销 / revoke must not take it away.
    assert!(app.say("admin1", "授权 lisi 管理员").await.contains("lisi"));
    let before = app.count("SELECT count(*) FROM outbox");
    let mut tried = Vec::new();
    for entry in TABLE.iter().filter(|e| e.who == Who::Admins) {
        let (_, args) = entry.example.split_once(' ').unwrap_or((entry.example, ""));
        for word in entry.words.iter().copied().chain([entry.english]) {
            let command = format!("{word} {args}");
            let reply = app.say("staff1", &command).await;
            assert!(reply.contains("只有管理员可以使用"), "{command}: {reply}");
            tried.push(entry.english);
        }
    }
    for english in ["close", "reopen", "broadcast", "report", "grant", "revoke", "forgive", "publish"] {
        assert!(tried.contains(&english), "{english} tried");
    }
    // Nothing happened: no closure, no message, no role granted or taken.
    assert_eq!(app.count("SELECT count(*) FROM closures"), 0);
    assert_eq!(app.count("SELECT count(*) FROM outbox"), before);
    assert_eq!(app.count("SELECT group_concat(userid) = 'lisi' FROM users WHERE role = 'admin'"), 1);
}

#[tokio::test]
async fn stop_use_closes_bookings_tells_each_member_formally_and_broadcasts_once() {
    let app = spawn().await;
    let mut ids = Vec::new();
    for (user, when) in [
        ("u1", "11-25 19:30"),
        ("u2", "11-25 19:30"),
        ("u3", "11-25 18:30"),
        ("u4", "11-26 9:30"),
        ("u5", "11-26 10:30"),
    ] {
        ids.push(booking_no(&app.say(user, &format!("预约 乒乓球 {when}")).await));
    }
    app.say("waiter", "候补 乒乓球 11-25 19:30").await;
    let untouched = booking_no(&app.say("u6", "预约 乒乓球 11-27 19:30").await);
    deliver(&app).await; // the booking passes
    let before = app.api.calls().len();

    let reply = app.say("admin1", "停用 乒乓球 11-25 11-26 设备检修").await;
    assert!(
        reply.contains("取消预约 5 个") && reply.contains("已正式通知 5 人") && reply.contains("清除候补 1 人"),
        "{reply}"
    );
    for id in &ids {
        assert_eq!(
            app.db(|c| c.query_row("SELECT state FROM bookings WHERE id = ?1", [id], |r| r.get::<_, String>(0))),
            "closed"
        );
    }
    assert_eq!(app.count(&format!("SELECT count(*) FROM bookings WHERE id = {untouched} AND state = 'confirmed'")), 1);
    assert_eq!(app.count("SELECT count(*) FROM waitlist WHERE state = 'waiting'"), 0);

    deliver(&app).await;
    let sent: Vec<_> = app.api.calls().into_iter().skip(before).collect();
    let formal: Vec<_> = sent.iter().filter(|c| c.body["template_card"]["card_type"] == "text_notice").collect();
    assert_eq!(formal.len(), 6, "5 formal notices + 1 broadcast");
    assert_eq!(formal.iter().filter(|c| c.body["touser"] == "@all").count(), 1);
    let u1 = app.api.sent_to("u1").last().cloned().expect("u1 told");
    let text = u1["template_card"]["sub_title_text"].as_str().unwrap_or_default().to_string();
    assert!(
        text.contains("设备检修") && text.contains("可改约") && text.contains("羽毛球"),
        "what, why and alternatives: {text}"
    );

    let refused = app.say("u1", "预约 乒乓球 11-26 19:30").await;
    assert!(refused.contains("停用中：设备检修") && refused.contains("11-27 00:00 恢复"), "{refused}");
    let reopened = app.say("admin1", "启用 乒乓球").await;
    assert!(reopened.contains("已恢复开放"), "{reopened}");
    assert!(app.say("u1", "预约 乒乓球 11-26 19:30").await.contains("预约成功"));
    assert!(app.say("admin1", "启用 乒乓球").await.contains("没有停用"));
    app.assert_slot_usage_agrees();
}

#[tokio::test]
async fn stop_use_for_part_of_a_day_and_open_ended() {
    let app = spawn().await;
    let reply = app.say("admin1", "停用 会议室 明天 14:30-16:30 上级检查").await;
    assert!(reply.contains("上级检查"), "{reply}");
    assert!(app.say("a", "预约 会议室 明天 14:30").await.contains("停用中"));
    assert!(app.say("a", "预约 会议室 明天 16:30").await.contains("等待审批"), "the slot after is open");

    let open = app.say("admin1", "停用 跑步机 今天起 维修").await;
    assert!(open.contains("恢复时间另行通知"), "{open}");
    let refused = app.say("b", "预约 跑步机 周五 18:30").await;
    assert!(refused.contains("停用中：维修") && refused.contains("恢复时间另行通知"), "{refused}");
    assert!(app.say("admin1", "停用 跑步机").await.contains("请说明"), "no time, no reason: asked");
    // 全天 is the whole day, which the date says: not part of the reason.
    let whole_day = app.say("admin1", "停用 健身房 后天 全天 设备检修").await;
    assert!(whole_day.contains("00:00") && whole_day.contains("（设备检修）"), "{whole_day}");
    assert!(app.say("admin1", "停用 乒乓球 后天 全天").await.contains("请说明停用原因"));
    app.assert_slot_usage_agrees();
}

#[tokio::test]
async fn broadcasts_go_to_everyone_or_one_department_in_one_call() {
    let app = spawn().await;
    let reply = app.say("admin1", "通知 本周六职工之家开放至 22:00，欢迎预约！").await;
    assert!(reply.contains("已通知全体职工"), "{reply}");
    let reply = app.say("admin1", "通知 办公室 周五下午大扫除").await;
    assert!(reply.contains("已通知办公室"), "{reply}");
    deliver(&app).await;
    let calls = app.api.calls();
    let all: Vec<_> = calls.iter().filter(|c| c.body["touser"] == "@all").collect();
    assert_eq!(all.len(), 1);
    assert!(all[0].body.to_string().contains("本周六职工之家开放至 22:00，欢迎预约！"), "the text as typed");
    let party: Vec<_> = calls.iter().filter(|c| c.body["toparty"] == "7").collect();
    assert_eq!(party.len(), 1);
}

#[tokio::test]
async fn roles_are_granted_and_revoked_but_config_admins_stay() {
    let app = spawn().await;
    assert!(app.say("admin1", "授权 lisi 管理员").await.contains("已授予 lisi"));
    assert!(app.say("lisi", "发布 下周").await.contains("已开放"));
    assert!(app.say("lisi", "撤销 admin1 管理员").await.contains("不能在聊天中撤销"));
    assert!(app.say("admin1", "撤销 lisi 管理员").await.contains("已撤销"));
    assert!(app.say("lisi", "发布 下周").await.contains("只有管理员"));
}

/// A config admin granting themselves (or another config admin) the role would leave a stored
/// grant that outlives their removal from the config: refused, and nothing stored.
#[tokio::test]
async fn a_config_admin_cannot_grant_a_config_admin() {
    let app = spawn().await;
    let reply = app.say("admin1", "授权 admin1 管理员").await;
    assert!(reply.contains("无需授权"), "{reply}");
    assert_eq!(app.count("SELECT count(*) FROM users WHERE role = 'admin'"), 0);
    // With admin1 gone from the config, admin1 is no admin.
    let app = app.restart_with(|c| c.roles.admins = vec!["boss".into()]).await;
    let reply = app.say("admin1", "发布 下周").await;
    assert!(reply.contains("只有管理员"), "{reply}");
}

/// (user, facility, date, slot, start, state, cancelled minutes before start)
type FixtureRow = (&'static str, &'static str, &'static str, u32, &'static str, &'static str, Option<i64>);

/// A fixture week (Mon 11-16 … Sun 11-22) written straight into the database, and its
/// figures computed by hand.
#[tokio::test]
async fn report_figures_match_a_hand_computed_week() {
    let app = spawn().await;
    let ts = |date: &str, hm: &str| {
        chrono::DateTime::parse_from_rfc3339(&format!("{date}T{hm}:00+08:00")).expect("t").timestamp()
    };
    let rows: [FixtureRow; 8] = [
        ("a", "treadmill", "2026-11-16", 9, "17:30", "checked_in", None),
        ("b", "treadmill", "2026-11-16", 10, "18:30", "no_show", None),
        ("c", "treadmill", "2026-11-18", 10, "18:30", "confirmed", None),
        ("d", "treadmill", "2026-11-18", 11, "19:30", "cancelled", Some(90)),
        ("e", "treadmill", "2026-11-20", 11, "19:30", "cancelled", Some(30)),
        ("f", "gym", "2026-11-18", 10, "18:30", "checked_in", None),
        ("g", "gym", "2026-11-18", 10, "18:30", "checked_in", None),
        ("h", "gym", "2026-11-22", 1, "08:30", "cancelled", Some(600)),
    ];
    app.ctx
        .store
        .write(move |tx| {
            for (i, (user, facility, date, slot, start, state, cancelled)) in rows.iter().enumerate() {
                staffhome::users::touch(tx, user, 0)?;
                let starts = ts(date, start);
                tx.execute(
                    "INSERT INTO bookings (userid, facility, date, slot, starts_at, ends_at, state, checkin_code, pass_token,
                                           created_at, updated_at, cancelled_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, '000000', ?8, 0, 0, ?9)",
                    rusqlite::params![user, facility, date, slot, starts, starts + 3600, state, format!("{i:032x}"),
                        cancelled.map(|m| starts - m * 60)],
                )?;
            }
            tx.execute_batch(
                "INSERT INTO demand_events (kind, userid, facility, date, slot, at) VALUES
                   ('refused_full', 'x', 'treadmill', '2026-11-18', 10, 0),
                   ('refused_full', 'y', 'treadmill', '2026-11-18', 10, 0),
                   ('waitlist_join', 'x', 'treadmill', '2026-11-18', 10, 0),
                   ('promotion', 'x', 'treadmill', '2026-11-18', 11, 0),
                   ('refused_full', 'z', 'gym', '2026-11-25', 10, 0);",
            )?;
            // The treadmill was closed all of Thursday 11-19: 11 slots not offered.
            tx.execute(
                "INSERT INTO closures (facility, starts_at, ends_at, reason, created_by, created_at) VALUES ('treadmill', ?1, ?2, 'x', 'admin1', 0)",
                [ts("2026-11-19", "00:00"), ts("2026-11-20", "00:00")],
            )?;
            Ok::<(), rusqlite::Error>(())
        })
        .await
        .expect("fixture");
    let from = NaiveDate::from_ymd_opt(2026, 11, 16).expect("d");
    let to = NaiveDate::from_ymd_opt(2026, 11, 22).expect("d");
    let report = app.db(|c| staffhome::report::build(c, &app.ctx.catalog, from, to));
    let treadmill = report.facilities.iter().find(|f| f.code == "treadmill").expect("treadmill");
    // Offered: 1 place × 11 slots × 7 days − 11 closed = 66. Held: checked_in + no_show + confirmed = 3.
    assert_eq!((treadmill.offered, treadmill.booked), (66, 3));
    let gym = report.facilities.iter().find(|f| f.code == "gym").expect("gym");
    assert_eq!((gym.offered, gym.booked), (770, 2));
    assert_eq!(report.bookings, 8);
    assert_eq!(report.cancellations, 3);
    // Lead times 30, 90, 600 minutes: the median is 90.
    assert_eq!(report.median_cancel_lead_minutes, Some(90));
    assert_eq!((report.checked_in, report.no_shows), (3, 1));
    assert_eq!((report.promotions, report.refused_full, report.waitlist_joins), (1, 2, 1));
    // Busiest cells: Wednesday (2) slot 10 has 3 bookings; then Monday slots 9 and 10, 1 each.
    assert_eq!((report.busiest[0].weekday, report.busiest[0].slot, report.busiest[0].count), (2, 10, 3));
    assert_eq!(report.heatmap[2][9], 3);

    let reply = app.say("admin1", "报表 上周").await;
    assert!(reply.contains("11-16 至 11-22") && reply.contains("预约 8 次，取消 3 次，未到场 1 次"), "{reply}");
    deliver(&app).await;
    let markdown = app.api.sent_to("admin1").into_iter().find(|m| m["msgtype"] == "markdown").expect("markdown report");
    let content = markdown["markdown"]["content"].as_str().unwrap_or_default().to_string();
    assert!(content.contains("跑步机 5%（3/66）") && content.contains("中位提前 90 分钟"), "{content}");
    assert!(content.contains("最忙时段：周三 18:30（3）"), "{content}");
}

#[tokio::test]
async fn a_report_wider_than_a_year_is_refused_with_the_cap_and_sends_nothing() {
    let app = spawn().await;
    let reply = app.say("admin1", "报表 2024-01-01 2026-11-01").await;
    assert!(reply.contains("最长 366 天"), "{reply}");
    // A year exactly is allowed.
    let reply = app.say("admin1", "报表 2025-11-01 2026-11-01").await;
    assert!(reply.contains("报表已生成"), "{reply}");
    deliver(&app).await;
    let reports = app.api.sent_to("admin1").into_iter().filter(|m| m["msgtype"] == "markdown").count();
    assert_eq!(reports, 1, "only the year's report");
}

#[tokio::test]
async fn a_report_is_worked_out_on_a_reader_and_a_retry_sends_it_once() {
    use staffhome::inbox::InboxContext;
    let app = spawn().await;
    // A reader (read-only connection) answers the command whole: the writer only queues it.
    let reader =
        rusqlite::Connection::open_with_flags(app.ctx.store.path(), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .expect("reader");
    let msg = app.member.message(
        "admin1",
        app.now(),
        staffhome::wecom::Inbound::Text { content: "报表 上周".into(), msg_id: app.member.next_msg_id() },
    );
    let look = staffhome::chat::answer_read_only(
        app.ctx.chat(),
        &reader,
        &msg,
        staffhome::users::Role::Admin,
        app.ctx.clock.now(),
    )
    .expect("look");
    let staffhome::chat::Look::Answered(answer) = look else { panic!("a report needs the writer") };
    assert!(answer
        .message
        .as_ref()
        .is_some_and(|m| m.to == "admin1"
            && m.body["markdown"]["content"].as_str().is_some_and(|c| c.contains("职工之家上周报表"))));

    // Through the protocol: the retry gets the first reply and the report goes out once.
    let callback = app.member.sign(&msg);
    let first = app.member.post(&callback).await;
    let retry = app.member.post(&callback).await;
    assert_eq!(first, retry);
    deliver(&app).await;
    let reports = app.api.sent_to("admin1").into_iter().filter(|m| m["msgtype"] == "markdown").count();
    assert_eq!(reports, 1);
}
