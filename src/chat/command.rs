//! Text → [`Command`]: one enum, one parser, and the help text from the same table.
//!
//! Chinese first, English aliases, words in any order, full-width characters and extra
//! spaces tolerated. Each recognised piece is cut out of the text; what is left decides
//! whether the message was understood.

use super::dates::{self, BadPiece, DayPart, SlotSpec};
use crate::booking::Catalog;
use aho_corasick::AhoCorasick;
use chrono::NaiveDate;
use regex::Regex;
use serde::{Deserialize, Serialize};
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
    fn is_empty(&self) -> bool {
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
    Cancel(Option<i64>),
    Mine,
    Confirm(Option<i64>),
    Board,
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

impl Command {
    /// A question that changes nothing: answered on a reader, beside other readers and the writer.
    pub fn is_read_only(&self) -> bool {
        matches!(
            self,
            Command::Help
                | Command::Facilities
                | Command::Free(_)
                | Command::Mine
                | Command::Board
                | Command::Approvals
        )
    }
}

/// The kinds of command, in the order the help lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Help,
    Facilities,
    Free,
    Book,
    Cancel,
    Mine,
    Waitlist,
    Confirm,
    Board,
    Publish,
    Approvals,
    Approve,
    Reject,
    CheckIn,
    Forgive,
    Close,
    Reopen,
    Broadcast,
    Report,
    Grant,
    Revoke,
}

/// Who a command is for (the help shows each member what they may use).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    All,
    Approvers,
    Admins,
}

/// One row of the command table: its words, how to use it, and who may.
pub struct Entry {
    pub kind: Kind,
    /// Chinese words first; the first is the one shown.
    pub words: &'static [&'static str],
    pub english: &'static str,
    pub example: &'static str,
    pub what: &'static str,
    pub who: Who,
}

/// The command table. Order matters for matching: longer, more specific words first
/// (我的预约 before 预约, 取消预约 before 预约).
pub const TABLE: &[Entry] = &[
    Entry {
        kind: Kind::Help,
        words: &["帮助", "菜单", "?", "？"],
        english: "help",
        example: "帮助",
        what: "查看命令",
        who: Who::All,
    },
    Entry {
        kind: Kind::Facilities,
        words: &["设施", "场地列表"],
        english: "facilities",
        example: "设施",
        what: "设施列表与容量",
        who: Who::All,
    },
    Entry {
        kind: Kind::Free,
        words: &["空闲", "空位", "有空", "余量", "查询"],
        english: "free",
        example: "空闲 健身房 明天",
        what: "查空闲时段",
        who: Who::All,
    },
    Entry {
        kind: Kind::Book,
        words: &["预约", "预定", "预订", "订"],
        english: "book",
        example: "预约 健身房 明天 18:30",
        what: "预约（可写 17:30-19:30 订连续两节）",
        who: Who::All,
    },
    Entry {
        kind: Kind::Cancel,
        words: &["取消"],
        english: "cancel",
        example: "取消 12",
        what: "取消预约",
        who: Who::All,
    },
    Entry {
        kind: Kind::Mine,
        words: &["我的"],
        english: "mine",
        example: "我的",
        what: "我的预约与候补",
        who: Who::All,
    },
    Entry {
        kind: Kind::Waitlist,
        words: &["候补", "排队"],
        english: "waitlist",
        example: "候补 乒乓球 周五 19:30",
        what: "满员时排候补",
        who: Who::All,
    },
    Entry {
        kind: Kind::Confirm,
        words: &["确认"],
        english: "confirm",
        example: "确认 12",
        what: "确认参加",
        who: Who::All,
    },
    Entry {
        kind: Kind::CheckIn,
        words: &["签到", "打卡"],
        english: "checkin",
        example: "签到",
        what: "到场签到（或扫门口二维码）",
        who: Who::All,
    },
    Entry {
        kind: Kind::Board,
        words: &["状态", "看板"],
        english: "board",
        example: "状态",
        what: "今日概况与实时看板",
        who: Who::All,
    },
    Entry {
        kind: Kind::Approvals,
        words: &["审批", "待审"],
        english: "approvals",
        example: "审批",
        what: "待我审批的申请",
        who: Who::Approvers,
    },
    Entry {
        kind: Kind::Approve,
        words: &["通过", "同意", "批准"],
        english: "approve",
        example: "通过 12",
        what: "通过申请",
        who: Who::Approvers,
    },
    Entry {
        kind: Kind::Reject,
        words: &["驳回", "拒绝"],
        english: "reject",
        example: "驳回 12 场地已另有安排",
        what: "驳回申请（可附原因）",
        who: Who::Approvers,
    },
    Entry {
        kind: Kind::Close,
        words: &["停用"],
        english: "close",
        example: "停用 健身房 11-25 11-26 设备检修",
        what: "设施停用（通知受影响者并全员广播）",
        who: Who::Admins,
    },
    Entry {
        kind: Kind::Reopen,
        words: &["启用", "恢复"],
        english: "reopen",
        example: "启用 健身房",
        what: "提前结束停用",
        who: Who::Admins,
    },
    Entry {
        kind: Kind::Broadcast,
        words: &["通知", "公告"],
        english: "broadcast",
        example: "通知 本周六职工之家开放至 22:00",
        what: "全员（或某部门）正式通知",
        who: Who::Admins,
    },
    Entry {
        kind: Kind::Report,
        words: &["报表", "统计"],
        english: "report",
        example: "报表 上周",
        what: "使用报表（本周/上周/本月/上月/日期范围）",
        who: Who::Admins,
    },
    Entry {
        kind: Kind::Grant,
        words: &["授权"],
        english: "grant",
        example: "授权 lisi 管理员",
        what: "授予管理员",
        who: Who::Admins,
    },
    Entry {
        kind: Kind::Revoke,
        words: &["撤销"],
        english: "revoke",
        example: "撤销 lisi 管理员",
        what: "撤销管理员",
        who: Who::Admins,
    },
    Entry {
        kind: Kind::Forgive,
        words: &["免责"],
        english: "forgive",
        example: "免责 zhangsan",
        what: "免除一次未到场记录",
        who: Who::Admins,
    },
    Entry {
        kind: Kind::Publish,
        words: &["发布"],
        english: "publish",
        example: "发布 下周",
        what: "开放下周预约",
        who: Who::Admins,
    },
];

