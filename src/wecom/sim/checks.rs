//! What WeCom accepts, as the stand-in checks it: each violation answers the errcode WeCom
//! would (messages, cards, menus, schedules).

use serde_json::Value;

/// What a schedule must be (oa/schedule/add and update): times in seconds, the end after the
/// start, known attendees, a reminder WeCom offers, texts within their lengths.
fn validate_schedule(schedule: &Value, adding: bool) -> Result<(), i64> {
    let (start, end) = (schedule["start_time"].as_i64(), schedule["end_time"].as_i64());
    if adding && (start.is_none() || end.is_none()) {
        return Err(40058);
    }
    // Seconds, not milliseconds: 10^11 s is the year 5138.
    if start.is_some_and(|s| !(0..100_000_000_000).contains(&s))
        || end.is_some_and(|e| !(0..100_000_000_000).contains(&e))
    {
        return Err(40058);
    }
    if let (Some(start), Some(end)) = (start, end) {
        if end <= start {
            return Err(40058);
        }
    }
    let attendees = schedule["attendees"].as_array();
    if adding && attendees.is_none_or(|a| a.is_empty()) {
        return Err(40058);
    }
    for attendee in attendees.into_iter().flatten() {
        let user = attendee["userid"].as_str().unwrap_or_default();
        if user.is_empty() || user.len() > 64 {
            return Err(60111);
        }
    }
    let remind = &schedule["reminders"];
    if remind["is_remind"] == 1
        && !remind["remind_before_event_secs"].as_i64().is_some_and(|s| [0, 300, 900, 3600, 86400].contains(&s))
    {
        return Err(40058);
    }
    let chars = |key: &str| schedule[key].as_str().map_or(0, |s| s.chars().count());
    if chars("summary") > 128 || chars("location") > 128 || chars("description") > 1000 {
        return Err(40058);
    }
    Ok(())
}

/// WeCom's limits on what it accepts; a violation answers the errcode WeCom would.
pub(super) fn validate(path: &str, body: &Value) -> Result<(), i64> {
    match path {
        "oa/schedule/add" => validate_schedule(&body["schedule"], true),
        "oa/schedule/update" => validate_schedule(&body["schedule"], false),
        "message/send" => validate_send(body),
        "menu/create" => validate_menu(body),
        "message/update_template_card" => {
            if body["agentid"].as_i64().is_none() {
                return Err(40056);
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// One to three buttons, each either an action or one to five sub-buttons; names of at most
/// 16 bytes (sub-buttons 40); a click has a key, a view a URL.
fn validate_menu(body: &Value) -> Result<(), i64> {
    let top = body["button"].as_array().filter(|b| (1..=3).contains(&b.len())).ok_or(40017)?;
    let action = |button: &Value, max_name: usize| -> Result<(), i64> {
        let name = button["name"].as_str().unwrap_or_default();
        if name.is_empty() || name.len() > max_name {
            return Err(40018);
        }
        match button["type"].as_str() {
            Some("click" | "scancode_push" | "scancode_waitmsg") if button["key"].is_string() => Ok(()),
            Some("view") if button["url"].as_str().is_some_and(|u| u.starts_with("http")) => Ok(()),
            _ => Err(40019),
        }
    };
    for button in top {
        match button["sub_button"].as_array() {
            Some(subs) if (1..=5).contains(&subs.len()) => {
                if button["name"].as_str().is_none_or(|n| n.is_empty() || n.len() > 16) {
                    return Err(40018);
                }
                subs.iter().try_for_each(|sub| action(sub, 40))?;
            }
            Some(_) => return Err(40017),
            None => action(button, 16)?,
        }
    }
    Ok(())
}

fn validate_send(body: &Value) -> Result<(), i64> {
    if body["agentid"].as_i64().is_none() {
        return Err(40056);
    }
    let to = ["touser", "toparty", "totag"].iter().any(|k| body[*k].as_str().is_some_and(|s| !s.is_empty()));
    if !to {
        return Err(82001);
    }
    match body["msgtype"].as_str() {
        Some("text") => text_within(&body["text"]["content"], 2048, 44004),
        Some("markdown") => text_within(&body["markdown"]["content"], 2048, 44004),
        Some("textcard") => {
            let card = &body["textcard"];
            let url_ok = card["url"].as_str().is_some_and(|u| u.starts_with("http"));
            if card["title"].as_str().is_none_or(|t| t.chars().count() > 128) || !url_ok {
                return Err(45002);
            }
            Ok(())
        }
        Some("template_card") => validate_card(&body["template_card"]),
        _ => Err(40008),
    }
}

fn text_within(value: &Value, max: usize, empty_code: i64) -> Result<(), i64> {
    match value.as_str() {
        None | Some("") => Err(empty_code),
        Some(s) if s.len() > max => Err(45002),
        Some(_) => Ok(()),
    }
}

fn validate_card(card: &Value) -> Result<(), i64> {
    let task_id = card["task_id"].as_str().unwrap_or_default();
    let task_ok = !task_id.is_empty()
        && task_id.len() <= 128
        && task_id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'@'));
    match card["card_type"].as_str() {
        Some("button_interaction") => {
            if !task_ok {
                return Err(42014);
            }
            let buttons = card["button_list"].as_array().ok_or(42038)?;
            if buttons.is_empty() || buttons.len() > 6 {
                return Err(42038);
            }
            let mut keys = Vec::new();
            for button in buttons {
                // type 1: the button opens its url (which must be a web address) and needs no key.
                // 42040 is in WeCom's range of template_card field errors (42027–42051); which
                // one it uses for a bad button url is not documented.
                if button["type"] == 1 {
                    let url = button["url"].as_str().unwrap_or_default();
                    if !(url.starts_with("http://") || url.starts_with("https://")) {
                        return Err(42040);
                    }
                    continue;
                }
                let key = button["key"].as_str().unwrap_or_default();
                if key.is_empty() || key.len() > 1024 || keys.contains(&key) {
                    return Err(42039);
                }
                keys.push(key);
            }
            Ok(())
        }
        Some("text_notice") => {
            if card["card_action"].is_null() {
                return Err(42045);
            }
            if !task_id.is_empty() && !task_ok {
                return Err(42014);
            }
            Ok(())
        }
        _ => Err(42027),
    }
}

#[cfg(test)]
mod tests {
    use super::validate_card;
    use serde_json::json;

    fn card(buttons: serde_json::Value) -> serde_json::Value {
        json!({"card_type": "button_interaction", "task_id": "t1", "button_list": buttons})
    }

    /// A callback button needs a key of its own; a link button (type 1) a web address instead.
    #[test]
    fn buttons_call_back_by_key_or_open_a_web_address() {
        let tap = json!({"text": "取消", "key": "cancel:1"});
        let link = json!({"text": "改约", "type": 1, "url": "https://example.com/m?moving=1"});
        assert_eq!(validate_card(&card(json!([tap, link]))), Ok(()));
        assert_eq!(validate_card(&card(json!([tap, tap]))), Err(42039));
        assert_eq!(validate_card(&card(json!([{"text": "改约", "type": 1, "url": "ftp://x"}]))), Err(42040));
        assert_eq!(validate_card(&card(json!([{"text": "改约", "type": 1}]))), Err(42040));
        assert_eq!(validate_card(&card(json!([{"text": "改约"}]))), Err(42039));
    }
}
