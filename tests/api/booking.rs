//! Booking by chat, end to end through the signed, encrypted protocol.

use crate::common::{booking_no, TestApp};
use chrono::Duration;

#[tokio::test]
async fn book_list_mine_cancel() {
    let app = TestApp::spawn().await;
    let free = app.say("zhang", "空闲 健身房 明天").await;
    assert!(free.contains("健身房 11月24日 周二"), "{free}");
    assert!(free.contains("第9节 17:30-18:30★ 剩10"), "{free}");

    let booked = app.say("zhang", "预约 健身房 明天 18:30").await;
    assert!(booked.contains("预约成功"), "{booked}");
    assert!(booked.contains("健身房 11月24日 周二 18:30-19:30"), "{booked}");
    let id = booking_no(&booked);

    assert!(app.say("li", "空闲 健身房 明天").await.contains("第10节 18:30-19:30★ 剩9"));
    let mine = app.say("zhang", "我的").await;
    assert!(mine.contains(&format!("#{id}")) && mine.contains("已预约"), "{mine}");

    let cancelled = app.say("zhang", &format!("取消 {id}")).await;
    assert!(cancelled.contains("已取消"), "{cancelled}");
    assert!(app.say("zhang", "我的").await.contains("没有预约"));
    assert_eq!(app.count("SELECT count(*) FROM bookings WHERE state = 'cancelled'"), 1);
}

#[tokio::test]
async fn overview_of_all_facilities_and_the_facility_list() {
    let app = TestApp::spawn().await;
    app.say("zhang", "预约 跑步机 明天 18:30").await;
    let overview = app.say("li", "空闲 明天").await;
    assert!(overview.contains("跑步机：1:1 2:1 3:1 4:1 5:1 6:1 7:1 8:1 9:1 10:满 11:1"), "{overview}");
    assert!(overview.len() <= 2048);
    assert!(overview.ends_with("预约：预约 健身房 11-24 17:30"), "a free peak place to book: {overview}");
    let today = app.say("li", "空闲").await;
    assert!(today.contains("健身房：1:- 2:- 3:10"), "past slots are marked: {today}");
    let facilities = app.say("li", "设施").await;
    assert!(facilities.contains("会议室（room）每时段 1 人，需审批"), "{facilities}");
    let board = app.say("li", "状态").await;
    assert!(board.contains("/board"), "{board}");
    // Evening, every slot of today begun: nothing to book today, so the next day.
    app.clock.set(chrono::DateTime::parse_from_rfc3339("2026-11-23T20:00:00+08:00").unwrap().into());
    let evening = app.say("li", "空闲").await;
    assert!(evening.ends_with("这天已没有可约的时段。看看下一天：空闲 11-24"), "{evening}");
}

#[tokio::test]
async fn a_full_slot_offers_the_waitlist_and_alternatives_and_promotes_on_cancel() {
    let app = TestApp::spawn().await;
    let first = booking_no(&app.say("a", "预约 乒乓球 明天 19:30").await);
    app.say("b", "预约 乒乓球 明天 19:30").await;
    let full = app.say("c", "预约 乒乓球 明天 19:30").await;
    assert!(full.contains("已约满"), "{full}");
    // c has no booking to move: the alternatives are offered as places, not as a 改约.
    assert!(full.contains("这些相近的时段还有空位") && !full.contains("改约"), "{full}");
    assert!(full.contains("候补 乒乓球 11-24 19:30"), "offers the waitlist: {full}");
    assert!(full.contains("预约 乒乓球 11-24 18:30"), "nearest slot first: {full}");
    assert!(full.contains("预约 羽毛球 11-24 19:30"), "a similar facility: {full}");

    let joined = app.say("c", "候补 乒乓球 明天 19:30").await;
    assert!(joined.contains("排第 1 位"), "{joined}");
    let again = app.say("c", "候补 乒乓球 明天 19:30").await;
    assert!(again.contains("已在候补") && again.contains("第 1 位"), "joining is idempotent: {again}");
    assert!(app.say("d", "候补 乒乓球 明天 19:30").await.contains("排第 2 位"));
    assert!(app.say("c", "我的").await.contains("第1位"));

    let cancelled = app.say("a", &format!("取消 {first}")).await;
    assert!(cancelled.contains("名额已转给候补的同事"), "{cancelled}");
    let mine = app.say("c", "我的").await;
    assert!(mine.contains("乒乓球 11月24日 周二 19:30-20:30【已预约】"), "{mine}");
    assert!(app.say("d", "我的").await.contains("第1位"), "d moves up");
    // The promotion notice waits in the outbox for c (beside the cards c was offered).
    let notices = app.db(|c| staffhome::outbox::queued_for(c, "c"));
    let texts: Vec<&str> = notices.iter().filter_map(|n| n.body["text"]["content"].as_str()).collect();
    assert_eq!(texts.len(), 1, "{texts:?}");
    assert!(texts[0].contains("已为你候补成功"));
    assert_eq!(app.count("SELECT count(*) FROM demand_events WHERE kind = 'promotion'"), 1);
}

