//! The app's menu in WeCom (`staffhome menu`): its click keys are the chat layer's.

use serde_json::{json, Value};

/// 预约 (the member's page, today's free slots, the board), 我的 (the member's page at 我的,
/// the bookings as a message), 扫码签到 (scan a door QR). WeCom allows three top buttons of at
/// most five each.
pub fn app_menu(member_url: &str, board_url: &str, free_key: &str, mine_key: &str) -> Value {
    json!({
        "button": [
            {"name": "预约", "sub_button": [
                {"type": "view", "name": "预约页面", "url": member_url},
                {"type": "click", "name": "空闲时段", "key": free_key},
                {"type": "view", "name": "状态看板", "url": board_url},
            ]},
            {"name": "我的", "sub_button": [
                {"type": "view", "name": "我的页面", "url": format!("{member_url}#mine")},
                {"type": "click", "name": "我的预约", "key": mine_key},
            ]},
            {"type": "scancode_push", "name": "扫码签到", "key": "scan_checkin"},
        ]
    })
}
