//! The callback's XML: the outer envelope, the decrypted inbound message, and the replies.
//!
//! Element order varies and CDATA is optional, so every document is read into a flat map of
//! leaf paths (`xml/ScanCodeInfo/ScanResult`) with a real XML reader, never by position.

use quick_xml::events::Event;
use quick_xml::Reader;
use std::collections::HashMap;

/// Deeper documents than this are refused: WeCom's own never exceed 4 levels.
const MAX_DEPTH: usize = 8;
/// A template-card event carries at most a handful of selections; more is an attack.
const MAX_SELECTED_ITEMS: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("malformed XML: {0}")]
    Malformed(String),
    #[error("required element <{0}> is missing")]
    Missing(&'static str),
    #[error("element <{0}> has an invalid value")]
    Invalid(&'static str),
}

/// The outer POST body: `<xml><ToUserName/><AgentID/><Encrypt/></xml>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub to_user_name: Option<String>,
    pub agent_id: Option<String>,
    pub encrypt: String,
}

/// One selection of a vote / multiple card (or a button card with a selection).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SelectedItem {
    pub question_key: String,
    pub option_ids: Vec<String>,
}

/// What a member sent or did, decrypted and parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    Text {
        content: String,
        msg_id: u64,
    },
    EnterAgent,
    Click {
        key: String,
    },
    View {
        url: String,
    },
    ScanCodePush {
        key: String,
        scan_type: String,
        scan_result: String,
    },
    ScanCodeWaitMsg {
        key: String,
        scan_type: String,
        scan_result: String,
    },
    TemplateCardEvent {
        event_key: String,
        task_id: String,
        card_type: String,
        response_code: String,
        selected_items: Vec<SelectedItem>,
    },
    Subscribe,
    Unsubscribe,
    /// Any message type or event staffhome does not act on (image, voice, LOCATION …).
    Other {
        msg_type: String,
        event: Option<String>,
    },
}

impl Inbound {
    /// A short label for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            Inbound::Text { .. } => "text",
            Inbound::EnterAgent => "enter_agent",
            Inbound::Click { .. } => "click",
            Inbound::View { .. } => "view",
            Inbound::ScanCodePush { .. } => "scancode_push",
            Inbound::ScanCodeWaitMsg { .. } => "scancode_waitmsg",
            Inbound::TemplateCardEvent { .. } => "template_card_event",
            Inbound::Subscribe => "subscribe",
            Inbound::Unsubscribe => "unsubscribe",
            Inbound::Other { .. } => "other",
        }
    }
}

/// The decrypted message with the fields every message has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundMessage {
    pub to_user_name: String,
    pub from_user_name: String,
    pub create_time: i64,
    pub agent_id: Option<i64>,
    pub inbound: Inbound,
}

impl InboundMessage {
    /// The deduplication key WeCom recommends: MsgId for messages; for events the sender,
    /// CreateTime, event and its key/task (so two different clicks in one second both count).
    pub fn dedupe_key(&self) -> String {
        let user = &self.from_user_name;
        let t = self.create_time;
        match &self.inbound {
            Inbound::Text { msg_id, .. } => format!("msg:{msg_id}"),
            Inbound::TemplateCardEvent { event_key, task_id, .. } => {
                format!("evt:{user}:{t}:template_card_event:{event_key}:{task_id}")
            }
            Inbound::Click { key } => format!("evt:{user}:{t}:click:{key}"),
            // Two different codes scanned within a second are two check-ins.
            Inbound::ScanCodePush { key, scan_result, .. } | Inbound::ScanCodeWaitMsg { key, scan_result, .. } => {
                format!("evt:{user}:{t}:{}:{key}:{scan_result}", self.inbound.kind())
            }
            Inbound::View { url } => format!("evt:{user}:{t}:view:{url}"),
            other => format!("evt:{user}:{t}:{}", other.kind()),
        }
    }
}

/// Leaf values by path, plus the selections of a card event (the only repeated element).
#[derive(Default)]
pub(crate) struct Flat {
    leaves: HashMap<String, String>,
    selected: Vec<SelectedItem>,
}

impl Flat {
    fn get(&self, path: &str) -> Option<&str> {
        self.leaves.get(path).map(String::as_str)
    }

    pub(crate) fn text(&self, path: &str) -> String {
        self.get(path).unwrap_or_default().to_string()
    }

    pub(crate) fn required(&self, path: &'static str, name: &'static str) -> Result<&str, XmlError> {
        self.get(path).ok_or(XmlError::Missing(name))
    }
}