#[tokio::test]
async fn fifty_members_racing_for_three_places() {
    let app = TestApp::spawn().await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let member = app.member.clone();
        let now = app.now();
        tasks
            .push(tokio::spawn(async move { member.say(&format!("racer{i}"), now, "预约 壁球室 明天 18:30").await }));
    }
    let mut booked = 0;
    let mut refused = 0;
    for task in tasks {
        let reply = task.await.expect("task").text().to_string();
        if reply.contains("预约成功") {
            booked += 1;
        } else {
            assert!(reply.contains("已约满") && reply.contains("候补"), "a clear refusal with the waitlist: {reply}");
            refused += 1;
        }
    }
    assert_eq!((booked, refused), (3, 47));
    assert_eq!(app.count("SELECT count(*) FROM bookings WHERE facility = 'squash' AND state = 'confirmed'"), 3);
    assert_eq!(app.count("SELECT count(*) FROM demand_events WHERE kind = 'refused_full'"), 47);
}

#[tokio::test]
async fn refusals_say_what_to_do_instead() {
    let app = TestApp::spawn().await;
    // In the past (it is 10:00; 09:30 has started).
    let past = app.say("a", "预约 健身房 今天 9:30").await;
    assert!(past.contains("已经开始或已过去") && past.contains("空闲 健身房"), "{past}");
    // A day gone by, in words.
    let yesterday = app.say("a", "预约 健身房 昨天 18:30").await;
    assert!(yesterday.contains("已经开始或已过去"), "{yesterday}");
    let free = app.say("a", "空闲 健身房 昨天").await;
    assert_eq!(free, "11月22日 周日 已经过去了。看看今天的空位：空闲 健身房 今天");
    assert!(app.say("a", "空闲 前天").await.contains("已经过去了"));
    // Next week is not open until published.
    let closed_week = app.say("a", "预约 健身房 下周三 18:30").await;
    assert!(closed_week.contains("还没开放"), "{closed_week}");
    // Unknown facility.
    let unknown = app.say("a", "预约 游泳池 明天 18:30").await;
    assert!(unknown.contains("游泳池") && unknown.contains("可以试试"), "{unknown}");
    // Not yours.
    let id = booking_no(&app.say("a", "预约 健身房 明天 18:30").await);
    let not_yours = app.say("b", &format!("取消 {id}")).await;
    assert!(not_yours.contains("不是你的") && not_yours.contains("我的"), "{not_yours}");
    assert!(app.say("b", "取消 99999").await.contains("没有找到预约 #99999"));
    // Twice the same slot.
    assert!(app.say("a", "预约 健身房 明天 18:30").await.contains("你已预约了"));
    // Over the limit of 4 active bookings.
    for time in ["8:30", "9:30", "10:30"] {
        assert!(app.say("a", &format!("预约 健身房 明天 {time}")).await.contains("预约成功"));
    }
    let over = app.say("a", "预约 健身房 明天 12:00").await;
    assert!(over.contains("达到上限") && over.contains("我的"), "{over}");
    // A closed facility.
    let now = app.now();
    app.ctx
        .store
        .write(move |tx| {
            tx.execute(
                "INSERT INTO closures (facility, starts_at, ends_at, reason, created_by, created_at) VALUES ('treadmill', ?1, ?2, '设备检修', 'admin1', ?1)",
                [now, now + 3 * 86_400],
            )
        })
        .await
        .expect("closure");
    let closed = app.say("c", "预约 跑步机 明天 18:30").await;
    assert!(closed.contains("停用中：设备检修") && closed.contains("11-26"), "{closed}");
    // A slot time that does not exist.
    let no_slot = app.say("c", "预约 健身房 明天 11:45").await;
    assert!(no_slot.contains("没有这个时段"), "{no_slot}");
    // Cancelling after the start.
    app.advance(Duration::days(1) + Duration::hours(8) + Duration::minutes(35)); // Tue 18:35
    let started = app.say("a", &format!("取消 {id}")).await;
    assert!(started.contains("已开始"), "{started}");
}