/// Matching order: the phrases that contain another command's word come first.
const MATCH_ORDER: &[Kind] = &[
    Kind::Forgive,
    Kind::CheckIn,
    Kind::Reject,
    Kind::Approve,
    Kind::Approvals,
    Kind::Cancel,
    Kind::Mine,
    Kind::Waitlist,
    Kind::Confirm,
    Kind::Publish,
    Kind::Free,
    Kind::Book,
    Kind::Facilities,
    Kind::Board,
    Kind::Help,
];

fn entry(kind: Kind) -> &'static Entry {
    TABLE.iter().find(|e| e.kind == kind).unwrap_or(&TABLE[0])
}

/// What the parser made of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    Command(Command),
    /// No command word, but pieces a pending dialogue can use ("18:30", "明天 健身房").
    Fragment(SlotRequest),
    /// Not understood: what was understood, and the nearest valid command.
    Unknown {
        understood: Vec<String>,
        suggestion: String,
        problem: Option<String>,
    },
}

/// Full-width to half-width, lower-case, one space between words.
pub fn normalize(text: &str) -> String {
    let mapped: String = text
        .chars()
        .map(|c| match c {
            '\u{3000}' => ' ',
            '，' | '。' | '、' | '！' => ' ',
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            c => c,
        })
        .flat_map(char::to_lowercase)
        .collect();
    mapped.split_whitespace().collect::<Vec<_>>().join(" ")
}

static BOOKING_NO_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"#?\s*(\d{1,9})").expect("static regex"));
static BARE_NUMBER_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b(\d{1,2})\b").expect("static regex"));

/// Words that carry no meaning of their own in a request.
const FILLERS: &[&str] = &[
    "我的", "预约", "帮我", "我要", "我想", "想要", "请问", "一下", "还有", "时段", "时间", "一个", "场地", "场", "的",
    "吗", "呢", "吧", "了", "啊", "呀", "我", "要", "想", "请", "有", "空", "个", "在", "去", "能", "可以", "下", "还",
    "?", "？", ".", "!", ",", "~",
];
/// English fillers count only as whole words.
const ENGLISH_FILLERS: &[&str] = &["please", "the", "a", "at", "on", "for", "is", "there", "any", "my", "me", "slot"];

