//! Tap instead of type: the cards a turn offers beside its text (free slots after 空闲, a
//! question for the slot, a full slot's alternatives; a card per upcoming booking after 我的),
//! and what a tap on one does. A tap runs the same command as typing it; the tapped card's
//! buttons turn into the outcome, and anything longer (a refusal with its alternatives) follows
//! as a message.

use super::command::SlotRequest;
use super::dates::SlotSpec;
use super::Turn;
use crate::booking::partners::PartnerPlace;
use crate::booking::{in_a_later_week, query, Alternative, Booking, BookingState, Facility};
use crate::notify::{self, BookingCard, Message, SlotChoice};
use crate::wecom::card::MAX_BUTTONS;
use chrono::NaiveDate;

/// What a command did, in words, and (when it did it) what a tapped button turns into.
pub(super) struct Attempt {
    pub text: String,
    pub done: Option<String>,
}

impl Turn<'_> {
    /// Send `message` after this turn's reply.
    fn follow_up(&self, message: Message) {
        self.follow_ups.borrow_mut().push(message);
    }

    /// A card whose buttons book the day's free slots of `facility` (listed by the text). A card
    /// holds six: when more are free, the peak slots (the evenings most members ask for) are
    /// kept, then the earliest others, in the day's order; the card says the rest are typed.
    pub(super) fn offer_free_slots(&self, facility: &Facility, date: NaiveDate, free: &[(u32, String, u32)]) {
        let catalog = self.ctx.catalog;
        let mut open: Vec<&(u32, String, u32)> = free.iter().filter(|(_, _, places)| *places > 0).collect();
        let all_fit = open.len() <= MAX_BUTTONS;
        if !all_fit {
            open.sort_by_key(|(slot, _, _)| (!catalog.slot(*slot).is_some_and(|s| s.peak), *slot));
            open.truncate(MAX_BUTTONS);
            open.sort_by_key(|(slot, _, _)| *slot);
        }
        let choices: Vec<SlotChoice> = open
            .into_iter()
            .map(|(slot, start, places)| SlotChoice {
                facility: facility.code.clone(),
                date,
                slot: *slot,
                label: format!("{start} 剩{places}"),
            })
            .collect();
        let title = format!("{} {}", facility.name, crate::booking::date_label(date));
        let desc =
            if all_fit { "点一下即预约" } else { "点一下即预约；未列出的时段请打字预约" };
        self.offer(format!("{}:slots", self.callback), &title, desc, &choices, None);
    }

    /// A card of the alternatives to a full slot, and its waitlist; none when there is no
    /// alternative (a lone 候补 button adds nothing to the answer, which says how to queue).
    pub(super) fn offer_alternatives(
        &self,
        facility: &Facility,
        date: NaiveDate,
        slot: u32,
        alternatives: &[Alternative],
    ) {
        if alternatives.is_empty() {
            return;
        }
        let catalog = self.ctx.catalog;
        let start = |no: u32| catalog.slot(no).map(|s| s.start_label()).unwrap_or_default();
        let choices: Vec<SlotChoice> = alternatives
            .iter()
            .map(|a| {
                let name = if a.facility == facility.code { String::new() } else { self.facility_name(&a.facility) };
                let day =
                    if a.date == date { String::new() } else { format!("{} ", super::actions::short_date(a.date)) };
                SlotChoice {
                    facility: a.facility.clone(),
                    date: a.date,
                    slot: a.slot,
                    label: format!("{name}{day}{}", start(a.slot)),
                }
            })
            .collect();
        let full = SlotChoice { facility: facility.code.clone(), date, slot, label: start(slot) };
        let title = format!("{} {} 已约满", facility.name, start(slot));
        self.offer(format!("{}:alternatives", self.callback), &title, "换一个时段，或排候补", &choices, Some(&full));
    }

    fn offer(&self, key: String, title: &str, desc: &str, choices: &[SlotChoice], waitlist: Option<&SlotChoice>) {
        match notify::slot_card(key, self.user, title, desc, choices, waitlist) {
            Ok(Some(card)) => self.follow_up(card),
            Ok(None) => {}
            Err(error) => tracing::error!(error = %error, "a card of choices WeCom would refuse; text only"),
        }
    }

    /// A card per upcoming booking, with 取消 and, where they apply, 确认参加 and 签到 (接受 / 拒绝
    /// for a partner's place not yet answered).
    pub(super) fn offer_booking_cards(
        &self,
        upcoming: &[Booking],
        places: &[(i64, PartnerPlace)],
    ) -> super::Result<()> {
        for b in upcoming.iter().filter(|b| b.state.is_live()) {
            let open = query::open_actions(self.tx, &self.rules(), b, self.now)?;
            let what = self.what(b);
            let invited_by = places.iter().find(|(id, place)| *id == b.id && place.state == "invited");
            let week = if in_a_later_week(b.date, self.today()) { "next" } else { "this" };
            let page = format!("/m?facility={}&week={week}&moving={}", b.facility, b.id);
            let move_url = (!b.has_begun(self.now)).then(|| self.ctx.config.server.public_url.join(&page));
            let card = BookingCard {
                id: b.id,
                what: &what,
                state: b.state.label(),
                can_confirm: open.confirm,
                can_check_in: open.check_in,
                invited_by: invited_by.map(|(_, place)| place.booker.as_str()),
                move_url,
            };
            match notify::booking_card(format!("{}:mine:{}", self.callback, b.id), self.user, &card) {
                Ok(card) => self.follow_up(card),
                Err(error) => tracing::error!(error = %error, "a booking card WeCom would refuse; text only"),
            }
        }
        Ok(())
    }

    /// A tap on a free slot: booked as `预约` would. The label shows the outcome; a refusal's
    /// words (with its alternatives card) follow as messages.
    pub(super) fn tap_book(&self, facility: String, date: NaiveDate, slot: u32) -> super::Result<String> {
        let request = SlotRequest {
            facility: Some(facility),
            date: Some(date),
            slot: Some(SlotSpec::Number(slot)),
            ..SlotRequest::default()
        };
        let attempt = self.book_attempt(request)?;
        Ok(self.tapped(attempt, "未能预约"))
    }

    /// A tap on 候补: the waitlist joined as `候补` would.
    pub(super) fn tap_waitlist(&self, facility: String, date: NaiveDate, slot: u32) -> super::Result<String> {
        let request = SlotRequest {
            facility: Some(facility),
            date: Some(date),
            slot: Some(SlotSpec::Number(slot)),
            ..SlotRequest::default()
        };
        let attempt = self.waitlist_attempt(request)?;
        Ok(self.tapped(attempt, "未能候补"))
    }

    /// A tap on 签到.
    pub(super) fn tap_check_in(&self, id: i64) -> super::Result<String> {
        let attempt = self.check_in_attempt(Some(id), None)?;
        Ok(self.tapped(attempt, "未能签到"))
    }

    /// The tapped button's new label; when nothing was done the words go as a message.
    fn tapped(&self, attempt: Attempt, not_done: &str) -> String {
        match attempt.done {
            Some(label) => label,
            None => {
                let key = format!("{}:said", self.callback);
                self.follow_ups.borrow_mut().insert(0, Message::text(key, self.user, &attempt.text));
                not_done.to_string()
            }
        }
    }

    /// What a booking made by a tap shows on the button: `已预约 #12 18:30`.
    pub(super) fn booked_label(&self, bookings: &[Booking]) -> Option<String> {
        let first = bookings.first()?;
        let start = self.ctx.catalog.slot(first.slot).map(|s| s.start_label()).unwrap_or_default();
        Some(match first.state {
            BookingState::Pending => format!("已申请 #{} {start}（待审批）", first.id),
            _ => format!("已预约 #{} {start}", first.id),
        })
    }

    /// The free places of `facility`'s slots on `date`: (slot, start, free), open slots only.
    pub(super) fn free_places(
        &self,
        facility: &Facility,
        date: NaiveDate,
    ) -> rusqlite::Result<Vec<(u32, String, u32)>> {
        Ok(query::free_by_slot(self.tx, &self.rules(), facility, date, self.now)?
            .into_iter()
            .filter_map(|(slot, free)| free.map(|n| (slot.no, slot.start_label(), n)))
            .collect())
    }
}
