//! A waitlist offer to its waiter (a card: 接受 / 放弃), and word when it lapsed.

use super::{CardButton, Notifier, NotifyError};
use crate::booking::offers::Offer;
use crate::booking::service::describe;
use crate::outbox::{self, Outgoing, Weight};
use crate::wecom::card::{self, Field};
use chrono::{DateTime, Utc};
use rusqlite::Connection;

/// 候补名额: the place is held until the offer's time; formal, so that quiet hours never hold
/// it back past that.
pub fn offered(tx: &Connection, n: &Notifier, offer: &Offer, now: i64) -> Result<(), NotifyError> {
    let what = describe(n.catalog, &offer.facility, offer.date, offer.slot);
    let until = DateTime::<Utc>::from_timestamp(offer.until, 0)
        .map(|t| t.with_timezone(&n.catalog.tz()).format("%H:%M").to_string())
        .unwrap_or_default();
    let task = card::TaskId::parse(&format!("offer-{}-{}", offer.entry, offer.until))?;
    let body = card::button_card(
        &task,
        "候补名额为你保留",
        &what,
        &[Field { key: "保留到", value: &until }],
        &[
            card::Button::tap("接受", 1, CardButton::AcceptOffer(offer.entry).key()),
            card::Button::tap("放弃", 4, CardButton::DeclineOffer(offer.entry).key()),
        ],
    )?;
    let key = format!("offer:{}:{}", offer.entry, offer.until);
    outbox::enqueue(tx, &Outgoing::to_user(key, &offer.userid, Weight::Formal, body), now)?;
    Ok(())
}

/// The offer's time ran out: the place went on.
pub fn lapsed(tx: &Connection, n: &Notifier, offer: &Offer, now: i64) -> Result<(), NotifyError> {
    let what = describe(n.catalog, &offer.facility, offer.date, offer.slot);
    let text = format!("为你保留的候补名额（{what}）已过时，已让给下一位。");
    let key = format!("offer_lapsed:{}", offer.entry);
    outbox::enqueue(tx, &Outgoing::text(key, &offer.userid, Weight::Formal, &text), now)?;
    Ok(())
}