pub(crate) fn flatten(xml: &str) -> Result<Flat, XmlError> {
    let mut reader = Reader::from_str(xml);
    let mut flat = Flat::default();
    let mut path: Vec<String> = Vec::new();
    let mut text = String::new();
    let mut saw_root = false;
    loop {
        let event = reader.read_event().map_err(|e| XmlError::Malformed(e.to_string()))?;
        match event {
            Event::Start(start) => {
                if path.is_empty() && saw_root {
                    return Err(XmlError::Malformed("more than one root element".into()));
                }
                saw_root = true;
                if path.len() >= MAX_DEPTH {
                    return Err(XmlError::Malformed("nested too deeply".into()));
                }
                let name = String::from_utf8_lossy(start.name().as_ref()).into_owned();
                path.push(name);
                text.clear();
                if path.join("/") == "xml/SelectedItems/SelectedItem" {
                    if flat.selected.len() >= MAX_SELECTED_ITEMS {
                        return Err(XmlError::Malformed("too many SelectedItem".into()));
                    }
                    flat.selected.push(SelectedItem::default());
                }
            }
            Event::Empty(empty) => {
                if path.is_empty() {
                    return Err(XmlError::Malformed("empty root element".into()));
                }
                let name = String::from_utf8_lossy(empty.name().as_ref()).into_owned();
                let key = format!("{}/{name}", path.join("/"));
                flat.leaves.entry(key).or_default();
            }
            Event::Text(t) => {
                let unescaped = t.unescape().map_err(|e| XmlError::Malformed(e.to_string()))?;
                text.push_str(&unescaped);
            }
            Event::CData(c) => {
                let raw = c.into_inner();
                let s = std::str::from_utf8(&raw).map_err(|e| XmlError::Malformed(e.to_string()))?;
                text.push_str(s);
            }
            Event::End(_) => {
                let key = path.join("/");
                let value = std::mem::take(&mut text);
                record_leaf(&mut flat, &key, value);
                path.pop();
            }
            Event::Eof => break,
            // Declarations, comments, processing instructions and DOCTYPEs carry nothing
            // we read; quick-xml expands no custom entities, so a DOCTYPE is harmless.
            _ => {}
        }
    }
    if !saw_root || !path.is_empty() {
        return Err(XmlError::Malformed("unterminated document".into()));
    }
    Ok(flat)
}

fn record_leaf(flat: &mut Flat, key: &str, value: String) {
    match key {
        "xml/SelectedItems/SelectedItem/QuestionKey" => {
            if let Some(item) = flat.selected.last_mut() {
                item.question_key = value;
            }
        }
        "xml/SelectedItems/SelectedItem/OptionIds/OptionId" => {
            if let Some(item) = flat.selected.last_mut() {
                item.option_ids.push(value);
            }
        }
        _ => {
            // Whitespace between child elements would otherwise overwrite nothing useful:
            // only keep the first value for a path, and only leaves carry text we read.
            flat.leaves.entry(key.to_string()).or_insert(value);
        }
    }
}

/// Parse the outer POST body.
pub fn parse_envelope(body: &str) -> Result<Envelope, XmlError> {
    let flat = flatten(body)?;
    Ok(Envelope {
        to_user_name: flat.get("xml/ToUserName").map(str::to_string),
        agent_id: flat.get("xml/AgentID").map(|s| s.trim().to_string()),
        encrypt: flat.required("xml/Encrypt", "Encrypt")?.to_string(),
    })
}

/// Parse the decrypted payload into an [`InboundMessage`].
pub fn parse_inbound(xml: &str) -> Result<InboundMessage, XmlError> {
    let flat = flatten(xml)?;
    let create_time = flat
        .required("xml/CreateTime", "CreateTime")?
        .trim()
        .parse::<i64>()
        .map_err(|_| XmlError::Invalid("CreateTime"))?;
    let from_user_name = flat.required("xml/FromUserName", "FromUserName")?.to_string();
    if from_user_name.is_empty() {
        return Err(XmlError::Invalid("FromUserName"));
    }
    let agent_id = match flat.get("xml/AgentID").map(str::trim) {
        None | Some("") => None,
        Some(s) => Some(s.parse::<i64>().map_err(|_| XmlError::Invalid("AgentID"))?),
    };
    let msg_type = flat.required("xml/MsgType", "MsgType")?.trim().to_ascii_lowercase();
    let inbound = match msg_type.as_str() {
        "text" => Inbound::Text {
            content: flat.text("xml/Content"),
            msg_id: flat
                .required("xml/MsgId", "MsgId")?
                .trim()
                .parse::<u64>()
                .map_err(|_| XmlError::Invalid("MsgId"))?,
        },
        "event" => parse_event(&flat)?,
        _ => Inbound::Other { msg_type, event: None },
    };
    Ok(InboundMessage { to_user_name: flat.text("xml/ToUserName"), from_user_name, create_time, agent_id, inbound })
}

