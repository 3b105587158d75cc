//! Cards a member taps instead of typing: free slots to book (after 空闲, a question for the
//! slot, a full slot's alternatives), and one card per upcoming booking (after 我的) with 取消 /
//! 确认 / 签到. Each is a [`Message`] the conversation works out and queues; a tap comes back as a
//! [`CardButton`] key.

use super::{CardButton, NotifyError};
use crate::outbox::{self, Outgoing, Weight};
use crate::wecom::card::{self, Button, Field, TaskId};
use chrono::NaiveDate;
use rusqlite::Connection;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// A message to one member, worked out before the write that queues it (on a reader, or in the
/// turn that decided to send it).
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// The outbox's key: queued once.
    pub key: String,
    pub to: String,
    /// The message/send body (`msgtype` and its object).
    pub body: Value,
    /// What the card shows (`choices`, `booking:12`): it takes the place of the member's
    /// earlier card of the same, if that has not gone yet.
    pub replaces: Option<String>,
}

impl Message {
    pub fn markdown(key: String, to: &str, content: &str) -> Message {
        let body = json!({"msgtype": "markdown", "markdown": {"content": content}});
        Message { key, to: to.to_string(), body, replaces: None }
    }

    pub fn text(key: String, to: &str, content: &str) -> Message {
        let body = json!({"msgtype": "text", "text": {"content": content}});
        Message { key, to: to.to_string(), body, replaces: None }
    }

    /// Queue it (once per key). It is used up: a card's JSON is not copied to be queued.
    pub fn queue(self, tx: &Connection, now: i64) -> Result<(), NotifyError> {
        let message = Outgoing::to_user(self.key, &self.to, Weight::Reply, self.body);
        match &self.replaces {
            Some(replaces) => outbox::enqueue_replacing(tx, &message, replaces, now)?,
            None => outbox::enqueue(tx, &message, now)?,
        };
        Ok(())
    }
}

/// One slot a card offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotChoice {
    pub facility: String,
    pub date: NaiveDate,
    pub slot: u32,
    /// The button's text, e.g. `18:30 剩3` (WeCom shows about ten characters).
    pub label: String,
}

/// A card's task id: unique per message key (WeCom refuses a task id used before).
fn task_id(prefix: &str, key: &str) -> Result<TaskId, NotifyError> {
    let digest = hex::encode(Sha256::digest(key.as_bytes()));
    Ok(TaskId::parse(&format!("{prefix}-{}", &digest[..40]))?)
}

/// A card whose buttons book `choices` (at most six; the first ones are kept) and, when given,
/// join the waitlist of `waitlist`. None when there is nothing to tap.
pub fn slot_card(
    key: String,
    to: &str,
    title: &str,
    desc: &str,
    choices: &[SlotChoice],
    waitlist: Option<&SlotChoice>,
) -> Result<Option<Message>, NotifyError> {
    let waitlist_button = waitlist.map(|w| {
        let button = CardButton::Waitlist { facility: w.facility.clone(), date: w.date, slot: w.slot };
        (format!("候补 {}", w.label), button.key())
    });
    let room = card::MAX_BUTTONS - usize::from(waitlist_button.is_some());
    let mut buttons: Vec<(String, String)> = choices
        .iter()
        .take(room)
        .map(|c| {
            let button = CardButton::Book { facility: c.facility.clone(), date: c.date, slot: c.slot };
            (c.label.clone(), button.key())
        })
        .collect();
    buttons.extend(waitlist_button);
    if buttons.is_empty() {
        return Ok(None);
    }
    let buttons: Vec<Button> = buttons
        .iter()
        .enumerate()
        .map(|(i, (text, key))| Button::tap(text, if i == 0 { 1 } else { 2 }, key.clone()))
        .collect();
    let body = card::button_card(&task_id("slots", &key)?, title, desc, &[], &buttons)?;
    // Every card of choices shows what the member asked last: a newer one replaces it.
    Ok(Some(Message { key, to: to.to_string(), body, replaces: Some("choices".to_string()) }))
}

/// What one upcoming booking's card shows and offers.
pub struct BookingCard<'a> {
    pub id: i64,
    /// e.g. `健身房 11月24日 周二 18:30-19:30`.
    pub what: &'a str,
    pub state: &'a str,
    /// 确认参加 applies (a peak booking not yet confirmed).
    pub can_confirm: bool,
    /// 签到 applies (the check-in window is open).
    pub can_check_in: bool,
    /// A partner's place not yet answered: who invited them (the card asks 接受 / 拒绝).
    pub invited_by: Option<&'a str>,
    /// The member's page moving this booking (改约 then a tap), when it may still be moved.
    pub move_url: Option<String>,
}

/// The card of one upcoming booking: 取消, and 确认 / 签到 / 改约 (a link to the member's page)
/// where they apply; an invitation not yet answered asks 接受 / 拒绝 as its own card does.
pub fn booking_card(key: String, to: &str, booking: &BookingCard) -> Result<Message, NotifyError> {
    let mut buttons = Vec::new();
    let invitation = booking.invited_by.map(|booker| format!("{booker} 约你同去"));
    if invitation.is_some() {
        buttons.push(Button::tap("接受", 1, CardButton::PartnerAccept(booking.id).key()));
        buttons.push(Button::tap("拒绝", 4, CardButton::PartnerDecline(booking.id).key()));
    }
    if booking.can_check_in && invitation.is_none() {
        buttons.push(Button::tap("签到", 1, CardButton::CheckIn(booking.id).key()));
    }
    if booking.can_confirm && invitation.is_none() {
        buttons.push(Button::tap("确认参加", 1, CardButton::Confirm(booking.id).key()));
    }
    if invitation.is_none() {
        if let Some(url) = &booking.move_url {
            buttons.push(Button::link("改约", 2, url.clone()));
        }
        buttons.push(Button::tap("取消预约", 4, CardButton::Cancel(booking.id).key()));
    }
    let fields = [Field { key: "状态", value: booking.state }];
    let title = format!("#{} {}", booking.id, booking.what);
    let desc = invitation.as_deref().unwrap_or("我的预约");
    let body = card::button_card(&task_id("mine", &key)?, &title, desc, &fields, &buttons)?;
    Ok(Message { key, to: to.to_string(), body, replaces: Some(format!("booking:{}", booking.id)) })
}
