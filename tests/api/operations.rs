//! Operator commands against the stand-in: the app menu, online backup.

use crate::common::TestApp;

#[tokio::test]
async fn the_menu_is_created_with_the_chat_layers_keys_and_the_members_page() {
    let app = TestApp::spawn().await;
    let menu = staffhome::wecom::menu::app_menu(
        "http://host:1/m",
        "http://host:1/board",
        staffhome::chat::MENU_FREE,
        staffhome::chat::MENU_MINE,
    );
    app.ctx.api.create_menu(&menu).await.expect("menu/create (checked as WeCom checks it)");
    let calls: Vec<_> = app.api.calls().into_iter().filter(|c| c.path == "menu/create").collect();
    assert_eq!(calls.len(), 1);
    let buttons = calls[0].body["button"].as_array().expect("buttons").clone();
    assert_eq!(buttons.len(), 3, "WeCom's three top buttons");
    let (book, mine) = (&buttons[0]["sub_button"], &buttons[1]["sub_button"]);
    assert_eq!((book[0]["type"].as_str(), book[0]["url"].as_str()), (Some("view"), Some("http://host:1/m")));
    assert_eq!(mine[0]["url"], "http://host:1/m#mine");
    assert_eq!(book[2]["url"], "http://host:1/board");
    assert_eq!(buttons[2]["type"], "scancode_push");
    // The click keys answer like the matching commands.
    let free =
        app.send("a", staffhome::wecom::Inbound::Click { key: book[1]["key"].as_str().expect("key").into() }).await;
    assert!(free.text().contains("各设施空位"), "{free:?}");
    let mine =
        app.send("a", staffhome::wecom::Inbound::Click { key: mine[1]["key"].as_str().expect("key").into() }).await;
    assert!(mine.text().contains("没有预约"), "{mine:?}");
    // A menu WeCom would refuse is refused by the stand-in too: four top buttons.
    let mut four = menu.clone();
    four["button"].as_array_mut().expect("buttons").push(serde_json::json!({"type": "click", "name": "x", "key": "x"}));
    assert!(app.ctx.api.create_menu(&four).await.is_err());
}

#[tokio::test]
async fn an_online_backup_while_serving_holds_every_booking() {
    let app = TestApp::spawn().await;
    app.say("a", "预约 健身房 明天 18:30").await;
    app.say("b", "预约 健身房 明天 19:30").await;
    let copy = app.dir.path().join("backup.db");
    app.ctx.store.backup(&copy).expect("backup");
    let conn = rusqlite::Connection::open(&copy).expect("open backup");
    let n: i64 = conn.query_row("SELECT count(*) FROM bookings", [], |r| r.get(0)).expect("count");
    assert_eq!(n, 2);
    assert!(app.say("c", "预约 健身房 明天 17:30").await.contains("预约成功"), "still serving");
}

/// `serve` will not run on the secrets published in the demo's configuration (anyone can read
/// them here); it says which keys, and stops before listening.
#[test]
fn serve_refuses_the_demos_published_secrets() {
    let dir = tempfile::tempdir().expect("dir");
    let text = staffhome::demo::DEMO_CONFIG
        .replace("data/demo.db", &dir.path().join("s.db").display().to_string())
        .replace("127.0.0.1:8080\"", "127.0.0.1:0\"");
    let path = dir.path().join("staffhome.toml");
    std::fs::write(&path, &text).expect("config");
    let said = serve_until_it_says(&path);
    assert!(said.starts_with("staffhome: "), "refused, not serving: {said}");
    for key in ["wecom.secret", "wecom.token", "wecom.encoding_aes_key", "server.admin_token"] {
        assert!(said.contains(key), "{key}: {said}");
    }
    // Its own values for three of them: the fourth is still named.
    let own = text
        .replace("demo-secret-not-real", "our-own-secret")
        .replace("DemoToken2026", "OurToken2026")
        .replace("demo-admin-token", "our-admin-token");
    std::fs::write(&path, own).expect("config");
    let said = serve_until_it_says(&path);
    assert!(said.contains("wecom.encoding_aes_key") && !said.contains("wecom.secret"), "{said}");
}

/// Run `serve` on `config` until its first line on stderr (its refusal, or its log that it is
/// serving, after which it is stopped); that line.
fn serve_until_it_says(config: &std::path::Path) -> String {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_staffhome"))
        .args(["serve", "--config"])
        .arg(config)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run");
    let stderr = child.stderr.take().expect("stderr");
    let (line, first) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let first_line = std::io::BufReader::new(stderr).lines().next().and_then(Result::ok).unwrap_or_default();
        let _ = line.send(first_line);
    });
    let said = first.recv_timeout(std::time::Duration::from_secs(20)).unwrap_or_default();
    let _ = child.kill();
    let _ = child.wait();
    said
}