#[tokio::test]
async fn publishing_opens_next_week_for_admins_only() {
    let app = TestApp::spawn().await;
    let refused = app.say("staff1", "发布 下周").await;
    assert!(refused.contains("只有管理员"), "{refused}");
    let published = app.say("admin1", "发布 下周").await;
    assert!(published.contains("已开放") && published.contains("11月30日"), "{published}");
    assert!(app.say("admin1", "发布").await.contains("已经开放过了"));
    assert!(app.say("staff1", "预约 健身房 下周三 18:30").await.contains("预约成功"));
    let broadcast = app.db(|c| staffhome::outbox::queued_for(c, "@all"));
    assert_eq!(broadcast.len(), 1, "one broadcast, not one per member");
}

#[tokio::test]
async fn a_range_books_both_slots_or_neither() {
    let app = TestApp::spawn().await;
    let both = app.say("a", "预约 健身房 明天 17:30-19:30").await;
    assert_eq!(both.matches('#').count(), 2, "{both}");
    app.say("x", "预约 跑步机 明天 18:30").await;
    let neither = app.say("b", "预约 跑步机 明天 17:30-19:30").await;
    assert!(neither.contains("已约满"), "{neither}");
    assert_eq!(app.count("SELECT count(*) FROM bookings WHERE userid = 'b'"), 0);
}

#[tokio::test]
async fn missing_pieces_are_asked_for_and_the_next_message_fills_them() {
    let app = TestApp::spawn().await;
    let ask = app.say("a", "预约 健身房").await;
    // Peak slots are starred, as in 空闲's listing.
    assert!(ask.contains("哪个时段") && ask.contains("第9节 17:30-18:30★ 剩10"), "{ask}");
    assert!(ask.contains("第8节 16:30-17:30 剩10"), "{ask}");
    let booked = app.say("a", "18:30").await;
    assert!(booked.contains("预约成功") && booked.contains("11月23日 周一 18:30"), "{booked}");

    let which = app.say("b", "预约 明天 19:30").await;
    assert!(which.contains("好的，11月24日 周二 19:30。请问要哪个设施？"), "what was said is named: {which}");
    assert!(app.say("b", "羽毛球").await.contains("羽毛球 11月24日 周二 19:30-20:30"));

    // A dialogue is forgotten after 10 minutes.
    app.say("c", "预约 健身房").await;
    app.advance(Duration::minutes(11));
    let late = app.say("c", "18:30").await;
    assert!(late.contains("没太明白"), "{late}");
}