fn parse_event(flat: &Flat) -> Result<Inbound, XmlError> {
    let event = flat.required("xml/Event", "Event")?.trim().to_string();
    let key = flat.text("xml/EventKey");
    let scan = || (flat.text("xml/ScanCodeInfo/ScanType"), flat.text("xml/ScanCodeInfo/ScanResult"));
    Ok(match event.to_ascii_lowercase().as_str() {
        "enter_agent" => Inbound::EnterAgent,
        "click" => Inbound::Click { key },
        "view" => Inbound::View { url: key },
        "scancode_push" => {
            let (scan_type, scan_result) = scan();
            Inbound::ScanCodePush { key, scan_type, scan_result }
        }
        "scancode_waitmsg" => {
            let (scan_type, scan_result) = scan();
            Inbound::ScanCodeWaitMsg { key, scan_type, scan_result }
        }
        "template_card_event" => Inbound::TemplateCardEvent {
            event_key: key,
            task_id: flat.text("xml/TaskId"),
            card_type: flat.text("xml/CardType"),
            response_code: flat.text("xml/ResponseCode"),
            selected_items: flat.selected.clone(),
        },
        "subscribe" => Inbound::Subscribe,
        "unsubscribe" => Inbound::Unsubscribe,
        _ => Inbound::Other { msg_type: "event".into(), event: Some(event) },
    })
}

/// Write `s` as CDATA, splitting any `]]>` so the section cannot be closed early.
pub(crate) fn cdata(s: &str) -> String {
    format!("<![CDATA[{}]]>", s.replace("]]>", "]]]]><![CDATA[>"))
}

/// Cut `s` to at most `max` bytes at a character boundary.
pub fn truncate_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// WeCom truncates passive text beyond this; we cut first, at a character boundary.
pub const MAX_TEXT_BYTES: usize = 2048;

/// What to answer a callback with, before encryption.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// An empty 200: nothing to say now.
    Empty,
    Text(String),
    /// Greys out the clicked card button with this text (answer to a template_card_event).
    UpdateButton(String),
}

/// The plaintext reply XML; `to_user` is the member, `from_corp` the CorpID.
pub fn reply_xml(reply: &Reply, to_user: &str, from_corp: &str, create_time: i64) -> Option<String> {
    let head = format!(
        "<xml><ToUserName>{}</ToUserName><FromUserName>{}</FromUserName><CreateTime>{create_time}</CreateTime>",
        cdata(to_user),
        cdata(from_corp)
    );
    match reply {
        Reply::Empty => None,
        Reply::Text(text) => Some(format!(
            "{head}<MsgType><![CDATA[text]]></MsgType><Content>{}</Content></xml>",
            cdata(truncate_bytes(text, MAX_TEXT_BYTES))
        )),
        Reply::UpdateButton(name) => Some(format!(
            "{head}<MsgType><![CDATA[update_button]]></MsgType><Button><ReplaceName>{}</ReplaceName></Button></xml>",
            cdata(name)
        )),
    }
}

