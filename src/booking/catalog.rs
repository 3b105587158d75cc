//! What can be booked: the facilities and the daily slot table, from the config.

use crate::config::Config;
use aho_corasick::AhoCorasick;
use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Timelike, Utc, Weekday};
use chrono_tz::Tz;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facility {
    pub code: String,
    pub name: String,
    pub aliases: Vec<String>,
    pub capacity: u32,
    /// Approval levels, each a list of approver user ids; empty = no approval.
    pub approval: Vec<Vec<String>>,
    pub kind: Option<String>,
    /// The places of a slot recurring bookings may take as a held week opens (the facility's
    /// `recurring_share` of its capacity, rounded down).
    pub recurring_places: u32,
}

impl Facility {
    pub fn needs_approval(&self) -> bool {
        !self.approval.is_empty()
    }

    /// Words that may name this facility in a message, lower-cased.
    fn names(&self) -> impl Iterator<Item = String> + '_ {
        std::iter::once(self.name.to_lowercase())
            .chain(self.aliases.iter().map(|a| a.to_lowercase()))
            .chain(std::iter::once(self.code.clone()))
    }

    /// Do the two share a kind, or a word of their names (羽毛球 / 乒乓球 share 球)?
    pub fn is_similar_to(&self, other: &Facility) -> bool {
        if self.code == other.code {
            return false;
        }
        if let (Some(a), Some(b)) = (&self.kind, &other.kind) {
            return a == b;
        }
        let last = |s: &str| s.chars().last();
        last(&self.name).is_some_and(|c| last(&other.name) == Some(c))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// 1-based number as shown to users (第9节).
    pub no: u32,
    pub start: NaiveTime,
    pub end: NaiveTime,
    pub peak: bool,
}

impl Slot {
    /// "17:30-18:30".
    pub fn label(&self) -> String {
        format!("{}-{}", hhmm(self.start), hhmm(self.end))
    }

    /// "17:30".
    pub fn start_label(&self) -> String {
        hhmm(self.start)
    }
}

/// "08:30": the same as `format("%H:%M")` without parsing a format string on every call
/// (which showed in profiles of free-slot answers).
pub fn hhmm(time: NaiveTime) -> String {
    format!("{:02}:{:02}", time.hour(), time.minute())
}

#[derive(Debug, Clone)]
pub struct Catalog {
    facilities: Vec<Facility>,
    slots: Vec<Slot>,
    /// "1=08:30 2=09:30 …", shown under every free-slot overview.
    slot_legend: String,
    /// Every facility's names as messages may say them, lower-cased once here rather than on
    /// every message: (facility index, name), in the order they are listed.
    names: Vec<(usize, String)>,
    /// Finds all of `names` in one scan of a message (pattern i is `names[i]`).
    name_finder: AhoCorasick,
    tz: Tz,
}

/// The Monday of the week holding `date`.
pub fn week_start(date: NaiveDate) -> NaiveDate {
    date - Duration::days(date.weekday().num_days_from_monday() as i64)
}

/// Whether `date` falls in a week after the one of `today` (the member's page shows it under 下周).
pub fn in_a_later_week(date: NaiveDate, today: NaiveDate) -> bool {
    week_start(date) > week_start(today)
}

/// 周一 … 周日
pub fn weekday_zh(date: NaiveDate) -> &'static str {
    match date.weekday() {
        Weekday::Mon => "周一",
        Weekday::Tue => "周二",
        Weekday::Wed => "周三",
        Weekday::Thu => "周四",
        Weekday::Fri => "周五",
        Weekday::Sat => "周六",
        Weekday::Sun => "周日",
    }
}

/// `11月25日 周三`
pub fn date_label(date: NaiveDate) -> String {
    format!("{}月{}日 {}", date.month(), date.day(), weekday_zh(date))
}

impl Catalog {
    pub fn from_config(config: &Config) -> Catalog {
        let facilities: Vec<Facility> = config
            .facilities
            .iter()
            .map(|f| Facility {
                code: f.code.clone(),
                name: f.name.clone(),
                aliases: f.aliases.clone(),
                capacity: f.capacity,
                approval: f.approval.clone(),
                kind: f.kind.clone(),
                recurring_places: (f64::from(f.capacity) * f.recurring_share).floor() as u32,
            })
            .collect();
        let slots = config
            .slots
            .iter()
            .enumerate()
            .map(|(i, s)| Slot { no: i as u32 + 1, start: s.start, end: s.end, peak: s.peak })
            .collect::<Vec<Slot>>();
        let slot_legend = slots.iter().map(|s| format!("{}={}", s.no, s.start_label())).collect::<Vec<_>>().join(" ");
        let names: Vec<(usize, String)> = facilities
            .iter()
            .enumerate()
            .flat_map(|(i, f)| f.names().filter(|name| !name.is_empty()).map(move |name| (i, name)))
            .collect();
        let name_finder = AhoCorasick::new(names.iter().map(|(_, name)| name)).expect("facility names make a searcher");
        Catalog { facilities, slots, slot_legend, names, name_finder, tz: config.tz() }
    }

