//! 空闲: the free places of a day, for every facility or one (with a card to tap).

use super::actions::short_date;
use super::command::SlotRequest;
use super::dates::DayPart;
use super::Turn;
use crate::booking::{self, query};
use chrono::NaiveDate;
use std::fmt::Write;

impl Turn<'_> {
    pub(super) fn free(&self, request: SlotRequest) -> super::Result<String> {
        let today = self.today();
        let date = request.date.unwrap_or(today);
        if date < today {
            // A day gone by has nothing to book: say so, rather than a listing of dashes.
            let facility = request.facility.as_deref().and_then(|code| self.ctx.catalog.facility(code));
            let name = facility.map(|f| format!(" {}", f.name)).unwrap_or_default();
            return Ok(format!("{} 已经过去了。看看今天的空位：空闲{name} 今天", booking::date_label(date)));
        }
        let Some(code) = request.facility.as_deref() else {
            return self.free_overview(date);
        };
        let Some(facility) = self.ctx.catalog.facility(code) else {
            return Ok(self.facilities());
        };
        let rules = self.rules();
        let by_slot: Vec<_> = query::free_by_slot(self.tx, &rules, facility, date, self.now)?
            .into_iter()
            .filter(|(slot, _)| request.part.is_none_or(|p| p.contains(slot.start)))
            .collect();
        let free: Vec<(u32, String, u32)> =
            by_slot.iter().filter_map(|(slot, free)| free.map(|n| (slot.no, slot.start_label(), n))).collect();
        self.offer_free_slots(facility, date, &free);
        let rows: Vec<SlotRow> = by_slot
            .into_iter()
            .map(|(slot, free)| {
                let status = match free {
                    None => "-".to_string(),
                    Some(0) => "满".to_string(),
                    Some(n) => format!("剩{n}"),
                };
                SlotRow { no: slot.no, label: slot.label(), peak: slot.peak, status }
            })
            .collect();
        let day = self.day_bounds(date);
        let closed = booking::rules::closure_over(self.tx, &facility.code, day.0, day.1)?.map(|(reason, _)| reason);
        // What to say next: book the first place left, from the time asked about on (「乒乓球
        // 明天 18:30」); else queue for the first full slot, or look at the next day (a day
        // closed or gone by has neither).
        let start = |no: u32| self.ctx.catalog.slot(no).map(|s| s.start_label());
        let asked = request.slot.as_ref().and_then(|spec| self.slot_numbers(spec)).and_then(|nos| nos.first().copied());
        let asked = asked.unwrap_or(0);
        let first = |status: fn(&str) -> bool| {
            let mut candidates = rows.iter().filter(|r| r.no >= asked).chain(rows.iter());
            candidates.find(|r| status(&r.status)).and_then(|r| start(r.no))
        };
        let first_free = first(|status| status.starts_with('剩'));
        let first_full = first(|status| status == "满");
        let next_day = short_date(date + chrono::Duration::days(1));
        Ok(self.render(
            "free_facility",
            FreeFacility {
                name: &facility.name,
                date: booking::date_label(date),
                date_short: short_date(date),
                capacity: facility.capacity,
                rows,
                part: request.part.map(DayPart::label),
                closed,
                first_free,
                first_full,
                next_day,
            },
        ))
    }

    pub(super) fn day_bounds(&self, date: NaiveDate) -> (i64, i64) {
        let midnight = chrono::NaiveTime::MIN;
        let start = self.ctx.catalog.instant(date, midnight).timestamp();
        (start, start + 86_400)
    }

    pub(super) fn free_overview(&self, date: NaiveDate) -> super::Result<String> {
        let rules = self.rules();
        let day = query::day_view(self.tx, &rules, date)?;
        // The example to book: the first facility's first free peak slot (else any free slot).
        let mut example: Option<(&str, String, bool)> = None;
        let rows: Vec<(&str, String)> = self
            .ctx
            .catalog
            .facilities()
            .iter()
            .map(|facility| {
                let mut cells = String::new();
                for slot in self.ctx.catalog.slots() {
                    let sep = if cells.is_empty() { "" } else { " " };
                    let free = day.free(facility, slot, self.now);
                    let _ = match free {
                        None => write!(cells, "{sep}{}:-", slot.no),
                        Some(0) => write!(cells, "{sep}{}:满", slot.no),
                        Some(n) => write!(cells, "{sep}{}:{n}", slot.no),
                    };
                    let better = example.as_ref().is_none_or(|(_, _, peak)| slot.peak && !peak);
                    if free.is_some_and(|n| n > 0) && better {
                        example = Some((facility.name.as_str(), slot.start_label(), slot.peak));
                    }
                }
                (facility.name.as_str(), cells)
            })
            .collect();
        Ok(self.render(
            "free_overview",
            FreeOverview {
                date: booking::date_label(date),
                rows,
                legend: self.ctx.catalog.slot_legend(),
                example: example.map(|(name, start, _)| format!("{name} {} {start}", short_date(date))),
                next_day: short_date(date + chrono::Duration::days(1)),
            },
        ))
    }
}

/// What the free_overview template shows (a struct, not a JSON value: built on every 空闲).
#[derive(serde::Serialize)]
struct FreeOverview<'a> {
    date: String,
    /// Facility name and its cells, "1:3 2:满 3:-".
    rows: Vec<(&'a str, String)>,
    legend: &'a str,
    /// `健身房 11-24 18:30`: a place left to book, if any.
    example: Option<String>,
    next_day: String,
}

#[derive(serde::Serialize)]
struct FreeFacility<'a> {
    name: &'a str,
    date: String,
    date_short: String,
    capacity: u32,
    rows: Vec<SlotRow>,
    part: Option<&'static str>,
    closed: Option<String>,
    /// The first slot with a place left, the first full one (to queue for), and the next day.
    first_free: Option<String>,
    first_full: Option<String>,
    next_day: String,
}

#[derive(serde::Serialize)]
struct SlotRow {
    no: u32,
    label: String,
    peak: bool,
    status: String,
}
