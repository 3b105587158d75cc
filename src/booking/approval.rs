//! Approval of bookings that need it: each approver of the current level is asked, only an
//! approver of that level may decide, the first decision wins and moves the request on (next
//! level, confirmed, or rejected with its place freed for the waitlist).

use super::catalog::Facility;
use super::events::{Event, Events, Withdrawn};
use super::model::{Booking, BookingState};
use super::service::{booking_by_id, set_state, Rules};
use super::waitlist::promote;
use chrono::{DateTime, Utc};
use rusqlite::{params, Connection, OptionalExtension};

pub use super::events::Decision;

/// Why a decision was not taken; each has its own answer.
#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    #[error("no such request")]
    NotFound,
    #[error("not an approver of this request")]
    NotApprover,
    #[error("an approver's own request")]
    OwnRequest,
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

/// Who decides `level` of `applicant`'s request: the level's approvers but the applicant; when
/// the applicant is its only approver, the admins (but the applicant). No one approves their own.
fn approvers(rules: &Rules, facility: &Facility, level: u32, applicant: &str) -> Vec<String> {
    let configured = facility.approval.get(level as usize - 1).map(Vec::as_slice).unwrap_or_default();
    let others: Vec<String> = configured.iter().filter(|a| *a != applicant).cloned().collect();
    if !others.is_empty() || configured.is_empty() {
        return others;
    }
    rules.admins.iter().filter(|a| *a != applicant).cloned().collect()
}

/// Ask the approvers of `booking`'s current level to decide.
pub fn request(tx: &Connection, rules: &Rules, booking: &Booking, events: &mut Events) -> rusqlite::Result<()> {
    let (Some(level), Some(facility)) = (booking.approval_level, rules.catalog.facility(&booking.facility)) else {
        return Ok(());
    };
    let pending_in_slot: u32 = crate::store::query_row(
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
    events.push(Event::ApprovalRequested {
        booking: booking.clone(),
        level,
        levels: facility.approval.len() as u32,
        approvers: approvers(rules, facility, level, &booking.userid),
        department,
        pending_in_slot,
    });
    Ok(())
}

/// A pending request ends undecided: its current level's approvers need not decide.
pub fn withdraw(booking: &Booking, why: Withdrawn, events: &mut Events) {
    if let Some(level) = booking.approval_level {
        events.push(Event::ApprovalWithdrawn { booking_id: booking.id, level, why });
    }
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
    events: &mut Events,
) -> Result<Decided, DecideError> {
    let booking = booking_by_id(tx, id)?.ok_or(DecideError::NotFound)?;
    let facility = rules.catalog.facility(&booking.facility).ok_or(DecideError::NotFound)?;
    if booking.userid == approver {
        return Err(DecideError::OwnRequest);
    }
    let is_approver_of = |level: u32| approvers(rules, facility, level, &booking.userid).iter().any(|a| a == approver);
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
    let last = current as usize >= facility.approval.len();
    let final_decision = last || decision == Decision::Reject;
    match decision {
        Decision::Reject => set_state(tx, id, BookingState::Rejected, Some(approver), reason, now.timestamp())?,
        Decision::Approve if last => {
            crate::store::execute(
                tx,
                "UPDATE bookings SET state = 'confirmed', approval_level = NULL, updated_at = ?2 WHERE id = ?1",
                params![id, now.timestamp()],
            )?;
        }
        Decision::Approve => {
            crate::store::execute(
                tx,
                "UPDATE bookings SET approval_level = ?2, updated_at = ?3 WHERE id = ?1",
                params![id, current + 1, now.timestamp()],
            )?;
        }
    }
    let decided = booking_by_id(tx, id)?.ok_or(DecideError::NotFound)?;
    events.push(Event::ApprovalDecided {
        booking: decided.clone(),
        level: current,
        approver: approver.to_string(),
        decision,
        reason: reason.map(str::to_string),
        final_decision,
    });
    if decision == Decision::Reject {
        promote(tx, rules, &booking.facility, booking.date, booking.slot, now, events)?;
    } else if !last {
        request(tx, rules, &decided, events)?;
    }
    Ok(Decided { booking: decided, decision, final_decision })
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

/// Requests waiting for `approver` now (they decide their current level).
pub fn pending_for(conn: &Connection, rules: &Rules, approver: &str) -> rusqlite::Result<Vec<Booking>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {} FROM bookings WHERE state = 'pending' ORDER BY starts_at",
        super::model::BOOKING_COLUMNS
    ))?;
    let pending = stmt.query_map([], Booking::from_row)?.collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(pending
        .into_iter()
        .filter(|b| {
            let (Some(facility), Some(level)) = (rules.catalog.facility(&b.facility), b.approval_level) else {
                return false;
            };
            approvers(rules, facility, level, &b.userid).iter().any(|a| a == approver)
        })
        .collect())
}
