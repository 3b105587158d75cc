//! Partners: a booking for the booker and each partner, all or none; partners answer by card or
//! by chat; a refusal frees the place and tells the booker; the booker's cancellation cancels
//! and tells the partners; the places count against the booker's quota.

use crate::common::{booking_no, tap, TestApp};
use serde_json::Value;

fn live(app: &TestApp, user: &str) -> i64 {
    app.count(&format!("SELECT count(*) FROM bookings WHERE userid = '{user}' AND state IN ('pending', 'confirmed')"))
}

fn texts(app: &TestApp, user: &str) -> Vec<String> {
    app.db(|c| staffhome::outbox::queued_for(c, user))
        .into_iter()
        .filter_map(|m| m.body["text"]["content"].as_str().map(str::to_string))
        .collect()
}

fn invitation(app: &TestApp, user: &str) -> Value {
    app.db(|c| staffhome::outbox::queued_for(c, user))
        .into_iter()
        .map(|m| m.body)
        .find(|b| b["template_card"]["main_title"]["title"].as_str().is_some_and(|t| t.contains("约你一起去")))
        .expect("an invitation card")
}

/// The newest card 我的 sent `user` for booking `id`.
fn mine_card(app: &TestApp, user: &str, id: i64) -> Value {
    let title = format!("#{id} ");
    app.db(|c| staffhome::outbox::queued_for(c, user))
        .into_iter()
        .map(|m| m.body)
        .rfind(|b| b["template_card"]["main_title"]["title"].as_str().is_some_and(|t| t.starts_with(&title)))
        .expect("我的's card")
}

fn keys(card: &Value) -> Vec<String> {
    let buttons = card["template_card"]["button_list"].as_array().cloned().unwrap_or_default();
    buttons.iter().filter_map(|b| b["key"].as_str().map(str::to_string)).collect()
}

/// Members the service knows (they have written to it before).
async fn known(app: &TestApp, users: &[&str]) {
    for user in users {
        app.say(user, "帮助").await;
    }
}

#[tokio::test]
async fn partners_get_places_and_cards_and_the_places_count_for_the_booker() {
    let app = TestApp::spawn().await;
    known(&app, &["LiSi", "wangwu"]).await;
    let reply = app.say("a", "预约 健身房 明天 18:30 和 LiSi wangwu").await;
    assert!(reply.contains("预约成功") && reply.contains("同伴：LiSi、wangwu"), "{reply}");
    assert_eq!((live(&app, "a"), live(&app, "LiSi"), live(&app, "wangwu")), (1, 1, 1), "ids kept as typed");
    invitation(&app, "LiSi");
    assert!(app.say("LiSi", "我的").await.contains("a 约你同去"), "the partner sees it");
    // 我的's card of the place asks what the invitation asks (not 确认参加 before 接受).
    let mine = mine_card(&app, "LiSi", 2);
    assert_eq!(keys(&mine), ["partner_accept:2", "partner_decline:2"]);
    assert_eq!(tap(&app, "LiSi", &mine, "partner_accept:2").await, "已接受");
    app.say("LiSi", "我的").await;
    assert_eq!(keys(&mine_card(&app, "LiSi", 2)).last().map(String::as_str), Some("cancel:2"), "accepted: her place");
    assert!(texts(&app, "a").iter().any(|t| t.contains("LiSi 接受了你的邀请")));

    // a holds 3 places of a quota of 4: one more, not two.
    assert!(app.say("a", "预约 健身房 后天 18:30").await.contains("预约成功"));
    assert!(app.say("a", "预约 健身房 后天 19:30").await.contains("4"), "over the limit");
    assert_eq!(live(&app, "a"), 2);
    // LiSi's own quota is untouched by the place a booked for her.
    for time in ["8:30", "9:30", "10:30", "12:00"] {
        assert!(app.say("LiSi", &format!("预约 健身房 后天 {time}")).await.contains("预约成功"));
    }
}

#[tokio::test]
async fn all_or_none_and_only_known_members() {
    let app = TestApp::spawn().await;
    known(&app, &["lisi", "wangwu"]).await;
    app.say("c", "预约 乒乓球 明天 18:30").await;
    // 乒乓球 has 2 places, one taken: three people do not fit.
    let reply = app.say("a", "预约 乒乓球 明天 18:30 和 lisi wangwu").await;
    assert!(reply.contains("没有为任何人预约"), "{reply}");
    assert_eq!(live(&app, "a") + live(&app, "lisi") + live(&app, "wangwu"), 0);
    let reply = app.say("a", "预约 健身房 明天 18:30 和 nobody").await;
    assert!(reply.contains("找不到同伴「nobody」") && reply.contains("先给「职工之家」发一句「你好」"), "{reply}");
    assert_eq!(live(&app, "a"), 0);
    // Once they have said hello, they can be booked with.
    assert!(app.say("nobody", "你好").await.contains("欢迎使用"));
    assert!(app.say("a", "预约 健身房 明天 18:30 和 nobody").await.contains("预约成功"));
    app.assert_slot_usage_agrees();
}

