//! Approval of bookings that need it: cards to each approver of the current level, the first
//! decision wins, every other card of that level is updated in place (or, when its response
//! code is spent or expired, its approver gets a text), and the applicant is told.

use super::catalog::Facility;
use super::model::{Booking, BookingError, BookingState};
use super::notices;
use super::service::{booking_by_id, describe, promote, set_state, Rules};
use crate::outbox::{self, Outgoing, Recipient, Weight};
use crate::wecom::card::{self, Button, Field, TaskId};
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::json;

/// WeCom honours a response code for 72 hours, once.
const RESPONSE_CODE_SECONDS: i64 = 72 * 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
}

impl Decision {
    fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Reject => "reject",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Decision::Approve => "已通过",
            Decision::Reject => "已驳回",
        }
    }
}

/// Why a decision was not taken; each has its own answer.
#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    #[error("no such request")]
    NotFound,
    #[error("not an approver of this request")]
    NotApprover,
    #[error("approver of another level")]
    WrongLevel { current: u32 },
    #[error("already decided")]
    AlreadyDecided { by: String, decision: String },
    #[error("request no longer pending")]
    NotPending { state: BookingState },
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
}

/// What a decision did.
#[derive(Debug, Clone)]
pub struct Decided {
    pub booking: Booking,
    pub decision: Decision,
    /// True when this approval confirmed the booking (last level) or the rejection ended it.
    pub final_decision: bool,
}

fn approvers(facility: &Facility, level: u32) -> &[String] {
    facility.approval.get(level as usize - 1).map(Vec::as_slice).unwrap_or_default()
}

/// Send the cards of `booking`'s current level to each of its approvers.
pub fn send_cards(tx: &Connection, rules: &Rules, booking: &Booking, now: i64) -> rusqlite::Result<()> {
    let (Some(level), Some(facility)) = (booking.approval_level, rules.catalog.facility(&booking.facility)) else {
        return Ok(());
    };
    let levels = facility.approval.len();
    let what = describe(rules.catalog, &booking.facility, booking.date, booking.slot);
    let pending_here: u32 = crate::store::query_row(
        tx,
        "SELECT count(*) FROM bookings WHERE facility = ?1 AND date = ?2 AND slot = ?3 AND state = 'pending'",
        params![booking.facility, booking.date.to_string(), booking.slot],
        |row| row.get(0),
    )?;
    let department: Option<String> =
        crate::store::query_row(tx, "SELECT department FROM users WHERE userid = ?1", [&booking.userid], |row| {
            row.get(0)
        })
        .optional()?
        .flatten();
    for (n, approver) in approvers(facility, level).iter().enumerate() {
        let task_id = TaskId::parse(&format!("apv-{}-{level}-{n}-{}", booking.id, now))
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        let number = format!("#{}", booking.id);
        let stage = format!("第 {level}/{levels} 级");
        let count = format!("{pending_here} 个");
        let mut fields = vec![
            Field { key: "申请人", value: &booking.userid },
            Field { key: "预约号", value: &number },
            Field { key: "审批", value: &stage },
            Field { key: "同时段待审", value: &count },
        ];
        if let Some(department) = &department {
            fields.insert(1, Field { key: "部门", value: department });
        }
        let body = card::button_card(
            &task_id,
            &format!("{}预约审批", facility.name),
            &what,
            &fields,
            &[
                Button { text: "通过", style: 1, key: format!("approve:{}:{level}", booking.id) },
                Button { text: "驳回", style: 4, key: format!("reject:{}:{level}", booking.id) },
            ],
        )
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        let outbox_key = format!("approval-card:{}:{level}:{approver}", booking.id);
        let message = Outgoing::to_user(outbox_key.clone(), approver, Weight::Light, body);
        if outbox::enqueue(tx, &message, now)? {
            crate::store::execute(
                tx,
                "INSERT INTO approval_cards (booking_id, level, approver, task_id, outbox_key, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
                params![booking.id, level, approver, task_id.as_str(), outbox_key, now],
            )?;
        }
    }
    Ok(())
}

