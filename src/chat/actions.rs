//! Running each command and wording its outcome.

use super::command::{Command, SlotRequest};
use super::dates::{DayPart, SlotSpec};
use super::dialogue::{self, Dialogue};
use super::parse::{self, Parsed, SmallTalk};
use super::taps::Attempt;
use super::Turn;
use crate::booking::approval::Decision;
use crate::booking::{self, query, service, waitlist, Booking, BookingError, Facility, Rules};
use crate::users::Role;
use chrono::{Datelike, NaiveDate, Utc};
use serde_json::{json, Value};

/// Where a request stands, before anything is written.
enum Plan<'f> {
    Ready { facility: &'f Facility, date: NaiveDate, slots: Vec<u32> },
    AskFacility,
    AskSlot { facility: &'f Facility, date: NaiveDate },
    AskDate,
    NoSuchSlot { facility: &'f Facility },
}

/// Where a request stands once its missing pieces are looked at.
pub(super) enum Resolved<'f> {
    Ready {
        facility: &'f Facility,
        date: NaiveDate,
        slots: Vec<u32>,
    },
    /// A question to the member; the dialogue remembers what was said.
    Ask(String),
    Refuse(String),
}

impl<'a> Turn<'a> {
    pub(super) fn rules(&self) -> Rules<'a> {
        self.ctx.rules()
    }

    pub(super) fn render(&self, name: &str, ctx: impl serde::Serialize) -> String {
        self.ctx.replies.render(name, ctx)
    }

    pub(super) fn today(&self) -> NaiveDate {
        self.ctx.catalog.today(self.now)
    }

    pub(super) fn facility_name(&self, code: &str) -> String {
        self.ctx.catalog.facility(code).map_or(code.to_string(), |f| f.name.clone())
    }

    /// `18:45`: a unix time on the service's clock face.
    pub(super) fn local_time(&self, at: i64) -> String {
        let at = chrono::DateTime::<Utc>::from_timestamp(at, 0).unwrap_or_default();
        at.with_timezone(&self.ctx.catalog.tz()).format("%H:%M").to_string()
    }

    pub(super) fn what(&self, b: &Booking) -> String {
        service::describe(self.ctx.catalog, &b.facility, b.date, b.slot)
    }

    /// A text message: a new command, or the next piece of a pending dialogue.
    pub fn on_text(&self, text: &str, parsed: Option<Parsed>) -> super::Result<String> {
        let now = self.now.timestamp();
        match parsed.unwrap_or_else(|| parse::parse(text, self.ctx.catalog, self.today())) {
            Parsed::Command(command) => {
                dialogue::clear(self.tx, self.user)?;
                self.run(command)
            }
            Parsed::Fragment(piece) => match dialogue::load(self.tx, self.user, now)? {
                Some(pending) => self.run(pending.continued_with(piece)),
                // 「明天晚上健身房」 on its own: what is free there, which books with a tap or a
                // line; never a booking the member did not ask for.
                None if piece.facility.is_some() => self.run(Command::Free(piece)),
                None => Ok(self.not_understood(Parsed::Fragment(piece))),
            },
            Parsed::SmallTalk(talk) => Ok(self.small_talk(talk)),
            unknown => Ok(self.not_understood(unknown)),
        }
    }

    /// A greeting gets the welcome (what to say first), thanks a reply in kind; neither is
    /// "not understood".
    pub(super) fn small_talk(&self, talk: SmallTalk) -> String {
        match talk {
            SmallTalk::Hello => format!("你好，{}", self.render("welcome", ())),
            SmallTalk::Thanks => "不客气！要约场地时发「空闲」看空位。".into(),
            SmallTalk::Noted => "好的。需要时发「帮助」看全部命令。".into(),
        }
    }

    pub(super) fn not_understood(&self, parsed: Parsed) -> String {
        let (understood, suggestion, problem) = match parsed {
            Parsed::Unknown { understood, suggestion, problem } => (understood, suggestion, problem),
            Parsed::Fragment(request) => {
                let name =
                    request.facility.as_deref().map(|c| self.facility_name(c)).unwrap_or_else(|| "健身房".into());
                (vec![], format!("预约 {name} 明天 18:30 或 空闲 {name}"), Some("没说要做什么".into()))
            }
            Parsed::Command(_) | Parsed::SmallTalk(_) => (vec![], "帮助".into(), None),
        };
        self.render(
            "unknown",
            json!({"understood": understood.join(" "), "suggestion": suggestion, "problem": problem}),
        )
    }

    /// Run a command.
    pub fn run(&self, command: Command) -> super::Result<String> {
        match command {
            Command::Help => Ok(self.help()),
            Command::Facilities => Ok(self.facilities()),
            Command::Free(request) => self.free(request),
            Command::Book(request) => self.book(request),
            Command::Waitlist(request) => self.waitlist(request),
            Command::LeaveWaitlist(request) => self.leave_waitlist(request),
            Command::Cancel(id) => self.cancel(id),
            Command::CancelEach(ids) => self.cancel_each(&ids),
            Command::CancelSeries(id) => self.cancel_series(id),
            Command::Move { booking, to } => self.move_booking(booking, to),
            Command::Mine => self.mine(),
            Command::Confirm(id) => self.confirm(id),
            Command::AcceptOffer(entry) => self.accept_offer_or_invitation(entry),
            Command::DeclineOffer(entry) => self.decline_offer(entry),
            Command::Board => self.board(),
            Command::Calendar { reset } => self.calendar(reset),
            Command::Remind(args) => self.remind(&args),
            Command::Quiet(args) => self.quiet(&args),
            Command::Settings => self.settings(),
            Command::Publish => self.publish(),
            Command::Approvals => self.approvals(),
            Command::CheckIn(id) => self.check_in(id, None),
            Command::SignOut(id) => self.sign_out(id),
            Command::Forgive(target) => self.forgive(target),
            Command::Close(args) => self.close(&args),
            Command::Reopen(args) => self.reopen(&args),
            Command::Broadcast(args) => self.broadcast(&args),
            Command::Report(args) => self.report(&args),
            Command::Grant(args) => self.set_admin(&args, true),
            Command::Revoke(args) => self.set_admin(&args, false),
            Command::Approve(id) => self.decide_by_chat(id, Decision::Approve, None),
            // 拒绝 is also a partner's answer to an invitation.
            Command::Reject { booking, reason } if reason.is_none() && self.has_invitation(booking)? => {
                self.answer_invitation(booking, false)
            }
            // A member who decides nothing meant the invitation they no longer have.
            Command::Reject { reason: None, .. } if !self.is_approver() => {
                Ok("你现在没有待回复的同伴邀请。".to_string())
            }
            Command::Reject { booking, reason } => self.decide_by_chat(booking, Decision::Reject, reason),
        }
    }

    /// An approver of some level, or an admin (who decides a level whose only approver is the
    /// applicant).
    pub(super) fn is_approver(&self) -> bool {
        self.role == Role::Admin
            || self.ctx.catalog.facilities().iter().any(|f| f.approval.iter().flatten().any(|a| a == self.user))
    }

    pub(super) fn help(&self) -> String {
        self.ctx.replies.help(self.role == Role::Admin, self.is_approver()).to_string()
    }

    pub(super) fn facilities(&self) -> String {
        let facilities: Vec<Value> = self
            .ctx
            .catalog
            .facilities()
            .iter()
            .map(|f| json!({"name": f.name, "code": f.code, "capacity": f.capacity, "approval": f.needs_approval()}))
            .collect();
        self.render("facilities", json!({ "facilities": facilities }))
    }

    /// Where a request stands, without writing anything.
    fn plan(&self, request: &SlotRequest) -> Plan<'a> {
        let catalog = &self.ctx.catalog;
        let Some(facility) = request.facility.as_deref().and_then(|c| catalog.facility(c)) else {
            return Plan::AskFacility;
        };
        let Some(spec) = &request.slot else {
            return Plan::AskSlot { facility, date: request.date.unwrap_or_else(|| self.today()) };
        };
        let Some(slots) = self.slot_numbers(spec) else {
            return Plan::NoSuchSlot { facility };
        };
        let date = match request.date {
            Some(date) => date,
            None => {
                // No day given: today if that time is still ahead, otherwise ask.
                let today = self.today();
                let first = catalog.slot(slots[0]).map(|s| catalog.slot_start(today, s));
                if first.is_none_or(|start| start <= self.now) {
                    return Plan::AskDate;
                }
                today
            }
        };
        Plan::Ready { facility, date, slots }
    }

    /// Fill in what the member left out, or ask for it.
    pub(super) fn resolve(
        &self,
        request: &SlotRequest,
        remember: fn(SlotRequest) -> Dialogue,
    ) -> super::Result<Resolved<'a>> {
        let catalog = &self.ctx.catalog;
        let ask = |missing: &str, options: Vec<Value>, request: SlotRequest| -> super::Result<Resolved<'a>> {
            let understood = self.describe_request(&request);
            dialogue::save(self.tx, self.user, &remember(request), self.now.timestamp())?;
            let facilities = catalog.facilities().iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join("、");
            Ok(Resolved::Ask(self.render(
                "ask",
                json!({"missing": missing, "understood": understood, "options": options, "facilities": facilities}),
            )))
        };
        match self.plan(request) {
            Plan::Ready { facility, date, slots } => Ok(Resolved::Ready { facility, date, slots }),
            Plan::AskFacility => ask("facility", vec![], request.clone()),
            Plan::AskDate => ask("date", vec![], request.clone()),
            Plan::AskSlot { facility, date } => {
                let options = self.slot_options(facility, date, request.part)?;
                if options.is_empty() && request.date.is_none() {
                    return ask("date", vec![], request.clone());
                }
                let mut remembered = request.clone();
                remembered.date = Some(date);
                let free: Vec<(u32, String, u32)> = self
                    .free_places(facility, date)?
                    .into_iter()
                    .filter(|(no, _, _)| {
                        request.part.is_none_or(|p| catalog.slot(*no).is_some_and(|s| p.contains(s.start)))
                    })
                    .collect();
                self.offer_free_slots(facility, date, &free);
                ask("slot", options, remembered)
            }
            Plan::NoSuchSlot { facility } => {
                let listing =
                    catalog.slots().iter().map(|s| format!("{}={}", s.no, s.label())).collect::<Vec<_>>().join(" ");
                let text =
                    self.render("refused", json!({"kind": "no_slot", "facility": facility.name, "slots": listing}));
                Ok(Resolved::Refuse(text))
            }
        }
    }

    pub(super) fn slot_numbers(&self, spec: &SlotSpec) -> Option<Vec<u32>> {
        let catalog = &self.ctx.catalog;
        match spec {
            SlotSpec::Number(n) => catalog.slot(*n).map(|s| vec![s.no]),
            SlotSpec::Time(t) => catalog.slot_at(*t).map(|s| vec![s.no]),
            SlotSpec::Range(a, b) => catalog.slots_covering(*a, *b),
        }
    }

    pub(super) fn slot_options(
        &self,
        facility: &Facility,
        date: NaiveDate,
        part: Option<DayPart>,
    ) -> super::Result<Vec<Value>> {
        let rules = self.rules();
        Ok(query::free_by_slot(self.tx, &rules, facility, date, self.now)?
            .into_iter()
            .filter(|(slot, free)| free.is_some() && part.is_none_or(|p| p.contains(slot.start)))
            .map(|(slot, free)| {
                let status = if free == Some(0) { "满".to_string() } else { format!("剩{}", free.unwrap_or(0)) };
                json!({"no": slot.no, "label": slot.label(), "peak": slot.peak, "status": status})
            })
            .collect())
    }

    pub(super) fn describe_request(&self, request: &SlotRequest) -> String {
        let mut parts = Vec::new();
        if let Some(code) = &request.facility {
            parts.push(self.facility_name(code));
        }
        if let Some(date) = request.date {
            parts.push(booking::date_label(date));
        }
        // The time said (asked for the day: 「好的，健身房 18:30。请问哪一天？」).
        parts.extend(request.slot.as_ref().map(SlotSpec::label));
        if let Some(part) = request.part {
            parts.push(part.label().to_string());
        }
        parts.join(" ")
    }

    pub(super) fn book(&self, request: SlotRequest) -> super::Result<String> {
        Ok(self.book_attempt(request)?.text)
    }

    pub(super) fn book_attempt(&self, request: SlotRequest) -> super::Result<Attempt> {
        if let Some(repeat) = request.repeat {
            return self.book_series(request, repeat);
        }
        if !request.partners.is_empty() {
            return self.book_with_partners(request);
        }
        let (facility, date, slots) = match self.resolve(&request, Dialogue::Book)? {
            Resolved::Ready { facility, date, slots } => (facility, date, slots),
            Resolved::Ask(text) | Resolved::Refuse(text) => return Ok(Attempt { text, done: None }),
        };
        let booked = {
            let events = &mut self.events.borrow_mut();
            service::book(self.tx, &self.rules(), self.user, facility, date, &slots, self.now, events)
        };
        match booked {
            Ok(bookings) => {
                let pending = bookings.iter().any(|b| b.state == booking::BookingState::Pending);
                let items: Vec<Value> = bookings
                    .iter()
                    .map(|b| json!({"id": b.id, "what": self.what(b), "code": b.checkin_code}))
                    .collect();
                let text = self.render("booked", json!({"bookings": items, "pending": pending}));
                Ok(Attempt { text, done: self.booked_label(&bookings) })
            }
            Err(error) => Ok(Attempt { text: self.refusal(error, facility, date, slots[0])?, done: None }),
        }
    }

    pub(super) fn waitlist(&self, request: SlotRequest) -> super::Result<String> {
        Ok(self.waitlist_attempt(request)?.text)
    }

    pub(super) fn waitlist_attempt(&self, request: SlotRequest) -> super::Result<Attempt> {
        let (facility, date, slots) = match self.resolve(&request, Dialogue::Waitlist)? {
            Resolved::Ready { facility, date, slots } => (facility, date, slots),
            Resolved::Ask(text) | Resolved::Refuse(text) => return Ok(Attempt { text, done: None }),
        };
        match waitlist::join_waitlist(self.tx, &self.rules(), self.user, facility, date, slots[0], self.now) {
            Ok(waiting) => Ok(Attempt {
                text: self.render(
                    "waitlisted",
                    json!({
                        "what": service::describe(self.ctx.catalog, &facility.code, date, slots[0]),
                        "position": waiting.position, "newly": waiting.newly_joined,
                        "offer_before": self.rules().config.offer_before_minutes,
                        "offer_minutes": self.rules().config.offer_minutes,
                    }),
                ),
                done: Some(format!("已候补 第{}位", waiting.position)),
            }),
            Err(error) => Ok(Attempt { text: self.refusal(error, facility, date, slots[0])?, done: None }),
        }
    }

    pub(super) fn leave_waitlist(&self, request: SlotRequest) -> super::Result<String> {
        let (facility, date, slots) = match self.resolve(&request, Dialogue::LeaveWaitlist)? {
            Resolved::Ready { facility, date, slots } => (facility, date, slots),
            Resolved::Ask(text) | Resolved::Refuse(text) => return Ok(text),
        };
        let what = service::describe(self.ctx.catalog, &facility.code, date, slots[0]);
        let events = &mut self.events.borrow_mut();
        let (rules, slot) = (self.rules(), slots[0]);
        Ok(if waitlist::leave_waitlist(self.tx, &rules, self.user, &facility.code, date, slot, self.now, events)? {
            format!("已退出 {what} 的候补。")
        } else {
            format!("你没有在候补 {what}。发「我的」看你的预约与候补。")
        })
    }

    pub(super) fn cancel(&self, id: Option<i64>) -> super::Result<String> {
        let Some(id) = id else { return self.mine() };
        let is_admin = self.role == Role::Admin;
        let events = &mut self.events.borrow_mut();
        let result = service::cancel(self.tx, &self.rules(), self.user, is_admin, id, self.now, events);
        match result {
            Ok(cancelled) => Ok(self.render(
                "cancelled",
                json!({"id": id, "what": self.what(&cancelled.booking), "promoted": cancelled.promoted.is_some()}),
            )),
            Err(BookingError::Db(e)) => Err(e.into()),
            Err(error) => Ok(self.booking_refusal(error, id)),
        }
    }

    /// 取消 12 13: each cancelled (or refused) as 取消 12 would be, a line each, once per number.
    pub(super) fn cancel_each(&self, ids: &[i64]) -> super::Result<String> {
        let mut seen = Vec::new();
        let mut lines = Vec::new();
        for &id in ids {
            if !seen.contains(&id) {
                seen.push(id);
                lines.push(self.cancel(Some(id))?);
            }
        }
        Ok(lines.join("\n"))
    }

    pub(super) fn confirm(&self, id: Option<i64>) -> super::Result<String> {
        let upcoming = query::upcoming_bookings(self.tx, self.user, self.now)?;
        let Some(id) = id.or_else(|| (upcoming.len() == 1).then(|| upcoming[0].id)) else {
            return self.mine();
        };
        match self.confirm_booking(id) {
            Ok(b) => Ok(format!("已确认参加 #{id} {}。到场后记得签到。", self.what(&b))),
            Err(BookingError::Db(e)) => Err(e.into()),
            Err(error) => Ok(self.booking_refusal(error, id)),
        }
    }

    pub(super) fn mine(&self) -> super::Result<String> {
        let upcoming = query::upcoming_bookings(self.tx, self.user, self.now)?;
        let since = upcoming.iter().map(|b| b.starts_at).min().unwrap_or(i64::MAX) - 1;
        let places = crate::booking::partners::partner_places(self.tx, self.user, since)?;
        self.offer_booking_cards(&upcoming, &places)?;
        let (bookings, held) = self.bookings_listed(&upcoming, &places)?;
        let waits: Vec<Value> = query::waiting_entries(self.tx, self.user, self.today())?
            .into_iter()
            .map(|w| {
                let offered_until = w.offered_until.map(|t| self.local_time(t));
                let what = service::describe(self.ctx.catalog, &w.facility, w.date, w.slot);
                let start = self.ctx.catalog.slot(w.slot).map(|s| s.start_label()).unwrap_or_default();
                let leave = format!("退出候补 {} {} {start}", self.facility_name(&w.facility), short_date(w.date));
                json!({"what": what, "position": w.position, "offered_until": offered_until, "leave": leave})
            })
            .collect();
        Ok(self.render("mine", json!({"bookings": bookings, "waits": waits, "held": held})))
    }

    /// The member's calendar feed: its secret address, or a new one.
    pub(super) fn calendar(&self, reset: bool) -> super::Result<String> {
        let token = crate::users::calendar_token(self.tx, self.user, reset, self.now.timestamp())?;
        let url = self.ctx.config.server.public_url.join(&format!("/calendar/{token}.ics"));
        let first = if reset {
            "已换新的日历订阅地址，旧地址已失效"
        } else {
            "你的日历订阅地址（只给自己用，请勿转发）"
        };
        Ok(format!(
            "{first}：\n{url}\n在手机日历（订阅日历 / 添加日历订阅）或其他日历应用中粘贴此地址，预约、取消会自动同步。地址泄露时发「日历 重置」。"
        ))
    }

    pub(super) fn board(&self) -> super::Result<String> {
        let today = self.today();
        let rules = self.rules();
        let day = query::day_view(self.tx, &rules, today)?;
        let mut rows = Vec::new();
        for facility in self.ctx.catalog.facilities() {
            let mut total = 0;
            let mut next: Option<(String, u32)> = None;
            let mut open = false;
            for slot in self.ctx.catalog.slots() {
                if let Some(free) = day.free(facility, slot, self.now) {
                    open = true;
                    total += free;
                    if free > 0 && next.is_none() {
                        next = Some((slot.start_label(), free));
                    }
                }
            }
            let summary = match (open, next) {
                (false, _) => "今日已结束或停用".to_string(),
                (true, None) => "今日已约满".to_string(),
                (true, Some((at, free))) => format!("剩 {total} 个位置，最近 {at} 剩 {free}"),
            };
            rows.push(json!({"name": facility.name, "summary": summary}));
        }
        let url = self.ctx.config.server.public_url.join("/board");
        Ok(self.render("board", json!({"date": booking::date_label(today), "rows": rows, "url": url})))
    }
}

/// `11-25`, as a member would type it back.
pub(super) fn short_date(date: NaiveDate) -> String {
    format!("{:02}-{:02}", date.month(), date.day())
}
