//! The web pages: the board, the admin report with each access case, the CSV export, and a
//! real browser (headless Chromium) rendering both.

use crate::common::{cookie_pair, location, TestApp, WECOM_BROWSER};
use reqwest::redirect::Policy;

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(Policy::none()).build().expect("client")
}

/// A few bookings: a full treadmill slot, a closure with a reason that tries HTML.
async fn fixture(app: &TestApp) {
    app.say("a", "预约 跑步机 明天 18:30").await;
    app.say("b", "预约 健身房 明天 18:30").await;
    app.say("c", "预约 健身房 周三 19:30").await;
    app.say("c", "取消 3").await;
    let now = app.now();
    app.ctx
        .store
        .write(move |tx| {
            tx.execute(
                "INSERT INTO closures (facility, starts_at, ends_at, reason, created_by, created_at)
                 VALUES ('pingpong', ?1, ?2, '<script>alert(1)</script>维修', 'admin1', ?1)",
                [now + 86_400, now + 2 * 86_400],
            )
        })
        .await
        .expect("closure");
}

#[tokio::test]
async fn the_board_shows_free_full_closed_and_past_without_personal_data() {
    let app = TestApp::spawn().await;
    fixture(&app).await;
    let response = client().get(app.url("/board")).send().await.expect("board");
    assert_eq!(response.status(), 200);
    let csp = response.headers()["content-security-policy"].to_str().expect("csp").to_string();
    let directive = |name: &str| csp.split(';').map(str::trim).find(|d| d.starts_with(name)).map(str::to_string);
    assert_eq!(directive("default-src").as_deref(), Some("default-src 'none'"), "{csp}");
    assert_eq!(directive("script-src").as_deref(), Some("script-src 'self'"), "no inline script: {csp}");
    assert!(directive("frame-ancestors").is_some_and(|d| !d.contains('*') || d.contains("qq.com")), "{csp}");
    let html = response.text().await.expect("html");
    assert!(html.contains("http-equiv=\"refresh\""));
    assert!(html.contains("data-status=\"full\""), "a full slot shows full");
    assert!(html.contains("data-status=\"past\""));
    assert!(html.contains("data-status=\"closed\""));
    assert!(html.contains("&lt;script&gt;alert(1)"), "reasons are escaped");
    assert!(!html.contains("<script>alert(1)"));
    assert!(html.contains("today"), "today is highlighted");
    for person in ["\"a\"", ">a<", ">b<", ">c<"] {
        assert!(!html.contains(person), "no personal data ({person})");
    }
    let filtered =
        client().get(app.url("/board?facility=gym")).send().await.expect("board").text().await.expect("html");
    assert!(filtered.contains("facility-gym") && !filtered.contains("facility-treadmill"));
}

/// Two visits to /admin in WeCom's browser without a session: each sent to the stand-in's
/// OAuth with `state` equal to the state cookie set beside it. The states.
async fn oauth_states(app: &TestApp, c: &reqwest::Client) -> Vec<String> {
    let mut states = Vec::new();
    for _ in 0..2 {
        let out = c.get(app.url("/admin")).header("User-Agent", WECOM_BROWSER).send().await.expect("admin");
        assert_eq!(out.status(), 302);
        let to = location(&out);
        let prefix = format!("{}/connect/oauth2/authorize?appid=wwtest", app.api.base_url());
        assert!(to.starts_with(&prefix) && to.contains("scope=snsapi_base"), "{to}");
        let cookie = cookie_pair(&out, "staffhome_oauth").expect("state cookie");
        let state = cookie.trim_start_matches("staffhome_oauth=").to_string();
        assert!(state.len() >= 32 && to.contains(&format!("state={state}&")), "{to} {cookie}");
        states.push(state);
    }
    states
}

#[tokio::test]
async fn admin_pages_need_an_admin() {
    let app = TestApp::spawn().await;
    fixture(&app).await;
    let c = client();
    // No credentials.
    let none = c.get(app.url("/admin")).send().await.expect("admin");
    assert_eq!(none.status(), 403);
    assert!(none.text().await.expect("text").contains("管理页面只对管理员开放"));
    // Inside WeCom without a session: sent to OAuth with a random state, also in a cookie.
    let states: Vec<String> = oauth_states(&app, &c).await;
    assert_ne!(states[0], states[1], "a new state each time");
    // A staff member through OAuth.
    assert_eq!(app.oauth_round("/admin", "zhangsan").await.status(), 403);
    // An admin through OAuth: a signed, HttpOnly cookie, then the page.
    let login = app.oauth_round("/admin", "admin1").await;
    assert_eq!(login.status(), 302);
    let cookie = login.headers().get_all("set-cookie").iter().map(|v| v.to_str().expect("cookie")).collect::<Vec<_>>();
    assert!(cookie.iter().any(|c| c.contains("HttpOnly") && c.contains("staffhome_session=")), "{cookie:?}");
    let value = cookie_pair(&login, "staffhome_session").expect("session");
    let page = c.get(app.url("/admin")).header("Cookie", &value).send().await.expect("admin");
    assert_eq!(page.status(), 200);
    assert!(page.text().await.expect("html").contains("id=\"heatmap\""));
    // Forged sessions of a real admin: a longer life, a signature made up.
    let (user, rest) = value.split_once('|').expect("user|expires|mac");
    let (_, mac) = rest.split_once('|').expect("expires|mac");
    for forged in [format!("{user}|99999999999|{mac}"), format!("{user}|99999999999|{}", "0".repeat(64))] {
        let status = c.get(app.url("/admin")).header("Cookie", forged).send().await.expect("admin").status();
        assert_eq!(status, 403);
    }
    // Expired.
    app.advance(chrono::Duration::hours(9));
    assert_eq!(c.get(app.url("/admin")).header("Cookie", &value).send().await.expect("admin").status(), 403);
    // A script with the admin token.
    let token = c.get(app.url("/admin")).bearer_auth("test-admin-token").send().await.expect("admin");
    assert_eq!(token.status(), 200);
    let wrong = c.get(app.url("/admin")).bearer_auth("wrong-token").send().await.expect("admin");
    assert_eq!(wrong.status(), 403);
    // Bad periods are refused clearly.
    let bad =
        c.get(app.url("/admin?from=2026-13-01&to=x")).bearer_auth("test-admin-token").send().await.expect("admin");
    assert_eq!(bad.status(), 400);
}

