//! Check-in by 签到 and by scanning a door QR code.

use super::command::SlotRequest;
use super::taps::Attempt;
use super::Turn;
use crate::booking::checkin::{self, CheckInRefusal};
use crate::booking::query;
use crate::booking::signout::{self, SignOutRefusal};
use serde_json::json;

impl Turn<'_> {
    /// A door QR scanned with the app's scan menu.
    pub fn on_scan(&self, scanned: &str) -> super::Result<String> {
        let rules = self.rules();
        match checkin::facility_of_scan(&rules, scanned) {
            Some(code) => match self.sign_out_by_rescan(code)? {
                Some(text) => Ok(text),
                None => self.check_in(None, Some(code)),
            },
            None => Ok(self.render("checkin", json!({"kind": "wrong_code", "scanned": scanned}))),
        }
    }

    pub(super) fn check_in(&self, id: Option<i64>, facility: Option<&str>) -> super::Result<String> {
        Ok(self.check_in_attempt(id, facility)?.text)
    }

    pub(super) fn check_in_attempt(&self, id: Option<i64>, facility: Option<&str>) -> super::Result<Attempt> {
        let rules = self.rules();
        let config = &self.ctx.config.booking;
        let outcome = checkin::check_in(self.tx, &rules, self.user, id, facility, self.now);
        let mut done = None;
        let ctx = match outcome {
            Ok(b) => {
                done = Some(format!("已签到 #{}", b.id));
                json!({"kind": "ok", "what": self.what(&b), "id": b.id})
            }
            Err(CheckInRefusal::AlreadyCheckedIn { booking }) => {
                json!({"kind": "already", "what": self.what(&booking), "id": booking.id})
            }
            Err(CheckInRefusal::TooEarly { opens_at }) => {
                let opens = opens_at.with_timezone(&self.ctx.catalog.tz()).format("%H:%M").to_string();
                let upcoming = query::upcoming_bookings(self.tx, self.user, self.now)?;
                let what = upcoming.iter().find(|b| facility.is_none_or(|f| b.facility == f)).map(|b| self.what(b));
                json!({"kind": "early", "opens": opens, "what": what, "minutes": config.checkin_open_minutes})
            }
            Err(CheckInRefusal::TooLate) => json!({"kind": "late", "minutes": config.no_show_after_minutes}),
            Err(CheckInRefusal::NotConfirmed { state }) => id
                .and_then(|id| self.moved_context(id))
                .unwrap_or_else(|| json!({"kind": "not_confirmed", "id": id, "state": state.label()})),
            Err(CheckInRefusal::NotYours) => json!({"kind": "not_yours", "id": id}),
            Err(CheckInRefusal::Db(error)) => return Err(error.into()),
            Err(CheckInRefusal::NoBooking) => {
                let name = facility.map(|f| self.facility_name(f));
                let free = match facility {
                    Some(code) => {
                        Some(self.free(SlotRequest { facility: Some(code.to_string()), ..SlotRequest::default() })?)
                    }
                    None => None,
                };
                json!({"kind": "none", "id": id, "facility": name, "free": free})
            }
        };
        Ok(Attempt { text: self.render("checkin", ctx), done })
    }

    /// 签退 (or 签退 12): the visit ends now; its place, and the later slots of the same
    /// range, are freed.
    pub(super) fn sign_out(&self, id: Option<i64>) -> super::Result<String> {
        let events = &mut self.events.borrow_mut();
        match signout::sign_out(self.tx, &self.rules(), self.user, id, self.now, events) {
            Ok(done) => {
                let early = (done.booking.ends_at - self.now.timestamp()) / 60;
                let mut text = format!(
                    "已签退 #{} {}，提前 {early} 分钟结束，名额已释放。",
                    done.booking.id,
                    self.what(&done.booking)
                );
                if !done.later.is_empty() {
                    let later: Vec<String> = done.later.iter().map(|b| format!("#{} {}", b.id, self.what(b))).collect();
                    text.push_str(&format!("\n同一时段连着的 {} 也已取消。", later.join("、")));
                }
                Ok(text)
            }
            Err(SignOutRefusal::Db(e)) => Err(e.into()),
            Err(SignOutRefusal::NotYours) => Ok("这不是你的预约。".to_string()),
            Err(SignOutRefusal::NotCheckedIn) => {
                Ok("你现在没有签到中的预约，无需签退。到场后先「签到」，提前离开时再「签退」。".to_string())
            }
        }
    }

    /// The door QR scanned again a while after checking in there: a sign-out.
    fn sign_out_by_rescan(&self, facility: &str) -> super::Result<Option<String>> {
        let running = signout::running_checked_in(self.tx, self.user, Some(facility), self.now)?;
        match running {
            Some((booking, checked_in_at))
                if self.now.timestamp() - checked_in_at >= signout::RESCAN_SIGNS_OUT_AFTER_SECONDS =>
            {
                self.sign_out(Some(booking.id)).map(Some)
            }
            _ => Ok(None),
        }
    }
}
