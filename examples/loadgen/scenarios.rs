//! What the members say in each run.

const FACILITIES: [&str; 5] = ["健身房", "阅览室", "乒乓球", "羽毛球", "跑步机"];
const DAYS: [&str; 7] = ["今天", "明天", "周三", "周四", "周五", "周六", "周日"];
const TIMES: [&str; 11] =
    ["8:30", "9:30", "10:30", "12:00", "13:00", "14:30", "15:30", "16:30", "17:30", "18:30", "19:30"];

fn read_text(i: usize) -> String {
    match i % 3 {
        0 => "空闲".to_string(),
        1 => format!("空闲 {} {}", FACILITIES[i % 5], DAYS[i % 7]),
        _ => "我的".to_string(),
    }
}

fn write_text(i: usize) -> String {
    format!("预约 {} {} {}", FACILITIES[i % 5], DAYS[(i / 5) % 7], TIMES[(i / 35) % 11])
}

pub const HELP: &str = "帮助 (protocol only)";
pub const READS: &str = "空闲/我的 (reads)";
pub const WRITES: &str = "预约 (a rush: slots fill up)";
pub const MIXED: &str = "mixed 80/20";
/// The scenarios run against the main server, in order.
pub const SCENARIOS: [&str; 4] = [HELP, READS, WRITES, MIXED];
/// Bookings on a server of its own whose slots never fill: every attempt is a booking written.
pub const EVERY_ATTEMPT_BOOKS: &str = "预约 (every attempt books)";

/// Who says what in a scenario: (member, text) for `n` callbacks. Each scenario has members
/// of its own, so each starts with first contacts.
pub fn scenario(name: &str, n: usize, members: usize) -> Vec<(String, String)> {
    let prefix = SCENARIOS.iter().position(|s| *s == name).unwrap_or(SCENARIOS.len());
    let asker = |i: usize| format!("s{prefix}-{}", i % members.max(1));
    let booker = |i: usize| format!("b{prefix}-{i}");
    (0..n)
        .map(|i| match name {
            HELP => (asker(i), "帮助".to_string()),
            READS => (asker(i), read_text(i)),
            WRITES | EVERY_ATTEMPT_BOOKS => (booker(i), write_text(i)),
            _ if i % 5 == 0 => (booker(i), write_text(i + 7)),
            _ => (asker(i), read_text(i)),
        })
        .collect()
}

/// The member ids a scenario's booking attempts come from start with this.
pub fn booker_prefix(name: &str) -> String {
    format!("b{}-", SCENARIOS.iter().position(|s| *s == name).unwrap_or(SCENARIOS.len()))
}
