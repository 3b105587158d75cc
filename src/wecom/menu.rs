//! The app's menu in WeCom (`staffhome menu`): its click keys are the chat layer's.

use serde_json::{json, Value};

/// 空闲 (click), 我的预约 (click), 扫码签到 (scan a door QR), 状态看板 (the board page).
pub fn app_menu(board_url: &str, free_key: &str, mine_key: &str) -> Value {
    json!({
        "button": [
            {"type": "click", "name": "空闲", "key": free_key},
            {"type": "click", "name": "我的预约", "key": mine_key},
            {"type": "scancode_push", "name": "扫码签到", "key": "scan_checkin"},
            {"type": "view", "name": "状态看板", "url": board_url},
        ]
    })
}