/// Finds every filler in one scan (pattern i is `FILLERS[i]`).
static FILLER_FINDER: LazyLock<AhoCorasick> =
    LazyLock::new(|| AhoCorasick::new(FILLERS).expect("fillers make a searcher"));

fn strip_fillers(text: &str) -> String {
    // Which fillers occur, in one scan: replacing one with a space never makes another occur.
    let mut present = [false; FILLERS.len()];
    for found in FILLER_FINDER.find_overlapping_iter(text) {
        present[found.pattern().as_usize()] = true;
    }
    let mut rest = text.to_string();
    // In list order (帮我的: 我的 goes first, 帮 stays).
    for (filler, _) in FILLERS.iter().zip(present).filter(|(_, present)| *present) {
        rest = rest.replace(filler, " ");
    }
    rest.split_whitespace().filter(|w| !ENGLISH_FILLERS.contains(w)).collect::<Vec<_>>().join(" ")
}

/// Admin commands carry free text (a broadcast may say 预约), so they count only as the
/// message's first word; their arguments are returned as typed, not normalised.
const LEADING_ONLY: &[Kind] = &[Kind::Close, Kind::Reopen, Kind::Broadcast, Kind::Report, Kind::Grant, Kind::Revoke];

fn take_leading(original: &str) -> Option<(Kind, String)> {
    let text = original.trim_start();
    for kind in LEADING_ONLY {
        let e = entry(*kind);
        for word in e.words.iter().copied().chain(std::iter::once(e.english)) {
            let head = text.get(..word.len()).filter(|h| h.eq_ignore_ascii_case(word));
            let rest = text.get(word.len()..).unwrap_or_default();
            let ends_word = !word.is_ascii() || rest.is_empty() || rest.starts_with(char::is_whitespace);
            if head.is_some() && ends_word {
                return Some((*kind, rest.trim().to_string()));
            }
        }
    }
    None
}

