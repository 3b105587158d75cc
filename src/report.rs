//! Usage figures for a period: utilisation per facility, cancellations and their lead time,
//! no-shows, waitlist promotions, unmet demand, and the weekday × slot heatmap. One module,
//! used by the 报表 command, the weekly digest and the admin pages.

use crate::booking::{rules::closure_over, weekday_zh, Catalog};
use chrono::{Datelike, Duration, NaiveDate};
use rusqlite::{params, Connection};
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FacilityUse {
    pub code: String,
    pub name: String,
    /// Place-slots offered (capacity × open slots; closures excluded).
    pub offered: u32,
    /// Place-slots held at slot time (confirmed, checked in, no-show).
    pub booked: u32,
    pub utilisation: f64,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Cell {
    pub weekday: u32,
    pub slot: u32,
    pub count: u32,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Report {
    pub from: NaiveDate,
    /// Inclusive.
    pub to: NaiveDate,
    pub facilities: Vec<FacilityUse>,
    pub bookings: u32,
    pub cancellations: u32,
    pub median_cancel_lead_minutes: Option<i64>,
    /// Came (checked in), including those who signed out early.
    pub checked_in: u32,
    /// Signed out (签退) before the end, and the minutes so given back.
    pub signed_out_early: u32,
    pub minutes_given_back: i64,
    pub no_shows: u32,
    pub promotions: u32,
    pub refused_full: u32,
    pub waitlist_joins: u32,
    /// heatmap[weekday 0 = Monday][slot index]: bookings made for that cell.
    pub heatmap: Vec<Vec<u32>>,
    pub busiest: Vec<Cell>,
}

/// The widest period a report covers: a year (a wider one is refused, so that no report
/// reads for long).
pub const MAX_SPAN_DAYS: i64 = 366;

/// `from..=to` is a period a report may cover.
pub fn span_allowed(from: NaiveDate, to: NaiveDate) -> bool {
    from <= to && (to - from).num_days() <= MAX_SPAN_DAYS
}

/// A booking that held its place at slot time (came, signed out early, or did not come).
const HELD: &str = "('confirmed', 'checked_in', 'completed', 'no_show')";

fn count(conn: &Connection, sql: &str, from: &str, to: &str) -> rusqlite::Result<u32> {
    crate::store::query_row(conn, sql, params![from, to], |row| row.get(0))
}

/// The report for `from..=to`.
pub fn build(conn: &Connection, catalog: &Catalog, from: NaiveDate, to: NaiveDate) -> rusqlite::Result<Report> {
    let (f, t) = (from.to_string(), to.to_string());
    let facilities = utilisation(conn, catalog, from, to)?;
    let in_range = "date >= ?1 AND date <= ?2";
    let bookings = count(conn, &format!("SELECT count(*) FROM bookings WHERE {in_range}"), &f, &t)?;
    let cancellations =
        count(conn, &format!("SELECT count(*) FROM bookings WHERE {in_range} AND state = 'cancelled'"), &f, &t)?;
    let checked_in = count(
        conn,
        &format!("SELECT count(*) FROM bookings WHERE {in_range} AND (state = 'checked_in' OR state = 'completed')"),
        &f,
        &t,
    )?;
    // Visits ended early by 签退, and the minutes they gave back (the real end is recorded).
    let (signed_out_early, minutes_given_back): (u32, i64) = crate::store::query_row(
        conn,
        &format!(
            "SELECT count(*), COALESCE(sum(ends_at - ended_at), 0) / 60 FROM bookings
             WHERE {in_range} AND state = 'completed' AND ended_at < ends_at"
        ),
        params![f, t],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    let no_shows =
        count(conn, &format!("SELECT count(*) FROM bookings WHERE {in_range} AND state = 'no_show'"), &f, &t)?;
    let demand = |kind: &str| {
        count(conn, &format!("SELECT count(*) FROM demand_events WHERE {in_range} AND kind = '{kind}'"), &f, &t)
    };
    let mut leads: Vec<i64> = {
        let mut stmt = conn.prepare_cached(&format!(
            "SELECT (starts_at - cancelled_at) / 60 FROM bookings WHERE {in_range} AND state = 'cancelled' AND cancelled_at IS NOT NULL"
        ))?;
        let rows = stmt.query_map(params![f, t], |row| row.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    leads.sort_unstable();
    let median_cancel_lead_minutes = match leads.len() {
        0 => None,
        n if n % 2 == 1 => Some(leads[n / 2]),
        n => Some((leads[n / 2 - 1] + leads[n / 2]) / 2),
    };
    let heatmap = heatmap(conn, catalog, &f, &t)?;
    let mut cells: Vec<Cell> = heatmap
        .iter()
        .enumerate()
        .flat_map(|(day, row)| {
            row.iter().enumerate().map(move |(i, c)| Cell { weekday: day as u32, slot: i as u32 + 1, count: *c })
        })
        .filter(|c| c.count > 0)
        .collect();
    cells.sort_by_key(|c| (std::cmp::Reverse(c.count), c.weekday, c.slot));
    cells.truncate(3);
    Ok(Report {
        from,
        to,
        facilities,
        bookings,
        cancellations,
        median_cancel_lead_minutes,
        checked_in,
        signed_out_early,
        minutes_given_back,
        no_shows,
        promotions: demand("promotion")?,
        refused_full: demand("refused_full")?,
        waitlist_joins: demand("waitlist_join")?,
        heatmap,
        busiest: cells,
    })
}

fn utilisation(
    conn: &Connection,
    catalog: &Catalog,
    from: NaiveDate,
    to: NaiveDate,
) -> rusqlite::Result<Vec<FacilityUse>> {
    let mut out = Vec::new();
    for facility in catalog.facilities() {
        let mut offered = 0;
        let mut day = from;
        while day <= to {
            for slot in catalog.slots() {
                let (start, end) = (catalog.slot_start(day, slot).timestamp(), catalog.slot_end(day, slot).timestamp());
                if closure_over(conn, &facility.code, start, end)?.is_none() {
                    offered += facility.capacity;
                }
            }
            day += Duration::days(1);
        }
        let booked: u32 = crate::store::query_row(
            conn,
            &format!(
                "SELECT count(*) FROM bookings WHERE facility = ?1 AND date >= ?2 AND date <= ?3 AND state IN {HELD}"
            ),
            params![facility.code, from.to_string(), to.to_string()],
            |row| row.get(0),
        )?;
        let utilisation = if offered == 0 { 0.0 } else { f64::from(booked) / f64::from(offered) };
        out.push(FacilityUse {
            code: facility.code.clone(),
            name: facility.name.clone(),
            offered,
            booked,
            utilisation,
        });
    }
    Ok(out)
}

fn heatmap(conn: &Connection, catalog: &Catalog, from: &str, to: &str) -> rusqlite::Result<Vec<Vec<u32>>> {
    let slots = catalog.slots().len();
    let mut grid = vec![vec![0u32; slots]; 7];
    let mut stmt = conn.prepare_cached(
        "SELECT date, slot, count(*) FROM bookings WHERE date >= ?1 AND date <= ?2 AND state != 'rejected' GROUP BY date, slot",
    )?;
    let rows = stmt.query_map(params![from, to], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, u32>(1)?, row.get::<_, u32>(2)?))
    })?;
    for row in rows {
        let (date, slot, n) = row?;
        let Ok(date) = NaiveDate::parse_from_str(&date, "%Y-%m-%d") else { continue };
        let day = date.weekday().num_days_from_monday() as usize;
        if let Some(cell) = grid.get_mut(day).and_then(|r| r.get_mut(slot as usize - 1)) {
            *cell += n;
        }
    }
    Ok(grid)
}

fn percent(x: f64) -> String {
    format!("{:.0}%", x * 100.0)
}

/// The report as WeCom markdown (≤ 2048 bytes).
pub fn markdown(report: &Report, catalog: &Catalog, title: &str) -> String {
    let mut out = format!("## {title}\n{} 至 {}\n**利用率**\n", report.from.format("%m-%d"), report.to.format("%m-%d"));
    for f in &report.facilities {
        out.push_str(&format!("> {} {}（{}/{}）\n", f.name, percent(f.utilisation), f.booked, f.offered));
    }
    let lead = report.median_cancel_lead_minutes.map_or("-".to_string(), |m| format!("{m} 分钟"));
    out.push_str(&format!(
        "预约 **{}** 次，取消 {} 次（中位提前 {lead}），签到 {} 次，未到场 <font color=\"warning\">{}</font> 次，候补转正 {} 次\n",
        report.bookings, report.cancellations, report.checked_in, report.no_shows, report.promotions
    ));
    if report.signed_out_early > 0 {
        out.push_str(&format!("提前签退 {} 次，让出 {} 分钟\n", report.signed_out_early, report.minutes_given_back));
    }
    out.push_str(&format!("未满足需求：满员被拒 {} 次，排候补 {} 次\n", report.refused_full, report.waitlist_joins));
    if !report.busiest.is_empty() {
        let cells: Vec<String> = report
            .busiest
            .iter()
            .map(|c| {
                let time = catalog.slot(c.slot).map(|s| s.start_label()).unwrap_or_default();
                let weekday = weekday_zh(
                    NaiveDate::from_isoywd_opt(2026, 1, chrono::Weekday::Mon).unwrap_or_default()
                        + Duration::days(c.weekday.into()),
                );
                format!("{weekday} {time}（{}）", c.count)
            })
            .collect();
        out.push_str(&format!("最忙时段：{}\n", cells.join("、")));
    }
    crate::wecom::xml::truncate_bytes(&out, 2048).to_string()
}

/// The weekly digest sent to admins.
pub fn digest_markdown(
    catalog: &Catalog,
    conn: &Connection,
    from: NaiveDate,
    to: NaiveDate,
) -> rusqlite::Result<String> {
    let report = build(conn, catalog, from, to - Duration::days(1))?;
    Ok(markdown(&report, catalog, "职工之家周报"))
}
