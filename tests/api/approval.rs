//! Approval by interactive cards, end to end: two levels, right person only, cards updated.

use crate::common::{booking_no, deliver, tap, tap_event, TestApp};
use chrono::Duration;
use serde_json::Value;
use staffhome::wecom::sim::Fault;

async fn spawn() -> TestApp {
    TestApp::spawn_with(|c| {
        let room = c.facilities.iter_mut().find(|f| f.code == "room").expect("room");
        room.approval = vec![vec!["dept_head".into(), "deputy".into()], vec!["office_admin".into()]];
    })
    .await
}

/// The last approval card the stand-in delivered to `user`.
fn card_of(app: &TestApp, user: &str) -> Value {
    app.api
        .sent_to(user)
        .into_iter()
        .rev()
        .find(|m| m["template_card"]["card_type"] == "button_interaction")
        .unwrap_or_else(|| panic!("no card for {user}"))
}

fn state(app: &TestApp, id: i64) -> String {
    app.db(|c| c.query_row("SELECT state FROM bookings WHERE id = ?1", [id], |r| r.get(0)))
}

#[tokio::test]
async fn two_levels_approve_end_to_end_with_every_card_updated() {
    let app = spawn().await;
    let reply = app.say("applicant", "预约 会议室 明天 第3节").await;
    assert!(reply.contains("等待审批"), "{reply}");
    let id = booking_no(&reply);
    deliver(&app).await;
    let head_card = card_of(&app, "dept_head");
    let deputy_card = card_of(&app, "deputy");
    assert!(app.api.sent_to("office_admin").is_empty(), "level 2 waits for level 1");
    let fields = head_card["template_card"]["horizontal_content_list"].to_string();
    assert!(fields.contains("applicant") && fields.contains("1/2") && fields.contains(&format!("#{id}")), "{fields}");
    assert!(head_card["template_card"]["main_title"]["desc"]
        .as_str()
        .unwrap_or_default()
        .contains("11月24日 周二 10:30-11:30"));

    assert_eq!(tap(&app, "dept_head", &head_card, &format!("approve:{id}:1")).await, "已通过");
    assert_eq!(state(&app, id), "pending");
    deliver(&app).await;
    // The deputy's copy was greyed out through update_template_card with its own response code.
    let updates: Vec<_> = app.api.calls().into_iter().filter(|c| c.path == "message/update_template_card").collect();
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].body["userids"][0], "deputy");
    assert!(updates[0].body["button"]["replace_name"].as_str().unwrap_or_default().contains("已通过"));
    let deputy_code: String = app.db(|c| {
        c.query_row("SELECT response_code FROM outbox WHERE dedupe_key LIKE 'approval-card:%:1:deputy'", [], |r| {
            r.get(0)
        })
    });
    assert_eq!(updates[0].body["response_code"], deputy_code.as_str());

    let admin_card = card_of(&app, "office_admin");
    assert_eq!(tap(&app, "office_admin", &admin_card, &format!("approve:{id}:2")).await, "已通过");
    assert_eq!(state(&app, id), "confirmed");
    deliver(&app).await;
    let result = app.api.sent_to("applicant");
    assert_eq!(result.len(), 1);
    assert_eq!(result[0]["template_card"]["card_type"], "text_notice", "a formal notice");
    assert!(result[0].to_string().contains("预约审批已通过"));
    let _ = deputy_card;
    app.assert_slot_usage_agrees();
}

#[tokio::test]
async fn a_rejection_with_a_reason_tells_the_applicant_and_promotes_the_waitlist() {
    let app = spawn().await;
    let id = booking_no(&app.say("applicant", "预约 会议室 明天 第3节").await);
    app.say("waiter", "候补 会议室 明天 第3节").await;
    assert!(app.say("dept_head", "审批").await.contains(&format!("#{id}")));
    let reply = app.say("dept_head", &format!("驳回 {id} 场地已另有安排")).await;
    assert!(reply.contains("已驳回"), "{reply}");
    assert_eq!(state(&app, id), "rejected");
    deliver(&app).await;
    let notice = app.api.sent_to("applicant");
    assert!(notice[0].to_string().contains("场地已另有安排"), "{:?}", notice);
    // The waiter now holds the place, pending their own approval.
    assert_eq!(app.count("SELECT count(*) FROM bookings WHERE userid = 'waiter' AND state = 'pending'"), 1);
    assert!(app.api.sent_to("waiter").iter().any(|m| m.to_string().contains("已为你候补成功")));
    app.assert_slot_usage_agrees();
}

#[tokio::test]
async fn the_wrong_clicks_are_refused_and_change_nothing() {
    let app = spawn().await;
    let id = booking_no(&app.say("applicant", "预约 会议室 明天 第3节").await);
    deliver(&app).await;
    let card = card_of(&app, "dept_head");
    let approve = format!("approve:{id}:1");
    // Someone with a forwarded card.
    assert_eq!(tap(&app, "stranger", &card, &approve).await, "你不是审批人");
    // A level-2 approver on the level-1 card.
    assert_eq!(tap(&app, "office_admin", &card, &approve).await, "现在是第1级审批");
    assert_eq!(state(&app, id), "pending");
    // The first decision wins; the second approver of the level is told who decided.
    let msg = app.member.message("dept_head", app.now(), tap_event(&card, &approve));
    let callback = app.member.sign(&msg);
    let first = app.member.post(&callback).await;
    let replay = app.member.post(&callback).await;
    assert_eq!(first, replay, "a replayed click gets the same answer");
    app.advance(Duration::seconds(1));
    assert_eq!(tap(&app, "deputy", &card_of(&app, "deputy"), &approve).await, "已由dept_head通过");
    assert_eq!(app.count("SELECT count(*) FROM approval_decisions"), 1);
    // A cancelled request.
    let other = booking_no(&app.say("applicant2", "预约 会议室 明天 第4节").await);
    app.say("applicant2", &format!("取消 {other}")).await;
    let cancelled = tap(&app, "dept_head", &card, &format!("approve:{other}:1")).await;
    assert_eq!(cancelled, "申请人已取消");
    assert_eq!(state(&app, other), "cancelled");
}

