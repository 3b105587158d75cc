//! Text → [`Command`], by the command table.
//!
//! Chinese first, English aliases, words in any order, full-width characters and extra
//! spaces tolerated. Each recognised piece is cut out of the text; what is left decides
//! whether the message was understood.

use super::command::{Arg, Args, Command, Entry, SlotRequest, TABLE};
use super::dates::{self, BadPiece, SlotSpec};
use crate::booking::Catalog;
use aho_corasick::AhoCorasick;
use chrono::NaiveDate;
use regex::Regex;
use std::sync::LazyLock;

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
    /// Not a command but a word staff say to a colleague: 你好, 谢谢, 好的.
    SmallTalk(SmallTalk),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmallTalk {
    Hello,
    Thanks,
    /// 好的, 收到, ok: nothing asked.
    Noted,
}

/// What a whole message of small talk is (with its trailing 啊, 呀, !, ~ and the like taken off).
fn small_talk(normalized: &str) -> Option<SmallTalk> {
    let word = normalized.trim_end_matches(['啊', '呀', '哈', '呢', '!', '~', '.', ' ', '～']);
    match word {
        "你好" | "您好" | "在吗" | "在不在" | "hi" | "hello" | "哈喽" | "嗨" | "早" | "早上好" | "中午好"
        | "下午好" | "晚上好" => Some(SmallTalk::Hello),
        "谢谢" | "多谢" | "感谢" | "谢啦" | "谢了" | "thanks" | "thank you" | "thx" | "辛苦了" => {
            Some(SmallTalk::Thanks)
        }
        "好的" | "好" | "收到" | "嗯" | "嗯嗯" | "ok" | "okay" | "行" | "知道了" => Some(SmallTalk::Noted),
        _ => None,
    }
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

/// `和 lisi wangwu`, `与 @lisi`: partners' ids after the word (letters, digits, `_ . - @`).
static PARTNERS_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?:和|与|跟|带上?)((?:\s*@?[a-z][a-z0-9_.@\-]*)+)").expect("static regex"));

/// Take the partners out of `rest` (normalised, so lower-cased), each written as in `original`.
fn take_partners(rest: &mut String, original: &str) -> Vec<String> {
    let Some(caps) = PARTNERS_RE.captures(rest) else { return Vec::new() };
    let (range, ids) = (caps.get(0).map(|m| m.range()).unwrap_or_default(), caps[1].to_string());
    rest.replace_range(range, " ");
    let typed: Vec<&str> = original.split(|c: char| c.is_whitespace() || "，、,".contains(c)).collect();
    let mut partners: Vec<String> = Vec::new();
    for id in ids.split_whitespace().map(|id| id.trim_start_matches('@')) {
        let as_typed = typed.iter().map(|t| t.trim_start_matches(['@', '＠'])).find(|t| t.to_lowercase() == id);
        let id = as_typed.unwrap_or(id).to_string();
        if !partners.contains(&id) {
            partners.push(id);
        }
    }
    partners
}

static BOOKING_NO_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"#?\s*(\d{1,9})").expect("static regex"));
static BARE_NUMBER_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\b(\d{1,2})\b").expect("static regex"));

/// Words that carry no meaning of their own in a request.
const FILLERS: &[&str] = &[
    "我的",
    "预约",
    "谢谢",
    "麻烦你",
    "麻烦",
    "帮我",
    "我要",
    "我想",
    "想要",
    "请问",
    "查查",
    "查",
    "一下",
    "还有",
    "时段",
    "时间",
    "一个",
    "场地",
    "场",
    "的",
    "吗",
    "呢",
    "吧",
    "了",
    "啊",
    "呀",
    "我",
    "要",
    "想",
    "请",
    "有",
    "空",
    "个",
    "在",
    "去",
    "能",
    "可以",
    "下",
    "还",
    "?",
    "？",
    ".",
    "!",
    ",",
    "~",
];
/// English fillers count only as whole words.
const ENGLISH_FILLERS: &[&str] =
    &["please", "pls", "thanks", "the", "a", "at", "on", "for", "is", "there", "any", "my", "me", "slot"];

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

/// A command whose arguments are free text counts only as the message's first word (see
/// [`Args::Text`]): its row and the text after the word, as typed.
fn take_leading(original: &str) -> Option<(&'static Entry, String)> {
    let text = original.trim_start();
    for e in TABLE.iter().filter(|e| e.args == Args::Text) {
        for word in e.words.iter().copied().chain(std::iter::once(e.english)) {
            let head = text.get(..word.len()).filter(|h| h.eq_ignore_ascii_case(word));
            let rest = text.get(word.len()..).unwrap_or_default();
            let ends_word = !word.is_ascii() || rest.is_empty() || rest.starts_with(char::is_whitespace);
            if head.is_some() && ends_word {
                return Some((e, rest.trim().to_string()));
            }
        }
    }
    None
}

/// The rows a command word may stand anywhere in a message for, by rank.
static BY_RANK: LazyLock<Vec<&'static Entry>> = LazyLock::new(|| {
    let mut entries: Vec<&Entry> = TABLE.iter().filter(|e| e.args != Args::Text).collect();
    entries.sort_by_key(|e| e.rank);
    entries
});

