//! Messages the conversation sends itself: a reply that must go as a message, an admin's
//! broadcast, a report.

use super::{Notifier, NotifyError};
use crate::booking::date_label;
use crate::outbox::{self, Outgoing, Recipient, Weight};
use crate::wecom::card::{self, Field};
use crate::wecom::xml::truncate_bytes;
use rusqlite::Connection;
use serde_json::json;

/// Who an admin's broadcast goes to.
pub enum Audience {
    Everyone,
    /// One department, by its WeCom id.
    Department(String),
}

/// A plain text to one member, once per `key`.
pub fn text_to(tx: &Connection, key: String, user: &str, text: &str, now: i64) -> Result<(), NotifyError> {
    outbox::enqueue(tx, &Outgoing::text(key, user, Weight::Reply, text), now)?;
    Ok(())
}

/// A markdown message to one member, once per `key` (reports, digests).
pub fn markdown_to(tx: &Connection, key: String, user: &str, content: &str, now: i64) -> Result<(), NotifyError> {
    let body = json!({"msgtype": "markdown", "markdown": {"content": content}});
    outbox::enqueue(tx, &Outgoing::to_user(key, user, Weight::Reply, body), now)?;
    Ok(())
}

/// An admin's formal notice (`by`) to everyone or one department.
pub fn broadcast(
    tx: &Connection,
    n: &Notifier,
    audience: Audience,
    text: &str,
    by: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), NotifyError> {
    let t = now.timestamp();
    let recipient = match audience {
        Audience::Everyone => Recipient::All,
        Audience::Department(party) => Recipient::Parties(vec![party]),
    };
    let message = Outgoing {
        dedupe_key: format!("broadcast:{by}:{t}:{}", truncate_bytes(text, 64)),
        recipient,
        weight: Weight::Formal,
        body: card::text_notice(
            "职工之家通知",
            &date_label(n.catalog.today(now)),
            text,
            &[Field { key: "发布人", value: by }],
            &n.board_url(),
        ),
    };
    outbox::enqueue(tx, &message, t)?;
    Ok(())
}
