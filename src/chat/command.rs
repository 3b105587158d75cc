//! The chat commands: one enum, and one table (`table.rs`) that says for each its words, its
//! help text, what follows it, whether it only reads, and how it is built. A new command is a
//! variant, a row in the table, and its handler in `Turn::run`; the parser (`parse`) and the
//! help read the table.

use super::dates::{DayPart, SlotSpec};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::mem::{discriminant, Discriminant};
use std::sync::LazyLock;

/// Facility, date and slot as far as the member has said them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotRequest {
    pub facility: Option<String>,
    pub date: Option<NaiveDate>,
    pub slot: Option<SlotSpec>,
    pub part: Option<DayPart>,
    /// 每周三 … 4周: a recurring booking.
    #[serde(default)]
    pub repeat: Option<crate::booking::series::Repeat>,
    /// 和 lisi wangwu: partners' user ids, as typed (WeCom ids are case-sensitive).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partners: Vec<String>,
}

impl SlotRequest {
    pub fn is_empty(&self) -> bool {
        self == &SlotRequest::default()
    }

    /// Fill what this request lacks from `later` (the dialogue's next message).
    pub fn merge(&mut self, later: SlotRequest) {
        if later.facility.is_some() {
            self.facility = later.facility;
        }
        if later.date.is_some() {
            self.date = later.date;
        }
        if later.slot.is_some() {
            self.slot = later.slot;
        }
        if later.part.is_some() {
            self.part = later.part;
        }
        if later.repeat.is_some() {
            self.repeat = later.repeat;
        }
        if !later.partners.is_empty() {
            self.partners = later.partners;
        }
    }
}

/// Everything a member can ask for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    Help,
    Facilities,
    Free(SlotRequest),
    Book(SlotRequest),
    Waitlist(SlotRequest),
    LeaveWaitlist(SlotRequest),
    Cancel(Option<i64>),
    /// 取消 12 13: several bookings, each as 取消 would.
    CancelEach(Vec<i64>),
    /// 取消 12 全部 / 取消 系列 12: booking 12's recurring series from now on.
    CancelSeries(Option<i64>),
    /// 改约 12 周四 19:30: booking 12 to another slot (what is not said stays as it was).
    Move {
        booking: Option<i64>,
        to: SlotRequest,
    },
    Mine,
    Confirm(Option<i64>),
    /// 接受 / 放弃 a waitlist offer (its entry's number, if given: the card's buttons name it).
    AcceptOffer(Option<i64>),
    DeclineOffer(Option<i64>),
    Board,
    /// 日历 (the feed's address) / 日历 重置 (a new one).
    Calendar {
        reset: bool,
    },
    /// 提醒 关 / 提醒 开 / 提醒 提前30分钟, as typed.
    Remind(String),
    /// 免打扰 22:00-07:00 / 免打扰 关, as typed.
    Quiet(String),
    /// 设置: the member's settings.
    Settings,
    Publish,
    Approvals,
    Approve(Option<i64>),
    Reject {
        booking: Option<i64>,
        reason: Option<String>,
    },
    CheckIn(Option<i64>),
    /// 签退 / 签退 12: leave early.
    SignOut(Option<i64>),
    /// 免责 userid / 免责 12
    Forgive(Option<String>),
    /// Admin commands keep their arguments as typed (texts and reasons are shown to people).
    Close(String),
    Reopen(String),
    Broadcast(String),
    Report(String),
    Grant(String),
    Revoke(String),
}

/// Who a command is for (the help shows each member what they may use).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    All,
    Approvers,
    Admins,
}

/// What follows a command's word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Args {
    /// Nothing, but these words, understood and ignored (发布 下周).
    Nothing(&'static [&'static str]),
    /// A booking number, if given.
    BookingNo,
    /// Facility, date and slot, as far as said.
    Slot,
    /// A booking number, then a reason as typed (驳回 12 场地已另有安排).
    NumberAndReason,
    /// A booking number, then a new slot as far as said (改约 12 周四 19:30).
    NumberAndSlot,
    /// The first word as typed: a member's id or a booking number (免责).
    Target,
    /// Everything after the word, as typed. Such a command counts only as the message's first
    /// word: an admin's free text (a broadcast) may well contain another command's word.
    Text,
}

/// Arguments as parsed, by their [`Args`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    Nothing,
    BookingNo(Option<i64>),
    Slot(SlotRequest),
    NumberAndReason(Option<i64>, Option<String>),
    NumberAndSlot(Option<i64>, SlotRequest),
    Target(Option<String>),
    Text(String),
}

