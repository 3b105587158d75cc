//! Recurring bookings: `预约 羽毛球 每周三 18:30 4周`. Each occurrence is booked by the same
//! path and rules as a single booking (limits count per occurrence). An occurrence in a week not
//! yet open is held: when the week opens it is booked before anyone else can book, up to the
//! facility's share of places for recurring bookings, and its member is told if it could not
//! be. Three missed occurrences end the series.

use super::catalog::{week_start, Facility};
use super::events::{Event, Events};
use super::model::{Booking, BookingError, BOOKING_COLUMNS, LIVE};
use super::rules::week_is_open;
use super::service::{book, booking_to_act_on, cancel, Rules};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};

/// Missed occurrences that end a series.
pub const NO_SHOWS_ENDING_A_SERIES: i64 = 3;

/// Which weekdays, for how many weeks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Repeat {
    /// Bit 0 = Monday … bit 6 = Sunday.
    pub weekdays: u8,
    /// None: as many as the member did not say (4).
    pub weeks: Option<u32>,
}

/// Weeks of a series when the member does not say.
pub const DEFAULT_WEEKS: u32 = 4;

impl Repeat {
    pub fn includes(&self, date: NaiveDate) -> bool {
        self.weekdays & (1 << date.weekday().num_days_from_monday()) != 0
    }

    /// `每周三`, `每周一三五`, `工作日`, `每天`.
    pub fn label(&self) -> String {
        match self.weekdays {
            0b111_1111 => "每天".to_string(),
            0b001_1111 => "工作日".to_string(),
            days => {
                let names = ["一", "二", "三", "四", "五", "六", "日"];
                let named: String = (0..7).filter(|i| days & (1 << i) != 0).map(|i| names[i]).collect();
                format!("每周{named}")
            }
        }
    }
}

/// What a recurring request did, occurrence by occurrence.
#[derive(Debug)]
pub struct SeriesBooked {
    pub series: i64,
    /// The weeks it spans (fewer than asked when over `booking.max_recurring_weeks`).
    pub weeks: u32,
    pub asked_weeks: u32,
    pub booked: Vec<Booking>,
    /// Dates in weeks not yet open, held for the member.
    pub held: Vec<NaiveDate>,
    pub refused: Vec<(NaiveDate, BookingError)>,
}

/// Book every occurrence of `repeat` from `first` on (itself one of its days).
#[allow(clippy::too_many_arguments)]
pub fn book_series(
    tx: &Connection,
    rules: &Rules,
    user: &str,
    facility: &Facility,
    first: NaiveDate,
    slots: &[u32],
    repeat: &Repeat,
    now: DateTime<Utc>,
    events: &mut Events,
) -> Result<SeriesBooked, BookingError> {
    let asked_weeks = repeat.weeks.unwrap_or(DEFAULT_WEEKS);
    let weeks = asked_weeks.clamp(1, rules.config.max_recurring_weeks);
    let slot = slots.first().and_then(|no| rules.catalog.slot(*no)).ok_or(BookingError::NoSuchSlot)?;
    // Occurrences already begun (today's, said late in the day) are left out, not refused.
    let dates: Vec<NaiveDate> = (0..i64::from(weeks) * 7)
        .map(|d| first + Duration::days(d))
        .filter(|d| repeat.includes(*d) && rules.catalog.slot_start(*d, slot) > now)
        .collect();
    let slot_list = slots.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
    crate::store::execute(
        tx,
        "INSERT INTO series (userid, facility, slots, weekdays, first_date, last_date, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
        params![
            user,
            facility.code,
            slot_list,
            repeat.weekdays,
            first.to_string(),
            dates.last().unwrap_or(&first).to_string(),
            now.timestamp()
        ],
    )?;
    let series = tx.last_insert_rowid();
    let today = rules.catalog.today(now);
    let mut done = SeriesBooked { series, weeks, asked_weeks, booked: vec![], held: vec![], refused: vec![] };
    for date in dates {
        if !week_is_open(tx, week_start(date), today)? {
            crate::store::execute(
                tx,
                "INSERT INTO series_holds (series_id, date) VALUES (?1, ?2)",
                params![series, date.to_string()],
            )?;
            done.held.push(date);
            continue;
        }
        match book(tx, rules, user, facility, date, slots, now, events) {
            Ok(bookings) => {
                mark_of_series(tx, series, &bookings)?;
                done.booked.extend(bookings);
            }
            Err(BookingError::Db(e)) => return Err(e.into()),
            Err(refusal) => done.refused.push((date, refusal)),
        }
    }
    if done.booked.is_empty() && done.held.is_empty() {
        // Nothing to follow: the series ends at once rather than stand empty.
        let sql = "UPDATE series SET state = 'ended', end_reason = 'nothing booked' WHERE id = ?1";
        crate::store::execute(tx, sql, [series])?;
    }
    Ok(done)
}