    pub fn slot_legend(&self) -> &str {
        &self.slot_legend
    }

    pub fn facilities(&self) -> &[Facility] {
        &self.facilities
    }

    pub fn slots(&self) -> &[Slot] {
        &self.slots
    }

    pub fn tz(&self) -> Tz {
        self.tz
    }

    pub fn facility(&self, code: &str) -> Option<&Facility> {
        self.facilities.iter().find(|f| f.code == code)
    }

    /// The facility whose name, alias or code occurs longest in `text` (lower-cased),
    /// with the byte span it occupies.
    pub fn find_facility_in(&self, text: &str) -> Option<(&Facility, usize, usize)> {
        // Of the names standing as words, the longest (the first listed on a tie), at its first
        // such place: matches of one name come in order, so the first seen is the first.
        let mut best: Option<(usize, usize, usize)> = None;
        for found in self.name_finder.find_overlapping_iter(text) {
            let (name, start, end) = (found.pattern().as_usize(), found.start(), found.end());
            if !stands_as_word(text, &self.names[name].1, start, end) {
                continue;
            }
            let better =
                best.is_none_or(|(best_name, s, e)| end - start > e - s || (end - start == e - s && name < best_name));
            if better {
                best = Some((name, start, end));
            }
        }
        best.map(|(name, start, end)| (&self.facilities[self.names[name].0], start, end))
    }

    pub fn slot(&self, no: u32) -> Option<&Slot> {
        self.slots.iter().find(|s| s.no == no)
    }

    /// The slot that starts at `time`, else the one that contains it.
    pub fn slot_at(&self, time: NaiveTime) -> Option<&Slot> {
        self.slots
            .iter()
            .find(|s| s.start == time)
            .or_else(|| self.slots.iter().find(|s| s.start <= time && time < s.end))
    }

    /// Consecutive slots that exactly cover `from..to`, or None.
    pub fn slots_covering(&self, from: NaiveTime, to: NaiveTime) -> Option<Vec<u32>> {
        let first = self.slots.iter().position(|s| s.start == from)?;
        let mut covered = Vec::new();
        for (i, slot) in self.slots.iter().enumerate().skip(first) {
            if i > first && self.slots[i - 1].end != slot.start {
                return None; // a gap between slots: not one continuous range
            }
            covered.push(slot.no);
            if slot.end == to {
                return Some(covered);
            }
            if slot.end > to {
                return None;
            }
        }
        None
    }

    /// The instant `time` on `date` in the configured zone.
    pub fn instant(&self, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
        let local = date.and_time(time);
        match self.tz.from_local_datetime(&local) {
            chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
            // A time skipped by a DST change: take it as UTC offset-free, an hour off at worst.
            chrono::LocalResult::None => Utc.from_utc_datetime(&local),
        }
    }

    pub fn slot_start(&self, date: NaiveDate, slot: &Slot) -> DateTime<Utc> {
        self.instant(date, slot.start)
    }

    pub fn slot_end(&self, date: NaiveDate, slot: &Slot) -> DateTime<Utc> {
        self.instant(date, slot.end)
    }

    /// The local calendar date at `now`.
    pub fn today(&self, now: DateTime<Utc>) -> NaiveDate {
        now.with_timezone(&self.tz).date_naive()
    }
}

/// Does `needle`, found at `start..end` of `haystack`, stand there as a word? ASCII needles
/// must, so that the code "gym" does not match inside another English word.
fn stands_as_word(haystack: &str, needle: &str, start: usize, end: usize) -> bool {
    let ascii = needle.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    let before_ok = !ascii || !haystack[..start].chars().last().is_some_and(|c| c.is_ascii_alphanumeric());
    let after_ok = !ascii || !haystack[end..].chars().next().is_some_and(|c| c.is_ascii_alphanumeric());
    before_ok && after_ok
}