#[tokio::test]
async fn a_facility_with_approval_makes_pending_bookings_that_hold_the_place() {
    let app = TestApp::spawn().await;
    let pending = app.say("a", "预约 会议室 明天 第3节").await;
    assert!(pending.contains("等待审批"), "{pending}");
    assert!(app.say("a", "我的").await.contains("待审批"));
    assert!(app.say("b", "预约 会议室 明天 第3节").await.contains("已约满"));
}

#[tokio::test]
async fn a_retry_of_a_booking_books_once_and_returns_the_first_reply() {
    let app = TestApp::spawn().await;
    let msg = app.member.message(
        "a",
        app.now(),
        staffhome::wecom::Inbound::Text {
            content: "预约 跑步机 明天 18:30".into(), msg_id: app.member.next_msg_id()
        },
    );
    let callback = app.member.sign(&msg);
    let first = app.member.post(&callback).await;
    // Meanwhile someone else looks: the retry must not become a "you already booked" reply.
    let retry = app.member.post(&callback).await;
    assert_eq!(first, retry);
    assert!(first.text().contains("预约成功"));
    assert_eq!(app.count("SELECT count(*) FROM bookings"), 1);
}

#[tokio::test]
async fn a_full_slot_is_refused_at_once_counted_once_and_a_retry_keeps_the_refusal() {
    let app = TestApp::spawn().await;
    let first = booking_no(&app.say("a", "预约 跑步机 明天 18:30").await);
    let msg = app.member.message(
        "b",
        app.now(),
        staffhome::wecom::Inbound::Text {
            content: "预约 跑步机 明天 18:30".into(), msg_id: app.member.next_msg_id()
        },
    );
    let callback = app.member.sign(&msg);
    let refused = app.member.post(&callback).await;
    assert!(refused.text().contains("已约满"), "{refused:?}");
    let demand = "SELECT count(*) FROM demand_events WHERE kind = 'refused_full' AND userid = 'b'";
    assert_eq!(app.count(demand), 1);
    // The place comes free; WeCom's retry of the refused request still gets the refusal and
    // books nothing, and counts no second refusal.
    assert!(app.say("a", &format!("取消 {first}")).await.contains("已取消"));
    assert_eq!(app.member.post(&callback).await, refused);
    assert_eq!(app.count(demand), 1);
    assert_eq!(app.count("SELECT count(*) FROM bookings WHERE userid = 'b'"), 0);
    // A new request does book.
    assert!(app.say("b", "预约 跑步机 明天 18:30").await.contains("预约成功"));
    app.assert_slot_usage_agrees();
}

#[tokio::test]
async fn a_refusal_in_the_middle_of_a_request_ends_the_request_and_counts_the_demand() {
    let app = TestApp::spawn().await;
    app.say("a", "预约 跑步机 明天 18:30").await;
    assert!(app.say("b", "预约 健身房").await.contains("哪个时段"));
    assert!(app.say("b", "预约 跑步机 明天 18:30").await.contains("已约满"));
    assert_eq!(app.count("SELECT count(*) FROM demand_events WHERE kind = 'refused_full' AND userid = 'b'"), 1);
    let after = app.say("b", "19:30").await;
    assert!(!after.contains("预约成功"), "the gym request was ended: {after}");
}

/// 空闲 for a day ends with what can be done next: book the first place still left (not a slot
/// gone by), queue for a full one, or look at the next day when none is left.
#[tokio::test]
async fn a_days_free_slots_end_with_what_to_do_next() {
    let app = TestApp::spawn().await;
    // Monday 10:00: 08:30 and 09:30 are gone by; 10:30 is the first place left.
    let today = app.say("zhang", "空闲 跑步机 今天").await;
    assert!(today.ends_with("预约：预约 跑步机 11-23 10:30"), "{today}");
    // Only full places left: queue for the first, or look at the next day.
    for (member, time) in [("a", "17:30"), ("b", "18:30"), ("c", "19:30")] {
        assert!(app.say(member, &format!("预约 跑步机 明天 {time}")).await.contains("预约成功"));
    }
    let evening = app.say("li", "空闲 跑步机 明天 晚上").await;
    assert!(evening.contains("满员可排候补：候补 跑步机 11-24 17:30"), "{evening}");
    assert!(evening.ends_with("看看下一天：空闲 跑步机 11-25"), "{evening}");
    // A day closed: nothing to book there.
    assert!(app.say("admin1", "停用 跑步机 后天 设备检修").await.contains("已停用"));
    let closed = app.say("li", "空闲 跑步机 后天").await;
    assert!(!closed.contains("预约：") && closed.contains("停用：设备检修"), "{closed}");
    assert!(closed.ends_with("这天已没有可约的时段。\n看看下一天：空闲 跑步机 11-26"), "{closed}");
}

