//! What the booking rules did, as plain domain values.
//!
//! Every operation that changes something pushes its events into the caller's [`Events`];
//! the caller hands them to `notify` inside the same transaction, which turns them into
//! messages (and, later, calendar entries or robot posts). The rules never say how anyone is
//! told.

use super::model::{Alternative, Booking};
use super::offers::Offer;
use chrono::{DateTime, NaiveDate, Utc};

/// Why a pending request ended without a decision at its current level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Withdrawn {
    /// The applicant (or an admin) cancelled it.
    Cancelled,
    /// It reached its start undecided.
    Expired,
    /// A stop-use closed the facility.
    Closed,
}

/// An approver's decision on one level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Reject,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
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

#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A place was taken and confirmed (a pending one comes with `ApprovalRequested`).
    Booked { booking: Booking },
    /// A waiter got a freed place.
    Promoted { booking: Booking },
    /// A booking was cancelled by `by` (the owner or an admin).
    Cancelled { booking: Booking, by: String },
    /// 改约: `from` released and `to` taken in one step (the old slot's waitlist promoted).
    Moved { from: Booking, to: Vec<Booking>, by: String },
    /// The approvers of `level` are asked to decide.
    ApprovalRequested {
        booking: Booking,
        level: u32,
        levels: u32,
        approvers: Vec<String>,
        /// The applicant's department, when known.
        department: Option<String>,
        /// Requests pending for the same slot, this one included.
        pending_in_slot: u32,
    },
    /// `approver` decided `level`; `booking` is as it stands after. `final_decision`: the
    /// request is now confirmed (last level approved) or rejected.
    ApprovalDecided {
        booking: Booking,
        level: u32,
        approver: String,
        decision: Decision,
        reason: Option<String>,
        final_decision: bool,
    },
    /// A pending request's current level will never be decided.
    ApprovalWithdrawn { booking_id: i64, level: u32, why: Withdrawn },
    /// A stop-use: recorded, with who it hit told separately (`ClosureHit`).
    FacilityClosed {
        closure_id: i64,
        facility: String,
        start: DateTime<Utc>,
        end: Option<DateTime<Utc>>,
        reason: String,
    },
    /// A live booking ended by a stop-use, with free places to go to instead.
    ClosureHit {
        closure_id: i64,
        booking: Booking,
        start: DateTime<Utc>,
        end: Option<DateTime<Utc>>,
        reason: String,
        alternatives: Vec<Alternative>,
    },
    /// A stop-use ended early.
    FacilityReopened { facility: String, by: String, at: DateTime<Utc> },
    /// A peak booking's confirmation is due (`waiting`: the slot's queue).
    ConfirmationDue { booking: Booking, waiting: u32 },
    /// A booking's check-in reminder is due.
    ReminderDue { booking: Booking },
    /// No check-in: a strike, and perhaps a suspension until then.
    NoShow { booking: Booking, strikes: u32, suspended_until: Option<DateTime<Utc>> },
    /// A pending request reached its start undecided.
    RequestExpired { booking: Booking },
    /// The week starting on this Monday is open for booking.
    WeekPublished { week: NaiveDate },
    /// A freed place is held for a waiter until they accept or decline it, or the offer lapses.
    Offered { offer: Offer },
    /// An offer's time ran out (the place went on to the next waiter).
    OfferLapsed { offer: Offer },
    /// A recurring booking's date held for a week not yet open could not be booked as it opened.
    HeldOccurrenceRefused { userid: String, facility: String, date: NaiveDate, slot: u32, reason: String },
    /// A place was taken for a partner, who is asked to 接受 / 拒绝 it.
    PartnerInvited { booking: Booking, booker: String },
    /// A partner accepted, or refused (their place cancelled).
    PartnerAnswered { booking: Booking, booker: String, accepted: bool },
    /// The booker cancelled: the partner's place went with it.
    PartnerPlaceCancelled { booking: Booking, booker: String },
    /// The booker moved (改约) a booking the partner had accepted: the partner's place moved too.
    PartnerMoved { from: Booking, to: Vec<Booking>, booker: String },
    /// A recurring booking ended after `missed` no-shows: its later bookings cancelled, its
    /// `holds` held dates dropped.
    SeriesEnded { userid: String, missed: i64, cancelled: Vec<Booking>, holds: usize },
}

/// The events of one transaction, in the order they happened.
#[derive(Debug, Default)]
pub struct Events(Vec<Event>);

impl Events {
    pub fn push(&mut self, event: Event) {
        self.0.push(event);
    }

    /// Take the events out, leaving none.
    pub fn take(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.0)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Forget what was pushed after the first `len` (an operation rolled back).
    pub fn truncate(&mut self, len: usize) {
        self.0.truncate(len);
    }

    /// Keep, of what was pushed after the first `from`, only what `keep` accepts.
    pub fn retain_from(&mut self, from: usize, keep: impl Fn(&Event) -> bool) {
        let mut index = 0;
        self.0.retain(|event| {
            index += 1;
            index <= from || keep(event)
        });
    }
}
