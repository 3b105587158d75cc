//! Calendar feeds (RFC 5545), read back by a real parser (the `icalendar` crate): a member's
//! bookings, a cancellation as STATUS:CANCELLED with a higher SEQUENCE, a reset address, and
//! the admins' facility feed.

use crate::common::{booking_no, TestApp};
use icalendar::{CalendarComponent, Component, EventStatus};

/// The feed's address in a reply to 日历.
fn feed_url(reply: &str) -> String {
    let at = reply.find("http://").expect("an address");
    reply[at..].split_whitespace().next().expect("url").to_string()
}

/// The events of the feed at `url`: (uid, summary, status, sequence, start).
async fn events(url: &str) -> Vec<(String, String, Option<EventStatus>, Option<u32>, String)> {
    let response = reqwest::get(url).await.expect("feed");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/calendar; charset=utf-8");
    let text = response.text().await.expect("text");
    assert!(text.lines().all(|l| l.len() <= 76), "lines folded at 75 octets");
    let unfolded = icalendar::parser::unfold(&text);
    let calendar: icalendar::Calendar = icalendar::parser::read_calendar(&unfolded).expect("RFC 5545").into();
    calendar
        .components
        .iter()
        .filter_map(|c| match c {
            CalendarComponent::Event(e) => Some((
                e.get_uid().unwrap_or_default().to_string(),
                e.get_summary().unwrap_or_default().to_string(),
                e.get_status(),
                e.get_sequence(),
                e.property_value("DTSTART").unwrap_or_default().to_string(),
            )),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn a_members_feed_has_their_booking_then_its_cancellation() {
    let app = TestApp::spawn().await;
    let id = booking_no(&app.say("zhangsan", "预约 乒乓球 明天 18:30").await);
    app.say("lisi", "预约 乒乓球 明天 18:30").await;
    let url = feed_url(&app.say("zhangsan", "日历").await);
    assert!(url.starts_with(&app.url("/calendar/")) && url.ends_with(".ics"), "{url}");
    let before = events(&url).await;
    assert_eq!(before.len(), 1, "only zhangsan's: {before:?}");
    let (uid, summary, status, sequence, start) = before[0].clone();
    assert_eq!(summary, "职工之家 · 乒乓球");
    assert_eq!(status, Some(EventStatus::Confirmed));
    assert_eq!(start, "20261124T103000Z", "18:30 in Shanghai");
    // The same address again.
    assert_eq!(feed_url(&app.say("zhangsan", "日历").await), url);

    app.say("zhangsan", &format!("取消 {id}")).await;
    let after = events(&url).await;
    assert_eq!(after.len(), 1, "kept, so calendars remove it");
    assert_eq!(after[0].0, uid, "the same event");
    assert_eq!(after[0].2, Some(EventStatus::Cancelled));
    assert!(after[0].3 > sequence, "a higher SEQUENCE: {:?} after {sequence:?}", after[0].3);
}

/// A moved booking's old event is cancelled and says where it went; the new one is confirmed.
#[tokio::test]
async fn a_moved_bookings_old_event_says_where_it_went() {
    let app = TestApp::spawn().await;
    let old = booking_no(&app.say("zhangsan", "预约 乒乓球 明天 18:30").await);
    let moved = app.say("zhangsan", &format!("改约 {old} 19:30")).await;
    let new = booking_no(moved.split("预约成功").nth(1).expect("moved"));
    let url = feed_url(&app.say("zhangsan", "日历").await);
    let text = reqwest::get(&url).await.expect("feed").text().await.expect("text");
    let calendar: icalendar::Calendar =
        icalendar::parser::read_calendar(&icalendar::parser::unfold(&text)).expect("RFC 5545").into();
    let event = |id: i64| {
        let uid = format!("booking-{id}@");
        calendar.components.iter().find_map(|c| match c {
            CalendarComponent::Event(e) if e.get_uid().is_some_and(|u| u.starts_with(&uid)) => Some(e.clone()),
            _ => None,
        })
    };
    let (was, now) = (event(old).expect("the old event"), event(new).expect("the new event"));
    assert_eq!(was.get_status(), Some(EventStatus::Cancelled));
    let said = was.get_description().unwrap_or_default().to_string();
    assert!(said.contains(&format!("已改约为 #{new}")), "{said}");
    assert_eq!(now.get_status(), Some(EventStatus::Confirmed));
}

#[tokio::test]
async fn a_reset_address_replaces_the_old_one() {
    let app = TestApp::spawn().await;
    app.say("zhangsan", "预约 乒乓球 明天 18:30").await;
    let old = feed_url(&app.say("zhangsan", "日历").await);
    let reply = app.say("zhangsan", "日历 重置").await;
    assert!(reply.contains("旧地址已失效"), "{reply}");
    let new = feed_url(&reply);
    assert_ne!(old, new);
    assert_eq!(reqwest::get(&old).await.expect("old").status(), 404);
    assert_eq!(events(&new).await.len(), 1);
    assert_eq!(reqwest::get(app.url("/calendar/not-a-token.ics")).await.expect("bad").status(), 404);
}

#[tokio::test]
async fn admins_have_a_facility_feed_with_everyones_bookings() {
    let app = TestApp::spawn().await;
    app.say("zhangsan", "预约 乒乓球 明天 18:30").await;
    app.say("lisi", "预约 乒乓球 明天 18:30").await;
    app.say("lisi", "预约 健身房 明天 18:30").await;
    let url = app.url("/calendar/facility/pingpong.ics");
    assert_eq!(reqwest::get(&url).await.expect("no token").status(), 403);
    let wrong = format!("{url}?token=wrong-token-wrong-tok");
    assert_eq!(reqwest::get(&wrong).await.expect("wrong").status(), 403);
    let feed = events(&format!("{url}?token=test-admin-token")).await;
    let summaries: Vec<&str> = feed.iter().map(|e| e.1.as_str()).collect();
    assert_eq!(summaries, ["乒乓球 · zhangsan", "乒乓球 · lisi"]);
    assert_eq!(
        reqwest::get(app.url("/calendar/facility/nothing.ics?token=test-admin-token")).await.expect("x").status(),
        404
    );
}