#[tokio::test]
async fn a_spent_or_expired_response_code_falls_back_to_a_text() {
    let app = spawn().await;
    // Friday's request; the decision comes more than 72 hours after the cards went out.
    let id = booking_no(&app.say("applicant", "预约 会议室 周五 第3节").await);
    deliver(&app).await;
    app.advance(Duration::hours(73));
    app.say("dept_head", &format!("通过 {id}")).await;
    deliver(&app).await;
    assert!(app.api.calls().iter().all(|c| c.path != "message/update_template_card"));
    assert!(app.api.sent_to("deputy").iter().any(|m| m["msgtype"] == "text" && m.to_string().contains("无需再处理")));

    // WeCom refusing the code (60140) also ends in a text.
    let app = spawn().await;
    let id = booking_no(&app.say("applicant", "预约 会议室 明天 第3节").await);
    deliver(&app).await;
    app.api.inject([Fault::ErrCode(60140)]);
    app.say("dept_head", &format!("通过 {id}")).await;
    deliver(&app).await;
    assert!(app.api.sent_to("deputy").iter().any(|m| m["msgtype"] == "text" && m.to_string().contains("无需再处理")));
}

#[tokio::test]
async fn expiry_and_cancellation_update_the_approvers_cards() {
    let app = spawn().await;
    let id = booking_no(&app.say("applicant", "预约 会议室 明天 第3节").await);
    deliver(&app).await;
    let start =
        chrono::DateTime::parse_from_rfc3339("2026-11-24T10:30:00+08:00").expect("t").with_timezone(&chrono::Utc);
    app.clock.set(start);
    let schedules = staffhome::scheduler::Schedules::from_config(&app.ctx.config);
    staffhome::scheduler::run_due_jobs(&app.ctx, &schedules, start).await;
    deliver(&app).await;
    let labels: Vec<String> = app
        .api
        .calls()
        .into_iter()
        .filter(|c| c.path == "message/update_template_card")
        .map(|c| c.body["button"]["replace_name"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(labels, vec!["已过期".to_string(), "已过期".to_string()], "both level-1 cards");
    assert_eq!(state(&app, id), "expired");
    app.assert_slot_usage_agrees();
}

#[tokio::test]
async fn the_applicant_cancelling_updates_the_approvers_cards() {
    let app = spawn().await;
    let id = booking_no(&app.say("applicant", "预约 会议室 明天 第3节").await);
    deliver(&app).await;
    let cancelled = app.say("applicant", &format!("取消 {id}")).await;
    assert!(cancelled.contains("已取消"), "{cancelled}");
    deliver(&app).await;
    let updates: Vec<(String, String)> = app
        .api
        .calls()
        .into_iter()
        .filter(|c| c.path == "message/update_template_card")
        .map(|c| {
            (
                c.body["userids"][0].as_str().unwrap_or_default().to_string(),
                c.body["button"]["replace_name"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(updates.len(), 2, "both level-1 approvers' cards: {updates:?}");
    assert!(updates.iter().all(|(_, label)| label == "申请人已取消"));
}

/// No one approves their own request: an approver's own level goes to its other approvers, or,
/// when they are its only approver, to the admins, who get the card.
#[tokio::test]
async fn an_approver_cannot_approve_their_own_request() {
    let app = spawn().await;
    // dept_head shares level 1 with deputy; office_admin is level 2's only approver.
    let id = booking_no(&app.say("dept_head", "预约 会议室 明天 第3节").await);
    deliver(&app).await;
    assert!(app.api.sent_to("dept_head").iter().all(|m| m["msgtype"] != "template_card"), "no card to the applicant");
    let reply = app.say("dept_head", &format!("通过 {id}")).await;
    assert!(reply.contains("不能审批自己的申请"), "{reply}");
    let card = card_of(&app, "deputy");
    assert_eq!(tap(&app, "deputy", &card, &format!("approve:{id}:1")).await, "已通过");
    deliver(&app).await;
    assert!(app.api.sent_to("office_admin").iter().any(|m| m["msgtype"] == "template_card"));

    // office_admin's own request: level 2's only approver is the applicant, so the admins decide.
    let own = booking_no(&app.say("office_admin", "预约 会议室 明天 第4节").await);
    deliver(&app).await;
    let level_1 = card_of(&app, "dept_head");
    assert_eq!(tap(&app, "dept_head", &level_1, &format!("approve:{own}:1")).await, "已通过");
    deliver(&app).await;
    let sent = app.api.sent_to("office_admin");
    assert!(
        !sent.iter().any(|m| m["template_card"]["main_title"]["desc"].as_str().is_some_and(|d| d.contains("第4节"))
            || m["template_card"]["button_list"][0]["key"] == format!("approve:{own}:2")),
        "no card for their own level"
    );
    let card = card_of(&app, "admin1");
    assert_eq!(card["template_card"]["button_list"][0]["key"], format!("approve:{own}:2"));
    let clicked = app.send("office_admin", tap_event(&card, &format!("approve:{own}:2"))).await;
    assert!(clicked.text().contains("不能审批自己的申请"), "{clicked:?}");
    assert!(app.say("admin1", "审批").await.contains(&format!("#{own}")));
    assert_eq!(tap(&app, "admin1", &card, &format!("approve:{own}:2")).await, "已通过");
    assert_eq!(state(&app, own), "confirmed");
}
