//! Signing in to the pages through WeCom OAuth: a random state bound to a cookie, checked before
//! any code exchange; passes looked up first; exchanges per client address limited.

use crate::common::{booking_no, cookie_pair, location, TestApp, WECOM_BROWSER};
use reqwest::redirect::Policy;
use reqwest::StatusCode;

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(Policy::none()).build().expect("client")
}

fn exchanges(app: &TestApp) -> usize {
    app.api.calls().iter().filter(|c| c.path == "auth/getuserinfo").count()
}

/// Leave for OAuth from `page`: the state cookie and the way back with a fresh code for `user`.
async fn way_back(app: &TestApp, page: &str, user: &str) -> (String, String) {
    let out = client().get(app.url(page)).header("User-Agent", WECOM_BROWSER).send().await.expect("page");
    let state = cookie_pair(&out, "staffhome_oauth").expect("state cookie");
    app.api.sign_in_as(user);
    let back = client().get(location(&out)).send().await.expect("authorize");
    (state, location(&back))
}

#[tokio::test]
async fn a_way_back_without_this_browsers_state_is_refused_before_any_exchange() {
    let app = TestApp::spawn().await;
    let (state, back) = way_back(&app, "/admin", "admin1").await;
    // Sent by someone else (login CSRF): no state cookie, or another one.
    let c = client();
    assert_eq!(c.get(&back).send().await.expect("back").status(), StatusCode::FORBIDDEN);
    let other = "staffhome_oauth=00000000000000000000000000000000";
    assert_eq!(c.get(&back).header("Cookie", other).send().await.expect("back").status(), StatusCode::FORBIDDEN);
    let stateless = back.split("&state=").next().expect("url").to_string();
    assert_eq!(c.get(&stateless).header("Cookie", &state).send().await.expect("back").status(), StatusCode::FORBIDDEN);
    assert_eq!(exchanges(&app), 0, "no code exchanged");
    // The browser that left comes back: signed in, the state spent.
    let signed_in = c.get(&back).header("Cookie", &state).send().await.expect("back");
    assert_eq!(signed_in.status(), StatusCode::FOUND);
    assert!(cookie_pair(&signed_in, "staffhome_session").is_some());
    let cleared =
        signed_in.headers().get_all("set-cookie").iter().any(|v| {
            v.to_str().is_ok_and(|v| v.starts_with("staffhome_oauth=;") || v.starts_with("staffhome_oauth=\"\""))
        });
    assert!(cleared, "the state cookie is cleared");
    // The same way back again: the code was single-use.
    assert_eq!(c.get(&back).header("Cookie", &state).send().await.expect("back").status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn a_pass_that_does_not_exist_exchanges_no_code() {
    let app = TestApp::spawn().await;
    let id = booking_no(&app.say("a", "预约 健身房 明天 18:30").await);
    let token: String = app.db(|c| c.query_row("SELECT pass_token FROM bookings WHERE id = ?1", [id], |r| r.get(0)));
    let (state, back) = way_back(&app, &format!("/pass/{token}"), "a").await;
    // The same code and state, on a pass that is not there.
    let unknown = back.replace(&token, "0123456789abcdef0123456789abcdef");
    assert_eq!(client().get(&unknown).header("Cookie", &state).send().await.expect("get").status(), 404);
    let bare = app.url("/pass/0123456789abcdef0123456789abcdef?code=anything&state=x");
    assert_eq!(client().get(&bare).header("User-Agent", WECOM_BROWSER).send().await.expect("get").status(), 404);
    assert_eq!(exchanges(&app), 0);
    // The real pass signs its owner in.
    assert_eq!(client().get(&back).header("Cookie", &state).send().await.expect("get").status(), 302);
    assert_eq!(exchanges(&app), 1);
}

#[tokio::test]
async fn code_exchanges_from_one_address_are_limited_per_minute() {
    let app = TestApp::spawn().await;
    for _ in 0..staffhome::web::oauth::EXCHANGES_PER_MINUTE {
        assert_eq!(app.oauth_round("/admin", "admin1").await.status(), 302);
    }
    let over = app.oauth_round("/admin", "admin1").await;
    assert_eq!(over.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(exchanges(&app), staffhome::web::oauth::EXCHANGES_PER_MINUTE as usize, "the last one not exchanged");
    app.advance(chrono::Duration::minutes(1));
    assert_eq!(app.oauth_round("/admin", "admin1").await.status(), 302, "the next minute");
}