/// A command word: the rank of its kind in `MATCH_ORDER`, its rank among the kind's words, itself.
type CommandWord = (usize, usize, &'static str);

/// Every command word, and a searcher for them all (pattern i is word i).
static COMMAND_WORDS: LazyLock<(AhoCorasick, Vec<CommandWord>)> = LazyLock::new(|| {
    let words: Vec<_> = MATCH_ORDER
        .iter()
        .enumerate()
        .flat_map(|(rank, kind)| entry(*kind).words.iter().enumerate().map(move |(i, word)| (rank, i, *word)))
        .collect();
    let finder = AhoCorasick::new(words.iter().map(|(_, _, word)| word)).expect("command words make a searcher");
    (finder, words)
});

/// Find the command word; returns its kind and the text without it. The first kind in
/// `MATCH_ORDER` with a word in the text wins (a Chinese word before its English one), and of
/// its words the first listed, where it first occurs.
fn take_keyword(text: &str) -> Option<(Kind, String)> {
    let (finder, words) = &*COMMAND_WORDS;
    let chinese = finder
        .find_overlapping_iter(text)
        .map(|found| (words[found.pattern().as_usize()], found.start()))
        .min_by_key(|((rank, i, _), start)| (*rank, *i, *start));
    let english_words = || text.split(|c: char| !c.is_ascii_alphanumeric() && c != '-');
    let chinese_rank = chinese.map_or(MATCH_ORDER.len(), |((rank, _, _), _)| rank);
    // A kind ranked before the Chinese word's may still be named in English.
    for kind in &MATCH_ORDER[..chinese_rank] {
        let english = entry(*kind).english;
        if english_words().any(|w| w == english) {
            let rest = text.split(' ').filter(|w| *w != english).collect::<Vec<_>>().join(" ");
            return Some((*kind, rest));
        }
    }
    let ((rank, _, word), at) = chinese?;
    let mut rest = text.to_string();
    rest.replace_range(at..at + word.len(), " ");
    Some((MATCH_ORDER[rank], rest))
}

fn take_booking_no(text: &mut String) -> Option<i64> {
    let caps = BOOKING_NO_RE.captures(text)?;
    let n = caps[1].parse::<i64>().ok()?;
    let m = caps.get(0)?;
    let (start, end) = (m.start(), m.end());
    text.replace_range(start..end, " ");
    Some(n)
}

/// Facility, date, slot and day part, cut from `text`.
fn take_slot_request(text: &mut String, catalog: &Catalog, today: NaiveDate) -> Result<SlotRequest, BadPiece> {
    let mut request = SlotRequest::default();
    // "订一下周五": 一下 is a filler, and must not leave 下周五 (next week's Friday) behind.
    if text.contains("一下") {
        *text = text.replace("一下", " ");
    }
    if let Some((facility, start, end)) = catalog.find_facility_in(text) {
        request.facility = Some(facility.code.clone());
        text.replace_range(start..end, " ");
    }
    request.slot = dates::take_slot(text)?;
    let (date, implied_part) = dates::take_date(text, today)?;
    request.date = date;
    request.part = dates::take_part(text).or(implied_part);
    if request.slot.is_none() {
        // A bare small number is a slot number (预约 健身房 明天 9); a larger one an hour.
        if let Some(caps) = BARE_NUMBER_RE.captures(text) {
            let n = caps[1].parse::<u32>().unwrap_or(0);
            let m = caps.get(0).map(|m| (m.start(), m.end())).unwrap_or_default();
            if (1..=catalog.slots().len() as u32).contains(&n) {
                request.slot = Some(SlotSpec::Number(n));
                text.replace_range(m.0..m.1, " ");
            } else if (12..=23).contains(&n) {
                request.slot = chrono::NaiveTime::from_hms_opt(n, 0, 0).map(SlotSpec::Time);
                text.replace_range(m.0..m.1, " ");
            }
        }
    }
    Ok(request)
}

/// Parse one message. `today` resolves relative dates; `catalog` names facilities.
pub fn parse(text: &str, catalog: &Catalog, today: NaiveDate) -> Parsed {
    let normalized = normalize(text);
    if normalized.is_empty() {
        return unknown(vec![], "帮助", Some("消息是空的".into()));
    }
    if let Some((kind, args)) = take_leading(text) {
        return Parsed::Command(match kind {
            Kind::Close => Command::Close(args),
            Kind::Reopen => Command::Reopen(args),
            Kind::Broadcast => Command::Broadcast(args),
            Kind::Report => Command::Report(args),
            Kind::Grant => Command::Grant(args),
            _ => Command::Revoke(args),
        });
    }
    let Some((kind, mut rest)) = take_keyword(&normalized) else {
        return fragment_or_unknown(&normalized, catalog, today);
    };
    let command = match kind {
        Kind::Help => Command::Help,
        Kind::Facilities => Command::Facilities,
        Kind::Mine => Command::Mine,
        Kind::Board => Command::Board,
        Kind::Publish => {
            rest = rest.replace("下周", " ");
            Command::Publish
        }
        Kind::Cancel => Command::Cancel(take_booking_no(&mut rest)),
        Kind::Confirm => Command::Confirm(take_booking_no(&mut rest)),
        Kind::Approvals => Command::Approvals,
        Kind::CheckIn => Command::CheckIn(take_booking_no(&mut rest)),
        Kind::Close | Kind::Reopen | Kind::Broadcast | Kind::Report | Kind::Grant | Kind::Revoke => {
            // Only reached when not the first word: not an admin command.
            return fragment_or_unknown(&normalized, catalog, today);
        }
        Kind::Forgive => {
            // The target is a user id or a booking number, as typed.
            // (from the original text: WeCom user ids are case-sensitive)
            let rest = text.replacen("免责", " ", 1).replacen("forgive", " ", 1);
            let target = rest.split_whitespace().next().map(|t| t.trim_start_matches(['#', '＃']).to_string());
            return Parsed::Command(Command::Forgive(target));
        }
        Kind::Approve => Command::Approve(take_booking_no(&mut rest)),
        Kind::Reject => {
            // Everything after the number is the reason, said to the applicant as typed.
            let booking = take_booking_no(&mut rest);
            let reason = rest.trim().to_string();
            return Parsed::Command(Command::Reject { booking, reason: (!reason.is_empty()).then_some(reason) });
        }
        Kind::Free | Kind::Book | Kind::Waitlist => {
            let request = match take_slot_request(&mut rest, catalog, today) {
                Ok(r) => r,
                Err(BadPiece(piece)) => {
                    return unknown(
                        vec![entry(kind).words[0].into()],
                        entry(kind).example,
                        Some(format!("「{piece}」不是有效的日期或时间")),
                    )
                }
            };
            match kind {
                Kind::Free => Command::Free(request),
                Kind::Book => Command::Book(request),
                _ => Command::Waitlist(request),
            }
        }
    };
    let leftover = strip_fillers(&rest);
    if !leftover.is_empty() {
        let understood = describe(&command, catalog);
        let problem = match &command {
            Command::Free(r) | Command::Book(r) | Command::Waitlist(r) if r.facility.is_none() => {
                format!("没有叫「{leftover}」的设施")
            }
            _ => format!("没看懂「{leftover}」"),
        };
        return unknown(understood, entry(kind).example, Some(problem));
    }
    Parsed::Command(command)
}

fn fragment_or_unknown(normalized: &str, catalog: &Catalog, today: NaiveDate) -> Parsed {
    let mut rest = normalized.to_string();
    let request = match take_slot_request(&mut rest, catalog, today) {
        Ok(request) => request,
        Err(BadPiece(piece)) => {
            return unknown(vec![], "预约 健身房 明天 18:30", Some(format!("「{piece}」不是有效的日期或时间")))
        }
    };
    let leftover = strip_fillers(&rest);
    if !request.is_empty() && leftover.is_empty() {
        return Parsed::Fragment(request);
    }
    let understood = describe_request(&request, catalog);
    let suggestion = match &request.facility {
        Some(code) => {
            let name = catalog.facility(code).map_or(code.as_str(), |f| f.name.as_str());
            format!("空闲 {name} 明天 或 预约 {name} 明天 18:30")
        }
        None => nearest_english(&leftover).map_or("帮助".to_string(), |e| e.example.to_string()),
    };
    unknown(understood, &suggestion, None)
}

fn unknown(understood: Vec<String>, suggestion: &str, problem: Option<String>) -> Parsed {
    Parsed::Unknown { understood, suggestion: suggestion.to_string(), problem }
}

/// The command whose English word is within two edits of what was typed ("hepl" → help).
fn nearest_english(text: &str) -> Option<&'static Entry> {
    let word = text.split_whitespace().next()?;
    TABLE
        .iter()
        .map(|e| (edit_distance(word, e.english), e))
        .filter(|(d, e)| *d <= 2 && *d < e.english.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, e)| e)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

