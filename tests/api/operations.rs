//! Operator commands against the stand-in: the app menu, online backup.

use crate::common::TestApp;

#[tokio::test]
async fn the_menu_is_created_with_the_chat_layers_keys() {
    let app = TestApp::spawn().await;
    let menu =
        staffhome::wecom::menu::app_menu("http://host:1/board", staffhome::chat::MENU_FREE, staffhome::chat::MENU_MINE);
    app.ctx.api.create_menu(&menu).await.expect("menu/create");
    let calls: Vec<_> = app.api.calls().into_iter().filter(|c| c.path == "menu/create").collect();
    assert_eq!(calls.len(), 1);
    let buttons = calls[0].body["button"].as_array().expect("buttons").clone();
    assert_eq!(buttons.len(), 4);
    assert_eq!(buttons[2]["type"], "scancode_push");
    assert_eq!(buttons[3]["url"], "http://host:1/board");
    // The click keys answer like the matching commands.
    let free =
        app.send("a", staffhome::wecom::Inbound::Click { key: buttons[0]["key"].as_str().expect("key").into() }).await;
    assert!(free.text().contains("各设施空位"), "{free:?}");
    let mine =
        app.send("a", staffhome::wecom::Inbound::Click { key: buttons[1]["key"].as_str().expect("key").into() }).await;
    assert!(mine.text().contains("没有预约"), "{mine:?}");
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
