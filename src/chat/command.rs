//! The chat commands: one enum, and one table that says for each its words, its help text,
//! what follows it, whether it only reads, and how it is built. A new command is a variant, a
//! row here, and its handler in `Turn::run`; the parser (`parse`) and the help read the table.

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
    Mine,
    Confirm(Option<i64>),
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
    Target(Option<String>),
    Text(String),
}

impl Arg {
    fn booking_no(self) -> Option<i64> {
        match self {
            Arg::BookingNo(n) | Arg::NumberAndReason(n, _) => n,
            _ => None,
        }
    }

    fn slot(self) -> SlotRequest {
        match self {
            Arg::Slot(request) => request,
            _ => SlotRequest::default(),
        }
    }

    fn reason(self) -> (Option<i64>, Option<String>) {
        match self {
            Arg::NumberAndReason(n, reason) => (n, reason),
            _ => (None, None),
        }
    }

    fn target(self) -> Option<String> {
        match self {
            Arg::Target(target) => target,
            _ => None,
        }
    }

    fn text(self) -> String {
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

/// The command table, in the order the help lists it.
pub static TABLE: &[Entry] = &[
    Entry {
        words: &["帮助", "菜单", "?", "？"],
        english: "help",
        example: "帮助",
        what: "查看命令",
        who: Who::All,
        read_only: true,
        args: Args::Nothing(&[]),
        rank: 14,
        build: |_| Command::Help,
    },
    Entry {
        words: &["设施", "场地列表"],
        english: "facilities",
        example: "设施",
        what: "设施列表与容量",
        who: Who::All,
        read_only: true,
        args: Args::Nothing(&[]),
        rank: 12,
        build: |_| Command::Facilities,
    },
    Entry {
        words: &["空闲", "空位", "有空", "余量", "查询"],
        english: "free",
        example: "空闲 健身房 明天",
        what: "查空闲时段",
        who: Who::All,
        read_only: true,
        args: Args::Slot,
        rank: 10,
        build: |arg| Command::Free(arg.slot()),
    },
    Entry {
        words: &["预约", "预定", "预订", "订"],
        english: "book",
        example: "预约 健身房 明天 18:30",
        what: "预约（可写 17:30-19:30 订连续两节）",
        who: Who::All,
        read_only: false,
        args: Args::Slot,
        rank: 11,
        build: |arg| Command::Book(arg.slot()),
    },
    Entry {
        words: &["取消"],
        english: "cancel",
        example: "取消 12",
        what: "取消预约",
        who: Who::All,
        read_only: false,
        args: Args::BookingNo,
        rank: 5,
        build: |arg| Command::Cancel(arg.booking_no()),
    },
    Entry {
        words: &["我的"],
        english: "mine",
        example: "我的",
        what: "我的预约与候补",
        who: Who::All,
        read_only: true,
        args: Args::Nothing(&[]),
        rank: 6,
        build: |_| Command::Mine,
    },
    Entry {
        words: &["候补", "排队"],
        english: "waitlist",
        example: "候补 乒乓球 周五 19:30",
        what: "满员时排候补",
        who: Who::All,
        read_only: false,
        args: Args::Slot,
        rank: 7,
        build: |arg| Command::Waitlist(arg.slot()),
    },
    Entry {
        words: &["退出候补", "取消候补"],
        english: "unwait",
        example: "退出候补 乒乓球 周五 19:30",
        what: "不再候补",
        who: Who::All,
        read_only: false,
        args: Args::Slot,
        rank: 4,
        build: |arg| Command::LeaveWaitlist(arg.slot()),
    },
    Entry {
        words: &["确认"],
        english: "confirm",
        example: "确认 12",
        what: "确认参加",
        who: Who::All,
        read_only: false,
        args: Args::BookingNo,
        rank: 8,
        build: |arg| Command::Confirm(arg.booking_no()),
    },
    Entry {
        words: &["签到", "打卡"],
        english: "checkin",
        example: "签到",
        what: "到场签到（或扫门口二维码）",
        who: Who::All,
        read_only: false,
        args: Args::BookingNo,
        rank: 1,
        build: |arg| Command::CheckIn(arg.booking_no()),
    },
    Entry {
        words: &["状态", "看板"],
        english: "board",
        example: "状态",
        what: "今日概况与实时看板",
        who: Who::All,
        read_only: true,
        args: Args::Nothing(&[]),
        rank: 13,
        build: |_| Command::Board,
    },
    Entry {
        words: &["日历"],
        english: "calendar",
        example: "日历",
        what: "日历订阅地址（日历 重置 换新地址）",
        who: Who::All,
        read_only: false,
        args: Args::Text,
        rank: 15,
        build: |arg| {
            let text = arg.text();
            Command::Calendar { reset: text.contains("重置") || text.contains("reset") }
        },
    },
    Entry {
        words: &["提醒"],
        english: "remind",
        example: "提醒 提前30分钟",
        what: "提醒：关 / 开 / 提前多少分钟（高峰时段的提醒始终发送）",
        who: Who::All,
        read_only: false,
        args: Args::Text,
        rank: 16,
        build: |arg| Command::Remind(arg.text()),
    },
    Entry {
        words: &["免打扰"],
        english: "quiet",
        example: "免打扰 22:00-07:00",
        what: "免打扰时段（其间的非正式消息稍后再发；免打扰 关）",
        who: Who::All,
        read_only: false,
        args: Args::Text,
        rank: 17,
        build: |arg| Command::Quiet(arg.text()),
    },
    Entry {
        words: &["设置"],
        english: "settings",
        example: "设置",
        what: "我的提醒与免打扰设置",
        who: Who::All,
        read_only: true,
        args: Args::Nothing(&[]),
        rank: 18,
        build: |_| Command::Settings,
    },
    Entry {
        words: &["审批", "待审"],
        english: "approvals",
        example: "审批",
        what: "待我审批的申请",
        who: Who::Approvers,
        read_only: true,
        args: Args::Nothing(&[]),
        rank: 4,
        build: |_| Command::Approvals,
    },
    Entry {
        words: &["通过", "同意", "批准"],
        english: "approve",
        example: "通过 12",
        what: "通过申请",
        who: Who::Approvers,
        read_only: false,
        args: Args::BookingNo,
        rank: 3,
        build: |arg| Command::Approve(arg.booking_no()),
    },
    Entry {
        words: &["驳回", "拒绝"],
        english: "reject",
        example: "驳回 12 场地已另有安排",
        what: "驳回申请（可附原因）",
        who: Who::Approvers,
        read_only: false,
        args: Args::NumberAndReason,
        rank: 2,
        build: |arg| {
            let (booking, reason) = arg.reason();
            Command::Reject { booking, reason }
        },
    },
    Entry {
        words: &["停用"],
        english: "close",
        example: "停用 健身房 11-25 11-26 设备检修",
        what: "设施停用（通知受影响者并全员广播）",
        who: Who::Admins,
        read_only: false,
        args: Args::Text,
        rank: 0,
        build: |arg| Command::Close(arg.text()),
    },
    Entry {
        words: &["启用", "恢复"],
        english: "reopen",
        example: "启用 健身房",
        what: "提前结束停用",
        who: Who::Admins,
        read_only: false,
        args: Args::Text,
        rank: 0,
        build: |arg| Command::Reopen(arg.text()),
    },
    Entry {
        words: &["通知", "公告"],
        english: "broadcast",
        example: "通知 本周六职工之家开放至 22:00",
        what: "全员（或某部门）正式通知",
        who: Who::Admins,
        read_only: false,
        args: Args::Text,
        rank: 0,
        build: |arg| Command::Broadcast(arg.text()),
    },
    Entry {
        words: &["报表", "统计"],
        english: "report",
        example: "报表 上周",
        what: "使用报表（本周/上周/本月/上月/日期范围，最长一年）",
        who: Who::Admins,
        read_only: true,
        args: Args::Text,
        rank: 0,
        build: |arg| Command::Report(arg.text()),
    },
    Entry {
        words: &["授权"],
        english: "grant",
        example: "授权 lisi 管理员",
        what: "授予管理员",
        who: Who::Admins,
        read_only: false,
        args: Args::Text,
        rank: 0,
        build: |arg| Command::Grant(arg.text()),
    },
    Entry {
        words: &["撤销"],
        english: "revoke",
        example: "撤销 lisi 管理员",
        what: "撤销管理员",
        who: Who::Admins,
        read_only: false,
        args: Args::Text,
        rank: 0,
        build: |arg| Command::Revoke(arg.text()),
    },
    Entry {
        words: &["免责"],
        english: "forgive",
        example: "免责 zhangsan",
        what: "免除一次未到场记录",
        who: Who::Admins,
        read_only: false,
        args: Args::Target,
        rank: 0,
        build: |arg| Command::Forgive(arg.target()),
    },
    Entry {
        words: &["发布"],
        english: "publish",
        example: "发布 下周",
        what: "开放下周预约",
        who: Who::Admins,
        read_only: false,
        args: Args::Nothing(&["下周"]),
        rank: 9,
        build: |_| Command::Publish,
    },
];

impl Command {
    /// This command's row of the table.
    pub fn entry(&self) -> &'static Entry {
        static BY_VARIANT: LazyLock<Vec<(Discriminant<Command>, &'static Entry)>> =
            LazyLock::new(|| TABLE.iter().map(|e| (discriminant(&(e.build)(Arg::empty(e.args))), e)).collect());
        let variant = discriminant(self);
        BY_VARIANT.iter().find(|(v, _)| *v == variant).map_or(&TABLE[0], |(_, e)| e)
    }

    /// A question that changes nothing (see [`Entry::read_only`]).
    pub fn is_read_only(&self) -> bool {
        self.entry().read_only
    }
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