fn mark_of_series(tx: &Connection, series: i64, bookings: &[Booking]) -> rusqlite::Result<()> {
    for booking in bookings {
        crate::store::execute(tx, "UPDATE bookings SET series_id = ?2 WHERE id = ?1", params![booking.id, series])?;
    }
    Ok(())
}

/// The week starting `week` opens: book the occurrences held in it, the oldest series first,
/// each only while the slot's recurring bookings stay within the facility's share.
pub fn book_held(
    tx: &Connection,
    rules: &Rules,
    week: NaiveDate,
    now: DateTime<Utc>,
    events: &mut Events,
) -> rusqlite::Result<()> {
    let mut stmt = tx.prepare_cached(
        "SELECT h.series_id, h.date, s.userid, s.facility, s.slots FROM series_holds h JOIN series s ON s.id = h.series_id
         WHERE h.state = 'held' AND h.date >= ?1 AND h.date < ?2 AND s.state = 'active' ORDER BY h.series_id, h.date",
    )?;
    let held: Vec<(i64, String, String, String, String)> = stmt
        .query_map(params![week.to_string(), (week + Duration::days(7)).to_string()], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
        })?
        .collect::<rusqlite::Result<_>>()?;
    for (series, date, user, facility, slots) in held {
        let Ok(date) = NaiveDate::parse_from_str(&date, "%Y-%m-%d") else { continue };
        let slots: Vec<u32> = slots.split(',').filter_map(|s| s.parse().ok()).collect();
        let Some(&first_slot) = slots.first() else { continue };
        let outcome = match rules.catalog.facility(&facility) {
            None => Err("设施已不再开放".to_string()),
            Some(f) if over_share(tx, f, date, &slots)? => Err("已达该时段留给周期预约的名额".to_string()),
            Some(f) => match book(tx, rules, &user, f, date, &slots, now, events) {
                Ok(bookings) => {
                    mark_of_series(tx, series, &bookings)?;
                    Ok(())
                }
                Err(BookingError::Db(e)) => return Err(e),
                Err(refusal) => Err(refusal_label(&refusal).to_string()),
            },
        };
        let (state, reason) = match &outcome {
            Ok(()) => ("booked", None),
            Err(reason) => ("failed", Some(reason.clone())),
        };
        crate::store::execute(
            tx,
            "UPDATE series_holds SET state = ?3, reason = ?4 WHERE series_id = ?1 AND date = ?2",
            params![series, date.to_string(), state, reason],
        )?;
        if let Err(reason) = outcome {
            events.push(Event::HeldOccurrenceRefused { userid: user, facility, date, slot: first_slot, reason });
        }
    }
    Ok(())
}

