//! Bookings as stored, their states, and what can go wrong with a request.

use chrono::{DateTime, NaiveDate, Utc};
use rusqlite::Row;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BookingState {
    Pending,
    Confirmed,
    CheckedIn,
    Cancelled,
    Rejected,
    NoShow,
    Closed,
    Expired,
    /// Signed out (签退) after check-in: the visit is over, its place free.
    Completed,
}

/// SQL: the booking holds a place (pending, confirmed or checked in). Written as comparisons,
/// not `state IN (…)`: SQLite evaluates a constant list of more than two values through a
/// temporary b-tree that it builds each time a statement runs. The partial indexes and triggers
/// of migration 0005 hold this same text, which is what lets a query that includes it use
/// those indexes. A macro so that statements can be put together with `concat!`.
macro_rules! live {
    () => {
        "(state = 'pending' OR state = 'confirmed' OR state = 'checked_in')"
    };
}
pub(crate) use live;
pub const LIVE: &str = live!();

impl BookingState {
    pub fn as_str(self) -> &'static str {
        match self {
            BookingState::Pending => "pending",
            BookingState::Confirmed => "confirmed",
            BookingState::CheckedIn => "checked_in",
            BookingState::Cancelled => "cancelled",
            BookingState::Rejected => "rejected",
            BookingState::NoShow => "no_show",
            BookingState::Closed => "closed",
            BookingState::Expired => "expired",
            BookingState::Completed => "completed",
        }
    }

    pub fn parse(s: &str) -> BookingState {
        match s {
            "pending" => BookingState::Pending,
            "confirmed" => BookingState::Confirmed,
            "checked_in" => BookingState::CheckedIn,
            "cancelled" => BookingState::Cancelled,
            "rejected" => BookingState::Rejected,
            "no_show" => BookingState::NoShow,
            "closed" => BookingState::Closed,
            "completed" => BookingState::Completed,
            _ => BookingState::Expired,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            BookingState::Pending => "待审批",
            BookingState::Confirmed => "已预约",
            BookingState::CheckedIn => "已签到",
            BookingState::Cancelled => "已取消",
            BookingState::Rejected => "已驳回",
            BookingState::NoShow => "未到场",
            BookingState::Closed => "设施停用",
            BookingState::Expired => "已过期",
            BookingState::Completed => "已签退",
        }
    }

    pub fn is_live(self) -> bool {
        matches!(self, BookingState::Pending | BookingState::Confirmed | BookingState::CheckedIn)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booking {
    pub id: i64,
    pub userid: String,
    pub facility: String,
    pub date: NaiveDate,
    pub slot: u32,
    pub starts_at: i64,
    pub ends_at: i64,
    pub state: BookingState,
    pub approval_level: Option<u32>,
    pub checkin_code: String,
    pub pass_token: String,
}

/// Columns in the order [`Booking::from_row`] reads them.
pub const BOOKING_COLUMNS: &str =
    "id, userid, facility, date, slot, starts_at, ends_at, state, approval_level, checkin_code, pass_token";

impl Booking {
    /// Whether its slot has begun at `now`: it can no longer be cancelled or moved.
    pub fn has_begun(&self, now: DateTime<Utc>) -> bool {
        self.starts_at <= now.timestamp()
    }

    pub fn from_row(row: &Row) -> rusqlite::Result<Booking> {
        let date: String = row.get(3)?;
        Ok(Booking {
            id: row.get(0)?,
            userid: row.get(1)?,
            facility: row.get(2)?,
            date: NaiveDate::parse_from_str(&date, "%Y-%m-%d").unwrap_or_default(),
            slot: row.get(4)?,
            starts_at: row.get(5)?,
            ends_at: row.get(6)?,
            state: BookingState::parse(&row.get::<_, String>(7)?),
            approval_level: row.get(8)?,
            checkin_code: row.get(9)?,
            pass_token: row.get(10)?,
        })
    }
}

/// A free place suggested instead of a full one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alternative {
    pub facility: String,
    pub date: NaiveDate,
    pub slot: u32,
    pub free: u32,
}

/// Why a request was refused: each says what the member can do instead.
#[derive(Debug, thiserror::Error)]
pub enum BookingError {
    #[error("slot full")]
    SlotFull { alternatives: Vec<Alternative>, waitlist_len: u32 },
    #[error("slot already started or in the past")]
    InPast,
    #[error("week not open for booking")]
    WeekNotOpen { week_start: NaiveDate },
    #[error("facility closed")]
    Closed { reason: String, until: Option<DateTime<Utc>> },
    #[error("too many active bookings")]
    OverLimit { limit: u32 },
    #[error("too many bookings this week")]
    OverWeeklyLimit { limit: u32 },
    #[error("booking suspended")]
    Suspended { until: DateTime<Utc> },
    #[error("already booked")]
    AlreadyBooked { id: i64 },
    #[error("already waiting")]
    AlreadyWaiting { position: u32 },
    #[error("slot not full")]
    NotFull { free: u32 },
    #[error("no such slot")]
    NoSuchSlot,
    #[error("no such booking")]
    NotFound,
    #[error("not your booking")]
    NotYours,
    #[error("booking is not active")]
    NotActive { state: BookingState },
    #[error("admins only")]
    AdminOnly,
    #[error("no place offered")]
    NoOffer,
    #[error("the offer lapsed")]
    OfferExpired,
    #[error("not part of a recurring booking")]
    NotASeries,
    #[error("partners cannot come to a facility that needs approval")]
    PartnersNotHere,
    #[error("too many partners")]
    TooManyPartners { max: u32 },
    #[error("unknown partner")]
    UnknownPartner { userid: String },
    #[error("a partner already holds the slot")]
    PartnerAlreadyBooked { userid: String, id: i64 },
    #[error("no invitation to answer")]
    NoInvitation,
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
}
