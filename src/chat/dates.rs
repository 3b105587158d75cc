//! Dates and times as people type them: 今天 明天 后天 (昨天 前天 too), 周三, 下周三, 2026-11-25, 11-25,
//! 11/25, 11月25日, 25号; 18:30, 18点, 18点半, 晚上7点半, 下午3点, 17:30-19:30, 第9节, #9.
//!
//! Each `take_*` finds its piece in the (normalised) text, removes it, and returns it, so that
//! what is left over shows what was not understood.

use chrono::{Datelike, Duration, NaiveDate, NaiveTime, Weekday};
use regex::Regex;
use serde::{Deserialize, Serialize};
use std::sync::LazyLock;

/// Part of the day, for "明天晚上还有空吗".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DayPart {
    Morning,
    Noon,
    Afternoon,
    Evening,
}

impl DayPart {
    /// Does a slot starting at `start` fall in this part of the day?
    pub fn contains(self, start: NaiveTime) -> bool {
        let h = |h: u32, m: u32| NaiveTime::from_hms_opt(h, m, 0).unwrap_or_default();
        match self {
            DayPart::Morning => start < h(12, 0),
            DayPart::Noon => start >= h(11, 0) && start < h(14, 0),
            DayPart::Afternoon => start >= h(12, 0) && start < h(17, 30),
            DayPart::Evening => start >= h(17, 0),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            DayPart::Morning => "上午",
            DayPart::Noon => "中午",
            DayPart::Afternoon => "下午",
            DayPart::Evening => "晚上",
        }
    }

    fn parse(word: &str) -> Option<DayPart> {
        Some(match word {
            "早上" | "上午" | "早晨" | "morning" => DayPart::Morning,
            "中午" | "noon" => DayPart::Noon,
            "下午" | "afternoon" => DayPart::Afternoon,
            "晚上" | "傍晚" | "晚" | "evening" | "tonight" => DayPart::Evening,
            _ => return None,
        })
    }
}

/// Which slot(s) a message names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SlotSpec {
    /// 第9节, #9
    Number(u32),
    /// 18:30, 晚上7点半
    Time(NaiveTime),
    /// 17:30-19:30: consecutive slots, all or none
    Range(NaiveTime, NaiveTime),
}

impl SlotSpec {
    /// As the member would write it back: 第9节, 18:30, 17:30-19:30.
    pub fn label(&self) -> String {
        match self {
            SlotSpec::Number(n) => format!("第{n}节"),
            SlotSpec::Time(t) => t.format("%H:%M").to_string(),
            SlotSpec::Range(a, b) => format!("{}-{}", a.format("%H:%M"), b.format("%H:%M")),
        }
    }
}

/// A piece that looked like a date or time but is not one (2026-02-30, 25:00).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadPiece(pub String);

const TIME: &str = r"(?:(早上|上午|早晨|中午|下午|晚上|傍晚)\s*)?(\d{1,2}|[零一二两三四五六七八九十]{1,3})(?::(\d{2})|点(半|\d{1,2}分?|钟)?)";

static RANGE_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r"{TIME}\s*(?:-|~|到|至)\s*{TIME}")).expect("static regex"));
static TIME_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(TIME).expect("static regex"));
static SLOT_NO_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"第\s*(\d{1,2}|[一二三四五六七八九十]{1,3})\s*[节场]|#\s*(\d{1,2})|(\d{1,2})\s*节")
        .expect("static regex")
});
static PART_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"早上|上午|早晨|中午|下午|晚上|傍晚|今晚|明晚").expect("static regex"));
static FULL_DATE_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?").expect("static regex")
});
static MONTH_DAY_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?|(\d{1,2})\s*[-/]\s*(\d{1,2})").expect("static regex")
});
static DAY_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(\d{1,2})\s*[号日]").expect("static regex"));
static WEEKDAY_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(下下|下|这|本)?\s*(?:周|星期|礼拜)\s*([一二三四五六日天1-7])").expect("static regex")
});
static RELATIVE_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"大后天|后天|明天|明日|今天|今日|今晚|明晚|明早|today|tomorrow|大前天|前天|昨天|昨日|昨晚|yesterday")
        .expect("static regex")
});

