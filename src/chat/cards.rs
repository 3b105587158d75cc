//! Card buttons (确认参加 / 取消预约, 通过 / 驳回) and approvals by chat.

use super::refusals::decide_refusal;
use super::Turn;
use crate::booking::approval::{self, DecideError, Decision};
use crate::booking::{service, Booking, BookingError};
use crate::notify::CardButton;
use crate::wecom::Reply;

impl Turn<'_> {
    /// A button on one of our cards. The clicker's button greys out with what happened.
    pub fn on_card_click(&self, key: &str) -> super::Result<Reply> {
        let Some(button) = CardButton::parse(key) else {
            tracing::warn!(key, "unknown card key");
            return Ok(Reply::UpdateButton("无效操作".into()));
        };
        let label = match button {
            CardButton::Book { facility, date, slot } => self.tap_book(facility, date, slot)?,
            CardButton::Waitlist { facility, date, slot } => self.tap_waitlist(facility, date, slot)?,
            CardButton::CheckIn(id) => self.tap_check_in(id)?,
            CardButton::AcceptOffer(entry) => self.tap_offer(true, entry)?,
            CardButton::DeclineOffer(entry) => self.tap_offer(false, entry)?,
            CardButton::PartnerAccept(id) => self.tap_invitation(true, id)?,
            CardButton::PartnerDecline(id) => self.tap_invitation(false, id)?,
            other => self.on_booking_button(other)?,
        };
        Ok(Reply::UpdateButton(label))
    }

    /// 确认参加 / 取消预约 / 通过 / 驳回.
    fn on_booking_button(&self, button: CardButton) -> super::Result<String> {
        let events = &mut self.events.borrow_mut();
        let label = match button {
            CardButton::Confirm(id) => match self.confirm_booking(id) {
                Ok(_) => "已确认参加".to_string(),
                Err(BookingError::Db(e)) => return Err(e.into()),
                Err(error) => self.tap_refusal(id, &error),
            },
            CardButton::Decide { booking, level, decision } => {
                let (rules, now) = (self.rules(), self.now);
                match approval::decide(self.tx, &rules, self.user, booking, level, decision, None, now, events) {
                    Ok(_) => decision.label().to_string(),
                    Err(DecideError::Db(e)) => return Err(e.into()),
                    Err(error) => decide_refusal(&error),
                }
            }
            CardButton::Cancel(id) => {
                match service::cancel(self.tx, &self.rules(), self.user, false, id, self.now, events) {
                    Ok(_) => "已取消".to_string(),
                    Err(BookingError::Db(e)) => return Err(e.into()),
                    Err(error) => self.tap_refusal(id, &error),
                }
            }
            CardButton::Book { .. }
            | CardButton::Waitlist { .. }
            | CardButton::CheckIn(_)
            | CardButton::AcceptOffer(_)
            | CardButton::DeclineOffer(_)
            | CardButton::PartnerAccept(_)
            | CardButton::PartnerDecline(_) => "无效操作".to_string(),
        };
        Ok(label)
    }

    /// Mark a booking confirmed-by-user (owner only, while live).
    pub(super) fn confirm_booking(&self, id: i64) -> Result<Booking, BookingError> {
        let b = service::booking_by_id(self.tx, id)?.ok_or(BookingError::NotFound)?;
        if b.userid != self.user {
            return Err(BookingError::NotYours);
        }
        if !b.state.is_live() {
            return Err(BookingError::NotActive { state: b.state });
        }
        crate::store::execute(
            self.tx,
            "UPDATE bookings SET user_confirmed_at = COALESCE(user_confirmed_at, ?2), updated_at = ?2 WHERE id = ?1",
            rusqlite::params![id, self.now.timestamp()],
        )?;
        Ok(b)
    }

    pub(super) fn approvals(&self) -> super::Result<String> {
        if !self.is_approver() {
            return Ok("你不是审批人，没有待审批的申请。".to_string());
        }
        let pending = approval::pending_for(self.tx, &self.rules(), self.user)?;
        if pending.is_empty() {
            return Ok("目前没有待你审批的申请。".to_string());
        }
        let mut text = format!("待你审批（{} 个）：\n", pending.len());
        for b in &pending {
            text.push_str(&format!("#{} {} 申请人 {}\n", b.id, self.what(b), b.userid));
        }
        text.push_str("回复「通过 预约号」或「驳回 预约号 原因」。");
        Ok(text)
    }

    pub(super) fn decide_by_chat(
        &self,
        id: Option<i64>,
        decision: Decision,
        reason: Option<String>,
    ) -> super::Result<String> {
        let Some(id) = id else { return self.approvals() };
        let events = &mut self.events.borrow_mut();
        let (rules, reason) = (self.rules(), reason.as_deref());
        let result = approval::decide(self.tx, &rules, self.user, id, None, decision, reason, self.now, events);
        match result {
            Ok(done) => {
                let what = self.what(&done.booking);
                Ok(match (decision, done.final_decision) {
                    (Decision::Approve, true) => format!("已通过 #{id} {what}，已通知申请人。"),
                    (Decision::Approve, false) => format!("已通过 #{id} {what}，已转下一级审批。"),
                    (Decision::Reject, _) => format!("已驳回 #{id} {what}，已通知申请人。"),
                })
            }
            Err(DecideError::Db(e)) => Err(e.into()),
            Err(error) => Ok(format!("#{id}：{}。", decide_refusal(&error))),
        }
    }
}
