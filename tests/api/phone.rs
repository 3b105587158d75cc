//! The member's page in a real browser on a phone's screen (headless Chromium at 375 × 812, as
//! WeCom's browser): signed in through the stand-in's OAuth, a slot booked by tapping it and its
//! confirm button, moved (改约) by tapping, then cancelled; screenshots of each step under `target/`.

use crate::cdp::Browser;
use crate::common::{TestApp, WECOM_BROWSER};

#[tokio::test]
async fn a_member_on_a_phone_signs_in_books_moves_and_cancels_by_tapping() {
    let Some(chromium) = crate::common::chromium() else { return };
    let app = TestApp::spawn().await;
    app.api.sign_in_as("zhangsan");
    let shots = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target");
    let mut phone = Browser::start(&chromium, 375, 812, WECOM_BROWSER).await;

    // Opened from the app: off to WeCom's (the stand-in's) sign-in and back, signed in.
    phone.open(&app.url("/m?facility=gym")).await;
    let page = phone.html().await;
    assert!(page.contains("zhangsan") && page.contains("暂无预约"), "signed in: {page}");
    let width = phone.eval("document.documentElement.scrollWidth").await;
    assert!(width.as_u64().is_some_and(|w| w <= 375), "fits the phone's width: {width}");
    phone.screenshot(&shots.join("member-week.png")).await;

    // Tap tomorrow's 18:30, then confirm.
    phone.tap("a[href='/m/slot?facility=gym&date=2026-11-24&slot=10']").await;
    assert!(phone.html().await.contains("确认预约"));
    phone.screenshot(&shots.join("member-confirm.png")).await;
    phone.tap("#book").await;
    let page = phone.html().await;
    assert!(page.contains("预约成功") && page.contains("data-booking=\"1\""), "booked: {page}");
    assert_eq!(app.count("SELECT count(*) FROM bookings WHERE userid = 'zhangsan' AND state = 'confirmed'"), 1);
    phone.screenshot(&shots.join("member-booked.png")).await;

    // Move it to 19:30: 改约, the new slot, 确认改约.
    phone.tap("#move-1").await;
    assert!(phone.html().await.contains("正在改约"));
    phone.screenshot(&shots.join("member-moving.png")).await;
    phone.tap("a[href='/m/slot?facility=gym&date=2026-11-24&slot=11&moving=1']").await;
    phone.tap("#move").await;
    let page = phone.html().await;
    assert!(page.contains("已改约") && page.contains("data-booking=\"2\""), "moved: {page}");
    assert_eq!(app.count("SELECT count(*) FROM bookings WHERE id = 2 AND slot = 11 AND state = 'confirmed'"), 1);

    // Cancel it from 我的.
    phone.tap("#cancel-2").await;
    let page = phone.html().await;
    assert!(page.contains("已取消") && !page.contains("data-booking=\"2\""), "cancelled: {page}");
    assert_eq!(app.count("SELECT state = 'cancelled' FROM bookings WHERE id = 2"), 1);
    phone.screenshot(&shots.join("member-cancelled.png")).await;
    let taken = ["member-week.png", "member-confirm.png", "member-booked.png", "member-moving.png"];
    for shot in taken.into_iter().chain(["member-cancelled.png"]) {
        assert!(shots.join(shot).metadata().is_ok_and(|m| m.len() > 1000), "{shot}");
    }
}
