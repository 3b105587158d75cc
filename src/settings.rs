//! A member's own settings: light reminders off (`提醒 关`), how long before a booking the
//! reminder comes (`提醒 提前30分钟`), and quiet hours (`免打扰 22:00-07:00`) in which light
//! messages wait. Formal notices ignore all of them.

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;
use rusqlite::{params, Connection, OptionalExtension};

/// The lead times a member may choose for the reminder, in minutes.
pub const LEAD_MINUTES: std::ops::RangeInclusive<i64> = 5..=180;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Settings {
    pub reminders_off: bool,
    pub remind_before_minutes: Option<i64>,
    /// Quiet hours as minutes since local midnight, (from, to); from > to spans midnight.
    pub quiet: Option<(u32, u32)>,
}

pub fn load(conn: &Connection, user: &str) -> rusqlite::Result<Settings> {
    let row = crate::store::query_row(
        conn,
        "SELECT reminders_off, remind_before_minutes, quiet_from, quiet_to FROM member_settings WHERE userid = ?1",
        [user],
        |row| {
            let (from, to): (Option<u32>, Option<u32>) = (row.get(2)?, row.get(3)?);
            Ok(Settings { reminders_off: row.get(0)?, remind_before_minutes: row.get(1)?, quiet: from.zip(to) })
        },
    )
    .optional()?;
    Ok(row.unwrap_or_default())
}

/// Write `settings` for `user` (a member row must exist).
pub fn save(tx: &Connection, user: &str, settings: &Settings, now: i64) -> rusqlite::Result<()> {
    crate::store::execute(
        tx,
        "INSERT INTO member_settings (userid, reminders_off, remind_before_minutes, quiet_from, quiet_to, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)
         ON CONFLICT (userid) DO UPDATE SET reminders_off = excluded.reminders_off,
             remind_before_minutes = excluded.remind_before_minutes, quiet_from = excluded.quiet_from,
             quiet_to = excluded.quiet_to, updated_at = excluded.updated_at",
        params![
            user,
            settings.reminders_off,
            settings.remind_before_minutes,
            settings.quiet.map(|q| q.0),
            settings.quiet.map(|q| q.1),
            now
        ],
    )?;
    Ok(())
}

/// When `user`'s quiet hours end, if `now` is in them.
pub fn quiet_until(conn: &Connection, user: &str, tz: Tz, now: DateTime<Utc>) -> rusqlite::Result<Option<i64>> {
    let Some((from, to)) = load(conn, user)?.quiet else { return Ok(None) };
    let local = now.with_timezone(&tz);
    let minute = local.hour() * 60 + local.minute();
    let quiet = if from <= to { (from..to).contains(&minute) } else { minute >= from || minute < to };
    if !quiet {
        return Ok(None);
    }
    let end = NaiveTime::from_hms_opt(to / 60, to % 60, 0).unwrap_or_default();
    let mut day = local.date_naive();
    if minute >= to {
        day += Duration::days(1);
    }
    Ok(tz.from_local_datetime(&day.and_time(end)).earliest().map(|t| t.timestamp()))
}

/// `22:00-07:00` as minutes since midnight.
pub fn parse_quiet(text: &str) -> Option<(u32, u32)> {
    let text = text.replace('：', ":").replace(['—', '–', '~', '～', '至', '到'], "-");
    let (from, to) = text.split_once('-')?;
    let minutes = |s: &str| NaiveTime::parse_from_str(s.trim(), "%H:%M").ok().map(|t| t.hour() * 60 + t.minute());
    let (from, to) = (minutes(from)?, minutes(to)?);
    (from != to).then_some((from, to))
}

/// `22:00-07:00`.
pub fn show_quiet((from, to): (u32, u32)) -> String {
    format!("{:02}:{:02}-{:02}:{:02}", from / 60, from % 60, to / 60, to % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quiet_hours_are_read_both_ways_round_midnight() {
        assert_eq!(parse_quiet("22:00-07:00"), Some((1320, 420)));
        assert_eq!(parse_quiet("12：30～13：30"), Some((750, 810)));
        assert_eq!(parse_quiet("22:00"), None);
        assert_eq!(parse_quiet("8:00-8:00"), None);
        assert_eq!(show_quiet((1320, 420)), "22:00-07:00");
    }
}