/// Decide the current level of request `id` as `approver` (`card_level`: the level of the
/// clicked card, None when deciding by chat).
#[allow(clippy::too_many_arguments)]
pub fn decide(
    tx: &Connection,
    rules: &Rules,
    approver: &str,
    id: i64,
    card_level: Option<u32>,
    decision: Decision,
    reason: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Decided, DecideError> {
    let booking = booking_by_id(tx, id)?.ok_or(DecideError::NotFound)?;
    let facility = rules.catalog.facility(&booking.facility).ok_or(DecideError::NotFound)?;
    let is_approver_of = |level: u32| approvers(facility, level).iter().any(|a| a == approver);
    let any_level = (1..=facility.approval.len() as u32).find(|l| is_approver_of(*l));
    if any_level.is_none() {
        return Err(DecideError::NotApprover);
    }
    // A click on a card of a level already decided: say who decided it.
    let asked_level = card_level.or(booking.approval_level).unwrap_or(1);
    if let Some((by, decision)) = decision_of(tx, id, asked_level)? {
        return Err(DecideError::AlreadyDecided { by, decision });
    }
    if booking.state != BookingState::Pending {
        return Err(DecideError::NotPending { state: booking.state });
    }
    let current = booking.approval_level.unwrap_or(1);
    if asked_level != current || !is_approver_of(current) {
        return Err(DecideError::WrongLevel { current });
    }
    let inserted = crate::store::execute(tx,
        "INSERT INTO approval_decisions (booking_id, level, approver, decision, reason, at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT DO NOTHING",
        params![id, current, approver, decision.as_str(), reason, now.timestamp()],
    )?;
    if inserted == 0 {
        let (by, decision) = decision_of(tx, id, current)?.unwrap_or_default();
        return Err(DecideError::AlreadyDecided { by, decision });
    }
    let label = format!("{}（{approver}）", decision.label());
    update_other_cards(tx, id, current, approver, &label, now.timestamp())?;
    let last = current as usize >= facility.approval.len();
    let final_decision = match decision {
        Decision::Reject => {
            set_state(tx, id, BookingState::Rejected, Some(approver), reason, now.timestamp())?;
            let rejected = booking_by_id(tx, id)?.ok_or(DecideError::NotFound)?;
            notices::approval_result(tx, rules, &rejected, false, reason, now.timestamp())?;
            promote(tx, rules, &booking.facility, booking.date, booking.slot, now).map_err(|e| match e {
                BookingError::Db(e) => DecideError::Db(e),
                _ => DecideError::NotFound,
            })?;
            true
        }
        Decision::Approve if last => {
            crate::store::execute(
                tx,
                "UPDATE bookings SET state = 'confirmed', approval_level = NULL, updated_at = ?2 WHERE id = ?1",
                params![id, now.timestamp()],
            )?;
            let confirmed = booking_by_id(tx, id)?.ok_or(DecideError::NotFound)?;
            notices::approval_result(tx, rules, &confirmed, true, None, now.timestamp())?;
            true
        }
        Decision::Approve => {
            crate::store::execute(
                tx,
                "UPDATE bookings SET approval_level = ?2, updated_at = ?3 WHERE id = ?1",
                params![id, current + 1, now.timestamp()],
            )?;
            let next = booking_by_id(tx, id)?.ok_or(DecideError::NotFound)?;
            send_cards(tx, rules, &next, now.timestamp())?;
            false
        }
    };
    let booking = booking_by_id(tx, id)?.ok_or(DecideError::NotFound)?;
    Ok(Decided { booking, decision, final_decision })
}

fn decision_of(conn: &Connection, id: i64, level: u32) -> rusqlite::Result<Option<(String, String)>> {
    crate::store::query_row(
        conn,
        "SELECT approver, decision FROM approval_decisions WHERE booking_id = ?1 AND level = ?2",
        params![id, level],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )
    .optional()
}

/// An approval card as its outbox row stands.
struct SentCard {
    approver: String,
    level: u32,
    state: String,
    response_code: Option<String>,
    sent_at: Option<i64>,
    outbox_id: i64,
}

/// Grey out every card of this request's `level` except `except`'s, saying `label`:
/// through update_template_card while its response code is fresh and unused, else a text.
pub fn update_other_cards(
    tx: &Connection,
    id: i64,
    level: u32,
    except: &str,
    label: &str,
    now: i64,
) -> rusqlite::Result<()> {
    let mut stmt = tx.prepare_cached(
        "SELECT c.approver, c.level, o.state, o.response_code, o.sent_at, o.id FROM approval_cards c
         JOIN outbox o ON o.dedupe_key = c.outbox_key
         WHERE c.booking_id = ?1 AND c.level = ?2 AND c.approver != ?3",
    )?;
    let cards: Vec<SentCard> = stmt
        .query_map(params![id, level, except], |r| {
            Ok(SentCard {
                approver: r.get(0)?,
                level: r.get(1)?,
                state: r.get(2)?,
                response_code: r.get(3)?,
                sent_at: r.get(4)?,
                outbox_id: r.get(5)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    for SentCard { approver, level: card_level, state, response_code, sent_at, outbox_id } in cards {
        let key = format!("approval-update:{id}:{card_level}:{approver}");
        if state == "pending" {
            // Not delivered yet: it will never need a decision, so it is never sent.
            crate::store::execute(
                tx,
                "UPDATE outbox SET state = 'failed', last_error = 'superseded: decided before delivery' WHERE id = ?1",
                [outbox_id],
            )?;
            continue;
        }
        let fresh = sent_at.is_some_and(|at| now - at < RESPONSE_CODE_SECONDS);
        let message = match response_code.filter(|_| fresh && state == "done") {
            Some(code) => Outgoing {
                dedupe_key: key,
                recipient: Recipient::User(approver.clone()),
                weight: Weight::Light,
                body: json!({
                    "msgtype": "update_card", "response_code": code, "label": label,
                    "fallback": format!("预约申请 #{id} {label}，无需再处理。"),
                }),
            },
            None => Outgoing::text(key, &approver, Weight::Light, &format!("预约申请 #{id} {label}，无需再处理。")),
        };
        outbox::enqueue(tx, &message, now)?;
    }
    Ok(())
}

/// Requests waiting for `approver` now (their current level includes them).
pub fn pending_for(conn: &Connection, rules: &Rules, approver: &str) -> rusqlite::Result<Vec<Booking>> {
    let mut out = Vec::new();
    for facility in rules.catalog.facilities().iter().filter(|f| f.needs_approval()) {
        for (i, level) in facility.approval.iter().enumerate() {
            if !level.iter().any(|a| a == approver) {
                continue;
            }
            let mut stmt = conn.prepare_cached(&format!(
                "SELECT {} FROM bookings WHERE facility = ?1 AND state = 'pending' AND approval_level = ?2 ORDER BY starts_at",
                super::model::BOOKING_COLUMNS
            ))?;
            let rows = stmt.query_map(params![facility.code, i as u32 + 1], Booking::from_row)?;
            for row in rows {
                out.push(row?);
            }
        }
    }
    out.sort_by_key(|b| b.starts_at);
    Ok(out)
}

/// A request that ends without a decision (cancelled, expired, closed): its approvers' cards
/// of the current level say so.
pub fn close_cards(tx: &Connection, booking: &Booking, label: &str, now: i64) -> rusqlite::Result<()> {
    match booking.approval_level {
        Some(level) => update_other_cards(tx, booking.id, level, "", label, now),
        None => Ok(()),
    }
}
