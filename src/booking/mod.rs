//! The booking rules: facilities and slots, booking, cancelling, the waitlist. Knows nothing
//! of XML, HTTP or WeCom; every change runs in one SQLite transaction given by the caller and
//! says what it did as [`Event`]s, which `notify` turns into messages.

pub mod approval;
mod catalog;
pub mod checkin;
pub mod closure;
pub mod events;
pub mod model;
pub mod moves;
pub mod offers;
pub mod partners;
pub mod policy;
pub mod query;
pub mod rules;
pub mod series;
pub mod service;
pub mod signout;
pub mod waitlist;

pub use catalog::{date_label, in_a_later_week, week_start, weekday_zh, Catalog, Facility, Slot};
pub use events::{Event, Events};
pub use model::{Alternative, Booking, BookingError, BookingState};
pub use service::Rules;