/// The encrypted reply envelope of section 1.5.
pub fn encrypted_reply_xml(encrypt: &str, signature: &str, timestamp: &str, nonce: &str) -> String {
    format!(
        "<xml>\n<Encrypt>{}</Encrypt>\n<MsgSignature>{}</MsgSignature>\n<TimeStamp>{timestamp}</TimeStamp>\n<Nonce>{}</Nonce>\n</xml>",
        cdata(encrypt),
        cdata(signature),
        cdata(nonce)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wecom::sim::{inbound_xml, parse_plain_reply};

    #[test]
    fn envelope_in_any_order_with_or_without_cdata() {
        let a = parse_envelope("<xml><Encrypt><![CDATA[abc]]></Encrypt><ToUserName>corp</ToUserName><AgentID><![CDATA[218]]></AgentID></xml>").unwrap();
        let b = parse_envelope(
            "<xml>\n<ToUserName><![CDATA[corp]]></ToUserName>\n<AgentID>218</AgentID>\n<Encrypt>abc</Encrypt>\n</xml>",
        )
        .unwrap();
        assert_eq!(a, b);
        assert_eq!(a.encrypt, "abc");
        assert_eq!(a.agent_id.as_deref(), Some("218"));
    }

    #[test]
    fn envelope_without_encrypt_is_refused() {
        assert_eq!(parse_envelope("<xml><ToUserName>c</ToUserName></xml>"), Err(XmlError::Missing("Encrypt")));
        assert!(matches!(parse_envelope("<xml><Encrypt>abc</xml>"), Err(XmlError::Malformed(_))));
        assert!(matches!(parse_envelope("not xml"), Err(XmlError::Malformed(_)) | Err(XmlError::Missing(_))));
        assert!(parse_envelope("").is_err());
    }

    #[test]
    fn msg_id_above_two_pow_53_is_kept_exactly() {
        let xml = "<xml><ToUserName>c</ToUserName><FromUserName>u</FromUserName><CreateTime>1</CreateTime><MsgType>text</MsgType><Content>hi</Content><MsgId>18446744073709551615</MsgId><AgentID>1</AgentID></xml>";
        let msg = parse_inbound(xml).unwrap();
        assert_eq!(msg.inbound, Inbound::Text { content: "hi".into(), msg_id: u64::MAX });
    }

    #[test]
    fn events_compare_case_insensitively() {
        let xml = "<xml><ToUserName>c</ToUserName><FromUserName>u</FromUserName><CreateTime>1</CreateTime><MsgType>event</MsgType><Event>CLICK</Event><EventKey>free</EventKey></xml>";
        assert_eq!(parse_inbound(xml).unwrap().inbound, Inbound::Click { key: "free".into() });
    }

    #[test]
    fn template_card_event_with_selections() {
        let xml = r#"<xml>
<ToUserName><![CDATA[toUser]]></ToUserName>
<FromUserName><![CDATA[FromUser]]></FromUserName>
<CreateTime>123456789</CreateTime>
<MsgType><![CDATA[event]]></MsgType>
<Event><![CDATA[template_card_event]]></Event>
<EventKey><![CDATA[key111]]></EventKey>
<TaskId><![CDATA[taskid111]]></TaskId>
<CardType><![CDATA[text_notice]]></CardType>
<ResponseCode><![CDATA[ResponseCode]]></ResponseCode>
<AgentID>1</AgentID>
<SelectedItems>
    <SelectedItem>
        <QuestionKey><![CDATA[QuestionKey1]]></QuestionKey>
        <OptionIds><OptionId><![CDATA[OptionId1]]></OptionId><OptionId><![CDATA[OptionId2]]></OptionId></OptionIds>
    </SelectedItem>
</SelectedItems>
</xml>"#;
        let msg = parse_inbound(xml).unwrap();
        assert_eq!(
            msg.inbound,
            Inbound::TemplateCardEvent {
                event_key: "key111".into(),
                task_id: "taskid111".into(),
                card_type: "text_notice".into(),
                response_code: "ResponseCode".into(),
                selected_items: vec![SelectedItem {
                    question_key: "QuestionKey1".into(),
                    option_ids: vec!["OptionId1".into(), "OptionId2".into()],
                }],
            }
        );
    }

    #[test]
    fn every_inbound_kind_round_trips_through_its_xml() {
        let kinds = vec![
            Inbound::Text { content: "预约 ]]> 健身房".into(), msg_id: 42 },
            Inbound::EnterAgent,
            Inbound::Click { key: "free".into() },
            Inbound::View { url: "http://x/board".into() },
            Inbound::ScanCodePush { key: "scan".into(), scan_type: "qrcode".into(), scan_result: "gym".into() },
            Inbound::ScanCodeWaitMsg { key: "scan".into(), scan_type: "qrcode".into(), scan_result: "gym".into() },
            Inbound::Subscribe,
            Inbound::Unsubscribe,
            Inbound::Other { msg_type: "image".into(), event: None },
            Inbound::Other { msg_type: "event".into(), event: Some("LOCATION".into()) },
        ];
        for inbound in kinds {
            let msg = InboundMessage {
                to_user_name: "corp".into(),
                from_user_name: "zhang".into(),
                create_time: 1_700_000_000,
                agent_id: Some(1000002),
                inbound,
            };
            assert_eq!(parse_inbound(&inbound_xml(&msg)).unwrap(), msg);
        }
    }

    #[test]
    fn reply_is_cut_at_a_character_boundary() {
        let long = "预".repeat(1000); // 3000 bytes
        let xml = reply_xml(&Reply::Text(long), "u", "c", 1).unwrap();
        let parsed = parse_plain_reply(&xml).unwrap();
        assert!(parsed.content.len() <= MAX_TEXT_BYTES);
        assert_eq!(parsed.content.len(), 2046);
        assert_eq!(parsed.to_user, "u");
    }

    #[test]
    fn deep_nesting_is_refused() {
        let deep = format!("{}{}", "<a>".repeat(50), "</a>".repeat(50));
        assert!(matches!(parse_envelope(&deep), Err(XmlError::Malformed(_))));
    }
}
