//! The XML only the stand-in needs: inbound payloads as WeCom builds them, and passive replies
//! parsed back as WeCom's client reads them.

use crate::wecom::xml::{cdata, flatten, Inbound, InboundMessage, XmlError};

/// The fields of an encrypted reply, parsed back (the stand-in reads replies with it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptedReply {
    pub encrypt: String,
    pub msg_signature: String,
    pub timestamp: String,
    pub nonce: String,
}

pub fn parse_encrypted_reply(body: &str) -> Result<EncryptedReply, XmlError> {
    let flat = flatten(body)?;
    Ok(EncryptedReply {
        encrypt: flat.required("xml/Encrypt", "Encrypt")?.to_string(),
        msg_signature: flat.required("xml/MsgSignature", "MsgSignature")?.to_string(),
        timestamp: flat.required("xml/TimeStamp", "TimeStamp")?.trim().to_string(),
        nonce: flat.required("xml/Nonce", "Nonce")?.to_string(),
    })
}

/// A parsed plaintext reply (what the stand-in shows a member).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainReply {
    pub to_user: String,
    pub msg_type: String,
    pub content: String,
}

pub fn parse_plain_reply(xml: &str) -> Result<PlainReply, XmlError> {
    let flat = flatten(xml)?;
    let msg_type = flat.required("xml/MsgType", "MsgType")?.to_string();
    let content =
        if msg_type == "update_button" { flat.text("xml/Button/ReplaceName") } else { flat.text("xml/Content") };
    Ok(PlainReply { to_user: flat.text("xml/ToUserName"), msg_type, content })
}

/// Build a decrypted inbound payload as WeCom would (used by the stand-in and tests).
pub fn inbound_xml(msg: &InboundMessage) -> String {
    let mut body = format!(
        "<xml><ToUserName>{}</ToUserName><FromUserName>{}</FromUserName><CreateTime>{}</CreateTime>",
        cdata(&msg.to_user_name),
        cdata(&msg.from_user_name),
        msg.create_time
    );
    let event = |name: &str, key: &str| {
        format!("<MsgType><![CDATA[event]]></MsgType><Event>{}</Event><EventKey>{}</EventKey>", cdata(name), cdata(key))
    };
    let scan = |name: &str, key: &str, scan_type: &str, result: &str| {
        format!(
            "{}<ScanCodeInfo><ScanType>{}</ScanType><ScanResult>{}</ScanResult></ScanCodeInfo>",
            event(name, key),
            cdata(scan_type),
            cdata(result)
        )
    };
    body.push_str(&match &msg.inbound {
        Inbound::Text { content, msg_id } => {
            format!("<MsgType><![CDATA[text]]></MsgType><Content>{}</Content><MsgId>{msg_id}</MsgId>", cdata(content))
        }
        Inbound::EnterAgent => event("enter_agent", ""),
        Inbound::Click { key } => event("click", key),
        Inbound::View { url } => event("view", url),
        Inbound::ScanCodePush { key, scan_type, scan_result } => scan("scancode_push", key, scan_type, scan_result),
        Inbound::ScanCodeWaitMsg { key, scan_type, scan_result } => {
            scan("scancode_waitmsg", key, scan_type, scan_result)
        }
        Inbound::TemplateCardEvent { event_key, task_id, card_type, response_code, selected_items } => {
            let mut s = event("template_card_event", event_key);
            s.push_str(&format!(
                "<TaskId>{}</TaskId><CardType>{}</CardType><ResponseCode>{}</ResponseCode>",
                cdata(task_id),
                cdata(card_type),
                cdata(response_code)
            ));
            if !selected_items.is_empty() {
                s.push_str("<SelectedItems>");
                for item in selected_items {
                    s.push_str(&format!(
                        "<SelectedItem><QuestionKey>{}</QuestionKey><OptionIds>",
                        cdata(&item.question_key)
                    ));
                    for id in &item.option_ids {
                        s.push_str(&format!("<OptionId>{}</OptionId>", cdata(id)));
                    }
                    s.push_str("</OptionIds></SelectedItem>");
                }
                s.push_str("</SelectedItems>");
            }
            s
        }
        Inbound::Subscribe => "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[subscribe]]></Event>".into(),
        Inbound::Unsubscribe => "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[unsubscribe]]></Event>".into(),
        Inbound::Other { msg_type, event: Some(e) } => {
            format!("<MsgType>{}</MsgType><Event>{}</Event>", cdata(msg_type), cdata(e))
        }
        Inbound::Other { msg_type, event: None } => format!("<MsgType>{}</MsgType>", cdata(msg_type)),
    });
    if let Some(agent) = msg.agent_id {
        body.push_str(&format!("<AgentID>{agent}</AgentID>"));
    }
    body.push_str("</xml>");
    body
}
