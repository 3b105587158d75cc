//! How people are told: turns what the booking rules did ([`Event`]s) into WeCom messages
//! (textcards, template cards, text), queued in the outbox in the caller's transaction. The
//! conversation's own messages (admin broadcasts, reports, replies sent as messages) come
//! through here too, so the outbox and WeCom's message formats are known in one place.

mod approval;
mod buttons;
pub mod calendar;
mod choices;
mod direct;
mod notices;
mod offers;
mod partners;
pub mod robots;
mod series;
mod stop_use;

pub use buttons::CardButton;
pub use choices::{booking_card, slot_card, BookingCard, Message, SlotChoice};
pub use direct::{broadcast, markdown_to, text_to, Audience};

use crate::booking::{Booking, Catalog, Event};
use crate::config::{BookingConfig, CalendarConfig, Config, PublicUrl, RobotConfig};
use crate::wecom::card::CardError;
use rusqlite::Connection;

/// What wording a notice needs: names, times, the configured limits, where links point.
#[derive(Clone, Copy)]
pub struct Notifier<'a> {
    pub catalog: &'a Catalog,
    pub config: &'a BookingConfig,
    pub calendar: &'a CalendarConfig,
    /// Group robots for light notices to everyone (none: app messages).
    pub robots: &'a [RobotConfig],
    /// The service's public address (links to the board and booking passes).
    pub public_url: &'a PublicUrl,
}

impl<'a> Notifier<'a> {
    pub fn new(catalog: &'a Catalog, config: &'a Config) -> Notifier<'a> {
        Notifier {
            catalog,
            config: &config.booking,
            calendar: &config.calendar,
            robots: &config.robots,
            public_url: &config.server.public_url,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("a card WeCom would refuse: {0}")]
    Card(#[from] CardError),
}

impl Notifier<'_> {
    fn board_url(&self) -> String {
        self.public_url.join("/board")
    }

    fn pass_url(&self, booking: &Booking) -> String {
        self.public_url.join(&format!("/pass/{}", booking.pass_token))
    }
}

/// Queue the messages `events` call for, in `tx` (the transaction that made them happen).
pub fn queue(tx: &Connection, n: &Notifier, events: &[Event], now: i64) -> Result<(), NotifyError> {
    for event in events {
        queue_one(tx, n, event, now)?;
        calendar::queue(tx, n, event, now)?;
    }
    Ok(())
}

fn queue_one(tx: &Connection, n: &Notifier, event: &Event, now: i64) -> Result<(), NotifyError> {
    match event {
        Event::Booked { booking } => notices::pass(tx, n, booking, now),
        Event::Promoted { booking } => notices::promoted(tx, n, booking, now),
        Event::Cancelled { booking, by } if *by != booking.userid => {
            notices::cancelled_by_admin(tx, n, booking, by, now)
        }
        Event::Cancelled { .. } => Ok(()),
        // The new booking's pass, as for a booking; a request needing approval has its own
        // events (the approvers' cards) and no pass yet.
        Event::Moved { to, .. } => to
            .iter()
            .filter(|b| b.state == crate::booking::BookingState::Confirmed)
            .try_for_each(|booking| notices::pass(tx, n, booking, now)),
        Event::ApprovalRequested { booking, level, levels, approvers, department, pending_in_slot } => {
            let request = approval::Request {
                booking,
                level: *level,
                levels: *levels,
                approvers,
                department: department.as_deref(),
                pending_in_slot: *pending_in_slot,
            };
            approval::send_cards(tx, n, &request, now)
        }
        Event::ApprovalDecided { booking, level, approver, decision, reason, final_decision } => {
            let label = format!("{}（{approver}）", decision.label());
            approval::update_other_cards(tx, booking.id, *level, approver, &label, now)?;
            if !*final_decision {
                return Ok(());
            }
            let approved = *decision == crate::booking::approval::Decision::Approve;
            notices::approval_result(tx, n, booking, approved, reason.as_deref(), now)
        }
        Event::ApprovalWithdrawn { booking_id, level, why } => {
            approval::update_other_cards(tx, *booking_id, *level, "", approval::withdrawn_label(*why), now)
        }
        Event::ClosureHit { closure_id, booking, start, end, reason, alternatives } => {
            let stop = stop_use::StopUse {
                closure_id: *closure_id,
                facility: &booking.facility,
                start: *start,
                end: *end,
                reason,
            };
            stop_use::booking_hit(tx, n, &stop, booking, alternatives, now)
        }
        Event::FacilityClosed { closure_id, facility, start, end, reason } => {
            let stop = stop_use::StopUse { closure_id: *closure_id, facility, start: *start, end: *end, reason };
            stop_use::broadcast_closure(tx, n, &stop, now)
        }
        Event::FacilityReopened { facility, by, at } => stop_use::broadcast_reopening(tx, n, facility, by, *at, now),
        Event::ConfirmationDue { booking, waiting } => notices::confirmation_card(tx, n, booking, *waiting, now),
        // WeCom's calendar reminds by itself; the chat reminder may then be turned off.
        Event::ReminderDue { .. } if n.calendar.wecom && !n.calendar.remind_in_chat => Ok(()),
        Event::ReminderDue { booking } => notices::reminder(tx, n, booking, now),
        Event::NoShow { booking, strikes, suspended_until } => {
            notices::no_show(tx, n, booking, *strikes, *suspended_until, now)
        }
        Event::RequestExpired { booking } => notices::request_expired(tx, n, booking, now),
        Event::WeekPublished { week } => notices::week_published(tx, n, *week, now),
        Event::Offered { offer } => offers::offered(tx, n, offer, now),
        Event::OfferLapsed { offer } => offers::lapsed(tx, n, offer, now),
        Event::HeldOccurrenceRefused { userid, facility, date, slot, reason } => {
            series::held_refused(tx, n, (userid, facility, *date, *slot), reason, now)
        }
        Event::PartnerInvited { booking, booker } => partners::invited(tx, n, booking, booker, now),
        Event::PartnerAnswered { booking, booker, accepted } => {
            partners::answered(tx, n, booking, booker, *accepted, now)
        }
        Event::PartnerPlaceCancelled { booking, booker } => partners::place_cancelled(tx, n, booking, booker, now),
        Event::PartnerMoved { from, to, booker } => partners::moved(tx, n, from, to, booker, now),
        Event::SeriesEnded { userid, missed, cancelled, holds } => {
            series::ended(tx, n, userid, *missed, cancelled, *holds, now)
        }
    }
}