#[tokio::test]
async fn a_refusal_frees_the_place_for_the_waitlist_and_tells_the_booker() {
    let app = TestApp::spawn().await;
    known(&app, &["lisi"]).await;
    booking_no(&app.say("a", "预约 乒乓球 明天 18:30 和 lisi").await);
    assert!(app.say("w", "候补 乒乓球 明天 18:30").await.contains("第 1 位"));
    let reply = app.say("lisi", "拒绝").await;
    assert!(reply.contains("已拒绝"), "{reply}");
    assert_eq!((live(&app, "lisi"), live(&app, "w")), (0, 1), "the waiter got the place");
    assert!(texts(&app, "a").iter().any(|t| t.contains("lisi 不能来了")));
    app.assert_slot_usage_agrees();
}

#[tokio::test]
async fn the_bookers_cancellation_cancels_and_tells_the_partners() {
    let app = TestApp::spawn().await;
    known(&app, &["lisi"]).await;
    let id = booking_no(&app.say("a", "预约 健身房 明天 18:30 和 lisi").await);
    assert!(app.say("a", &format!("取消 {id}")).await.contains("已取消"));
    assert_eq!(live(&app, "lisi"), 0);
    assert!(texts(&app, "lisi").iter().any(|t| t.contains("a 取消了") && t.contains("一并取消")));
    assert!(!texts(&app, "lisi").iter().any(|t| t.contains("管理员")), "not told as an admin's cancellation");
    app.assert_slot_usage_agrees();
}

#[tokio::test]
async fn two_refusals_and_the_bookers_cancellation_at_once_leave_everything_consistent() {
    let app = TestApp::spawn().await;
    known(&app, &["lisi", "wangwu"]).await;
    let id = booking_no(&app.say("a", "预约 健身房 明天 18:30 和 lisi wangwu").await);
    let cancel = format!("取消 {id}");
    let (l, w, a) = tokio::join!(app.say("lisi", "拒绝"), app.say("wangwu", "拒绝"), app.say("a", &cancel));
    assert!(a.contains("已取消"), "{a}");
    for reply in [l, w] {
        assert!(reply.contains("已拒绝") || reply.contains("没有待回复的同伴邀请"), "{reply}");
    }
    assert_eq!(live(&app, "a") + live(&app, "lisi") + live(&app, "wangwu"), 0);
    app.assert_slot_usage_agrees();
}

/// The partners' places with `userid`'s live bookings: (slot, booked_by, partner_state).
fn places(app: &TestApp, user: &str) -> Vec<(i64, Option<String>, Option<String>)> {
    let sql = format!(
        "SELECT slot, booked_by, partner_state FROM bookings WHERE userid = '{user}' AND state IN ('pending', 'confirmed')"
    );
    app.db(move |c| {
        let mut stmt = c.prepare(&sql)?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        rows.collect::<rusqlite::Result<Vec<_>>>()
    })
}

#[tokio::test]
async fn a_move_takes_the_partners_along_or_leaves_everyone_where_they_were() {
    let app = TestApp::spawn().await;
    known(&app, &["lisi", "wangwu"]).await;
    let id = booking_no(&app.say("a", "预约 健身房 明天 18:30 和 lisi wangwu").await);
    assert!(app.say("lisi", "接受").await.contains("已接受"));
    // 健身房 has 10 places: with 8 taken at 19:30, three people do not fit, and nobody moves.
    for n in 1..=8 {
        assert!(app.say(&format!("f{n}"), "预约 健身房 明天 19:30").await.contains("预约成功"));
    }
    let reply = app.say("a", &format!("改约 {id} 明天 19:30")).await;
    assert!(reply.contains("都保留") && reply.contains("不够 3 人"), "{reply}");
    assert_eq!(places(&app, "lisi"), [(10, Some("a".into()), Some("accepted".into()))]);

    // With one place given back, the three of them move to 19:30 together.
    assert!(app.say("f1", "取消 4").await.contains("已取消"));
    let reply = app.say("a", &format!("改约 {id} 明天 19:30")).await;
    assert!(reply.contains("已改约") && reply.contains("同伴 lisi、wangwu 的名额也一起改了"), "{reply}");
    assert_eq!(places(&app, "a"), [(11, None, None)]);
    assert_eq!(places(&app, "lisi"), [(11, Some("a".into()), Some("accepted".into()))], "her answer kept");
    assert_eq!(places(&app, "wangwu"), [(11, Some("a".into()), Some("invited".into()))], "his still to give");
    let told = texts(&app, "lisi");
    assert!(told.iter().any(|t| t.contains("a 把") && t.contains("改到了")), "{told:?}");
    assert!(!told.iter().any(|t| t.contains("一并取消")), "not told her place was cancelled: {told:?}");
    // wangwu is asked again, for the new time.
    let asked = app.db(|c| staffhome::outbox::queued_for(c, "wangwu"));
    let cards: Vec<&Value> = asked.iter().map(|m| &m.body).filter(|b| b["msgtype"] == "template_card").collect();
    assert!(cards.last().is_some_and(|c| c.to_string().contains("19:30")), "{cards:?}");
    // Her old number leads to her new place.
    let old = app.count("SELECT id FROM bookings WHERE userid = 'lisi' AND state = 'cancelled'");
    let new = app.count("SELECT id FROM bookings WHERE userid = 'lisi' AND state = 'confirmed'");
    let reply = app.say("lisi", &format!("取消 {old}")).await;
    assert!(reply.contains(&format!("已改约为 #{new}")), "{reply}");
    app.assert_slot_usage_agrees();
}
