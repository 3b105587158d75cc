//! Notices to members: passes, promotions, confirmations, reminders, no-shows, results.

use super::{CardButton, Notifier, NotifyError};
use crate::booking::service::describe;
use crate::booking::{date_label, Booking};
use crate::outbox::{self, Outgoing, Recipient, Weight};
use crate::wecom::card::{self, Field};
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use rusqlite::Connection;
use serde_json::json;

/// 已为你候补成功: the waiter now holds the place.
pub fn promoted(tx: &Connection, n: &Notifier, booking: &Booking, now: i64) -> Result<(), NotifyError> {
    let what = describe(n.catalog, &booking.facility, booking.date, booking.slot);
    let pending = if booking.state.is_live() && booking.approval_level.is_some() { "（待审批）" } else { "" };
    let text = format!(
        "已为你候补成功{pending}：{what}\n预约号 #{id}，签到码 {code}。预约凭证：{url}\n不去了请回复「取消 {id}」，名额会让给下一位。",
        id = booking.id,
        code = booking.checkin_code,
        url = n.pass_url(booking)
    );
    outbox::enqueue(
        tx,
        &Outgoing::text(format!("promote:{}", booking.id), &booking.userid, Weight::Formal, &text),
        now,
    )?;
    Ok(())
}

/// An admin cancelled someone's booking: the owner is told, formally (a card).
pub fn cancelled_by_admin(
    tx: &Connection,
    n: &Notifier,
    booking: &Booking,
    admin: &str,
    now: i64,
) -> Result<(), NotifyError> {
    let what = describe(n.catalog, &booking.facility, booking.date, booking.slot);
    let number = format!("#{}", booking.id);
    let body = card::text_notice(
        "预约已被取消",
        "管理员操作",
        &format!("你的预约 {number} {what} 已由管理员取消。如有疑问请联系管理员。"),
        &[Field { key: "预约号", value: &number }, Field { key: "操作人", value: admin }],
        &n.board_url(),
    );
    let message = Outgoing::to_user(format!("admin-cancel:{}", booking.id), &booking.userid, Weight::Formal, body);
    outbox::enqueue(tx, &message, now)?;
    Ok(())
}

/// Next week is open: one broadcast to everyone (one API call, not one per member).
pub fn week_published(tx: &Connection, n: &Notifier, week: NaiveDate, now: i64) -> Result<(), NotifyError> {
    let (from, to) = (date_label(week), date_label(week + Duration::days(6)));
    let text =
        format!("职工之家 {from} 至 {to} 的预约已开放。发送「空闲」查看空位，「预约 健身房 周一 18:30」即可预约。");
    let key = format!("publish:{week}");
    let message = Outgoing {
        dedupe_key: key.clone(),
        recipient: Recipient::All,
        weight: Weight::Light,
        body: json!({"msgtype": "text", "text": {"content": text}}),
    };
    let markdown = format!(
        "**职工之家 {from} 至 {to} 的预约已开放**\n在「职工之家」应用中发送「空闲」查看空位，或打开 [预约页面]({})。",
        n.public_url.join("/m")
    );
    super::robots::light_to_everyone(tx, n, &key, &markdown, message, now)
}

/// The confirmation card two hours before a peak session: 确认参加 / 取消预约.
pub fn confirmation_card(
    tx: &Connection,
    n: &Notifier,
    booking: &Booking,
    waiting: u32,
    now: i64,
) -> Result<(), NotifyError> {
    let what = describe(n.catalog, &booking.facility, booking.date, booking.slot);
    let waitlist_line = if waiting > 0 { format!("另有 {waiting} 人在候补") } else { String::new() };
    let task = card::TaskId::parse(&format!("confirm-{}-{}", booking.id, booking.starts_at))?;
    let number = format!("#{}", booking.id);
    let mut fields = vec![Field { key: "预约号", value: &number }];
    if waiting > 0 {
        fields.push(Field { key: "候补", value: &waitlist_line });
    }
    let body = card::button_card(
        &task,
        "请确认是否参加",
        &what,
        &fields,
        &[
            card::Button::tap("确认参加", 1, CardButton::Confirm(booking.id).key()),
            card::Button::tap("取消预约", 4, CardButton::Cancel(booking.id).key()),
        ],
    )?;
    // Confirmation cards are for peak slots only: formal.
    let message = Outgoing::to_user(format!("confirm:{}", booking.id), &booking.userid, Weight::Formal, body);
    outbox::enqueue(tx, &message, now)?;
    Ok(())
}

/// The check-in reminder an hour before, with the booking pass.
pub fn reminder(tx: &Connection, n: &Notifier, booking: &Booking, now: i64) -> Result<(), NotifyError> {
    let what = describe(n.catalog, &booking.facility, booking.date, booking.slot);
    let text = format!(
        "提醒：{what} 即将开始。\n预约号 #{id}，签到码 {code}\n到场后回复「签到」或扫门口二维码。预约凭证：{url}\n不去了请回复「取消 {id}」。",
        id = booking.id,
        code = booking.checkin_code,
        url = n.pass_url(booking)
    );
    // A peak slot's reminder is formal (its place is wanted); the others are light, and a
    // member may turn those off (提醒 关).
    let peak = n.catalog.slot(booking.slot).is_some_and(|s| s.peak);
    if !peak && crate::settings::load(tx, &booking.userid)?.reminders_off {
        return Ok(());
    }
    let weight = if peak { Weight::Formal } else { Weight::Light };
    outbox::enqueue(tx, &Outgoing::text(format!("remind:{}", booking.id), &booking.userid, weight, &text), now)?;
    Ok(())
}

