//! The week's free places at peak times, for the staff groups' robots at the digest time: a
//! light notice, so it goes only where `[[robots]]` are configured (never as an app message to
//! everyone, which would spend the day's send budget on a reminder nobody asked for).

use crate::booking::query::day_view;
use crate::booking::rules::week_is_open;
use crate::booking::{week_start, weekday_zh, Rules};
use chrono::{DateTime, Duration, Utc};
use rusqlite::Connection;

/// Free peak slots listed per facility, at most; the rest are counted.
const LISTED: usize = 6;
/// WeCom takes a robot's markdown up to 4,096 bytes.
const MAX_BYTES: usize = 4000;

/// The next seven days' free peak places (open weeks only), one line per facility that has
/// any; None when there is none.
pub(super) fn summary(conn: &Connection, rules: &Rules, now: DateTime<Utc>) -> rusqlite::Result<Option<String>> {
    let catalog = rules.catalog;
    let today = catalog.today(now);
    let mut days = Vec::new();
    for date in (0..7).map(|d| today + Duration::days(d)) {
        if week_is_open(conn, week_start(date), today)? {
            days.push((date, day_view(conn, rules, date)?));
        }
    }
    let peak: Vec<_> = catalog.slots().iter().filter(|s| s.peak).collect();
    let mut lines = Vec::new();
    for facility in catalog.facilities() {
        let free: Vec<String> = days
            .iter()
            .flat_map(|(date, view)| peak.iter().map(move |slot| (date, slot, view.free(facility, slot, now))))
            .filter_map(|(date, slot, free)| {
                let free = free.filter(|n| *n > 0)?;
                Some(format!("{} {} 剩{free}", weekday_zh(*date), slot.start.format("%H:%M")))
            })
            .collect();
        if free.is_empty() {
            continue;
        }
        let more = free.len().saturating_sub(LISTED);
        let mut line = format!("- **{}**：{}", facility.name, free[..free.len().min(LISTED)].join("、"));
        if more > 0 {
            line.push_str(&format!(" 等另 {more} 个时段"));
        }
        lines.push(line);
    }
    if lines.is_empty() {
        return Ok(None);
    }
    let last = today + Duration::days(6);
    let mut text = format!(
        "**本周高峰时段还有空位**（{} 至 {}）\n{}\n> 发「空闲 设施 日期」查看并预约",
        today.format("%m-%d"),
        last.format("%m-%d"),
        lines.join("\n")
    );
    if text.len() > MAX_BYTES {
        let mut end = MAX_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    Ok(Some(text))
}
