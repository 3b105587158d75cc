//! How often, as people type it: 每周三, 每周一三五, 每星期二, 工作日, 每天; and for how long:
//! 4周, 6个星期. Weeks alone (预约 羽毛球 周三 18:30 4周) repeat on the date's weekday.

use crate::booking::series::Repeat;
use regex::Regex;
use std::sync::LazyLock;

static DAYS_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"每天|每日|工作日|每(?:周|星期)([一二三四五六日天]+)").expect("valid regex"));
static WEEKS_RE: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(\d+)\s*(?:个)?(?:周|星期)").expect("valid regex"));

/// Take a repetition out of `text`; None when it names none.
pub fn take_repeat(text: &mut String) -> Option<Repeat> {
    let days = DAYS_RE.captures(text).map(|caps| {
        let mask = match &caps[0] {
            "每天" | "每日" => 0b111_1111,
            "工作日" => 0b001_1111,
            _ => caps[1].chars().fold(0u8, |mask, c| mask | weekday_bit(c)),
        };
        (mask, caps.get(0).map(|m| m.range()).unwrap_or_default())
    });
    let weekdays = days.map(|(mask, range)| {
        text.replace_range(range, " ");
        mask
    });
    // The weeks come after the days are gone: "每周三" holds no number, "4周" no weekday.
    let found = WEEKS_RE.captures(text).and_then(|caps| Some((caps[1].parse::<u32>().ok()?, caps.get(0)?.range())));
    let weeks = found.map(|(weeks, range)| {
        text.replace_range(range, " ");
        weeks
    });
    match (weekdays, weeks) {
        (None, None) => None,
        // Weeks alone: the date's weekday, filled in once the date is known.
        (weekdays, weeks) => Some(Repeat { weekdays: weekdays.unwrap_or(0), weeks }),
    }
}

fn weekday_bit(c: char) -> u8 {
    match c {
        '一' => 1,
        '二' => 1 << 1,
        '三' => 1 << 2,
        '四' => 1 << 3,
        '五' => 1 << 4,
        '六' => 1 << 5,
        _ => 1 << 6, // 日 / 天
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn take(text: &str) -> (Option<Repeat>, String) {
        let mut text = text.to_string();
        let repeat = take_repeat(&mut text);
        (repeat, text.split_whitespace().collect::<Vec<_>>().join(" "))
    }

    #[test]
    fn days_and_weeks_are_read_and_taken_out() {
        assert_eq!(
            take("羽毛球 每周三 18:30 4周"),
            (Some(Repeat { weekdays: 0b100, weeks: Some(4) }), "羽毛球 18:30".into())
        );
        assert_eq!(take("每周一三五 健身房 7:30").0, Some(Repeat { weekdays: 0b10101, weeks: None }));
        assert_eq!(take("工作日 阅览室 9:30 2个星期").0, Some(Repeat { weekdays: 0b11111, weeks: Some(2) }));
        assert_eq!(take("每天 跑步机 18:30").0, Some(Repeat { weekdays: 0b1111111, weeks: None }));
        assert_eq!(take("每星期日 乒乓球").0, Some(Repeat { weekdays: 0b1000000, weeks: None }));
        assert_eq!(
            take("周三 羽毛球 18:30 3周"),
            (Some(Repeat { weekdays: 0, weeks: Some(3) }), "周三 羽毛球 18:30".into())
        );
        assert_eq!(take("健身房 下周三 18:30"), (None, "健身房 下周三 18:30".into()), "下周三 is a date");
    }
}