/// Would one more recurring booking pass the facility's share in any of `slots`?
fn over_share(tx: &Connection, facility: &Facility, date: NaiveDate, slots: &[u32]) -> rusqlite::Result<bool> {
    let sql = format!(
        "SELECT count(*) FROM bookings WHERE facility = ?1 AND date = ?2 AND slot = ?3 AND series_id IS NOT NULL AND {LIVE}"
    );
    for slot in slots {
        let taken: u32 =
            crate::store::query_row(tx, &sql, params![facility.code, date.to_string(), slot], |r| r.get(0))?;
        if taken >= facility.recurring_places {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Why an occurrence could not be booked, in a few words.
pub fn refusal_label(error: &BookingError) -> &'static str {
    match error {
        BookingError::SlotFull { .. } => "已满",
        BookingError::InPast => "已过",
        BookingError::Closed { .. } => "设施停用",
        BookingError::OverLimit { .. } | BookingError::OverWeeklyLimit { .. } => "超出预约上限",
        BookingError::Suspended { .. } => "预约已暂停",
        BookingError::AlreadyBooked { .. } => "已有预约",
        BookingError::WeekNotOpen { .. } => "该周未开放",
        _ => "无法预约",
    }
}

/// What ending a series did.
#[derive(Debug, Clone)]
pub struct SeriesCancelled {
    pub cancelled: Vec<Booking>,
    pub holds: usize,
}

/// `取消 12 全部`: the rest of booking `id`'s series (its later bookings and held dates).
pub fn cancel_rest(
    tx: &Connection,
    rules: &Rules,
    actor: &str,
    actor_is_admin: bool,
    id: i64,
    now: DateTime<Utc>,
    events: &mut Events,
) -> Result<SeriesCancelled, BookingError> {
    let booking = booking_to_act_on(tx, id, actor, actor_is_admin)?;
    let series: Option<i64> =
        crate::store::query_row(tx, "SELECT series_id FROM bookings WHERE id = ?1", [id], |r| r.get(0))?;
    let series = series.ok_or(BookingError::NotASeries)?;
    end(tx, rules, series, &booking.userid, "cancelled", now, events)
}

/// End `series`: its later live bookings cancelled (each place to the waitlist), its held
/// dates dropped.
fn end(
    tx: &Connection,
    rules: &Rules,
    series: i64,
    user: &str,
    reason: &str,
    now: DateTime<Utc>,
    events: &mut Events,
) -> Result<SeriesCancelled, BookingError> {
    let sql = format!(
        "SELECT {BOOKING_COLUMNS} FROM bookings WHERE series_id = ?1 AND starts_at > ?2 AND {LIVE} ORDER BY starts_at"
    );
    let later: Vec<Booking> = tx
        .prepare_cached(&sql)?
        .query_map(params![series, now.timestamp()], Booking::from_row)?
        .collect::<Result<_, _>>()?;
    let mut cancelled = Vec::new();
    for booking in later {
        cancelled.push(cancel(tx, rules, user, true, booking.id, now, events)?.booking);
    }
    let holds = crate::store::execute(
        tx,
        "UPDATE series_holds SET state = 'cancelled' WHERE series_id = ?1 AND state = 'held'",
        [series],
    )?;
    crate::store::execute(
        tx,
        "UPDATE series SET state = 'ended', end_reason = ?2, updated_at = ?3 WHERE id = ?1",
        params![series, reason, now.timestamp()],
    )?;
    Ok(SeriesCancelled { cancelled, holds })
}

/// After a no-show of `booking`: its series ends at the third missed occurrence.
pub fn after_no_show(
    tx: &Connection,
    rules: &Rules,
    booking: &Booking,
    now: DateTime<Utc>,
    events: &mut Events,
) -> rusqlite::Result<()> {
    let series: Option<i64> = crate::store::query_row(
        tx,
        "SELECT series_id FROM bookings b JOIN series s ON s.id = b.series_id WHERE b.id = ?1 AND s.state = 'active'",
        [booking.id],
        |r| r.get(0),
    )
    .optional()?;
    let Some(series) = series else { return Ok(()) };
    let missed: i64 = crate::store::query_row(
        tx,
        "SELECT count(*) FROM bookings WHERE series_id = ?1 AND state = 'no_show'",
        [series],
        |r| r.get(0),
    )?;
    if missed < NO_SHOWS_ENDING_A_SERIES {
        return Ok(());
    }
    match end(tx, rules, series, &booking.userid, "no_show", now, events) {
        Ok(ended) => {
            events.push(Event::SeriesEnded {
                userid: booking.userid.clone(),
                missed,
                cancelled: ended.cancelled,
                holds: ended.holds,
            });
            Ok(())
        }
        Err(BookingError::Db(e)) => Err(e),
        Err(_) => Ok(()),
    }
}

/// A member's series still running: its bookings from now on and its held dates.
#[derive(Debug, Clone)]
pub struct UpcomingSeries {
    pub id: i64,
    pub repeat: Repeat,
    pub facility: String,
    /// The first slot of each occurrence.
    pub slot: u32,
    pub bookings: Vec<i64>,
    pub held: Vec<NaiveDate>,
}

/// A member's upcoming series.
pub fn upcoming_series(conn: &Connection, user: &str, now: DateTime<Utc>) -> rusqlite::Result<Vec<UpcomingSeries>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, weekdays, facility, slots FROM series WHERE userid = ?1 AND state = 'active' ORDER BY id",
    )?;
    let series: Vec<(i64, u8, String, String)> =
        stmt.query_map([user], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?.collect::<Result<_, _>>()?;
    let mut out = Vec::new();
    for (id, weekdays, facility, slots) in series {
        let slot = slots.split(',').next().and_then(|s| s.parse().ok()).unwrap_or(1);
        let sql =
            format!("SELECT id FROM bookings WHERE series_id = ?1 AND ends_at > ?2 AND {LIVE} ORDER BY starts_at");
        let bookings: Vec<i64> = conn
            .prepare_cached(&sql)?
            .query_map(params![id, now.timestamp()], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut stmt =
            conn.prepare_cached("SELECT date FROM series_holds WHERE series_id = ?1 AND state = 'held' ORDER BY date")?;
        let held: Vec<NaiveDate> = stmt
            .query_map([id], |r| r.get::<_, String>(0))?
            .filter_map(|d| d.ok().and_then(|d| NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok()))
            .collect();
        if !bookings.is_empty() || !held.is_empty() {
            out.push(UpcomingSeries { id, repeat: Repeat { weekdays, weeks: None }, facility, slot, bookings, held });
        }
    }
    Ok(out)
}
