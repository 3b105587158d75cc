//! Stop-use notices: formal cards to each member whose booking it ended (with places to go to
//! instead), one broadcast of the closure, one of the reopening.

use super::{Notifier, NotifyError};
use crate::booking::closure::period_label;
use crate::booking::service::describe;
use crate::booking::{Alternative, Booking};
use crate::outbox::{self, Outgoing, Recipient, Weight};
use crate::wecom::card::{self, Field};
use chrono::{DateTime, Utc};
use rusqlite::Connection;

/// What a stop-use was: which facility, when, why.
pub struct StopUse<'a> {
    pub closure_id: i64,
    pub facility: &'a str,
    pub start: DateTime<Utc>,
    pub end: Option<DateTime<Utc>>,
    pub reason: &'a str,
}

impl StopUse<'_> {
    fn name<'n>(&'n self, n: &'n Notifier) -> &'n str {
        n.catalog.facility(self.facility).map_or(self.facility, |f| f.name.as_str())
    }
}

/// The member whose booking the stop-use ended is told, formally, with alternatives.
pub fn booking_hit(
    tx: &Connection,
    n: &Notifier,
    stop: &StopUse,
    booking: &Booking,
    alternatives: &[Alternative],
    now: i64,
) -> Result<(), NotifyError> {
    let what = describe(n.catalog, &booking.facility, booking.date, booking.slot);
    let suggestions: Vec<String> =
        alternatives.iter().map(|a| describe(n.catalog, &a.facility, a.date, a.slot)).collect();
    let instead = if suggestions.is_empty() {
        "请换个时间再约：空闲".to_string()
    } else {
        format!("可改约：{}", suggestions.join("；"))
    };
    let (name, period, reason) = (stop.name(n), period_label(n.catalog, stop.start, stop.end), stop.reason);
    let number = format!("#{}", booking.id);
    let message = Outgoing::to_user(
        format!("closure:{}:booking:{}", stop.closure_id, booking.id),
        &booking.userid,
        Weight::Formal,
        card::text_notice(
            "设施临时停用，预约已取消",
            &what,
            &format!("{name} {period} 停用（{reason}），你的预约 {number} {what} 已取消。{instead}"),
            &[Field { key: "预约号", value: &number }, Field { key: "原因", value: reason }],
            &n.board_url(),
        ),
    );
    outbox::enqueue(tx, &message, now)?;
    Ok(())
}

/// The stop-use, broadcast once to everyone.
pub fn broadcast_closure(tx: &Connection, n: &Notifier, stop: &StopUse, now: i64) -> Result<(), NotifyError> {
    let (name, period, reason) = (stop.name(n), period_label(n.catalog, stop.start, stop.end), stop.reason);
    let key = format!("closure:{}:broadcast", stop.closure_id);
    let body = format!("{name} {period} 停用，原因：{reason}。期间有预约的同事会另行收到通知。");
    let fields = [Field { key: "设施", value: name }, Field { key: "原因", value: reason }];
    broadcast(tx, n, key, ("设施临时停用通知", name), &body, &fields, now)
}

/// A facility open again, broadcast to everyone.
pub fn broadcast_reopening(
    tx: &Connection,
    n: &Notifier,
    facility: &str,
    by: &str,
    at: DateTime<Utc>,
    now: i64,
) -> Result<(), NotifyError> {
    let name = n.catalog.facility(facility).map_or(facility, |f| f.name.as_str());
    let key = format!("reopen:{facility}:{}", at.timestamp());
    let body = format!("{name} 已恢复开放，欢迎预约：空闲 {name}");
    let fields = [Field { key: "设施", value: name }, Field { key: "操作人", value: by }];
    // A light notice: to the group robots when there are any.
    let card = card::text_notice("设施恢复开放", name, &body, &fields, &n.board_url());
    let to_everyone =
        Outgoing { dedupe_key: key.clone(), recipient: Recipient::All, weight: Weight::Light, body: card };
    let markdown = format!("**{name} 已恢复开放**\n欢迎预约：在「职工之家」应用中发送「空闲 {name}」。");
    super::robots::light_to_everyone(tx, n, &key, &markdown, to_everyone, now)
}

/// A formal notice card to everyone, once per `key`; `(title, desc)` head the card.
fn broadcast(
    tx: &Connection,
    n: &Notifier,
    key: String,
    (title, desc): (&str, &str),
    body: &str,
    fields: &[Field],
    now: i64,
) -> Result<(), NotifyError> {
    let body = card::text_notice(title, desc, body, fields, &n.board_url());
    outbox::enqueue(tx, &Outgoing { dedupe_key: key, recipient: Recipient::All, weight: Weight::Formal, body }, now)?;
    Ok(())
}
