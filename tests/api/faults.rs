//! Faults: WeCom down, slow or babbling; the database locked by another process; the server
//! killed mid-burst; a flood with duplicates. Nothing is lost, nothing done twice.

use crate::common::TestApp;
use chrono::Duration;
use staffhome::outbox::worker::deliver_due;
use staffhome::outbox::{self, Outgoing, Weight};
use staffhome::wecom::sim::{Fault, SimApi, SimMember, SimReply};
use staffhome::wecom::{Inbound, WeComCrypto};
use std::sync::Arc;

async fn queue(app: &TestApp, key: &str, user: &str) {
    let now = app.now();
    app.ctx
        .store
        .write({
            let message = Outgoing::text(key, user, Weight::Light, "提醒");
            move |tx| outbox::enqueue(tx, &message, now)
        })
        .await
        .expect("enqueue");
}

#[tokio::test]
async fn wecom_unreachable_keeps_the_message_for_later() {
    let closed_port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let app = TestApp::spawn_with(|c| c.wecom.api_base = format!("http://127.0.0.1:{closed_port}")).await;
    queue(&app, "n1", "u1").await;
    let done = deliver_due(&app.ctx).await.expect("pass");
    assert_eq!((done.sent, done.retried), (0, 1));
    let (state, attempts): (String, i64) = app.db(|c| {
        c.query_row("SELECT state, attempts FROM outbox WHERE dedupe_key = 'n1'", [], |r| Ok((r.get(0)?, r.get(1)?)))
    });
    assert_eq!((state.as_str(), attempts), ("pending", 1));
}

#[tokio::test]
async fn a_slow_wecom_times_out_and_the_resend_is_dropped_by_the_duplicate_check() {
    let app = TestApp::spawn_with(|c| c.wecom.api_timeout_ms = 300).await;
    // A first message fetches the token, so the delay hits message/send itself.
    queue(&app, "n0", "u0").await;
    assert_eq!(deliver_due(&app.ctx).await.expect("pass").sent, 1);
    queue(&app, "n1", "u1").await;
    app.api.inject([Fault::Delay(std::time::Duration::from_millis(800))]);
    let first = deliver_due(&app.ctx).await.expect("pass");
    assert_eq!(first.retried, 1, "the timeout counts as a failure");
    app.advance(Duration::minutes(11));
    // Let the slow answer land at the stand-in before the retry.
    tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while app.api.sent_to("u1").is_empty() {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the slow call arrived");
    assert_eq!(deliver_due(&app.ctx).await.expect("pass").sent, 1);
    assert_eq!(app.api.sent_to("u1").len(), 1, "delivered once");
    assert_eq!(app.api.duplicates_dropped(), 1, "the resend was dropped by enable_duplicate_check");
}

#[tokio::test]
async fn garbage_from_wecom_is_retried_not_fatal() {
    let app = TestApp::spawn().await;
    app.api.inject([Fault::Garbage, Fault::Status(500)]);
    queue(&app, "n1", "u1").await;
    for _ in 0..3 {
        deliver_due(&app.ctx).await.expect("pass");
        app.advance(Duration::minutes(11));
    }
    assert_eq!(app.api.sent_to("u1").len(), 1);
}

/// Hold an exclusive lock on the database from another connection (as another process
/// would) for `hold`.
fn lock_database(path: std::path::PathBuf, hold: std::time::Duration) -> std::thread::JoinHandle<()> {
    let (locked_tx, locked_rx) = std::sync::mpsc::channel();
    let handle = std::thread::spawn(move || {
        let conn = rusqlite::Connection::open(path).expect("open");
        conn.execute_batch("BEGIN EXCLUSIVE").expect("lock");
        locked_tx.send(()).expect("signal");
        std::thread::sleep(hold);
        conn.execute_batch("COMMIT").expect("unlock");
    });
    locked_rx.recv().expect("locked");
    handle
}

#[tokio::test]
async fn a_database_locked_for_a_moment_delays_but_does_not_fail_a_booking() {
    let app = TestApp::spawn().await;
    app.say("a", "帮助").await;
    let locker = lock_database(app.ctx.store.path().to_path_buf(), std::time::Duration::from_millis(1500));
    let started = std::time::Instant::now();
    let reply = app.say("a", "预约 健身房 明天 18:30").await;
    assert!(reply.contains("预约成功"), "{reply}");
    assert!(started.elapsed() >= std::time::Duration::from_millis(1000), "it waited for the lock");
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "well inside WeCom's 5 seconds");
    locker.join().expect("locker");
}

