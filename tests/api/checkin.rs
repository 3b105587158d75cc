//! Check-in by scan and by 签到, the booking pass page, and forgiving strikes.

use crate::common::{booking_no, TestApp};
use chrono::{DateTime, Duration, Utc};
use staffhome::wecom::sim::SimReply;
use staffhome::wecom::Inbound;

fn at(time: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&format!("2026-11-23T{time}:00+08:00")).expect("time").with_timezone(&Utc)
}

fn scan_wait(result: &str) -> Inbound {
    Inbound::ScanCodeWaitMsg { key: "scan".into(), scan_type: "qrcode".into(), scan_result: result.into() }
}

async fn scan(app: &TestApp, user: &str, result: &str) -> String {
    match app.send(user, scan_wait(result)).await {
        SimReply::Message(m) => m.content,
        other => panic!("no reply to a scan: {other:?}"),
    }
}

fn state(app: &TestApp, id: i64) -> String {
    app.db(|c| c.query_row("SELECT state FROM bookings WHERE id = ?1", [id], |r| r.get(0)))
}

#[tokio::test]
async fn scanning_the_door_code_in_the_window_checks_in() {
    let app = TestApp::spawn().await;
    let id = booking_no(&app.say("a", "预约 健身房 今天 18:30").await);
    app.clock.set(at("18:20"));
    let reply = scan(&app, "a", "gym").await;
    assert!(reply.contains("签到成功"), "{reply}");
    assert_eq!(state(&app, id), "checked_in");
    let checked_at: i64 =
        app.db(|c| c.query_row("SELECT checked_in_at FROM bookings WHERE id = ?1", [id], |r| r.get(0)));
    assert_eq!(checked_at, at("18:20").timestamp());
    // The no-show job leaves it alone.
    let schedules = staffhome::scheduler::Schedules::from_config(&app.ctx.config);
    let report = staffhome::scheduler::run_due_jobs(&app.ctx, &schedules, at("19:00")).await;
    assert_eq!(report.no_shows.marked, 0);
    assert_eq!(state(&app, id), "checked_in");
    app.assert_slot_usage_agrees();
}

#[tokio::test]
async fn a_url_ending_with_the_code_also_works_and_scancode_push_answers_by_message() {
    let app = TestApp::spawn().await;
    let id = booking_no(&app.say("a", "预约 乒乓球 今天 18:30").await);
    app.clock.set(at("18:31"));
    let push = Inbound::ScanCodePush {
        key: "scan".into(),
        scan_type: "qrcode".into(),
        scan_result: "https://staffhome.example.com/checkin/pingpong".into(),
    };
    assert_eq!(app.send("a", push).await, SimReply::Empty);
    assert_eq!(state(&app, id), "checked_in");
    let queued = app.db(|c| staffhome::outbox::queued_for(c, "a"));
    assert!(queued.iter().any(|m| m.body.to_string().contains("签到成功")));
}

#[tokio::test]
async fn each_wrong_check_in_gets_its_own_answer_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let id = booking_no(&app.say("a", "预约 健身房 今天 18:30").await);
    let other = booking_no(&app.say("b", "预约 健身房 今天 18:30").await);
    // Too early.
    app.clock.set(at("18:00"));
    let early = app.say("a", "签到").await;
    assert!(early.contains("还没到签到时间") && early.contains("18:15"), "{early}");
    // Wrong facility: no booking there, and that facility's free slots today.
    app.clock.set(at("18:20"));
    let wrong = scan(&app, "a", "pingpong").await;
    assert!(wrong.contains("今天在乒乓球没有可签到的预约") && wrong.contains("第11节"), "{wrong}");
    // A code that is no facility's.
    assert!(scan(&app, "a", "http://evil.example/xyz").await.contains("没认出这个二维码"));
    // Someone else's booking number.
    let theirs = app.say("a", &format!("签到 {other}")).await;
    assert!(theirs.contains("不是你的"), "{theirs}");
    // Nobody's booking.
    let none = app.say("c", "签到").await;
    assert!(none.contains("没有可签到的预约"), "{none}");
    // A number that is no booking.
    assert_eq!(app.say("a", "签到 99").await, "没有找到预约 #99。查看你的预约：我的");
    assert_eq!(state(&app, id), "confirmed");
    assert_eq!(state(&app, other), "confirmed");
    // Too late.
    app.clock.set(at("18:46"));
    let late = app.say("a", &format!("签到 {id}")).await;
    assert!(late.contains("签到时间已过"), "{late}");
    assert_eq!(state(&app, id), "confirmed");
}

#[tokio::test]
async fn a_duplicate_scan_event_checks_in_once() {
    let app = TestApp::spawn().await;
    app.say("a", "预约 健身房 今天 18:30").await;
    app.clock.set(at("18:20"));
    let msg = app.member.message("a", app.now(), scan_wait("gym"));
    let callback = app.member.sign(&msg);
    let first = app.member.post(&callback).await;
    assert_eq!(first, app.member.post(&callback).await);
    assert!(first.text().contains("签到成功"));
    app.advance(Duration::seconds(5));
    assert!(scan(&app, "a", "gym").await.contains("已签到过了"));
    assert_eq!(app.count("SELECT count(*) FROM bookings WHERE state = 'checked_in'"), 1);
}

