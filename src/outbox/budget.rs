//! The app's daily send budget (`wecom.daily_message_budget`): WeCom drops what an app sends
//! past its daily total, silently. The outbox counts the app messages it takes for sending per
//! local day; from 80 % on, light and reply messages wait for the next day (formal ones still
//! go), and the admins are told once.

use super::{Outgoing, Weight};
use chrono::{DateTime, Duration, TimeZone, Utc};
use chrono_tz::Tz;
use rusqlite::{Connection, OptionalExtension};

/// What the budget says of one more message now.
pub(super) enum Verdict {
    /// Send it (and it was counted).
    Send,
    /// Past 80 %: not before this (the next local day).
    WaitUntil(i64),
}

/// Count a message about to be sent today, or hold it back: `formal` ones always go.
pub(super) fn spend(
    tx: &Connection,
    (budget, admins): (u64, &[String]),
    formal: bool,
    zone: Tz,
    now: i64,
) -> rusqlite::Result<Verdict> {
    if budget == 0 {
        return Ok(Verdict::Send);
    }
    let local = DateTime::<Utc>::from_timestamp(now, 0).unwrap_or_default().with_timezone(&zone);
    let day = local.date_naive().to_string();
    let sent = sent_on(tx, &day)?;
    let warn_at = (budget * 4).div_ceil(5) as i64;
    if sent >= warn_at && !formal {
        let tomorrow = local.date_naive() + Duration::days(1);
        let midnight = zone.from_local_datetime(&tomorrow.and_time(chrono::NaiveTime::MIN)).earliest();
        return Ok(Verdict::WaitUntil(midnight.map_or(now + 3600, |t| t.timestamp())));
    }
    crate::store::execute(
        tx,
        "INSERT INTO send_days (day, sent) VALUES (?1, 1) ON CONFLICT (day) DO UPDATE SET sent = sent + 1",
        [&day],
    )?;
    if sent + 1 >= warn_at {
        let first = crate::store::execute(tx, "UPDATE send_days SET warned = 1 WHERE day = ?1 AND warned = 0", [&day])?;
        if first == 1 {
            let text = format!(
                "提醒管理员：今天已发送应用消息 {} 条，达到每日额度 {budget} 条的 80%。此后的非正式消息（提醒等）顺延到明天，正式通知照常发送。",
                sent + 1
            );
            for admin in admins {
                let warning = Outgoing::text(format!("budget:{day}:{admin}"), admin, Weight::Formal, &text);
                super::enqueue(tx, &warning, now)?;
            }
        }
    }
    Ok(Verdict::Send)
}

/// App messages counted on `day` (local, YYYY-MM-DD).
pub fn sent_on(conn: &Connection, day: &str) -> rusqlite::Result<i64> {
    Ok(crate::store::query_row(conn, "SELECT sent FROM send_days WHERE day = ?1", [day], |row| row.get(0))
        .optional()?
        .unwrap_or(0))
}
