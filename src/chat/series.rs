//! Recurring bookings by chat: `预约 羽毛球 每周三 18:30 4周` books each occurrence (or holds
//! it for a week not yet open), `取消 12 全部` ends the rest of the series, and `我的` shows a
//! series once with its next dates.

use super::actions::Resolved;
use super::command::SlotRequest;
use super::dialogue::Dialogue;
use super::taps::Attempt;
use super::Turn;
use crate::booking::series::{self, Repeat, SeriesBooked};
use crate::booking::{date_label, BookingError};
use chrono::{Datelike, Duration, NaiveDate};
use serde_json::Value;

impl Turn<'_> {
    pub(super) fn book_series(&self, mut request: SlotRequest, repeat: Repeat) -> super::Result<Attempt> {
        if !request.partners.is_empty() {
            let text = "周期预约不能带同伴：请先约好周期，再逐次「预约 … 和 同事」邀请。".to_string();
            return Ok(Attempt { text, done: None });
        }
        // Its first day from today on, unless a date was said (周三 … 4周).
        if request.date.is_none() && repeat.weekdays != 0 {
            let today = self.today();
            request.date = (0..7).map(|d| today + Duration::days(d)).find(|d| repeat.includes(*d));
        }
        let (facility, date, slots) = match self.resolve(&request, Dialogue::Book)? {
            Resolved::Ready { facility, date, slots } => (facility, date, slots),
            Resolved::Ask(text) | Resolved::Refuse(text) => return Ok(Attempt { text, done: None }),
        };
        let repeat = match repeat.weekdays {
            0 => Repeat { weekdays: 1 << date.weekday().num_days_from_monday(), ..repeat },
            _ => repeat,
        };
        let first = (0..7).map(|d| date + Duration::days(d)).find(|d| repeat.includes(*d)).unwrap_or(date);
        let booked = {
            let events = &mut self.events.borrow_mut();
            series::book_series(self.tx, &self.rules(), self.user, facility, first, &slots, &repeat, self.now, events)
        };
        match booked {
            Ok(done) => {
                let time = self.ctx.catalog.slot(slots[0]).map(|s| s.start_label()).unwrap_or_default();
                let label = format!("{} {} {time}", facility.name, repeat.label());
                let booked = done.booked.len();
                Ok(Attempt { text: self.series_reply(&label, &done), done: Some(format!("已预约 {booked} 次")) })
            }
            Err(BookingError::Db(e)) => Err(e.into()),
            Err(error) => Ok(Attempt { text: self.refusal(error, facility, first, slots[0])?, done: None }),
        }
    }

    fn series_reply(&self, label: &str, done: &SeriesBooked) -> String {
        let mut text = format!("周期预约：{label}，{} 周", done.weeks);
        if done.weeks < done.asked_weeks {
            text.push_str(&format!("（最多 {} 周）", done.weeks));
        }
        text.push('\n');
        if !done.booked.is_empty() {
            text.push_str("已约上：\n");
            for b in &done.booked {
                text.push_str(&format!("#{} {}，签到码 {}\n", b.id, self.what(b), b.checkin_code));
            }
        }
        if !done.held.is_empty() {
            let held: Vec<String> = done.held.iter().map(|d| date_label(*d)).collect();
            text.push_str(&format!("待开放周，开放时优先为你预约：{}\n", held.join("、")));
        }
        if !done.refused.is_empty() {
            let refused: Vec<String> = done
                .refused
                .iter()
                .map(|(d, e)| format!("{}（{}）", date_label(*d), series::refusal_label(e)))
                .collect();
            text.push_str(&format!("未能预约：{}\n", refused.join("、")));
        }
        match done.booked.first() {
            Some(b) => {
                text.push_str(&format!("取消一次回复「取消 {0}」，取消这次及之后全部回复「取消 {0} 全部」。", b.id))
            }
            None if done.held.is_empty() => text.push_str("一次也没有约上。"),
            None => text.push_str("开放后会通知你结果。"),
        }
        text
    }

    /// `取消 12 全部`: booking 12's series from now on.
    pub(super) fn cancel_series(&self, id: Option<i64>) -> super::Result<String> {
        let Some(id) = id else { return self.mine() };
        let is_admin = self.role == crate::users::Role::Admin;
        let events = &mut self.events.borrow_mut();
        match series::cancel_rest(self.tx, &self.rules(), self.user, is_admin, id, self.now, events) {
            Ok(done) => {
                let ids: Vec<String> = done.cancelled.iter().map(|b| format!("#{}", b.id)).collect();
                let mut text = format!("已取消周期预约之后的 {} 次：{}。", ids.len(), ids.join(" "));
                if done.holds > 0 {
                    text.push_str(&format!("待开放周的 {} 次也不再保留。", done.holds));
                }
                Ok(text)
            }
            Err(BookingError::Db(e)) => Err(e.into()),
            Err(BookingError::NotASeries) => Ok(format!("#{id} 不是周期预约；取消这一次请回复「取消 {id}」。")),
            Err(error) => Ok(self.booking_refusal(error, id)),
        }
    }

    /// 我的: each series once (its first upcoming booking, then its next dates); a partner's
    /// place with who booked it; the other bookings as they are. Then the series that have only
    /// held dates yet (a week not open), one line each.
    pub(super) fn bookings_listed(
        &self,
        upcoming: &[crate::booking::Booking],
        places: &[(i64, crate::booking::partners::PartnerPlace)],
    ) -> super::Result<(Vec<Value>, Vec<String>)> {
        let series = series::upcoming_series(self.tx, self.user, self.now)?;
        let mut listed = Vec::new();
        for b in upcoming {
            let of_series = series.iter().find(|s| s.bookings.contains(&b.id));
            let what = match of_series {
                Some(s) if s.bookings[0] != b.id => continue,
                Some(s) => {
                    let (repeat, held) = (&s.repeat, &s.held);
                    let next: Vec<String> = upcoming
                        .iter()
                        .filter(|o| s.bookings[1..].contains(&o.id))
                        .map(|o| o.date.format("%m-%d").to_string())
                        .chain(held.iter().map(|d: &NaiveDate| format!("{}（待开放）", d.format("%m-%d"))))
                        .collect();
                    let then = match next.len() {
                        0 => String::new(),
                        1..=4 => format!("，之后 {}", next.join("、")),
                        n => format!("，之后 {} 等 {n} 次", next[..3].join("、")),
                    };
                    format!("{}（{}{then}）", self.what(b), repeat.label())
                }
                None => match places.iter().find(|(id, _)| *id == b.id) {
                    Some((_, place)) if place.state == "invited" => {
                        format!("{}（{} 约你同去，回复「接受」或「拒绝」）", self.what(b), place.booker)
                    }
                    Some((_, place)) => format!("{}（{} 约的）", self.what(b), place.booker),
                    None => self.what(b),
                },
            };
            listed.push(serde_json::json!({"id": b.id, "what": what, "state": b.state.label()}));
        }
        let held_only = series
            .iter()
            .filter(|s| s.bookings.is_empty())
            .map(|s| {
                let name = self.facility_name(&s.facility);
                let time = self.ctx.catalog.slot(s.slot).map(|t| t.start_label()).unwrap_or_default();
                let dates: Vec<String> = s.held.iter().map(|d| d.format("%m-%d").to_string()).collect();
                format!("{name} {} {time}：{}（开放时优先为你预约）", s.repeat.label(), dates.join("、"))
            })
            .collect();
        Ok((listed, held_only))
    }
}
