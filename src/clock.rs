//! Where "now" comes from, so every rule can be tested at any instant.

use chrono::{DateTime, Duration, Utc};
use std::sync::{Arc, Mutex};

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The real clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that starts at a given instant and runs on in real time (`STAFFHOME_NOW`): a demo
/// or a trial can start on any day, and retries' backoff and the scheduler still move. The
/// demo's `/tick 18:30` moves it on to then (`jump_to`).
pub struct RunningClock {
    /// What it read, and when.
    read: Mutex<(DateTime<Utc>, std::time::Instant)>,
}

impl RunningClock {
    /// A clock that read `start` at `since`.
    pub fn starting_at(start: DateTime<Utc>, since: std::time::Instant) -> Self {
        RunningClock { read: Mutex::new((start, since)) }
    }

    /// Move on to `at` and run on from there; never back (what was done stays done).
    pub fn jump_to(&self, at: DateTime<Utc>) {
        let mut read = self.read.lock().unwrap_or_else(|e| e.into_inner());
        let now = read.0 + Duration::from_std(read.1.elapsed()).unwrap_or_else(|_| Duration::zero());
        if at > now {
            *read = (at, std::time::Instant::now());
        }
    }
}

impl Clock for RunningClock {
    fn now(&self) -> DateTime<Utc> {
        let (start, since) = *self.read.lock().unwrap_or_else(|e| e.into_inner());
        start + Duration::from_std(since.elapsed()).unwrap_or_else(|_| Duration::zero())
    }
}

/// A clock that stands still until told to move: tests and `tick --at`.
pub struct FixedClock {
    now: Mutex<DateTime<Utc>>,
}

impl FixedClock {
    pub fn new(now: DateTime<Utc>) -> Self {
        FixedClock { now: Mutex::new(now) }
    }

    pub fn set(&self, now: DateTime<Utc>) {
        *self.now.lock().unwrap_or_else(|e| e.into_inner()) = now;
    }

    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }
}

impl Clock for FixedClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The name of the variable that sets where the clock of any command starts.
pub const NOW_VAR: &str = "STAFFHOME_NOW";

/// The clock a command runs on: starting at `STAFFHOME_NOW` (an RFC 3339 instant) and running
/// on from there, or the system's.
pub fn from_env() -> Result<Arc<dyn Clock>, String> {
    from_value(std::env::var(NOW_VAR).ok().as_deref())
}

/// The clock `STAFFHOME_NOW=value` asks for.
fn from_value(value: Option<&str>) -> Result<Arc<dyn Clock>, String> {
    match value {
        Some(text) if !text.trim().is_empty() => {
            let at = DateTime::parse_from_rfc3339(text.trim())
                .map_err(|e| format!("{NOW_VAR}={text:?} is not an RFC 3339 time: {e}"))?;
            Ok(Arc::new(RunningClock::starting_at(at.with_timezone(&Utc), std::time::Instant::now())))
        }
        _ => Ok(Arc::new(SystemClock)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clock_set_by_staffhome_now_runs_on_from_there() {
        let start = DateTime::parse_from_rfc3339("2026-11-23T10:00:00+08:00").unwrap().with_timezone(&Utc);
        let ten_seconds_ago = std::time::Instant::now() - std::time::Duration::from_secs(10);
        let clock = RunningClock::starting_at(start, ten_seconds_ago);
        let now = clock.now();
        assert!(now >= start + Duration::seconds(10) && now < start + Duration::seconds(20), "{now}");
    }

    #[test]
    fn a_running_clock_jumps_on_but_never_back() {
        let start = DateTime::parse_from_rfc3339("2026-11-23T10:00:00+08:00").unwrap().with_timezone(&Utc);
        let clock = RunningClock::starting_at(start, std::time::Instant::now());
        clock.jump_to(start + Duration::hours(2));
        assert!(
            clock.now() >= start + Duration::hours(2)
                && clock.now() < start + Duration::hours(2) + Duration::seconds(5)
        );
        clock.jump_to(start);
        assert!(clock.now() >= start + Duration::hours(2), "not back");
    }

    #[test]
    fn staffhome_now_sets_where_the_clock_starts_and_it_moves_on() {
        let clock = from_value(Some("2026-11-23T10:00:00+08:00")).unwrap();
        let first = clock.now();
        assert!(first >= DateTime::parse_from_rfc3339("2026-11-23T10:00:00+08:00").unwrap());
        // It moves by itself (a frozen clock would never differ).
        let moved = (0..10_000_000).map(|_| clock.now()).find(|now| *now > first);
        assert!(moved.is_some(), "the clock stood still");
        assert!(from_value(Some("yesterday")).is_err());
    }

    #[test]
    fn fixed_clock_moves_only_when_told() {
        let start = DateTime::parse_from_rfc3339("2026-11-23T10:00:00+08:00").unwrap().with_timezone(&Utc);
        let clock = FixedClock::new(start);
        assert_eq!(clock.now(), start);
        clock.advance(Duration::minutes(5));
        assert_eq!(clock.now(), start + Duration::minutes(5));
    }
}
