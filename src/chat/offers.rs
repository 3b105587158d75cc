//! 接受 / 放弃: a waitlist offer taken, or given on to the next waiter (typed, or tapped on
//! the offer's card).

use super::Turn;
use crate::booking::offers::{self, Offer};
use crate::booking::service::describe;
use crate::booking::{Booking, BookingError};

impl Turn<'_> {
    /// 接受: a waitlist offer held for the member, else a partner's invitation.
    pub(super) fn accept_offer_or_invitation(&self, number: Option<i64>) -> super::Result<String> {
        if self.has_invitation(number)? {
            let offered = crate::booking::query::waiting_entries(self.tx, self.user, self.today())?;
            if !offered.iter().any(|w| w.offered_until.is_some()) || number.is_some() {
                return self.answer_invitation(number, true);
            }
        }
        self.accept_offer(number)
    }

    pub(super) fn accept_offer(&self, entry: Option<i64>) -> super::Result<String> {
        match self.take_offer(entry) {
            Ok(booking) => Ok(format!(
                "已接受：{}，预约号 #{}。{}",
                self.what(&booking),
                booking.id,
                if booking.approval_level.is_some() { "等待审批。" } else { "预约凭证稍后发给你。" }
            )),
            Err(error) => self.offer_refusal(error),
        }
    }

    pub(super) fn decline_offer(&self, entry: Option<i64>) -> super::Result<String> {
        match self.give_offer_on(entry) {
            Ok(offer) => {
                let what = describe(self.ctx.catalog, &offer.facility, offer.date, offer.slot);
                Ok(format!("已放弃 {what}，名额让给了下一位。"))
            }
            Err(BookingError::NoOffer) => Ok("你现在没有保留给你的候补名额。".to_string()),
            Err(error) => self.offer_refusal(error),
        }
    }

    /// 接受 / 放弃 on an offer's card: the button greys out with what happened.
    pub(super) fn tap_offer(&self, accept: bool, entry: i64) -> super::Result<String> {
        let outcome = if accept {
            self.take_offer(Some(entry)).map(|_| "已接受")
        } else {
            self.give_offer_on(Some(entry)).map(|_| "已放弃")
        };
        match outcome {
            Ok(label) => Ok(label.to_string()),
            Err(BookingError::Db(e)) => Err(e.into()),
            Err(BookingError::OfferExpired) => Ok("已过时".to_string()),
            Err(_) => Ok("名额已失效".to_string()),
        }
    }

    fn take_offer(&self, entry: Option<i64>) -> Result<Booking, BookingError> {
        let events = &mut self.events.borrow_mut();
        offers::accept(self.tx, &self.rules(), self.user, entry, self.now, events)
    }

    fn give_offer_on(&self, entry: Option<i64>) -> Result<Offer, BookingError> {
        let events = &mut self.events.borrow_mut();
        offers::decline(self.tx, &self.rules(), self.user, entry, self.now, events)
    }

    fn offer_refusal(&self, error: BookingError) -> super::Result<String> {
        Ok(match error {
            BookingError::Db(e) => return Err(e.into()),
            BookingError::OfferExpired => "这个候补名额保留时间已过，已让给下一位。".to_string(),
            // 接受 / 放弃 answer an offer or (接受) an invitation: neither is waiting.
            BookingError::NoOffer => "你现在没有保留给你的候补名额，也没有待回复的同伴邀请。".to_string(),
            other => format!("没有办成：{}", super::refusals::short_refusal(&other)),
        })
    }
}