#[tokio::test]
async fn the_admin_report_shows_utilisation_and_the_heatmap() {
    let app = TestApp::spawn().await;
    fixture(&app).await;
    let html = admin_page(&app, "/admin?from=2026-11-23&to=2026-11-29").await;
    assert!(html.contains("data-facility=\"treadmill\" data-utilisation=\"1\""), "1 of 77 place-slots");
    assert!(html.contains("data-weekday=\"1\" data-slot=\"10\" data-count=\"2\""), "Tuesday 18:30: two bookings");
    assert!(html.contains("stroke=\"#d7301f\""), "peak slots outlined");
    assert!(html.contains("id=\"legend\""));
    assert!(html.contains("<td>3</td>"), "three bookings");
}

#[tokio::test]
async fn the_csv_export_has_every_booking_with_chinese_intact() {
    let app = TestApp::spawn().await;
    fixture(&app).await;
    let response = client()
        .get(app.url("/admin/export.csv?from=2026-11-23&to=2026-11-29"))
        .bearer_auth("test-admin-token")
        .send()
        .await
        .expect("csv");
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().expect("type").starts_with("text/csv"));
    let bytes = response.bytes().await.expect("body");
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF", "UTF-8 BOM for Excel");
    let text = std::str::from_utf8(&bytes[3..]).expect("utf-8");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "预约号,用户,设施,日期,星期,节次,时间,状态,创建时间,取消时间,签到时间");
    assert_eq!(lines.len(), 4, "three bookings: {text}");
    assert!(lines.iter().any(|l| l.starts_with("1,a,跑步机,2026-11-24,周二,10,18:30-19:30,已预约")), "{text}");
    assert!(lines.iter().any(|l| l.contains(",已取消,") && l.contains("2026-11-23 10:00")), "{text}");
}

/// An admin page's text, fetched with the admin token.
async fn admin_page(app: &TestApp, path: &str) -> String {
    let response = client().get(app.url(path)).bearer_auth("test-admin-token").send().await.expect("admin page");
    response.text().await.expect("text")
}

/// A member id a spreadsheet would take for a formula is exported as text.
#[tokio::test]
async fn csv_cells_that_look_like_formulas_are_exported_as_text() {
    let app = TestApp::spawn().await;
    app.say("=1+2", "预约 跑步机 明天 18:30").await;
    app.say("@sum", "预约 健身房 明天 18:30").await;
    let text = admin_page(&app, "/admin/export.csv?from=2026-11-23&to=2026-11-29").await;
    assert!(text.contains(",'=1+2,跑步机,"), "{text}");
    assert!(text.contains(",'@sum,健身房,"), "{text}");
    assert!(!text.contains(",=1+2,") && !text.contains(",@sum,"), "{text}");
}

/// Headless Chromium renders the board and the admin page. `.ci/run` installs Debian's
/// chromium; on a machine without it the test says so and passes only outside CI.
#[tokio::test]
async fn a_real_browser_renders_the_board_and_the_admin_report() {
    let Some(chromium) = crate::common::chromium() else { return };
    let app = TestApp::spawn().await;
    fixture(&app).await;
    let target = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    let board = browse(&chromium, &app.url("/board"), &target.join("board.png")).await;
    assert!(board.contains("data-status=\"full\""), "the full slot in the DOM");
    assert!(board.contains("职工之家实时看板"));
    // Signed in as WeCom's browser is: off to the stand-in's OAuth and back, with the state.
    app.api.sign_in_as("admin1");
    let admin = browse(&chromium, &app.url("/admin?from=2026-11-23&to=2026-11-29"), &target.join("admin.png")).await;
    let cells = admin.matches("class=\"cell\"").count();
    assert_eq!(cells, 7 * 11, "the heatmap's cells in the rendered DOM");
    assert!(admin.contains("data-count=\"2\""));
    assert!(target.join("board.png").exists() && target.join("admin.png").exists());
}

/// Dump the DOM after load (as WeCom's browser, following the OAuth redirects), and screenshot it.
async fn browse(chromium: &str, url: &str, screenshot: &std::path::Path) -> String {
    let profile = tempfile::tempdir().expect("profile");
    let common = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--window-size=1280,2200",
        "--user-agent=Mozilla/5.0 wxwork/4.1.0",
    ];
    let run = |extra: Vec<String>| {
        let mut args: Vec<String> = common.iter().map(|s| s.to_string()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        args.extend(extra);
        tokio::process::Command::new(chromium).args(args).kill_on_drop(true).output()
    };
    let dom = tokio::time::timeout(std::time::Duration::from_secs(60), run(vec!["--dump-dom".into(), url.into()]))
        .await
        .expect("chromium finished")
        .expect("chromium ran");
    let shot = format!("--screenshot={}", screenshot.display());
    let _ = tokio::time::timeout(std::time::Duration::from_secs(60), run(vec![shot, url.into()])).await;
    String::from_utf8_lossy(&dom.stdout).into_owned()
}
