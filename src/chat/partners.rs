//! Partners by chat: `预约 羽毛球 周三 18:30 和 lisi wangwu` books for all (or none); a partner
//! answers with 接受 / 拒绝 (typed, or on the invitation's card).

use super::actions::Resolved;
use super::command::SlotRequest;
use super::dialogue::Dialogue;
use super::taps::Attempt;
use super::Turn;
use crate::booking::partners;
use crate::booking::BookingError;

impl Turn<'_> {
    pub(super) fn book_with_partners(&self, request: SlotRequest) -> super::Result<Attempt> {
        let (facility, date, slots) = match self.resolve(&request, Dialogue::Book)? {
            Resolved::Ready { facility, date, slots } => (facility, date, slots),
            Resolved::Ask(text) | Resolved::Refuse(text) => return Ok(Attempt { text, done: None }),
        };
        let booked = {
            let events = &mut self.events.borrow_mut();
            let (rules, partners) = (self.rules(), &request.partners);
            partners::book_with_partners(self.tx, &rules, self.user, facility, date, &slots, partners, self.now, events)
        };
        match booked {
            Ok(all) => {
                let own: Vec<String> = all
                    .iter()
                    .filter(|b| b.userid == self.user)
                    .map(|b| format!("#{} {}，签到码 {}", b.id, self.what(b), b.checkin_code))
                    .collect();
                let they = if request.partners.len() > 1 { "TA 们" } else { "TA " };
                let text = format!(
                    "预约成功！\n{}\n同伴：{}（已发邀请，{they}接受或拒绝时会告诉你）。\n不去了请回复「取消 预约号」，同伴的名额会一并取消。",
                    own.join("\n"),
                    request.partners.join("、")
                );
                Ok(Attempt { text, done: Some(format!("已预约 {} 人", request.partners.len() + 1)) })
            }
            Err(BookingError::Db(e)) => Err(e.into()),
            Err(BookingError::UnknownPartner { userid }) => Ok(Attempt {
                text: format!(
                    "找不到同伴「{userid}」：同伴写 TA 的企业微信账号，且须用过本应用。TA 还没用过的话，请 TA 先给「职工之家」发一句「你好」，再约一次。"
                ),
                done: None,
            }),
            Err(BookingError::PartnerAlreadyBooked { userid, .. }) => Ok(Attempt {
                text: format!("{userid} 在这个时段已有预约，没有为任何人预约。"),
                done: None,
            }),
            Err(BookingError::TooManyPartners { max }) => {
                Ok(Attempt { text: format!("一次最多带 {max} 位同伴。"), done: None })
            }
            Err(BookingError::PartnersNotHere) => Ok(Attempt {
                text: format!("{} 需要审批，不能带同伴一起预约。", facility.name),
                done: None,
            }),
            Err(BookingError::SlotFull { .. }) if !request.partners.is_empty() => Ok(Attempt {
                text: format!(
                    "{} 剩余名额不够 {} 人，没有为任何人预约。",
                    crate::booking::service::describe(self.ctx.catalog, &facility.code, date, slots[0]),
                    request.partners.len() + 1
                ),
                done: None,
            }),
            Err(error) => Ok(Attempt { text: self.refusal(error, facility, date, slots[0])?, done: None }),
        }
    }

    /// 接受 / 拒绝 an invitation (booking `id`, or the earliest unanswered).
    pub(super) fn answer_invitation(&self, id: Option<i64>, accept: bool) -> super::Result<String> {
        let events = &mut self.events.borrow_mut();
        match partners::answer(self.tx, &self.rules(), self.user, id, accept, self.now, events) {
            Ok(b) if accept => Ok(format!("已接受：#{} {}，签到码 {}。", b.id, self.what(&b), b.checkin_code)),
            Ok(b) => Ok(format!("已拒绝：{}，名额已释放并告诉了邀请你的同事。", self.what(&b))),
            Err(BookingError::Db(e)) => Err(e.into()),
            Err(_) => Ok("你现在没有待回复的同伴邀请。".to_string()),
        }
    }

    /// Does the member have an invitation to answer (booking `id`, or any)?
    pub(super) fn has_invitation(&self, id: Option<i64>) -> super::Result<bool> {
        let places = partners::partner_places(self.tx, self.user, self.now.timestamp())?;
        Ok(places.iter().any(|(booking, place)| place.state == "invited" && id.is_none_or(|i| i == *booking)))
    }

    /// 接受 / 拒绝 on an invitation's card.
    pub(super) fn tap_invitation(&self, accept: bool, id: i64) -> super::Result<String> {
        let events = &mut self.events.borrow_mut();
        match partners::answer(self.tx, &self.rules(), self.user, Some(id), accept, self.now, events) {
            Ok(_) => Ok(if accept { "已接受" } else { "已拒绝" }.to_string()),
            Err(BookingError::Db(e)) => Err(e.into()),
            Err(_) => Ok("邀请已失效".to_string()),
        }
    }
}
