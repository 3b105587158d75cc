//! The member's page, `/m`: signed in through the stand-in's OAuth, a member books by tapping
//! (a confirm step, then a form POST), queues for a full slot, cancels; every POST needs the
//! session's form token, and a member acts only on their own bookings.

use crate::common::{cookie_pair, location, TestApp, WECOM_BROWSER};
use reqwest::redirect::Policy;
use reqwest::StatusCode;

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(Policy::none()).build().expect("client")
}

/// A member's browser: their session cookie and the page's form token.
struct Member<'a> {
    app: &'a TestApp,
    session: String,
}

impl<'a> Member<'a> {
    async fn sign_in(app: &'a TestApp, user: &str) -> Member<'a> {
        Member { app, session: app.sign_in("/m", user).await }
    }

    async fn get(&self, path: &str, extra_cookie: Option<&str>) -> (StatusCode, String) {
        let cookie = match extra_cookie {
            Some(extra) => format!("{}; {extra}", self.session),
            None => self.session.clone(),
        };
        let response = client().get(self.app.url(path)).header("Cookie", cookie).send().await.expect("get");
        (response.status(), response.text().await.expect("body"))
    }

    fn csrf(page: &str) -> String {
        let at = page.find("name=\"csrf\" value=\"").expect("a form token") + "name=\"csrf\" value=\"".len();
        page[at..at + 32].to_string()
    }

    /// POST a form the page would send; the page it leads back to (with what happened).
    async fn post(&self, action: &str, fields: &[(&str, String)]) -> (StatusCode, String) {
        let response = client()
            .post(self.app.url(action))
            .header("Cookie", &self.session)
            .form(fields)
            .send()
            .await
            .expect("post");
        let status = response.status();
        if status != StatusCode::SEE_OTHER {
            return (status, response.text().await.expect("body"));
        }
        let back = location(&response);
        let flash = cookie_pair(&response, "staffhome_flash").expect("what happened");
        let (_, page) = self.get(&back, Some(&flash)).await;
        (status, page)
    }

    /// The form token, as a confirm step's form carries it.
    async fn token(&self) -> String {
        Member::csrf(&self.get("/m/slot?facility=gym&date=2026-11-24&slot=10", None).await.1)
    }
}

fn slot_form(token: &str, facility: &str, date: &str, slot: u32) -> Vec<(&'static str, String)> {
    vec![("csrf", token.to_string()), ("facility", facility.into()), ("date", date.into()), ("slot", slot.to_string())]
}

#[tokio::test]
async fn outside_wecom_without_a_session_the_page_says_where_to_open_it() {
    let app = TestApp::spawn().await;
    let response = client().get(app.url("/m")).send().await.expect("get");
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(response.text().await.expect("text").contains("企业微信"));
    let inside = client().get(app.url("/m")).header("User-Agent", WECOM_BROWSER).send().await.expect("get");
    assert_eq!(inside.status(), StatusCode::FOUND, "inside WeCom: off to sign in");
    // Asked for outright (the demo's browser): off to sign in too.
    let asked = client().get(app.url("/m?signin=1")).send().await.expect("get");
    assert_eq!(asked.status(), StatusCode::FOUND);
    assert!(location(&asked).starts_with(&format!("{}/connect/oauth2/authorize", app.api.base_url())));
}

#[tokio::test]
async fn a_member_books_by_tapping_a_slot_and_its_confirm_step() {
    let app = TestApp::spawn().await;
    let a = Member::sign_in(&app, "a").await;
    let (status, page) = a.get("/m?facility=gym", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("暂无预约") && page.contains("健身房"));
    // (The page escapes `/` and `&` in attributes; a browser reads them back.)
    let link = "&#x2f;m&#x2f;slot?facility=gym&amp;date=2026-11-24&amp;slot=10";
    assert!(page.contains(link), "a free cell is a link to its confirm step");
    let (_, confirm) = a.get("/m/slot?facility=gym&date=2026-11-24&slot=10", None).await;
    assert!(confirm.contains("健身房 11月24日 周二 18:30-19:30") && confirm.contains("确认预约"), "{confirm}");
    let token = Member::csrf(&confirm);
    let (status, page) = a.post("/m/book", &slot_form(&token, "gym", "2026-11-24", 10)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(page.contains("预约成功"), "what happened is shown: {page}");
    assert!(page.contains("data-booking=\"1\"") && page.contains("取消预约"), "in 我的");
    assert_eq!(app.count("SELECT count(*) FROM bookings WHERE userid = 'a' AND slot = 10"), 1);
    // The same pass message as typing 预约 would queue.
    let queued = app.db(|c| staffhome::outbox::queued_for(c, "a"));
    assert!(queued.iter().any(|m| m.dedupe_key == "pass:1"));
    // Sent twice (a double tap): booked once, the second told so.
    let (_, again) = a.post("/m/book", &slot_form(&token, "gym", "2026-11-24", 10)).await;
    assert!(again.contains("已预约"), "{again}");
    assert_eq!(app.count("SELECT count(*) FROM bookings WHERE userid = 'a'"), 1);
    // Cancelled from the page.
    let (_, page) = a.post("/m/cancel", &[("csrf", token.clone()), ("booking", "1".into())]).await;
    assert!(page.contains("已取消"), "{page}");
    assert_eq!(app.count("SELECT state = 'cancelled' FROM bookings WHERE id = 1"), 1);
}

#[tokio::test]
async fn a_post_without_the_sessions_form_token_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let a = Member::sign_in(&app, "a").await;
    let b = Member::sign_in(&app, "b").await;
    let bs_token = b.token().await;
    for token in ["".to_string(), "0".repeat(32), bs_token] {
        let (status, body) = a.post("/m/book", &slot_form(&token, "gym", "2026-11-24", 10)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "token {token:?}");
        assert!(body.contains("令牌"), "{body}");
    }
    let no_field = vec![("facility", "gym".to_string()), ("date", "2026-11-24".into()), ("slot", "10".into())];
    assert_eq!(a.post("/m/book", &no_field).await.0, StatusCode::FORBIDDEN);
    // No session at all.
    let anonymous = client().post(app.url("/m/book")).form(&slot_form("x", "gym", "2026-11-24", 10)).send().await;
    assert_eq!(anonymous.expect("post").status(), StatusCode::FORBIDDEN);
    assert_eq!(app.count("SELECT count(*) FROM bookings"), 0);
}

#[tokio::test]
async fn another_members_booking_cannot_be_cancelled_from_the_page() {
    let app = TestApp::spawn().await;
    let id = crate::common::booking_no(&app.say("a", "预约 健身房 明天 18:30").await);
    let b = Member::sign_in(&app, "b").await;
    let token = b.token().await;
    let (_, page) = b.post("/m/cancel", &[("csrf", token), ("booking", id.to_string())]).await;
    assert!(!page.contains("已取消"), "{page}");
    assert_eq!(app.count(&format!("SELECT state = 'confirmed' FROM bookings WHERE id = {id}")), 1);
    // And it is not shown to b.
    assert!(!b.get("/m", None).await.1.contains(&format!("data-booking=\"{id}\"")));
}

#[tokio::test]
async fn a_full_slot_offers_the_waitlist_and_a_place_in_it_can_be_left() {
    let app = TestApp::spawn().await;
    assert!(app.say("x", "预约 跑步机 明天 18:30").await.contains("预约成功"));
    let a = Member::sign_in(&app, "a").await;
    let (_, page) = a.get("/m?facility=treadmill", None).await;
    assert!(page.contains("data-status=\"full\""));
    let (_, confirm) = a.get("/m/slot?facility=treadmill&date=2026-11-24&slot=10", None).await;
    assert!(confirm.contains("已约满") && confirm.contains("排候补"), "{confirm}");
    let token = Member::csrf(&confirm);
    let (_, page) = a.post("/m/waitlist", &slot_form(&token, "treadmill", "2026-11-24", 10)).await;
    assert!(page.contains("第1位") && page.contains("退出候补"), "{page}");
    let (_, page) = a.post("/m/unwait", &slot_form(&token, "treadmill", "2026-11-24", 10)).await;
    assert!(page.contains("已退出"), "{page}");
    assert_eq!(app.count("SELECT count(*) FROM waitlist WHERE state = 'waiting'"), 0);
    // The chat command is the same operation.
    assert!(app.say("a", "候补 跑步机 明天 18:30").await.contains("第 1 位"));
    assert!(app.say("a", "取消候补 跑步机 明天 18:30").await.contains("已退出"));
    assert!(app.say("a", "退出候补 跑步机 明天 18:30").await.contains("没有在候补"));
}

#[tokio::test]
async fn a_place_offered_from_the_waitlist_is_taken_on_the_page() {
    let app = TestApp::spawn().await;
    // The clock starts on Monday 10:00: a place freed for 12:00 is offered, not given.
    let id = crate::common::booking_no(&app.say("x", "预约 跑步机 今天 12:00").await);
    app.say("a", "候补 跑步机 今天 12:00").await;
    app.say("x", &format!("取消 {id}")).await;
    let a = Member::sign_in(&app, "a").await;
    let (_, page) = a.get("/m", None).await;
    assert!(page.contains("名额为你保留中") && page.contains("/m/accept_offer"), "{page}");
    let token = Member::csrf(&page);
    let entry: i64 = app.db(|c| c.query_row("SELECT id FROM waitlist WHERE userid = 'a'", [], |r| r.get(0)));
    let (_, page) = a.post("/m/accept_offer", &[("csrf", token), ("booking", entry.to_string())]).await;
    assert!(page.contains("已接受"), "{page}");
    assert_eq!(app.count("SELECT count(*) FROM bookings WHERE userid = 'a' AND state = 'confirmed'"), 1);
}

/// Next week on the page: shown as 未开放 (no cell to tap) until it is published; then tapped
/// and booked as this week's, and the page comes back to next week.
#[tokio::test]
async fn next_week_is_shown_unopened_until_published_then_booked_by_tapping() {
    let app = TestApp::spawn().await;
    let a = Member::sign_in(&app, "a").await;
    let (_, this_week) = a.get("/m?facility=gym", None).await;
    assert!(this_week.contains("week=next") && this_week.contains("下周"), "a way to next week");
    let (status, page) = a.get("/m?facility=gym&week=next", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("下周 11月30日 周一 至 12月6日 周日") && page.contains("id=\"unopened\""), "{page}");
    assert!(page.contains("未开放") && !page.contains("date=2026-12-01"), "nothing to tap: {page}");
    let (_, confirm) = a.get("/m/slot?facility=gym&date=2026-12-01&slot=10", None).await;
    assert!(confirm.contains("这一周还没开放预约") && !confirm.contains("确认预约"), "{confirm}");

    assert!(app.say("admin1", "发布 下周").await.contains("已开放"));
    let (_, page) = a.get("/m?facility=gym&week=next", None).await;
    assert!(!page.contains("id=\"unopened\""), "{page}");
    assert!(page.contains("&#x2f;m&#x2f;slot?facility=gym&amp;date=2026-12-01&amp;slot=10"), "{page}");
    let (_, confirm) = a.get("/m/slot?facility=gym&date=2026-12-01&slot=10", None).await;
    assert!(confirm.contains("确认预约") && confirm.contains("week=next"), "back goes to next week: {confirm}");
    let (status, page) = a.post("/m/book", &slot_form(&Member::csrf(&confirm), "gym", "2026-12-01", 10)).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(page.contains("预约成功") && page.contains("下周 11月30日"), "back on next week: {page}");
    assert_eq!(app.count("SELECT count(*) FROM bookings WHERE userid = 'a' AND date = '2026-12-01'"), 1);

    // Sunday evening, this week's last slot begun: the page opens on next week (this week's
    // still a tap away).
    let sunday_evening = chrono::DateTime::parse_from_rfc3339("2026-11-29T19:40:00+08:00").unwrap();
    app.clock.set(sunday_evening.with_timezone(&chrono::Utc));
    let a = Member::sign_in(&app, "a").await;
    let (_, page) = a.get("/m?facility=gym", None).await;
    assert!(page.contains("下周 11月30日"), "{page}");
    let (_, page) = a.get("/m?facility=gym&week=this", None).await;
    assert!(page.contains("本周 11月23日"), "{page}");
}

/// A partner's place not yet answered asks 接受 / 拒绝 on the page (not 取消预约), as its card
/// does; answered there as by chat.
#[tokio::test]
async fn a_partners_invitation_is_answered_on_the_page() {
    let app = TestApp::spawn().await;
    app.say("lisi", "你好").await;
    app.say("a", "预约 健身房 明天 18:30 和 lisi").await;
    let lisi = Member::sign_in(&app, "lisi").await;
    let (_, page) = lisi.get("/m", None).await;
    assert!(page.contains("a 约你同去") && page.contains("id=\"accept-2\""), "{page}");
    assert!(!page.contains("id=\"cancel-2\""), "not before answering: {page}");
    let token = Member::csrf(&page);
    let (_, page) = lisi.post("/m/accept_invitation", &[("csrf", token.clone()), ("booking", "2".into())]).await;
    assert!(page.contains("已接受") && page.contains("id=\"cancel-2\""), "{page}");
    assert_eq!(app.count("SELECT count(*) FROM bookings WHERE id = 2 AND partner_state = 'accepted'"), 1);

    // Another invitation, declined from the page: the place is freed.
    app.say("a", "预约 健身房 后天 18:30 和 lisi").await;
    let (_, page) = lisi.get("/m", None).await;
    let id = app.count("SELECT max(id) FROM bookings WHERE userid = 'lisi'");
    assert!(page.contains(&format!("id=\"decline-{id}\"")), "{page}");
    let (_, page) = lisi.post("/m/decline_invitation", &[("csrf", token), ("booking", id.to_string())]).await;
    assert!(page.contains("已拒绝"), "{page}");
    assert_eq!(app.count(&format!("SELECT count(*) FROM bookings WHERE id = {id} AND state = 'cancelled'")), 1);
}

/// 改约 by tapping: 改约 on a booking, a new cell, its confirm step, then the move, done as
/// typed (a new number, the old place freed); the same slot, a full one, or another member's
/// booking is not offered, and a move without the form token changes nothing.
#[tokio::test]
async fn a_booking_is_moved_by_tapping_a_new_slot() {
    let app = TestApp::spawn().await;
    let id = crate::common::booking_no(&app.say("a", "预约 跑步机 明天 18:30").await);
    app.say("c", "预约 跑步机 明天 17:30").await; // 17:30 full (one place)
    let a = Member::sign_in(&app, "a").await;
    let (_, page) = a.get("/m", None).await;
    let link = format!("/m?facility=treadmill&amp;week=this&amp;moving={id}");
    assert!(page.contains(&format!("id=\"move-{id}\"")) && page.contains(&link), "{page}");
    let (_, moving) = a.get(&link.replace("&amp;", "&"), None).await;
    assert!(moving.contains("id=\"moving\"") && moving.contains(&format!("#{id}</b>")), "{moving}");
    let cell = format!("slot?facility=treadmill&amp;date=2026-11-24&amp;slot=11&amp;moving={id}");
    assert!(moving.replace("&#x2f;", "/").contains(&cell), "the cells carry the move: {moving}");
    let own = format!("slot?facility=treadmill&amp;date=2026-11-24&amp;slot=10&amp;moving={id}");
    assert!(moving.contains("原时段") && !moving.replace("&#x2f;", "/").contains(&own), "its own cell: {moving}");

    let confirm_at = |slot: u32| format!("/m/slot?facility=treadmill&date=2026-11-24&slot={slot}&moving={id}");
    assert!(a.get(&confirm_at(10), None).await.1.contains("这就是"), "its own slot");
    assert!(a.get(&confirm_at(9), None).await.1.contains("不能改到这里"), "a full slot");
    let (_, confirm) = a.get(&confirm_at(11), None).await;
    assert!(confirm.contains("id=\"move\"") && confirm.contains("改到这里"), "{confirm}");
    let token = Member::csrf(&confirm);
    let form =
        |token: &str| [slot_form(token, "treadmill", "2026-11-24", 11), vec![("booking", id.to_string())]].concat();

    let (status, _) = a.post("/m/move", &form("0123456789abcdef0123456789abcdef")).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let b = Member::sign_in(&app, "b").await;
    let (_, refused) = b.post("/m/move", &form(&b.token().await)).await;
    assert!(!refused.contains("已改约"), "{refused}");
    assert!(!b.get(&confirm_at(11), None).await.1.contains("id=\"move\""), "not offered to b");
    let (_, elsewhere) = b.get(&format!("/m?facility=treadmill&moving={id}"), None).await;
    assert!(!elsewhere.contains("id=\"moving\"") && !elsewhere.contains("moving="), "{elsewhere}");
    assert_eq!(app.count(&format!("SELECT state = 'confirmed' FROM bookings WHERE id = {id}")), 1);

    let (_, page) = a.post("/m/move", &form(&token)).await;
    assert!(page.contains("已改约") && page.contains("19:30-20:30"), "{page}");
    assert_eq!(app.count(&format!("SELECT state = 'cancelled' FROM bookings WHERE id = {id}")), 1);
    assert_eq!(app.count("SELECT count(*) FROM bookings WHERE userid = 'a' AND slot = 11 AND state = 'confirmed'"), 1);
}

/// An address or a form whose fields do not parse is answered in words, not the parser's.
#[tokio::test]
async fn a_broken_link_or_form_is_answered_in_words() {
    let app = TestApp::spawn().await;
    let a = Member::sign_in(&app, "a").await;
    for path in ["/m?moving=abc", "/m/slot?facility=gym&date=2026-11-24&slot=x"] {
        let (status, body) = a.get(path, None).await;
        assert_eq!((status, body.as_str()), (StatusCode::BAD_REQUEST, "链接有误，请从应用里重新打开页面。\n"));
    }
    let (status, body) = a.post("/m/book", &[("csrf", a.token().await), ("slot", "x".into())]).await;
    assert_eq!((status, body.as_str()), (StatusCode::BAD_REQUEST, "表单有误，请返回页面重试。\n"));
    assert_eq!(app.count("SELECT count(*) FROM bookings"), 0);
}
