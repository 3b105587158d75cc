//! Template-card builders that enforce WeCom's limits before anything is sent: task_id of
//! `[A-Za-z0-9_\-@]`, at most 128 bytes; at most 6 buttons with unique keys (≤ 1024 bytes);
//! texts cut at a character boundary.

use super::xml::truncate_bytes;
use serde_json::{json, Value};

pub const MAX_TASK_ID_BYTES: usize = 128;
pub const MAX_BUTTONS: usize = 6;
pub const MAX_KEY_BYTES: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CardError {
    #[error("task_id must be 1-128 bytes of letters, digits, _ - @")]
    BadTaskId,
    #[error("a card has 1 to 6 buttons")]
    ButtonCount,
    #[error("button keys must be unique, 1-1024 bytes")]
    BadKey,
}

/// A task_id WeCom accepts, unique per app (callers put a booking id and a serial in it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskId(String);

impl TaskId {
    pub fn parse(s: &str) -> Result<TaskId, CardError> {
        let ok = !s.is_empty()
            && s.len() <= MAX_TASK_ID_BYTES
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'@'));
        ok.then(|| TaskId(s.to_string())).ok_or(CardError::BadTaskId)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Cut to `max` characters (WeCom's card limits count characters).
fn chars(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// One field line of a card (`keyname: value`).
pub struct Field<'a> {
    pub key: &'a str,
    pub value: &'a str,
}

fn fields(list: &[Field]) -> Value {
    Value::Array(
        list.iter().take(6).map(|f| json!({"keyname": chars(f.key, 5), "value": chars(f.value, 30)})).collect(),
    )
}

/// A formal notice: a `text_notice` card that opens `url` when tapped.
pub fn text_notice(title: &str, desc: &str, body: &str, list: &[Field], url: &str) -> Value {
    json!({
        "msgtype": "template_card",
        "template_card": {
            "card_type": "text_notice",
            "source": {"desc": "职工之家", "desc_color": 0},
            "main_title": {"title": chars(title, 36), "desc": chars(desc, 44)},
            "sub_title_text": chars(truncate_bytes(body, 2048), 160),
            "horizontal_content_list": fields(list),
            "card_action": {"type": 1, "url": url},
        }
    })
}

/// A button on an interactive card: its label, style (1 strong … 4 negative) and key; or,
/// with `url`, a button that opens that page instead of calling back (its key unused).
pub struct Button<'a> {
    pub text: &'a str,
    pub style: u8,
    pub key: String,
    pub url: Option<String>,
}

impl<'a> Button<'a> {
    /// A button whose click comes back with `key`.
    pub fn tap(text: &'a str, style: u8, key: String) -> Button<'a> {
        Button { text, style, key, url: None }
    }

    /// A button that opens `url`.
    pub fn link(text: &'a str, style: u8, url: String) -> Button<'a> {
        Button { text, style, key: String::new(), url: Some(url) }
    }
}

/// A `button_interaction` card; the click comes back as a template_card_event.
pub fn button_card(
    task_id: &TaskId,
    title: &str,
    desc: &str,
    list: &[Field],
    buttons: &[Button],
) -> Result<Value, CardError> {
    if buttons.is_empty() || buttons.len() > MAX_BUTTONS {
        return Err(CardError::ButtonCount);
    }
    let mut keys: Vec<&str> = Vec::new();
    for button in buttons {
        if let Some(url) = &button.url {
            if url.is_empty() {
                return Err(CardError::BadKey);
            }
            continue;
        }
        if button.key.is_empty() || button.key.len() > MAX_KEY_BYTES || keys.contains(&button.key.as_str()) {
            return Err(CardError::BadKey);
        }
        keys.push(&button.key);
    }
    let button_list: Vec<Value> = buttons
        .iter()
        .map(|b| match &b.url {
            Some(url) => json!({"text": chars(b.text, 10), "style": b.style.clamp(1, 4), "type": 1, "url": url}),
            None => json!({"text": chars(b.text, 10), "style": b.style.clamp(1, 4), "key": b.key}),
        })
        .collect();
    Ok(json!({
        "msgtype": "template_card",
        "template_card": {
            "card_type": "button_interaction",
            "source": {"desc": "职工之家", "desc_color": 0},
            "main_title": {"title": chars(title, 36), "desc": chars(desc, 44)},
            "horizontal_content_list": fields(list),
            "task_id": task_id.as_str(),
            "button_list": button_list,
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_ids_follow_wecom_rules() {
        assert!(TaskId::parse("approve-12-1@x_y").is_ok());
        for bad in ["", "has space", "中文", &"a".repeat(129)] {
            assert_eq!(TaskId::parse(bad), Err(CardError::BadTaskId), "{bad:?}");
        }
        assert!(TaskId::parse(&"a".repeat(128)).is_ok());
    }

    #[test]
    fn buttons_are_limited_and_unique() {
        let task = TaskId::parse("t1").unwrap();
        let button = |key: &str| Button::tap("通过", 1, key.to_string());
        assert!(button_card(&task, "审批", "", &[], &[button("a"), button("b")]).is_ok());
        assert_eq!(button_card(&task, "审批", "", &[], &[button("a"), button("a")]), Err(CardError::BadKey));
        assert_eq!(button_card(&task, "审批", "", &[], &[]), Err(CardError::ButtonCount));
        let seven: Vec<Button> = (0..7).map(|i| button(&i.to_string())).collect();
        assert_eq!(button_card(&task, "审批", "", &[], &seven), Err(CardError::ButtonCount));
    }

    #[test]
    fn a_link_button_opens_its_page_and_needs_no_key() {
        let task = TaskId::parse("t1").unwrap();
        let buttons =
            [Button::link("改约", 2, "https://x/m?moving=1".into()), Button::tap("取消", 4, "cancel:1".into())];
        let card = button_card(&task, "#1", "", &[], &buttons).unwrap();
        let list = &card["template_card"]["button_list"];
        assert_eq!(list[0], serde_json::json!({"text": "改约", "style": 2, "type": 1, "url": "https://x/m?moving=1"}));
        assert_eq!(list[1]["key"], "cancel:1");
        assert_eq!(
            button_card(&task, "#1", "", &[], &[Button::link("改约", 2, String::new())]),
            Err(CardError::BadKey)
        );
    }

    #[test]
    fn long_texts_are_cut_at_character_boundaries() {
        let card = text_notice(&"停".repeat(50), "", &"用".repeat(1000), &[], "http://x/board");
        let title = card["template_card"]["main_title"]["title"].as_str().unwrap();
        assert_eq!(title.chars().count(), 36);
        assert_eq!(card["template_card"]["sub_title_text"].as_str().unwrap().chars().count(), 160);
    }
}