/// 一 … 九十九 (and plain digits) as a number.
pub fn chinese_number(s: &str) -> Option<u32> {
    if let Ok(n) = s.parse::<u32>() {
        return Some(n);
    }
    let digit = |c: char| "零一二三四五六七八九".find(c).map(|i| (i / 3) as u32).or((c == '两').then_some(2));
    let chars: Vec<char> = s.chars().collect();
    match chars.as_slice() {
        [c] if *c == '十' => Some(10),
        [c] => digit(*c),
        ['十', d] => Some(10 + digit(*d)?),
        [t, '十'] => Some(digit(*t)? * 10),
        [t, '十', d] => Some(digit(*t)? * 10 + digit(*d)?),
        _ => None,
    }
}

/// Remove the matched span (replace with a space so neighbours do not join into new words).
fn cut(text: &mut String, start: usize, end: usize) {
    text.replace_range(start..end, " ");
}

fn time_from(caps: &regex::Captures, offset: usize) -> Result<NaiveTime, BadPiece> {
    let whole = caps.get(0).map(|m| m.as_str()).unwrap_or_default().to_string();
    let part = caps.get(offset + 1).and_then(|m| DayPart::parse(m.as_str()));
    let hour = caps.get(offset + 2).and_then(|m| chinese_number(m.as_str())).ok_or_else(|| BadPiece(whole.clone()))?;
    let minute = match (caps.get(offset + 3), caps.get(offset + 4).map(|m| m.as_str())) {
        (Some(m), _) => m.as_str().parse::<u32>().map_err(|_| BadPiece(whole.clone()))?,
        (None, Some("半")) => 30,
        (None, Some(s)) if s != "钟" => s.trim_end_matches('分').parse::<u32>().unwrap_or(0),
        _ => 0,
    };
    let hour = match part {
        Some(DayPart::Afternoon | DayPart::Evening) if hour < 12 => hour + 12,
        Some(DayPart::Noon) if hour <= 2 => hour + 12,
        // A clubhouse is not open before 8: "7点" means the evening.
        None if (1..=7).contains(&hour) => hour + 12,
        _ => hour,
    };
    NaiveTime::from_hms_opt(hour, minute, 0).ok_or(BadPiece(whole))
}

/// A time range, a time, or a slot number.
pub fn take_slot(text: &mut String) -> Result<Option<SlotSpec>, BadPiece> {
    if let Some(caps) = RANGE_RE.captures(text) {
        let from = time_from(&caps, 0)?;
        let to = time_from(&caps, 4)?;
        let m = caps.get(0).map(|m| (m.start(), m.end())).unwrap_or_default();
        cut(text, m.0, m.1);
        return Ok(Some(SlotSpec::Range(from, to)));
    }
    if let Some(caps) = SLOT_NO_RE.captures(text) {
        let no = [1, 2, 3].iter().find_map(|i| caps.get(*i)).and_then(|m| chinese_number(m.as_str())).unwrap_or(0);
        let m = caps.get(0).map(|m| (m.start(), m.end())).unwrap_or_default();
        cut(text, m.0, m.1);
        return Ok(Some(SlotSpec::Number(no)));
    }
    if let Some(caps) = TIME_RE.captures(text) {
        let time = time_from(&caps, 0)?;
        let m = caps.get(0).map(|m| (m.start(), m.end())).unwrap_or_default();
        cut(text, m.0, m.1);
        return Ok(Some(SlotSpec::Time(time)));
    }
    Ok(None)
}

/// 早上 / 下午 / 晚上 … left after times were taken (今晚 also means today).
pub fn take_part(text: &mut String) -> Option<DayPart> {
    let m = PART_RE.find(text)?;
    let word = m.as_str().to_string();
    cut(text, m.start(), m.end());
    match word.as_str() {
        "今晚" | "明晚" => Some(DayPart::Evening),
        w => DayPart::parse(w),
    }
}