#[tokio::test]
async fn the_pass_page_shows_the_facts_and_a_qr_code_that_decodes() {
    let app = TestApp::spawn().await;
    let id = booking_no(&app.say("a", "预约 健身房 明天 18:30").await);
    let token: String = app.db(|c| c.query_row("SELECT pass_token FROM bookings WHERE id = ?1", [id], |r| r.get(0)));
    let response = reqwest::get(app.url(&format!("/pass/{token}"))).await.expect("pass");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    assert!(response.headers()["content-security-policy"].to_str().unwrap_or_default().contains("frame-ancestors"));
    let html = response.text().await.expect("html");
    let code: String = app.db(|c| c.query_row("SELECT checkin_code FROM bookings WHERE id = ?1", [id], |r| r.get(0)));
    for fact in ["健身房", "11月24日 周二", "18:30-19:30", &format!("#{id}"), &code, "<svg"] {
        assert!(html.contains(fact), "missing {fact}");
    }
    // The QR code on the page holds the pass URL.
    let url = app.url(&format!("/pass/{token}"));
    assert_eq!(decode_qr(&url), url);
    // Unknown tokens are not found.
    for bad in ["0123456789abcdef0123456789abcdef", "short", "../../etc/passwd"] {
        let status = reqwest::get(app.url(&format!("/pass/{bad}"))).await.expect("get").status();
        assert_eq!(status, 404, "{bad}");
    }
}

/// Draw the QR modules we render into a greyscale image and decode it with rqrr.
fn decode_qr(text: &str) -> String {
    let (width, dark) = staffhome::qr::modules(text).expect("encodes");
    let (scale, quiet) = (4, 4);
    let side = (width + 2 * quiet) * scale;
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(side, side, |x, y| {
        let (mx, my) = ((x / scale) as isize - quiet as isize, (y / scale) as isize - quiet as isize);
        let inside = mx >= 0 && my >= 0 && (mx as usize) < width && (my as usize) < width;
        if inside && dark[my as usize * width + mx as usize] {
            0
        } else {
            255
        }
    });
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1);
    grids[0].decode().expect("decodes").1
}

#[tokio::test]
async fn an_admin_forgives_a_strike_and_the_suspension_lifts() {
    let app = TestApp::spawn().await;
    for time in ["8:30", "9:30", "10:30"] {
        app.say("a", &format!("预约 健身房 明天 {time}")).await;
    }
    let after = DateTime::parse_from_rfc3339("2026-11-24T10:50:00+08:00").expect("t").with_timezone(&Utc);
    app.clock.set(after);
    let schedules = staffhome::scheduler::Schedules::from_config(&app.ctx.config);
    staffhome::scheduler::run_due_jobs(&app.ctx, &schedules, after).await;
    assert!(app.say("a", "预约 健身房 后天 18:30").await.contains("暂停至"));
    assert!(app.say("b", "免责 a").await.contains("只有管理员"));
    let forgiven = app.say("admin1", "免责 a").await;
    assert!(forgiven.contains("已免除 a 的一次未到场记录，现有 2 次"), "{forgiven}");
    assert!(app.say("a", "预约 健身房 后天 18:30").await.contains("预约成功"));
    assert_eq!(app.count("SELECT count(*) FROM strikes WHERE forgiven_by = 'admin1'"), 1);
}

#[tokio::test]
async fn inside_wecom_a_pass_opens_only_for_its_owner_or_an_admin() {
    let app = TestApp::spawn().await;
    let id = booking_no(&app.say("a", "预约 健身房 明天 18:30").await);
    let token: String = app.db(|c| c.query_row("SELECT pass_token FROM bookings WHERE id = ?1", [id], |r| r.get(0)));
    let client = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let page = format!("/pass/{token}");
    let url = app.url(&page);
    // Opened in WeCom without a session: sent through OAuth, back to the pass.
    let first = client.get(&url).header("User-Agent", "wxwork/4.1").send().await.expect("get");
    assert_eq!(first.status(), 302);
    let back_to = format!("redirect_uri={}", staffhome::wecom::url::urlencode(&url));
    assert!(first.headers()["location"].to_str().expect("loc").contains(&back_to));
    let session_of = |user: &'static str| app.sign_in(&page, user);
    let owner = session_of("a").await;
    assert_eq!(client.get(&url).header("Cookie", owner).send().await.expect("get").status(), 200);
    let other = session_of("b").await;
    assert_eq!(
        client.get(&url).header("Cookie", other).send().await.expect("get").status(),
        404,
        "another member's pass"
    );
    let admin = session_of("admin1").await;
    assert_eq!(client.get(&url).header("Cookie", admin).send().await.expect("get").status(), 200);
    // At the desk (outside WeCom) the token is the key.
    assert_eq!(client.get(&url).send().await.expect("get").status(), 200);
}