#[tokio::test]
async fn questions_are_answered_while_bookings_wait_for_a_locked_database() {
    let app = Arc::new(TestApp::spawn().await);
    app.say("q", "帮助").await;
    let hold = std::time::Duration::from_millis(2500);
    let locker = lock_database(app.ctx.store.path().to_path_buf(), hold);
    let started = std::time::Instant::now();
    // More bookings waiting for the writer than there are readers (and look threads).
    let bookings: Vec<_> = (0..12)
        .map(|i| {
            let app = Arc::clone(&app);
            tokio::spawn(async move { app.say(&format!("w{i}"), "预约 健身房 明天 18:30").await })
        })
        .collect();
    while app.ctx.store.writes_waiting() <= staffhome::store::READERS {
        assert!(started.elapsed() < hold / 2, "the bookings reach the writer");
        tokio::task::yield_now().await;
    }
    let free = app.say("q", "空闲 健身房 明天").await;
    let asked = started.elapsed();
    assert!(free.contains("健身房"), "{free}");
    assert!(asked < hold - std::time::Duration::from_millis(500), "answered while the lock held: {asked:?}");
    for booking in bookings {
        let reply = booking.await.expect("booking");
        assert!(reply.contains("预约成功") || reply.contains("已约满") || reply.contains("候补"), "{reply}");
    }
    locker.join().expect("locker");
    assert_eq!(app.count("SELECT count(*) FROM bookings"), 10, "the gym's ten places, once each");
}