fn weekday_of(c: &str) -> Option<Weekday> {
    Some(match c {
        "一" | "1" => Weekday::Mon,
        "二" | "2" => Weekday::Tue,
        "三" | "3" => Weekday::Wed,
        "四" | "4" => Weekday::Thu,
        "五" | "5" => Weekday::Fri,
        "六" | "6" => Weekday::Sat,
        "日" | "天" | "7" => Weekday::Sun,
        _ => return None,
    })
}

/// A date, resolved against `today`. Also reports the day part implied by 今晚/明晚/明早.
pub fn take_date(text: &mut String, today: NaiveDate) -> Result<(Option<NaiveDate>, Option<DayPart>), BadPiece> {
    if let Some(caps) = FULL_DATE_RE.captures(text) {
        let whole = caps[0].to_string();
        let n = |i: usize| caps[i].parse::<u32>().unwrap_or(0);
        let date = NaiveDate::from_ymd_opt(n(1) as i32, n(2), n(3)).ok_or(BadPiece(whole))?;
        let m = caps.get(0).map(|m| (m.start(), m.end())).unwrap_or_default();
        cut(text, m.0, m.1);
        return Ok((Some(date), None));
    }
    if let Some(caps) = MONTH_DAY_RE.captures(text) {
        let whole = caps[0].to_string();
        let (month, day) = match (caps.get(1), caps.get(2)) {
            (Some(m), Some(d)) => (m.as_str(), d.as_str()),
            _ => (caps.get(3).map_or("", |m| m.as_str()), caps.get(4).map_or("", |m| m.as_str())),
        };
        let (month, day) = (month.parse::<u32>().unwrap_or(0), day.parse::<u32>().unwrap_or(0));
        let date = nearest_year(today, month, day).ok_or(BadPiece(whole))?;
        let m = caps.get(0).map(|m| (m.start(), m.end())).unwrap_or_default();
        cut(text, m.0, m.1);
        return Ok((Some(date), None));
    }
    if let Some(caps) = WEEKDAY_RE.captures(text) {
        let weekday = weekday_of(&caps[2]).ok_or(BadPiece(caps[0].to_string()))?;
        let date = match caps.get(1).map(|m| m.as_str()) {
            Some("下") => {
                crate::booking::week_start(today) + Duration::days(7 + weekday.num_days_from_monday() as i64)
            }
            Some("下下") => {
                crate::booking::week_start(today) + Duration::days(14 + weekday.num_days_from_monday() as i64)
            }
            Some(_) => crate::booking::week_start(today) + Duration::days(weekday.num_days_from_monday() as i64),
            // Plain 周三: the next one from today (today included).
            None => {
                let ahead = (weekday.num_days_from_monday() + 7 - today.weekday().num_days_from_monday()) % 7;
                today + Duration::days(ahead as i64)
            }
        };
        let m = caps.get(0).map(|m| (m.start(), m.end())).unwrap_or_default();
        cut(text, m.0, m.1);
        return Ok((Some(date), None));
    }
    if let Some(m) = RELATIVE_RE.find(text) {
        let (days, part) = match m.as_str() {
            "今天" | "今日" | "today" => (0, None),
            "今晚" => (0, Some(DayPart::Evening)),
            "明天" | "明日" | "tomorrow" => (1, None),
            "明晚" => (1, Some(DayPart::Evening)),
            "明早" => (1, Some(DayPart::Morning)),
            "后天" => (2, None),
            "大后天" => (3, None),
            // Days gone by are dates too: asked for, they get the past date's answer.
            "昨天" | "昨日" | "yesterday" => (-1, None),
            "昨晚" => (-1, Some(DayPart::Evening)),
            "前天" => (-2, None),
            _ => (-3, None), // 大前天
        };
        let (start, end) = (m.start(), m.end());
        cut(text, start, end);
        return Ok((Some(today + Duration::days(days)), part));
    }
    if let Some(caps) = DAY_RE.captures(text) {
        let whole = caps[0].to_string();
        let day = caps[1].parse::<u32>().unwrap_or(0);
        // 25号: this month's 25th, or next month's when that has passed.
        let this_month = NaiveDate::from_ymd_opt(today.year(), today.month(), day);
        let date = match this_month {
            Some(d) if d >= today => Some(d),
            _ => {
                let (y, mo) =
                    if today.month() == 12 { (today.year() + 1, 1) } else { (today.year(), today.month() + 1) };
                NaiveDate::from_ymd_opt(y, mo, day)
            }
        }
        .ok_or(BadPiece(whole))?;
        let m = caps.get(0).map(|m| (m.start(), m.end())).unwrap_or_default();
        cut(text, m.0, m.1);
        return Ok((Some(date), None));
    }
    Ok((None, None))
}