/// A command word: the rank of its row in `BY_RANK`, its rank among the row's words, itself.
type CommandWord = (usize, usize, &'static str);

/// Every command word, and a searcher for them all (pattern i is word i).
static COMMAND_WORDS: LazyLock<(AhoCorasick, Vec<CommandWord>)> = LazyLock::new(|| {
    let words: Vec<_> = BY_RANK
        .iter()
        .enumerate()
        .flat_map(|(rank, e)| e.words.iter().enumerate().map(move |(i, word)| (rank, i, *word)))
        .collect();
    let finder = AhoCorasick::new(words.iter().map(|(_, _, word)| word)).expect("command words make a searcher");
    (finder, words)
});

/// Find the command word; returns its row and the text without it. The first row by rank
/// with a word in the text wins (a Chinese word before its English one), and of its words the
/// first listed, where it first occurs.
fn take_keyword(text: &str) -> Option<(&'static Entry, String)> {
    let (finder, words) = &*COMMAND_WORDS;
    let chinese = finder
        .find_overlapping_iter(text)
        .map(|found| (words[found.pattern().as_usize()], found.start()))
        .min_by_key(|((rank, i, _), start)| (*rank, *i, *start));
    let english_words = || text.split(|c: char| !c.is_ascii_alphanumeric() && c != '-');
    let chinese_rank = chinese.map_or(BY_RANK.len(), |((rank, _, _), _)| rank);
    // A row ranked before the Chinese word's may still be named in English.
    for e in &BY_RANK[..chinese_rank] {
        if english_words().any(|w| w == e.english) {
            let rest = text.split(' ').filter(|w| *w != e.english).collect::<Vec<_>>().join(" ");
            return Some((e, rest));
        }
    }
    let ((rank, _, word), at) = chinese?;
    let mut rest = text.to_string();
    rest.replace_range(at..at + word.len(), " ");
    Some((BY_RANK[rank], rest))
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
    request.repeat = super::repeat::take_repeat(text);
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
    if let Some((entry, args)) = take_leading(text) {
        return Parsed::Command((entry.build)(Arg::Text(args)));
    }
    let Some((entry, mut rest)) = take_keyword(&normalized) else {
        return fragment_or_unknown(&normalized, catalog, today);
    };
    let arg = match entry.args {
        Args::Nothing(ignored) => {
            for word in ignored {
                rest = rest.replace(word, " ");
            }
            Arg::Nothing
        }
        Args::BookingNo => Arg::BookingNo(take_booking_no(&mut rest)),
        Args::Slot => match take_slot_request(&mut rest, catalog, today) {
            Ok(request) if entry.english == "book" => {
                let partners = take_partners(&mut rest, text);
                Arg::Slot(SlotRequest { partners, ..request })
            }
            Ok(request) => Arg::Slot(request),
            Err(BadPiece(piece)) => {
                let problem = format!("「{piece}」不是有效的日期或时间");
                return unknown(vec![entry.words[0].into()], entry.example, Some(problem));
            }
        },
        Args::NumberAndSlot => {
            let booking = take_booking_no(&mut rest);
            match take_slot_request(&mut rest, catalog, today) {
                Ok(request) => Arg::NumberAndSlot(booking, request),
                Err(BadPiece(piece)) => {
                    let problem = format!("「{piece}」不是有效的日期或时间");
                    return unknown(vec![entry.words[0].into()], entry.example, Some(problem));
                }
            }
        }
        Args::NumberAndReason => {
            // Everything after the number is the reason, said to the applicant as typed.
            let booking = take_booking_no(&mut rest);
            let reason = rest.trim().to_string();
            return Parsed::Command((entry.build)(Arg::NumberAndReason(
                booking,
                (!reason.is_empty()).then_some(reason),
            )));
        }
        Args::Target => {
            // A user id or a booking number, from the original text: WeCom user ids are
            // case-sensitive.
            let rest = text.replacen(entry.words[0], " ", 1).replacen(entry.english, " ", 1);
            let target = rest.split_whitespace().next().map(|t| t.trim_start_matches(['#', '＃']).to_string());
            return Parsed::Command((entry.build)(Arg::Target(target)));
        }
        // Only reached when not the first word: not the command.
        Args::Text => return fragment_or_unknown(&normalized, catalog, today),
    };
    let leftover = strip_fillers(&rest);
    if !leftover.is_empty() {
        let understood = describe(entry, &arg, catalog);
        let problem = match &arg {
            Arg::Slot(r) if r.facility.is_none() => format!("没有叫「{leftover}」的设施"),
            _ => format!("没看懂「{leftover}」"),
        };
        return unknown(understood, entry.example, Some(problem));
    }
    Parsed::Command((entry.build)(arg))
}

fn fragment_or_unknown(normalized: &str, catalog: &Catalog, today: NaiveDate) -> Parsed {
    if let Some(talk) = small_talk(normalized) {
        return Parsed::SmallTalk(talk);
    }
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

/// What was understood of a command that had words left over.
fn describe(entry: &Entry, arg: &Arg, catalog: &Catalog) -> Vec<String> {
    let mut parts = match arg {
        Arg::Slot(request) => {
            let mut parts = vec![entry.words[0].to_string()];
            parts.extend(describe_request(request, catalog));
            parts
        }
        Arg::BookingNo(_) => vec![entry.words[0].to_string()],
        _ => vec![],
    };
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
    parts.extend(request.slot.as_ref().map(SlotSpec::label));
    if let Some(part) = request.part {
        parts.push(part.label().to_string());
    }
    parts
}