fn describe(command: &Command, catalog: &Catalog) -> Vec<String> {
    let (word, request) = match command {
        Command::Free(r) => ("空闲", Some(r)),
        Command::Book(r) => ("预约", Some(r)),
        Command::Waitlist(r) => ("候补", Some(r)),
        Command::Cancel(_) => ("取消", None),
        Command::Confirm(_) => ("确认", None),
        _ => ("", None),
    };
    let mut parts = vec![word.to_string()];
    if let Some(request) = request {
        parts.extend(describe_request(request, catalog));
    }
    parts.retain(|p| !p.is_empty());
    parts
}

fn describe_request(request: &SlotRequest, catalog: &Catalog) -> Vec<String> {
    let mut parts = Vec::new();
    if let Some(f) = request.facility.as_deref().and_then(|c| catalog.facility(c)) {
        parts.push(f.name.clone());
    }
    if let Some(date) = request.date {
        parts.push(crate::booking::date_label(date));
    }
    match &request.slot {
        Some(SlotSpec::Number(n)) => parts.push(format!("第{n}节")),
        Some(SlotSpec::Time(t)) => parts.push(t.format("%H:%M").to_string()),
        Some(SlotSpec::Range(a, b)) => parts.push(format!("{}-{}", a.format("%H:%M"), b.format("%H:%M"))),
        None => {}
    }
    if let Some(part) = request.part {
        parts.push(part.label().to_string());
    }
    parts
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

pub fn entry_example(kind: Kind) -> &'static str {
    entry(kind).example
}