/// A facility and a day with no verb (「明天晚上7点健身房」) is a question: the day's places,
/// ending with the time asked about when it is free; with a pending question it is the answer.
#[tokio::test]
async fn a_facility_and_a_time_alone_show_the_day_and_suggest_that_time() {
    let app = TestApp::spawn().await;
    let asked = app.say("zhang", "明天晚上7点跑步机").await;
    assert!(asked.contains("跑步机 11月24日") && asked.contains("第11节 19:30-20:30★ 剩1"), "{asked}");
    assert!(asked.ends_with("预约：预约 跑步机 11-24 18:30"), "19:00 is in the 18:30 slot: {asked}");
    assert_eq!(app.count("SELECT count(*) FROM bookings"), 0, "nothing booked unasked");
    // The time asked about taken: the next free one after it.
    assert!(app.say("a", "预约 跑步机 明天 18:30").await.contains("预约成功"));
    assert!(app.say("zhang", "跑步机 明天 18:30").await.ends_with("预约：预约 跑步机 11-24 19:30"));
    // Inside a dialogue the same words answer its question.
    assert!(app.say("zhang", "预约").await.contains("哪个设施"));
    assert!(app.say("zhang", "跑步机 明天 19:30").await.contains("预约成功"));
}

/// 取消 12 13 cancels each, a line each; a number that is not the member's is refused in its
/// line and the others still go.
#[tokio::test]
async fn several_numbers_cancel_each() {
    let app = TestApp::spawn().await;
    let a = booking_no(&app.say("zhang", "预约 健身房 明天 18:30").await);
    let b = booking_no(&app.say("zhang", "预约 羽毛球 明天 19:30").await);
    let other = booking_no(&app.say("li", "预约 乒乓球 明天 19:30").await);
    let reply = app.say("zhang", &format!("取消 {a}、#{b} {other} {a}")).await;
    assert_eq!(reply.lines().count(), 3, "one line per number, once each: {reply}");
    assert!(reply.contains(&format!("已取消 #{a}")) && reply.contains(&format!("已取消 #{b}")), "{reply}");
    assert!(reply.contains(&format!("预约 #{other} 不是你的")), "{reply}");
    assert_eq!(app.count("SELECT count(*) FROM bookings WHERE userid = 'zhang' AND state = 'cancelled'"), 2);
    assert_eq!(app.count("SELECT count(*) FROM bookings WHERE userid = 'li' AND state = 'confirmed'"), 1);
}

/// 我的 with a place in a queue says how to leave it (and, with no booking, not how to cancel one).
#[tokio::test]
async fn mine_says_how_to_leave_a_queue() {
    let app = TestApp::spawn().await;
    app.say("zhang", "预约 跑步机 明天 18:30").await;
    assert!(app.say("li", "候补 跑步机 明天 18:30").await.contains("第 1 位"));
    let mine = app.say("li", "我的").await;
    assert!(mine.contains("第1位（不再候补：退出候补 跑步机 11-24 18:30）"), "{mine}");
    assert!(!mine.contains("取消 预约号"), "no booking to cancel: {mine}");
    assert!(app.say("li", "退出候补 跑步机 11-24 18:30").await.contains("已退出"));
    assert!(app.say("li", "我的").await.contains("没有预约"));
}
