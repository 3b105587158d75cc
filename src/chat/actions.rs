//! Running each command and wording its outcome.

use super::command::{self, Command, Kind, Parsed, SlotRequest};
use super::dates::{DayPart, SlotSpec};
use super::dialogue::{self, Dialogue};
use super::Turn;
use crate::booking::approval::{self, DecideError, Decision};
use crate::booking::checkin::{self, CheckInRefusal};
use crate::booking::{self, query, service, Booking, BookingError, BookingState, Facility, Rules};
use crate::users::Role;
use chrono::{Duration, NaiveDate, Utc};
use serde_json::{json, Value};

/// Where a request stands once its missing pieces are looked at.
enum Resolved<'f> {
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
    fn rules(&self) -> Rules<'a> {
        Rules {
            catalog: &self.ctx.catalog,
            config: &self.ctx.config.booking,
            public_url: &self.ctx.config.server.public_url,
        }
    }

    fn render(&self, name: &str, ctx: Value) -> String {
        self.ctx.replies.render(name, ctx)
    }

    fn today(&self) -> NaiveDate {
        self.ctx.catalog.today(self.now)
    }

    fn facility_name(&self, code: &str) -> String {
        self.ctx.catalog.facility(code).map_or(code.to_string(), |f| f.name.clone())
    }

    fn what(&self, b: &Booking) -> String {
        service::describe(&self.ctx.catalog, &b.facility, b.date, b.slot)
    }

    /// A text message: a new command, or the next piece of a pending dialogue.
    pub fn on_text(&self, text: &str) -> rusqlite::Result<String> {
        let now = self.now.timestamp();
        match command::parse(text, &self.ctx.catalog, self.today()) {
            Parsed::Command(command) => {
                dialogue::clear(self.tx, self.user)?;
                self.run(command)
            }
            Parsed::Fragment(piece) => match dialogue::load(self.tx, self.user, now)? {
                Some(Dialogue::Book(mut request)) => {
                    request.merge(piece);
                    self.run(Command::Book(request))
                }
                Some(Dialogue::Waitlist(mut request)) => {
                    request.merge(piece);
                    self.run(Command::Waitlist(request))
                }
                Some(Dialogue::Free(mut request)) => {
                    request.merge(piece);
                    self.run(Command::Free(request))
                }
                None => Ok(self.not_understood(Parsed::Fragment(piece))),
            },
            unknown => Ok(self.not_understood(unknown)),
        }
    }

    fn not_understood(&self, parsed: Parsed) -> String {
        let (understood, suggestion, problem) = match parsed {
            Parsed::Unknown { understood, suggestion, problem } => (understood, suggestion, problem),
            Parsed::Fragment(request) => {
                let name =
                    request.facility.as_deref().map(|c| self.facility_name(c)).unwrap_or_else(|| "健身房".into());
                (vec![], format!("预约 {name} 明天 18:30 或 空闲 {name}"), Some("没说要做什么".into()))
            }
            Parsed::Command(_) => (vec![], "帮助".into(), None),
        };
        self.render(
            "unknown",
            json!({"understood": understood.join(" "), "suggestion": suggestion, "problem": problem}),
        )
    }

    /// A button on one of our cards: `confirm:12`, `cancel:12`. The clicker's button greys
    /// out with what happened.
    pub fn on_card_click(&self, key: &str) -> rusqlite::Result<crate::wecom::Reply> {
        use crate::wecom::Reply;
        let (action, id) = match key.split_once(':') {
            Some((action, id)) => (action, id.split(':').next().and_then(|n| n.parse::<i64>().ok())),
            None => (key, None),
        };
        let Some(id) = id else {
            tracing::warn!(key, "unknown card key");
            return Ok(Reply::UpdateButton("无效操作".into()));
        };
        let label = match action {
            "confirm" => match self.confirm_booking(id)? {
                Ok(_) => "已确认参加".to_string(),
                Err(error) => short_refusal(&error),
            },
            "approve" | "reject" => {
                let decision = if action == "approve" { Decision::Approve } else { Decision::Reject };
                let level = key.split(':').nth(2).and_then(|l| l.parse::<u32>().ok());
                match approval::decide(self.tx, &self.rules(), self.user, id, level, decision, None, self.now) {
                    Ok(_) => decision.label().to_string(),
                    Err(DecideError::Db(e)) => return Err(e),
                    Err(error) => decide_refusal(&error),
                }
            }
            "cancel" => match service::cancel(self.tx, &self.rules(), self.user, false, id, self.now) {
                Ok(_) => "已取消".to_string(),
                Err(BookingError::Db(e)) => return Err(e),
                Err(error) => short_refusal(&error),
            },
            _ => {
                tracing::warn!(key, "unknown card action");
                "无效操作".to_string()
            }
        };
        Ok(Reply::UpdateButton(label))
    }

    /// Mark a booking confirmed-by-user (owner only, while live).
    fn confirm_booking(&self, id: i64) -> rusqlite::Result<Result<Booking, BookingError>> {
        let Some(b) = service::booking_by_id(self.tx, id)? else { return Ok(Err(BookingError::NotFound)) };
        if b.userid != self.user {
            return Ok(Err(BookingError::NotYours));
        }
        if !b.state.is_live() {
            return Ok(Err(BookingError::NotActive { state: b.state }));
        }
        self.tx.execute(
            "UPDATE bookings SET user_confirmed_at = COALESCE(user_confirmed_at, ?2), updated_at = ?2 WHERE id = ?1",
            rusqlite::params![id, self.now.timestamp()],
        )?;
        Ok(Ok(b))
    }

    /// Run a command.
    pub fn run(&self, command: Command) -> rusqlite::Result<String> {
        match command {
            Command::Help => Ok(self.help()),
            Command::Facilities => Ok(self.facilities()),
            Command::Free(request) => self.free(request),
            Command::Book(request) => self.book(request),
            Command::Waitlist(request) => self.waitlist(request),
            Command::Cancel(id) => self.cancel(id),
            Command::Mine => self.mine(),
            Command::Confirm(id) => self.confirm(id),
            Command::Board => self.board(),
            Command::Publish => self.publish(),
            Command::Approvals => self.approvals(),
            Command::CheckIn(id) => self.check_in(id, None),
            Command::Forgive(target) => self.forgive(target),
            Command::Approve(id) => self.decide_by_chat(id, Decision::Approve, None),
            Command::Reject { booking, reason } => self.decide_by_chat(booking, Decision::Reject, reason),
        }
    }

    fn is_approver(&self) -> bool {
        self.ctx.catalog.facilities().iter().any(|f| f.approval.iter().flatten().any(|a| a == self.user))
    }

    fn help(&self) -> String {
        let lines = command::help_lines(self.role == Role::Admin, self.is_approver());
        self.render("help", json!({ "lines": lines }))
    }

    fn facilities(&self) -> String {
        let facilities: Vec<Value> = self
            .ctx
            .catalog
            .facilities()
            .iter()
            .map(|f| json!({"name": f.name, "code": f.code, "capacity": f.capacity, "approval": f.needs_approval()}))
            .collect();
        self.render("facilities", json!({ "facilities": facilities }))
    }

    fn free(&self, request: SlotRequest) -> rusqlite::Result<String> {
        let date = request.date.unwrap_or_else(|| self.today());
        let Some(code) = request.facility.as_deref() else {
            return self.free_overview(date);
        };
        let Some(facility) = self.ctx.catalog.facility(code) else {
            return Ok(self.facilities());
        };
        let rules = self.rules();
        let rows: Vec<Value> = query::free_by_slot(self.tx, &rules, facility, date, self.now)?
            .into_iter()
            .filter(|(slot, _)| request.part.is_none_or(|p| p.contains(slot.start)))
            .map(|(slot, free)| {
                let status = match free {
                    None => "-".to_string(),
                    Some(0) => "满".to_string(),
                    Some(n) => format!("剩{n}"),
                };
                json!({"no": slot.no, "label": slot.label(), "peak": slot.peak, "status": status})
            })
            .collect();
        let day = self.day_bounds(date);
        let closed = booking::rules::closure_over(self.tx, &facility.code, day.0, day.1)?.map(|(reason, _)| reason);
        let example = self
            .ctx
            .catalog
            .slots()
            .iter()
            .find(|s| request.part.is_none_or(|p| p.contains(s.start)))
            .map_or("18:30".into(), |s| s.start.format("%H:%M").to_string());
        Ok(self.render(
            "free_facility",
            json!({
                "name": facility.name, "date": booking::date_label(date), "date_short": short_date(date),
                "capacity": facility.capacity, "rows": rows, "part": request.part.map(DayPart::label),
                "closed": closed, "example_time": example,
            }),
        ))
    }

    fn day_bounds(&self, date: NaiveDate) -> (i64, i64) {
        let midnight = chrono::NaiveTime::MIN;
        let start = self.ctx.catalog.instant(date, midnight).timestamp();
        (start, start + 86_400)
    }

    fn free_overview(&self, date: NaiveDate) -> rusqlite::Result<String> {
        let rules = self.rules();
        let usage = query::usage_on(self.tx, date)?;
        let mut rows = Vec::new();
        for facility in self.ctx.catalog.facilities() {
            let mut cells = Vec::new();
            for slot in self.ctx.catalog.slots() {
                let cell = match query::free_in(self.tx, &rules, &usage, facility, date, slot, self.now)? {
                    None => format!("{}:-", slot.no),
                    Some(0) => format!("{}:满", slot.no),
                    Some(n) => format!("{}:{n}", slot.no),
                };
                cells.push(cell);
            }
            rows.push(json!({"name": facility.name, "cells": cells}));
        }
        let slots: Vec<Value> = self
            .ctx
            .catalog
            .slots()
            .iter()
            .map(|s| json!({"no": s.no, "start": s.start.format("%H:%M").to_string()}))
            .collect();
        Ok(self.render(
            "free_overview",
            json!({"date": booking::date_label(date), "date_short": short_date(date), "rows": rows, "slots": slots}),
        ))
    }

    /// Fill in what the member left out, or ask for it.
    fn resolve(&self, request: &SlotRequest, remember: fn(SlotRequest) -> Dialogue) -> rusqlite::Result<Resolved<'a>> {
        let catalog = &self.ctx.catalog;
        let ask = |missing: &str, options: Vec<Value>, request: SlotRequest| -> rusqlite::Result<Resolved<'a>> {
            let understood = self.describe_request(&request);
            dialogue::save(self.tx, self.user, &remember(request), self.now.timestamp())?;
            let facilities = catalog.facilities().iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join("、");
            Ok(Resolved::Ask(self.render(
                "ask",
                json!({"missing": missing, "understood": understood, "options": options, "facilities": facilities}),
            )))
        };
        let Some(facility) = request.facility.as_deref().and_then(|c| catalog.facility(c)) else {
            return ask("facility", vec![], request.clone());
        };
        let Some(spec) = &request.slot else {
            let date = request.date.unwrap_or_else(|| self.today());
            let options = self.slot_options(facility, date, request.part)?;
            if options.is_empty() && request.date.is_none() {
                return ask("date", vec![], request.clone());
            }
            let mut remembered = request.clone();
            remembered.date = Some(date);
            return ask("slot", options, remembered);
        };
        let slots = match self.slot_numbers(spec) {
            Some(slots) => slots,
            None => {
                let listing =
                    catalog.slots().iter().map(|s| format!("{}={}", s.no, s.label())).collect::<Vec<_>>().join(" ");
                let text =
                    self.render("refused", json!({"kind": "no_slot", "facility": facility.name, "slots": listing}));
                return Ok(Resolved::Refuse(text));
            }
        };
        let date = match request.date {
            Some(date) => date,
            None => {
                // No day given: today if that time is still ahead, otherwise ask.
                let today = self.today();
                let first = catalog.slot(slots[0]).map(|s| catalog.slot_start(today, s));
                if first.is_some_and(|start| start > self.now) {
                    today
                } else {
                    return ask("date", vec![], request.clone());
                }
            }
        };
        Ok(Resolved::Ready { facility, date, slots })
    }

    fn slot_numbers(&self, spec: &SlotSpec) -> Option<Vec<u32>> {
        let catalog = &self.ctx.catalog;
        match spec {
            SlotSpec::Number(n) => catalog.slot(*n).map(|s| vec![s.no]),
            SlotSpec::Time(t) => catalog.slot_at(*t).map(|s| vec![s.no]),
            SlotSpec::Range(a, b) => catalog.slots_covering(*a, *b),
        }
    }

    fn slot_options(
        &self,
        facility: &Facility,
        date: NaiveDate,
        part: Option<DayPart>,
    ) -> rusqlite::Result<Vec<Value>> {
        let rules = self.rules();
        Ok(query::free_by_slot(self.tx, &rules, facility, date, self.now)?
            .into_iter()
            .filter(|(slot, free)| free.is_some() && part.is_none_or(|p| p.contains(slot.start)))
            .map(|(slot, free)| {
                let status = if free == Some(0) { "满".to_string() } else { format!("剩{}", free.unwrap_or(0)) };
                json!({"no": slot.no, "label": slot.label(), "status": status})
            })
            .collect())
    }

    fn describe_request(&self, request: &SlotRequest) -> String {
        let mut parts = Vec::new();
        if let Some(code) = &request.facility {
            parts.push(self.facility_name(code));
        }
        if let Some(date) = request.date {
            parts.push(booking::date_label(date));
        }
        if let Some(part) = request.part {
            parts.push(part.label().to_string());
        }
        parts.join(" ")
    }

    fn book(&self, request: SlotRequest) -> rusqlite::Result<String> {
        let (facility, date, slots) = match self.resolve(&request, Dialogue::Book)? {
            Resolved::Ready { facility, date, slots } => (facility, date, slots),
            Resolved::Ask(text) | Resolved::Refuse(text) => return Ok(text),
        };
        match service::book(self.tx, &self.rules(), self.user, facility, date, &slots, self.now) {
            Ok(bookings) => {
                let pending = bookings.iter().any(|b| b.state == booking::BookingState::Pending);
                let items: Vec<Value> = bookings
                    .iter()
                    .map(|b| json!({"id": b.id, "what": self.what(b), "code": b.checkin_code}))
                    .collect();
                Ok(self.render("booked", json!({"bookings": items, "pending": pending})))
            }
            Err(error) => self.refusal(error, facility, date, slots[0]),
        }
    }

    fn waitlist(&self, request: SlotRequest) -> rusqlite::Result<String> {
        let (facility, date, slots) = match self.resolve(&request, Dialogue::Waitlist)? {
            Resolved::Ready { facility, date, slots } => (facility, date, slots),
            Resolved::Ask(text) | Resolved::Refuse(text) => return Ok(text),
        };
        match service::join_waitlist(self.tx, &self.rules(), self.user, facility, date, slots[0], self.now) {
            Ok(waiting) => Ok(self.render(
                "waitlisted",
                json!({
                    "what": service::describe(&self.ctx.catalog, &facility.code, date, slots[0]),
                    "position": waiting.position, "newly": waiting.newly_joined,
                }),
            )),
            Err(error) => self.refusal(error, facility, date, slots[0]),
        }
    }

    fn cancel(&self, id: Option<i64>) -> rusqlite::Result<String> {
        let Some(id) = id else { return self.mine() };
        let result = service::cancel(self.tx, &self.rules(), self.user, self.role == Role::Admin, id, self.now);
        match result {
            Ok(cancelled) => Ok(self.render(
                "cancelled",
                json!({"id": id, "what": self.what(&cancelled.booking), "promoted": cancelled.promoted.is_some()}),
            )),
            Err(BookingError::Db(e)) => Err(e),
            Err(error) => Ok(self.booking_refusal(error, id)),
        }
    }

    fn confirm(&self, id: Option<i64>) -> rusqlite::Result<String> {
        let upcoming = query::upcoming_bookings(self.tx, self.user, self.now)?;
        let Some(id) = id.or_else(|| (upcoming.len() == 1).then(|| upcoming[0].id)) else {
            return self.mine();
        };
        match self.confirm_booking(id)? {
            Ok(b) => Ok(format!("已确认参加 #{id} {}。到场后记得签到。", self.what(&b))),
            Err(error) => Ok(self.booking_refusal(error, id)),
        }
    }

    /// A door QR scanned with the app's scan menu.
    pub fn on_scan(&self, scanned: &str) -> rusqlite::Result<String> {
        let rules = self.rules();
        match checkin::facility_of_scan(&rules, scanned) {
            Some(code) => self.check_in(None, Some(code)),
            None => Ok(self.render("checkin", json!({"kind": "wrong_code", "scanned": scanned}))),
        }
    }

    fn check_in(&self, id: Option<i64>, facility: Option<&str>) -> rusqlite::Result<String> {
        let rules = self.rules();
        let config = &self.ctx.config.booking;
        let outcome = checkin::check_in(self.tx, &rules, self.user, id, facility, self.now)?;
        let ctx = match outcome {
            Ok(b) => json!({"kind": "ok", "what": self.what(&b), "id": b.id}),
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
            Err(CheckInRefusal::NotConfirmed { state }) => {
                json!({"kind": "not_confirmed", "id": id, "state": state.label()})
            }
            Err(CheckInRefusal::NotYours) => json!({"kind": "not_yours", "id": id}),
            Err(CheckInRefusal::NoBooking) => {
                let name = facility.map(|f| self.facility_name(f));
                let free = match facility {
                    Some(code) => {
                        Some(self.free(SlotRequest { facility: Some(code.to_string()), ..SlotRequest::default() })?)
                    }
                    None => None,
                };
                json!({"kind": "none", "facility": name, "free": free})
            }
        };
        Ok(self.render("checkin", ctx))
    }

    fn forgive(&self, target: Option<String>) -> rusqlite::Result<String> {
        if self.role != Role::Admin {
            tracing::warn!(user = self.user, "non-admin tried 免责");
            return Ok(self.render("refused", json!({"kind": "admin_only", "command": "免责"})));
        }
        let Some(target) = target else {
            return Ok("请说明免责对象：免责 用户ID 或 免责 预约号".to_string());
        };
        match checkin::forgive(self.tx, &self.rules(), self.user, &target, self.now)? {
            Some((user, left)) => Ok(format!("已免除 {user} 的一次未到场记录，现有 {left} 次。")),
            None => Ok(format!("{target} 没有可免除的未到场记录。")),
        }
    }

    fn approvals(&self) -> rusqlite::Result<String> {
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

    fn decide_by_chat(&self, id: Option<i64>, decision: Decision, reason: Option<String>) -> rusqlite::Result<String> {
        let Some(id) = id else { return self.approvals() };
        let result =
            approval::decide(self.tx, &self.rules(), self.user, id, None, decision, reason.as_deref(), self.now);
        match result {
            Ok(done) => {
                let what = self.what(&done.booking);
                Ok(match (decision, done.final_decision) {
                    (Decision::Approve, true) => format!("已通过 #{id} {what}，已通知申请人。"),
                    (Decision::Approve, false) => format!("已通过 #{id} {what}，已转下一级审批。"),
                    (Decision::Reject, _) => format!("已驳回 #{id} {what}，已通知申请人。"),
                })
            }
            Err(DecideError::Db(e)) => Err(e),
            Err(error) => Ok(format!("#{id}：{}。", decide_refusal(&error))),
        }
    }

    fn mine(&self) -> rusqlite::Result<String> {
        let bookings: Vec<Value> = query::upcoming_bookings(self.tx, self.user, self.now)?
            .iter()
            .map(|b| json!({"id": b.id, "what": self.what(b), "state": b.state.label()}))
            .collect();
        let waits: Vec<Value> = query::waiting_entries(self.tx, self.user, self.today())?
            .into_iter()
            .map(|(facility, date, slot, position)| {
                json!({"what": service::describe(&self.ctx.catalog, &facility, date, slot), "position": position})
            })
            .collect();
        Ok(self.render("mine", json!({"bookings": bookings, "waits": waits})))
    }

    fn board(&self) -> rusqlite::Result<String> {
        let today = self.today();
        let rules = self.rules();
        let usage = query::usage_on(self.tx, today)?;
        let mut rows = Vec::new();
        for facility in self.ctx.catalog.facilities() {
            let mut total = 0;
            let mut next: Option<(String, u32)> = None;
            let mut open = false;
            for slot in self.ctx.catalog.slots() {
                if let Some(free) = query::free_in(self.tx, &rules, &usage, facility, today, slot, self.now)? {
                    open = true;
                    total += free;
                    if free > 0 && next.is_none() {
                        next = Some((slot.start.format("%H:%M").to_string(), free));
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
        let url = format!("{}/board", self.ctx.config.server.public_url.trim_end_matches('/'));
        Ok(self.render("board", json!({"date": booking::date_label(today), "rows": rows, "url": url})))
    }

    fn publish(&self) -> rusqlite::Result<String> {
        if self.role != Role::Admin {
            tracing::warn!(user = self.user, "non-admin tried 发布");
            return Ok(self.render("refused", json!({"kind": "admin_only", "command": "发布"})));
        }
        let week = booking::week_start(self.today()) + Duration::days(7);
        let newly = service::publish_week(self.tx, &self.rules(), week, self.user, self.now)?;
        let label = format!("{}—{}", booking::date_label(week), booking::date_label(week + Duration::days(6)));
        Ok(self.render("published", json!({"week": label, "newly": newly})))
    }

    /// Word a refusal about a slot request; each says what to do instead.
    fn refusal(
        &self,
        error: BookingError,
        facility: &Facility,
        date: NaiveDate,
        slot: u32,
    ) -> rusqlite::Result<String> {
        let catalog = &self.ctx.catalog;
        let what = service::describe(catalog, &facility.code, date, slot);
        let start = catalog.slot(slot).map(|s| s.start.format("%H:%M").to_string()).unwrap_or_default();
        let waitlist_command = format!("{} {} {start}", facility.name, short_date(date));
        let tz = catalog.tz();
        let local = |t: chrono::DateTime<Utc>| t.with_timezone(&tz).format("%m-%d %H:%M").to_string();
        let ctx = match error {
            BookingError::SlotFull { alternatives, waitlist_len } => {
                let alternatives: Vec<Value> = alternatives
                    .iter()
                    .map(|a| {
                        let name = self.facility_name(&a.facility);
                        let at = catalog.slot(a.slot).map(|s| s.start.format("%H:%M").to_string()).unwrap_or_default();
                        json!({
                            "what": service::describe(catalog, &a.facility, a.date, a.slot), "free": a.free,
                            "command": format!("预约 {name} {} {at}", short_date(a.date)),
                        })
                    })
                    .collect();
                json!({"kind": "full", "what": what, "alternatives": alternatives, "waitlist_len": waitlist_len, "waitlist_command": waitlist_command})
            }
            BookingError::InPast => {
                json!({"kind": "past", "what": what, "facility": facility.name})
            }
            BookingError::WeekNotOpen { week_start } => {
                json!({"kind": "week_closed", "week": booking::date_label(week_start), "facility": facility.name})
            }
            BookingError::Closed { reason, until } => {
                json!({"kind": "closed", "facility": facility.name, "reason": reason, "until": until.map(local)})
            }
            BookingError::OverLimit { limit } => json!({"kind": "over_limit", "limit": limit}),
            BookingError::OverWeeklyLimit { limit } => {
                json!({"kind": "weekly_limit", "limit": limit})
            }
            BookingError::Suspended { until } => {
                json!({"kind": "suspended", "until": local(until)})
            }
            BookingError::AlreadyBooked { id } => {
                json!({"kind": "already", "what": what, "id": id})
            }
            BookingError::AlreadyWaiting { position } => {
                json!({"kind": "already_waiting", "what": what, "position": position})
            }
            BookingError::NotFull { free } => {
                json!({"kind": "not_full", "what": what, "free": free, "waitlist_command": waitlist_command})
            }
            BookingError::NoSuchSlot => {
                let listing =
                    catalog.slots().iter().map(|s| format!("{}={}", s.no, s.label())).collect::<Vec<_>>().join(" ");
                json!({"kind": "no_slot", "facility": facility.name, "slots": listing})
            }
            BookingError::Db(e) => return Err(e),
            other => return Ok(self.booking_refusal(other, 0)),
        };
        Ok(self.render("refused", ctx))
    }

    /// Word a refusal about an existing booking (cancel, confirm).
    fn booking_refusal(&self, error: BookingError, id: i64) -> String {
        let ctx = match error {
            BookingError::NotFound => json!({"kind": "not_found", "id": id}),
            BookingError::NotYours => json!({"kind": "not_yours", "id": id}),
            BookingError::NotActive { state } => {
                json!({"kind": "not_active", "id": id, "state": state.label()})
            }
            BookingError::InPast => json!({"kind": "started", "id": id}),
            BookingError::AdminOnly => {
                json!({"kind": "admin_only", "command": command::entry_example(Kind::Publish)})
            }
            other => {
                tracing::error!(error = %other, "unexpected booking refusal");
                json!({"kind": "other"})
            }
        };
        self.render("refused", ctx)
    }
}

/// `11-25`, as a member would type it back.
fn short_date(date: NaiveDate) -> String {
    date.format("%m-%d").to_string()
}

/// A refusal short enough for a greyed-out card button.
fn short_refusal(error: &BookingError) -> String {
    match error {
        BookingError::NotFound => "预约不存在",
        BookingError::NotYours => "不是你的预约",
        BookingError::NotActive { .. } => "预约已失效",
        BookingError::InPast => "已开始",
        _ => "操作失败",
    }
    .to_string()
}

/// Why a decision was not taken, short enough for a card button.
fn decide_refusal(error: &DecideError) -> String {
    match error {
        DecideError::NotFound => "申请不存在".into(),
        DecideError::NotApprover => "你不是审批人".into(),
        DecideError::WrongLevel { current } => format!("现在是第{current}级审批"),
        DecideError::AlreadyDecided { by, decision } => {
            format!("已由{by}{}", if decision == "approve" { "通过" } else { "驳回" })
        }
        DecideError::NotPending { state: BookingState::Cancelled } => "申请人已取消".into(),
        DecideError::NotPending { state } => format!("申请{}", state.label()),
        DecideError::Db(_) => "操作失败".into(),
    }
}
