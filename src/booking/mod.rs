//! The booking rules: facilities and slots, booking, cancelling, the waitlist. Knows nothing
//! of XML or HTTP; every change runs in one SQLite transaction given by the caller.

pub mod approval;
mod catalog;
pub mod checkin;
pub mod closure;
pub mod day_views;
pub mod model;
mod notices;
pub mod policy;
pub mod query;
pub mod rules;
pub mod service;

pub use catalog::{date_label, week_start, weekday_zh, Catalog, Facility, Slot};
pub use model::{Alternative, Booking, BookingError, BookingState};
pub use service::Rules;