#[tokio::test]
async fn a_lock_longer_than_the_deadline_answers_empty_and_sends_the_reply_later() {
    let app = TestApp::spawn().await;
    app.say("a", "帮助").await;
    let locker = lock_database(app.ctx.store.path().to_path_buf(), std::time::Duration::from_millis(4600));
    let started = std::time::Instant::now();
    let reply = app.member.say("a", app.now(), "预约 健身房 明天 18:30").await;
    assert_eq!(reply, SimReply::Empty, "answered before WeCom gives up");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    locker.join().expect("locker");
    // The booking completes after the lock; its reply goes out as a message.
    tokio::time::timeout(std::time::Duration::from_secs(10), async {
        loop {
            deliver_due(&app.ctx).await.expect("pass");
            if app.api.sent_to("a").iter().any(|m| m.to_string().contains("预约成功")) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("late reply delivered");
    assert_eq!(app.count("SELECT count(*) FROM bookings WHERE userid = 'a'"), 1);
}

#[tokio::test]
async fn five_thousand_callbacks_with_ten_percent_duplicates_act_once_each() {
    let app = TestApp::spawn().await;
    let facilities = ["健身房", "阅览室", "壁球室", "乒乓球", "羽毛球"];
    let times = ["8:30", "9:30", "10:30", "12:00", "13:00", "14:30", "15:30", "16:30", "17:30", "18:30", "19:30"];
    let mut signed = Vec::new();
    for i in 0..4500usize {
        let text = if i % 3 == 0 {
            "空闲 明天".to_string()
        } else {
            format!("预约 {} 明天 {}", facilities[i % facilities.len()], times[i % times.len()])
        };
        let msg = app.member.message(
            &format!("m{i}"),
            app.now(),
            Inbound::Text { content: text, msg_id: app.member.next_msg_id() },
        );
        signed.push(app.member.sign(&msg));
    }
    let mut deliveries: Vec<usize> = (0..4500).collect();
    deliveries.extend((0..500).map(|i| (i * 7919) % 4500));
    let member = Arc::new(app.member.clone());
    let signed = Arc::new(signed);
    let replies = Arc::new(std::sync::Mutex::new(vec![Vec::new(); 4500]));
    let mut tasks = Vec::new();
    for chunk in deliveries.chunks(5000 / 16 + 1) {
        let (member, signed, replies, chunk) = (member.clone(), signed.clone(), replies.clone(), chunk.to_vec());
        tasks.push(tokio::spawn(async move {
            for i in chunk {
                let reply = member.post(&signed[i]).await;
                replies.lock().expect("lock")[i].push(reply);
            }
        }));
    }
    for task in tasks {
        task.await.expect("task");
    }
    assert_eq!(app.count("SELECT count(*) FROM users WHERE userid LIKE 'm%'"), 4500);
    let replies = replies.lock().expect("lock");
    let mut booked = 0;
    for (i, got) in replies.iter().enumerate() {
        assert!(got.iter().all(|r| r == &got[0]), "message {i}: every delivery got the first reply");
        assert!(matches!(got[0], SimReply::Message(_)), "message {i}: {:?}", got[0]);
        if got[0].text().contains("预约成功") {
            booked += 1;
        }
    }
    assert_eq!(app.count("SELECT count(*) FROM bookings"), booked);
    // Every booking made has its durable record; questions and refusals (nothing to repeat)
    // were remembered in memory only; each full-slot refusal counted its demand once.
    assert_eq!(app.count("SELECT count(*) FROM processed_callbacks WHERE reply LIKE '%预约成功%'"), booked);
    let full = replies.iter().enumerate().filter(|(i, got)| i % 3 != 0 && got[0].text().contains("已约满")).count();
    assert!(full > 0, "the run must fill some slots");
    assert_eq!(app.count("SELECT count(*) FROM demand_events WHERE kind = 'refused_full'"), full as i64);
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

async fn wait_healthy(port: u16) {
    tokio::time::timeout(std::time::Duration::from_secs(20), async {
        loop {
            if reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await.is_ok_and(|r| r.status() == 200) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
    })
    .await
    .expect("server became healthy");
}

fn start_server(config: &std::path::Path) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_staffhome"))
        .args(["serve", "--config"])
        .arg(config)
        .env("STAFFHOME_NOW", "2026-11-23T10:00:00+08:00")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start server")
}

#[tokio::test]
async fn kill_9_during_a_burst_loses_no_acknowledged_booking() {
    let dir = tempfile::tempdir().expect("dir");
    let api = SimApi::start(crate::common::CORP_ID, crate::common::SECRET).expect("stand-in");
    let port = free_port();
    let db = dir.path().join("k.db");
    let text = crate::common::config_text(api.base_url(), &db)
        .replace("bind = \"127.0.0.1:0\"", &format!("bind = \"127.0.0.1:{port}\""));
    let config = dir.path().join("staffhome.toml");
    std::fs::write(&config, text).expect("config");
    let mut server = start_server(&config);
    wait_healthy(port).await;

    let crypto =
        WeComCrypto::new(crate::common::TOKEN, crate::common::AES_KEY, crate::common::CORP_ID).expect("crypto");
    let member = SimMember::new(
        crypto,
        crate::common::CORP_ID,
        crate::common::AGENT_ID,
        &format!("http://127.0.0.1:{port}/wecom/callback"),
    );
    let now = crate::common::monday_10am().timestamp();
    let acknowledged = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let (member, acknowledged) = (member.clone(), acknowledged.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..40 {
                let user = format!("k{worker}-{i}");
                let time =
                    ["8:30", "9:30", "10:30", "12:00", "13:00", "14:30", "15:30", "16:30", "17:30", "18:30", "19:30"]
                        [i % 11];
                let reply = member.say(&user, now, &format!("预约 健身房 明天 {time}")).await;
                if reply.text().contains("预约成功") {
                    acknowledged.lock().expect("lock").push((user, crate::common::booking_no(reply.text())));
                }
            }
        }));
    }
    // Kill the server while the burst is in flight.
    tokio::time::timeout(std::time::Duration::from_secs(20), async {
        while acknowledged.lock().expect("lock").len() < 15 {
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
    })
    .await
    .expect("some bookings acknowledged");
    server.kill().expect("kill -9");
    server.wait().expect("reaped");
    for task in tasks {
        task.await.expect("task");
    }
    let acknowledged = acknowledged.lock().expect("lock").clone();

    let mut server = start_server(&config);
    wait_healthy(port).await;
    let conn = rusqlite::Connection::open(&db).expect("open");
    for (user, id) in &acknowledged {
        let owner: String =
            conn.query_row("SELECT userid FROM bookings WHERE id = ?1", [id], |r| r.get(0)).expect("booking kept");
        assert_eq!(&owner, user);
    }
    // Nothing half-written: each booking has its callback record and its pass in the outbox.
    let orphans: i64 = conn
        .query_row(
            "SELECT count(*) FROM bookings b WHERE NOT EXISTS (SELECT 1 FROM outbox o WHERE o.dedupe_key = 'pass:' || b.id)",
            [],
            |r| r.get(0),
        )
        .expect("query");
    assert_eq!(orphans, 0);
    let bookings: i64 = conn.query_row("SELECT count(*) FROM bookings", [], |r| r.get(0)).expect("count");
    let records: i64 = conn
        .query_row("SELECT count(*) FROM processed_callbacks WHERE reply LIKE '%预约成功%'", [], |r| r.get(0))
        .expect("count");
    assert_eq!(bookings, records);
    // The restarted server delivers every pass, the ones queued before the kill included.
    tokio::time::timeout(std::time::Duration::from_secs(20), async {
        loop {
            let sent = api.calls().iter().filter(|c| c.body["msgtype"] == "textcard").count() as i64;
            if sent >= bookings {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    })
    .await
    .expect("all passes delivered after the restart");
    server.kill().expect("stop");
    let _ = server.wait();
}
