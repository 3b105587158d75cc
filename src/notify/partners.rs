//! Partners told: the invitation (a card: 接受 / 拒绝), the answer to the booker (and the
//! partner's pass once they accept), and the booker's cancellation or move (改约) to the partner.

use super::{notices, CardButton, Notifier, NotifyError};
use crate::booking::service::describe;
use crate::booking::Booking;
use crate::outbox::{self, Outgoing, Weight};
use crate::wecom::card::{self, Field};
use rusqlite::Connection;

pub fn invited(tx: &Connection, n: &Notifier, booking: &Booking, booker: &str, now: i64) -> Result<(), NotifyError> {
    let what = describe(n.catalog, &booking.facility, booking.date, booking.slot);
    let task = card::TaskId::parse(&format!("partner-{}", booking.id))?;
    let number = format!("#{}", booking.id);
    let body = card::button_card(
        &task,
        &format!("{booker} 约你一起去"),
        &what,
        &[Field { key: "预约号", value: &number }],
        &[
            card::Button::tap("接受", 1, CardButton::PartnerAccept(booking.id).key()),
            card::Button::tap("拒绝", 4, CardButton::PartnerDecline(booking.id).key()),
        ],
    )?;
    let message = Outgoing::to_user(format!("partner:{}", booking.id), &booking.userid, Weight::Formal, body);
    outbox::enqueue(tx, &message, now)?;
    Ok(())
}

pub fn answered(
    tx: &Connection,
    n: &Notifier,
    booking: &Booking,
    booker: &str,
    accepted: bool,
    now: i64,
) -> Result<(), NotifyError> {
    let what = describe(n.catalog, &booking.facility, booking.date, booking.slot);
    let partner = &booking.userid;
    let text = if accepted {
        format!("{partner} 接受了你的邀请：{what}。")
    } else {
        format!("{partner} 不能来了：{what} 为 TA 留的名额已释放。")
    };
    let key = format!("partner_answer:{}:{accepted}", booking.id);
    outbox::enqueue(tx, &Outgoing::text(key, booker, Weight::Formal, &text), now)?;
    if accepted {
        notices::pass(tx, n, booking, now)?;
    }
    Ok(())
}

pub fn place_cancelled(
    tx: &Connection,
    n: &Notifier,
    booking: &Booking,
    booker: &str,
    now: i64,
) -> Result<(), NotifyError> {
    let what = describe(n.catalog, &booking.facility, booking.date, booking.slot);
    let text = format!("{booker} 取消了 {what} 的预约，为你留的名额也一并取消了。");
    let key = format!("partner_cancelled:{}", booking.id);
    outbox::enqueue(tx, &Outgoing::text(key, &booking.userid, Weight::Formal, &text), now)?;
    Ok(())
}

/// The booker moved the booking: the partner's accepted place moved with it (new numbers and
/// passes; the old pass no longer opens anything). One message, however many slots.
pub fn moved(
    tx: &Connection,
    n: &Notifier,
    from: &Booking,
    to: &[Booking],
    booker: &str,
    now: i64,
) -> Result<(), NotifyError> {
    let was = describe(n.catalog, &from.facility, from.date, from.slot);
    let is: Vec<String> =
        to.iter().map(|b| format!("{}（#{}）", describe(n.catalog, &b.facility, b.date, b.slot), b.id)).collect();
    let text = format!("{booker} 把 {was} 的预约改到了 {}，你的名额也一起改了。", is.join("、"));
    let key = format!("partner_moved:{}", from.id);
    outbox::enqueue(tx, &Outgoing::text(key, &from.userid, Weight::Formal, &text), now)?;
    to.iter().try_for_each(|booking| notices::pass(tx, n, booking, now))
}