impl Arg {
    pub(super) fn booking_no(self) -> Option<i64> {
        match self {
            Arg::BookingNo(n) | Arg::NumberAndReason(n, _) | Arg::NumberAndSlot(n, _) => n,
            _ => None,
        }
    }

    pub(super) fn slot(self) -> SlotRequest {
        match self {
            Arg::Slot(request) | Arg::NumberAndSlot(_, request) => request,
            _ => SlotRequest::default(),
        }
    }

    pub(super) fn reason(self) -> (Option<i64>, Option<String>) {
        match self {
            Arg::NumberAndReason(n, reason) => (n, reason),
            _ => (None, None),
        }
    }

    pub(super) fn target(self) -> Option<String> {
        match self {
            Arg::Target(target) => target,
            _ => None,
        }
    }

    pub(super) fn text(self) -> String {
        match self {
            Arg::Text(text) => text,
            _ => String::new(),
        }
    }

    /// An empty value of the kind `args` parses to.
    fn empty(args: Args) -> Arg {
        match args {
            Args::Nothing(_) => Arg::Nothing,
            Args::BookingNo => Arg::BookingNo(None),
            Args::Slot => Arg::Slot(SlotRequest::default()),
            Args::NumberAndReason => Arg::NumberAndReason(None, None),
            Args::NumberAndSlot => Arg::NumberAndSlot(None, SlotRequest::default()),
            Args::Target => Arg::Target(None),
            Args::Text => Arg::Text(String::new()),
        }
    }
}

/// One row of the command table.
pub struct Entry {
    /// Chinese words first; the first is the one shown.
    pub words: &'static [&'static str],
    pub english: &'static str,
    pub example: &'static str,
    /// The help text.
    pub what: &'static str,
    pub who: Who,
    /// Worked out on a reader, beside other readers and the writer: changes nothing, or (a
    /// report) only queues a message, which is written with the callback's record.
    pub read_only: bool,
    pub args: Args,
    /// Which command a message naming several is (lower first): a phrase that contains
    /// another command's word ranks before it (我的预约 is 我的, 取消预约 is 取消).
    pub rank: u8,
    pub build: fn(Arg) -> Command,
}

pub use super::table::TABLE;

impl Command {
    /// This command's row of the table: the row that builds it from nothing, or, for the
    /// commands a row builds only from what follows its word (取消 12 全部, 取消 12 13), that row.
    pub fn entry(&self) -> Option<&'static Entry> {
        static BY_VARIANT: LazyLock<Vec<(Discriminant<Command>, &'static Entry)>> =
            LazyLock::new(|| TABLE.iter().map(|e| (discriminant(&(e.build)(Arg::empty(e.args))), e)).collect());
        if matches!(self, Command::CancelSeries(_) | Command::CancelEach(_)) {
            return entry_named("cancel");
        }
        let variant = discriminant(self);
        BY_VARIANT.iter().find(|(v, _)| *v == variant).map(|(_, e)| *e)
    }

    /// A question that changes nothing (see [`Entry::read_only`]). A command of no row is
    /// taken to change something: answered on a reader, its writes would bypass the writer.
    pub fn is_read_only(&self) -> bool {
        self.entry().is_some_and(|e| e.read_only)
    }
}

/// The booking numbers after the first in 「取消 12 13、#14」: Some when what follows the first
/// number is nothing but numbers (at most ten in all), else None (a reason, 全部, …).
pub fn more_booking_numbers(rest: &str) -> Option<Vec<i64>> {
    let pieces = rest.split(|c: char| c.is_whitespace() || ",，、和".contains(c)).filter(|p| !p.is_empty());
    let numbers = pieces.map(|p| p.trim_start_matches(['#', '＃']).parse::<i64>().ok()).collect::<Option<Vec<_>>>()?;
    (!numbers.is_empty() && numbers.len() < 10).then_some(numbers)
}

/// The row whose English word is `english`.
pub fn entry_named(english: &str) -> Option<&'static Entry> {
    TABLE.iter().find(|e| e.english == english)
}

/// The help text, from the table: each member sees what they may use.
pub fn help_lines(is_admin: bool, is_approver: bool) -> Vec<(String, &'static str, &'static str)> {
    TABLE
        .iter()
        .filter(|e| match e.who {
            Who::All => true,
            Who::Approvers => is_approver,
            Who::Admins => is_admin,
        })
        .map(|e| (format!("{} / {}", e.words[0], e.english), e.example, e.what))
        .collect()
}
