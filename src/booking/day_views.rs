//! Day views shared by the looks that see the same writes.
//!
//! Every 空闲 answer and every full slot's alternatives read a day's places slot by slot (a
//! `DayView`): on a booked-up week that was a fifth of a question's time on a reader. Looks
//! between two writes of this process see the same places, so they share one view per day. A
//! view is kept with the store's write generation it was read at and serves only looks of that
//! generation (`Store::generation`, read before a look's snapshot opens, so the snapshot holds
//! every write the generation counts: the view is never older than what the look would read).
//! A write by another process (`staffhome tick` beside the service) does not move the
//! generation, so a view is also kept at most `MAX_AGE`: such a write shows within a second.

use super::query::DayView;
use crate::sync::lock;
use chrono::NaiveDate;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long a view is used at most (bounds how late another process's write is seen).
pub const MAX_AGE: Duration = Duration::from_secs(1);
/// Views kept at most (days asked about at once: this week and the next, a few generations).
const MAX_KEPT: usize = 32;

#[derive(Default)]
pub struct DayViews {
    kept: Mutex<Vec<Kept>>,
}

struct Kept {
    date: NaiveDate,
    generation: u64,
    read_at: Instant,
    view: Arc<DayView>,
}

/// A look's way to the shared views: the write generation its snapshot was opened at.
#[derive(Clone, Copy)]
pub struct SharedDays<'a> {
    pub views: &'a DayViews,
    pub generation: u64,
}

impl DayViews {
    /// The view of `date` read at `generation`, if one is kept and young enough at `now`.
    pub fn get(&self, date: NaiveDate, generation: u64, now: Instant) -> Option<Arc<DayView>> {
        let kept = lock(&self.kept);
        kept.iter()
            .find(|k| k.date == date && k.generation == generation && now.duration_since(k.read_at) < MAX_AGE)
            .map(|k| Arc::clone(&k.view))
    }

    /// Keep `view` of `date`, read at `generation` (read at `now`), in place of older ones.
    pub fn keep(&self, date: NaiveDate, generation: u64, now: Instant, view: Arc<DayView>) {
        let mut kept = lock(&self.kept);
        // Views of older generations serve no new look; nor do those past their age.
        kept.retain(|k| k.generation >= generation && now.duration_since(k.read_at) < MAX_AGE && k.date != date);
        if kept.len() >= MAX_KEPT {
            kept.remove(0);
        }
        kept.push(Kept { date, generation, read_at: now, view });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> Arc<DayView> {
        Arc::new(DayView::default())
    }

    #[test]
    fn a_view_serves_its_generation_for_at_most_max_age() {
        let views = DayViews::default();
        let day = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        let t0 = Instant::now();
        let kept = view();
        views.keep(day, 7, t0, Arc::clone(&kept));
        let got = views.get(day, 7, t0 + Duration::from_millis(10)).expect("same generation, young");
        assert!(Arc::ptr_eq(&got, &kept));
        assert!(views.get(day, 8, t0).is_none(), "a write since: read again");
        assert!(views.get(day.succ_opt().unwrap(), 7, t0).is_none(), "another day");
        assert!(views.get(day, 7, t0 + MAX_AGE).is_none(), "too old: another process may have written");
    }

    #[test]
    fn a_newer_view_replaces_the_older_and_the_kept_stay_few() {
        let views = DayViews::default();
        let day = NaiveDate::from_ymd_opt(2026, 11, 24).unwrap();
        let t0 = Instant::now();
        views.keep(day, 1, t0, view());
        views.keep(day, 2, t0, view());
        assert!(views.get(day, 1, t0).is_none());
        assert!(views.get(day, 2, t0).is_some());
        for n in 0..100 {
            views.keep(day + chrono::Duration::days(n), 2, t0, view());
        }
        assert!(lock(&views.kept).len() <= MAX_KEPT);
        assert!(views.get(day + chrono::Duration::days(99), 2, t0).is_some(), "the newest stays");
    }
}