/// 11-25 means this year's, unless that is long past (then next year's: in December, 1-5 is January).
fn nearest_year(today: NaiveDate, month: u32, day: u32) -> Option<NaiveDate> {
    let this_year = NaiveDate::from_ymd_opt(today.year(), month, day)?;
    if this_year < today - Duration::days(180) {
        NaiveDate::from_ymd_opt(today.year() + 1, month, day)
    } else {
        Some(this_year)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(h: u32, m: u32) -> NaiveTime {
        NaiveTime::from_hms_opt(h, m, 0).unwrap()
    }

    #[test]
    fn chinese_numbers() {
        for (s, n) in [("七", 7), ("十", 10), ("十一", 11), ("二十", 20), ("二十五", 25), ("两", 2), ("12", 12)]
        {
            assert_eq!(chinese_number(s), Some(n), "{s}");
        }
        assert_eq!(chinese_number("百"), None);
    }

    #[test]
    fn times_in_many_forms() {
        let cases = [
            ("18:30", t(18, 30)),
            ("18点", t(18, 0)),
            ("18点半", t(18, 30)),
            ("晚上7点半", t(19, 30)),
            ("下午3点", t(15, 0)),
            ("晚上七点", t(19, 0)),
            ("7点", t(19, 0)),
            ("中午12点", t(12, 0)),
            ("早上8点半", t(8, 30)),
            ("9点30分", t(9, 30)),
        ];
        for (input, want) in cases {
            let mut text = input.to_string();
            assert_eq!(take_slot(&mut text), Ok(Some(SlotSpec::Time(want))), "{input}");
            assert!(text.trim().is_empty(), "{input} left {text:?}");
        }
    }

    #[test]
    fn ranges_and_slot_numbers() {
        let mut text = "17:30-19:30".to_string();
        assert_eq!(take_slot(&mut text), Ok(Some(SlotSpec::Range(t(17, 30), t(19, 30)))));
        let mut text = "17点半到19点半".to_string();
        assert_eq!(take_slot(&mut text), Ok(Some(SlotSpec::Range(t(17, 30), t(19, 30)))));
        for input in ["第9节", "#9", "第九节", "9节"] {
            let mut text = input.to_string();
            assert_eq!(take_slot(&mut text), Ok(Some(SlotSpec::Number(9))), "{input}");
        }
        let mut text = "25:00".to_string();
        assert!(take_slot(&mut text).is_err());
    }

    #[test]
    fn dates_in_many_forms() {
        let today = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap(); // a Monday
        let d = |m, day| NaiveDate::from_ymd_opt(2026, m, day).unwrap();
        let cases = [
            ("今天", d(11, 23)),
            ("明天", d(11, 24)),
            ("后天", d(11, 25)),
            ("昨天", d(11, 22)),
            ("前天", d(11, 21)),
            ("周三", d(11, 25)),
            ("星期五", d(11, 27)),
            ("礼拜天", d(11, 29)),
            ("下周三", d(12, 2)),
            ("2026-11-25", d(11, 25)),
            ("11-25", d(11, 25)),
            ("11/25", d(11, 25)),
            ("11月25日", d(11, 25)),
            ("25号", d(11, 25)),
            ("12月1号", d(12, 1)),
        ];
        for (input, want) in cases {
            let mut text = input.to_string();
            assert_eq!(take_date(&mut text, today).map(|r| r.0), Ok(Some(want)), "{input}");
            assert!(text.trim().is_empty(), "{input} left {text:?}");
        }
        let mut bad = "2026-02-30".to_string();
        assert!(take_date(&mut bad, today).is_err());
    }
}
