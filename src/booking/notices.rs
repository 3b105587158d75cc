//! Notices the booking rules cause for someone other than the sender, queued in the outbox
//! in the same transaction as the change.

use super::catalog::date_label;
use super::model::Booking;
use super::service::{describe, Rules};
use crate::outbox::{self, Outgoing, Recipient, Weight};
use crate::wecom::card::{self, Field};
use chrono::{Duration, NaiveDate};
use rusqlite::Transaction;
use serde_json::json;

/// 已为你候补成功: the waiter now holds the place.
pub fn promoted(tx: &Transaction, rules: &Rules, booking: &Booking, now: i64) -> rusqlite::Result<()> {
    let what = describe(rules.catalog, &booking.facility, booking.date, booking.slot);
    let pending = if booking.state.is_live() && booking.approval_level.is_some() { "（待审批）" } else { "" };
    let text = format!(
        "已为你候补成功{pending}：{what}\n预约号 #{id}，签到码 {code}。\n不去了请回复「取消 {id}」，名额会让给下一位。",
        id = booking.id,
        code = booking.checkin_code
    );
    outbox::enqueue(
        tx,
        &Outgoing::text(format!("promote:{}", booking.id), &booking.userid, Weight::Light, &text),
        now,
    )?;
    Ok(())
}

/// An admin cancelled someone's booking: the owner is told, formally (a card).
pub fn cancelled_by_admin(
    tx: &Transaction,
    rules: &Rules,
    booking: &Booking,
    admin: &str,
    now: i64,
) -> rusqlite::Result<()> {
    let what = describe(rules.catalog, &booking.facility, booking.date, booking.slot);
    let number = format!("#{}", booking.id);
    let body = card::text_notice(
        "预约已被取消",
        "管理员操作",
        &format!("你的预约 {number} {what} 已由管理员取消。如有疑问请联系管理员。"),
        &[Field { key: "预约号", value: &number }, Field { key: "操作人", value: admin }],
        &board_url(rules),
    );
    let message = Outgoing {
        dedupe_key: format!("admin-cancel:{}", booking.id),
        recipient: Recipient::User(booking.userid.clone()),
        weight: Weight::Formal,
        body,
    };
    outbox::enqueue(tx, &message, now)?;
    Ok(())
}

fn board_url(rules: &Rules) -> String {
    format!("{}/board", rules.public_url.trim_end_matches('/'))
}

/// Next week is open: one broadcast to everyone (one API call, not one per member).
pub fn week_published(tx: &Transaction, _rules: &Rules, week: NaiveDate, now: i64) -> rusqlite::Result<()> {
    let text = format!(
        "职工之家 {} 至 {} 的预约已开放。发送「空闲」查看空位，「预约 健身房 周一 18:30」即可预约。",
        date_label(week),
        date_label(week + Duration::days(6))
    );
    let message = Outgoing {
        dedupe_key: format!("publish:{week}"),
        recipient: Recipient::All,
        weight: Weight::Light,
        body: json!({"msgtype": "text", "text": {"content": text}}),
    };
    outbox::enqueue(tx, &message, now)?;
    Ok(())
}
