//! 改约 12 周四 19:30: a booking moved to another slot; what is not said (the facility, the
//! day) stays as it was.

use super::command::SlotRequest;
use super::Turn;
use crate::booking::{moves, partners, service, BookingError};
use crate::users::Role;
use serde_json::json;

impl Turn<'_> {
    pub(super) fn move_booking(&self, id: Option<i64>, mut to: SlotRequest) -> super::Result<String> {
        let Some(id) = id else {
            return Ok("要改约哪一个？如：改约 12 周四 19:30（预约号见「我的」）".into());
        };
        let Some(old) = service::booking_by_id(self.tx, id)? else {
            return Ok(self.booking_refusal(BookingError::NotFound, id));
        };
        let is_admin = self.role == Role::Admin;
        if old.userid != self.user && !is_admin {
            return Ok(self.booking_refusal(BookingError::NotYours, id));
        }
        to.facility.get_or_insert_with(|| old.facility.clone());
        to.date.get_or_insert(old.date);
        let catalog = self.ctx.catalog;
        let Some(facility) = to.facility.as_deref().and_then(|code| catalog.facility(code)) else {
            return Ok(self.facilities());
        };
        let Some(slots) = to.slot.as_ref().and_then(|spec| self.slot_numbers(spec)) else {
            return Ok(format!("请写上新的时间：改约 {id} 周四 19:30"));
        };
        let date = to.date.unwrap_or(old.date);
        let events = &mut self.events.borrow_mut();
        let rules = self.rules();
        match moves::move_booking(self.tx, &rules, self.user, is_admin, id, (facility, date, &slots), self.now, events)
        {
            Ok(moved) => {
                let items: Vec<_> = moved
                    .to
                    .iter()
                    .map(|b| json!({"id": b.id, "what": self.what(b), "code": b.checkin_code}))
                    .collect();
                let pending = moved.to.iter().any(|b| b.state == crate::booking::BookingState::Pending);
                let booked = self.render("booked", json!({"bookings": items, "pending": pending}));
                let mut text = format!("已改约：原 #{id} {} 已释放。\n{booked}", self.what(&moved.from));
                let mut partners: Vec<&str> = moved.partners.iter().map(|b| b.userid.as_str()).collect();
                partners.dedup();
                if !partners.is_empty() {
                    text.push_str(&format!("\n同伴 {} 的名额也一起改了，已通知。", partners.join("、")));
                }
                Ok(text)
            }
            Err(BookingError::Db(e)) => Err(e.into()),
            Err(error @ (BookingError::NotFound | BookingError::NotYours | BookingError::NotActive { .. })) => {
                Ok(self.booking_refusal(error, id))
            }
            Err(error) => {
                // With partners, a full slot may have room, only not for everyone.
                let partners = match error {
                    BookingError::SlotFull { .. } => partners::places_of(self.tx, &old)?.len(),
                    _ => 0,
                };
                if partners > 0 {
                    let to = crate::booking::service::describe(catalog, &facility.code, date, slots[0]);
                    let everyone = partners + 1;
                    return Ok(format!(
                        "改约没有成功，原预约 #{id} 和同伴的名额都保留。\n{to} 剩余名额不够 {everyone} 人。"
                    ));
                }
                let why = self.refusal(error, facility, date, slots[0])?;
                Ok(format!("改约没有成功，原预约 #{id} 保留。\n{why}"))
            }
        }
    }
}
