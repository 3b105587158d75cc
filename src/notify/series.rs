//! Word to a member about their recurring booking: a held date that could not be booked as
//! its week opened, and a series ended by missed occurrences.

use super::{Notifier, NotifyError};
use crate::booking::service::describe;
use crate::booking::Booking;
use crate::outbox::{self, Outgoing, Weight};
use chrono::NaiveDate;
use rusqlite::Connection;

pub fn held_refused(
    tx: &Connection,
    n: &Notifier,
    (user, facility, date, slot): (&str, &str, NaiveDate, u32),
    reason: &str,
    now: i64,
) -> Result<(), NotifyError> {
    let what = describe(n.catalog, facility, date, slot);
    let text = format!("你的周期预约在 {what} 没能预约成功（{reason}）。其余日期不受影响；可发「空闲」另选时段。");
    let key = format!("held_refused:{user}:{facility}:{date}:{slot}");
    outbox::enqueue(tx, &Outgoing::text(key, user, Weight::Formal, &text), now)?;
    Ok(())
}

pub fn ended(
    tx: &Connection,
    n: &Notifier,
    user: &str,
    missed: i64,
    cancelled: &[Booking],
    holds: usize,
    now: i64,
) -> Result<(), NotifyError> {
    let later: Vec<String> =
        cancelled.iter().map(|b| format!("#{} {}", b.id, describe(n.catalog, &b.facility, b.date, b.slot))).collect();
    let mut text = format!("你的周期预约已有 {missed} 次未到场，系列已结束。");
    if !later.is_empty() {
        text.push_str(&format!("之后的预约已取消：{}。", later.join("、")));
    }
    if holds > 0 {
        text.push_str(&format!("待开放周的 {holds} 次也不再保留。"));
    }
    let key = format!("series_ended:{user}:{}", cancelled.first().map_or(now, |b| b.id));
    outbox::enqueue(tx, &Outgoing::text(key, user, Weight::Formal, &text), now)?;
    Ok(())
}
