//! How refusals are worded: each says what to do instead.

use super::actions::short_date;
use super::command;
use super::Turn;
use crate::booking::approval::DecideError;
use crate::booking::{self, service, BookingError, BookingState, Facility};
use chrono::{NaiveDate, Utc};
use serde_json::{json, Value};

impl Turn<'_> {
    /// Word a refusal about a slot request; each says what to do instead.
    pub(super) fn refusal(
        &self,
        error: BookingError,
        facility: &Facility,
        date: NaiveDate,
        slot: u32,
    ) -> super::Result<String> {
        let catalog = &self.ctx.catalog;
        let what = service::describe(catalog, &facility.code, date, slot);
        let start = catalog.slot(slot).map(|s| s.start_label()).unwrap_or_default();
        let waitlist_command = format!("{} {} {start}", facility.name, short_date(date));
        let tz = catalog.tz();
        let local = |t: chrono::DateTime<Utc>| t.with_timezone(&tz).format("%m-%d %H:%M").to_string();
        let ctx = match error {
            BookingError::SlotFull { alternatives, waitlist_len } => {
                self.offer_alternatives(facility, date, slot, &alternatives);
                let alternatives: Vec<Value> = alternatives
                    .iter()
                    .map(|a| {
                        let name = self.facility_name(&a.facility);
                        let at = catalog.slot(a.slot).map(|s| s.start_label()).unwrap_or_default();
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
            BookingError::Db(e) => return Err(e.into()),
            other => return Ok(self.booking_refusal(other, 0)),
        };
        Ok(self.render("refused", ctx))
    }

    /// Word a refusal about an existing booking (cancel, confirm).
    pub(super) fn booking_refusal(&self, error: BookingError, id: i64) -> String {
        let ctx = match error {
            BookingError::NotFound => json!({"kind": "not_found", "id": id}),
            BookingError::NotYours => json!({"kind": "not_yours", "id": id}),
            BookingError::NotActive { state } => self
                .moved_context(id)
                .unwrap_or_else(|| json!({"kind": "not_active", "id": id, "state": state.label()})),
            BookingError::InPast => json!({"kind": "started", "id": id}),
            BookingError::AdminOnly => {
                let example = command::entry_named("publish").map_or("发布 下周", |e| e.example);
                json!({"kind": "admin_only", "command": example})
            }
            other => {
                tracing::error!(error = %other, "unexpected booking refusal");
                json!({"kind": "other"})
            }
        };
        self.render("refused", ctx)
    }
}

impl Turn<'_> {
    /// The member's booking that `id` went on as when it was moved (改约 gives a new number);
    /// None when it was not moved, went to someone else, or the lookup failed (logged).
    fn moved_on(&self, id: i64) -> Option<crate::booking::Booking> {
        match booking::moves::moved_on(self.tx, id) {
            Ok(to) => to.filter(|to| to.userid == self.user),
            Err(error) => {
                tracing::error!(%error, id, "could not read where a booking was moved");
                None
            }
        }
    }

    /// Where the member's booking `id` went when it was moved: the words' context, or None.
    pub(super) fn moved_context(&self, id: i64) -> Option<Value> {
        self.moved_on(id).map(|to| {
            json!({"kind": "moved", "id": id, "to": to.id, "to_what": self.what(&to),
                   "to_live": to.state.is_live(), "to_state": to.state.label()})
        })
    }

    /// A card button's refusal about booking `id`, which names the new number when it moved.
    pub(super) fn tap_refusal(&self, id: i64, error: &BookingError) -> String {
        let moved = matches!(error, BookingError::NotActive { .. }).then(|| self.moved_on(id)).flatten();
        match moved {
            Some(to) => format!("已改约为 #{}", to.id),
            None => short_refusal(error),
        }
    }
}

/// A refusal short enough for a greyed-out card button.
pub(super) fn short_refusal(error: &BookingError) -> String {
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
pub(super) fn decide_refusal(error: &DecideError) -> String {
    match error {
        DecideError::NotFound => "申请不存在".into(),
        DecideError::NotApprover => "你不是审批人".into(),
        DecideError::OwnRequest => "不能审批自己的申请".into(),
        DecideError::WrongLevel { current } => format!("现在是第{current}级审批"),
        DecideError::AlreadyDecided { by, decision } => {
            format!("已由{by}{}", if decision == "approve" { "通过" } else { "驳回" })
        }
        DecideError::NotPending { state: BookingState::Cancelled } => "申请人已取消".into(),
        DecideError::NotPending { state } => format!("申请{}", state.label()),
        DecideError::Db(_) => "操作失败".into(),
    }
}