/// A no-show: told, with the strike count; formally when it suspends booking.
pub fn no_show(
    tx: &Connection,
    n: &Notifier,
    booking: &Booking,
    strikes: u32,
    suspended_until: Option<chrono::DateTime<chrono::Utc>>,
    now: i64,
) -> Result<(), NotifyError> {
    let what = describe(n.catalog, &booking.facility, booking.date, booking.slot);
    let limit = n.config.strike_limit;
    let window = n.config.strike_window_days;
    let message = match suspended_until {
        Some(until) => {
            let until = local_minute(n, until);
            let number = format!("#{}", booking.id);
            Outgoing::to_user(format!("noshow:{}", booking.id), &booking.userid, Weight::Formal, card::text_notice(
                    "预约功能已暂停",
                    &format!("{window} 天内未到场 {strikes} 次"),
                    &format!("你预约的 {what} 未签到。{window} 天内已累计 {strikes} 次未到场，预约功能暂停至 {until}。如有误会请联系管理员免责。"),
                    &[Field { key: "预约号", value: &number }, Field { key: "恢复时间", value: &until }],
                    &n.board_url(),
                ))
        }
        None => Outgoing::text(
            format!("noshow:{}", booking.id),
            &booking.userid,
            Weight::Light,
            &format!(
                "你预约的 {what}（#{}）未签到，记未到场 1 次（{window} 天内第 {strikes} 次，满 {limit} 次将暂停预约 {} 天）。",
                booking.id, n.config.suspend_days
            ),
        ),
    };
    outbox::enqueue(tx, &message, now)?;
    Ok(())
}

/// An approval request that nobody decided before its start.
pub fn request_expired(tx: &Connection, n: &Notifier, booking: &Booking, now: i64) -> Result<(), NotifyError> {
    let what = describe(n.catalog, &booking.facility, booking.date, booking.slot);
    let text = format!("你的预约申请 #{} {what} 在开始前未完成审批，已过期。", booking.id);
    outbox::enqueue(
        tx,
        &Outgoing::text(format!("expired:{}", booking.id), &booking.userid, Weight::Formal, &text),
        now,
    )?;
    Ok(())
}

/// The applicant learns the approval result, formally (a card).
pub fn approval_result(
    tx: &Connection,
    n: &Notifier,
    booking: &Booking,
    approved: bool,
    reason: Option<&str>,
    now: i64,
) -> Result<(), NotifyError> {
    let what = describe(n.catalog, &booking.facility, booking.date, booking.slot);
    let number = format!("#{}", booking.id);
    let (title, body) = if approved {
        (
            "预约审批已通过",
            format!(
                "你的预约 {number} {what} 已审批通过。签到码 {}，到场后回复「签到」或扫门口二维码。",
                booking.checkin_code
            ),
        )
    } else {
        let why = reason.map(|r| format!("原因：{r}。")).unwrap_or_default();
        ("预约审批未通过", format!("你的预约申请 {number} {what} 未通过审批。{why}可以换个时段或设施：空闲"))
    };
    let mut fields = vec![Field { key: "预约号", value: &number }];
    if approved {
        fields.push(Field { key: "签到码", value: &booking.checkin_code });
    }
    let message = Outgoing::to_user(
        format!("approval-result:{}", booking.id),
        &booking.userid,
        Weight::Formal,
        card::text_notice(title, &what, &body, &fields, &if approved { n.pass_url(booking) } else { n.board_url() }),
    );
    outbox::enqueue(tx, &message, now)?;
    Ok(())
}

/// The booking pass: a textcard with the facts and a link to the pass page (QR for the desk).
pub fn pass(tx: &Connection, n: &Notifier, booking: &Booking, now: i64) -> Result<(), NotifyError> {
    let facility = n.catalog.facility(&booking.facility).map_or(booking.facility.as_str(), |f| f.name.as_str());
    let time = n.catalog.slot(booking.slot).map(|s| s.label()).unwrap_or_default();
    let description = format!(
        "<div class=\"gray\">{}</div><div class=\"normal\">{facility} · {time}</div><div class=\"highlight\">签到码 {}</div>预约号 #{}",
        date_label(booking.date),
        booking.checkin_code,
        booking.id
    );
    let body = json!({
        "msgtype": "textcard",
        "textcard": {
            "title": format!("预约凭证 #{} {facility}", booking.id),
            "description": description,
            "url": n.pass_url(booking),
            "btntxt": "查看凭证",
        }
    });
    let message = Outgoing::to_user(format!("pass:{}", booking.id), &booking.userid, Weight::Reply, body);
    outbox::enqueue(tx, &message, now)?;
    Ok(())
}

/// `11-30 08:00` in the configured zone.
fn local_minute(n: &Notifier, at: DateTime<Utc>) -> String {
    n.catalog.tz().from_utc_datetime(&at.naive_utc()).format("%m-%d %H:%M").to_string()
}
