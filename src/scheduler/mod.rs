//! The scheduler: every job registered here from `[schedule]`, in the configured time zone.
//!
//! Each job is a function of `now` that works from the database and marks what it did in the
//! same transaction as the messages it queues, so a restart neither loses nor repeats one, and
//! the first pass after downtime catches up on what is still useful. Tests (and
//! `staffhome tick`) call [`run_due_jobs`] directly.

use crate::booking::{policy, service, week_start, Catalog, Events, Rules};
use crate::clock::Clock;
use crate::config::Config;
use crate::notify::{self, Notifier, NotifyError};
use crate::store::Store;
use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;
use cron::Schedule;
use std::sync::Arc;

mod digest;
mod free_places;
mod housekeeping;

pub use digest::rank_slots_by_demand;
pub use housekeeping::{Pruned, CALLBACK_RECORDS_KEPT_SECONDS, DEMAND_KEPT_DAYS};

/// What the jobs use (the application provides it).
pub trait JobContext: Send + Sync + 'static {
    fn store(&self) -> &Store;
    fn clock(&self) -> &dyn Clock;
    fn catalog(&self) -> &Catalog;
    fn config(&self) -> &Config;

    fn rules(&self) -> Rules<'_> {
        Rules { catalog: self.catalog(), config: &self.config().booking, admins: &self.config().roles.admins }
    }

    fn notifier(&self) -> Notifier<'_> {
        let config = self.config();
        Notifier::new(self.catalog(), config)
    }
}

/// The cron schedules of `[schedule]`, in the configured zone.
pub struct Schedules {
    pub tick: Schedule,
    pub publish_week: Schedule,
    pub weekly_digest: Schedule,
    pub tz: Tz,
}

impl Schedules {
    pub fn from_config(config: &Config) -> Schedules {
        let s = &config.schedule;
        Schedules {
            tick: s.tick.0.clone(),
            publish_week: s.publish_week.0.clone(),
            weekly_digest: s.weekly_digest.0.clone(),
            tz: config.tz(),
        }
    }

    /// The latest time `schedule` fired at or before `now`, looking back at most a week
    /// (weekly jobs missed during downtime still run once).
    fn last_fire(&self, schedule: &Schedule, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let from = (now - Duration::days(7)).with_timezone(&self.tz);
        schedule.after(&from).take_while(|t| t.with_timezone(&Utc) <= now).last().map(|t| t.with_timezone(&Utc))
    }

    /// When the next tick is due after `now`.
    pub fn next_tick(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.tick.after(&now.with_timezone(&self.tz)).next().map(|t| t.with_timezone(&Utc))
    }
}

/// What one pass did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct JobReport {
    pub confirmations: u32,
    pub reminders: u32,
    pub no_shows: policy::NoShows,
    pub expired: u32,
    /// Waitlist offers whose time ran out (each offered on to the next waiter).
    pub offers_lapsed: u32,
    pub published: bool,
    pub digest: bool,
    /// Old records deleted this pass (`housekeeping`).
    pub pruned: Pruned,
    /// Jobs that failed this pass (they run again at the next tick).
    pub failed: Vec<&'static str>,
}

/// Why a job did not finish (it runs again at the next tick).
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("database: {0}")]
    Db(#[from] rusqlite::Error),
    #[error("notice: {0}")]
    Notify(#[from] NotifyError),
}

/// Run one job in its own write transaction, with the notices its events call for; an error
/// is logged and left for the next tick.
async fn job<C: JobContext, T: Default + Send + 'static>(
    ctx: &Arc<C>,
    name: &'static str,
    report: &mut JobReport,
    f: impl FnOnce(&C, &rusqlite::Connection, &mut Events) -> Result<T, JobError> + Send + 'static,
) -> T {
    let job_ctx = Arc::clone(ctx);
    let done = ctx.store().write(move |tx| {
        let ctx = &*job_ctx;
        let mut events = Events::default();
        let value = f(ctx, tx, &mut events)?;
        notify::queue(tx, &ctx.notifier(), &events.take(), ctx.clock().now().timestamp())?;
        Ok::<_, JobError>(value)
    });
    match done.await {
        Ok(value) => value,
        Err(error) => {
            tracing::error!(job = name, error = %error, "job failed; it runs again at the next tick");
            report.failed.push(name);
            T::default()
        }
    }
}

/// Every job that is due as of `now`.
pub async fn run_due_jobs<C: JobContext>(ctx: &Arc<C>, schedules: &Schedules, now: DateTime<Utc>) -> JobReport {
    let mut report = JobReport::default();
    report.expired = job(ctx, "expire_pending", &mut report, move |_, tx, events| {
        Ok(policy::expire_pending(tx, now, events)?.len() as u32)
    })
    .await;
    report.offers_lapsed = job(ctx, "offers", &mut report, move |ctx, tx, events| {
        Ok(crate::booking::offers::lapse_due(tx, &ctx.rules(), now, events)? as u32)
    })
    .await;
    report.no_shows = job(ctx, "no_shows", &mut report, move |ctx, tx, events| {
        Ok(policy::mark_no_shows(tx, &ctx.rules(), now, events)?)
    })
    .await;
    report.confirmations = job(ctx, "confirmations", &mut report, move |ctx, tx, events| {
        Ok(policy::send_confirmations(tx, &ctx.rules(), now, events)?)
    })
    .await;
    report.reminders = job(ctx, "reminders", &mut report, move |ctx, tx, events| {
        Ok(policy::send_reminders(tx, &ctx.rules(), now, events)?)
    })
    .await;
    if let Some(fired) = schedules.last_fire(&schedules.publish_week, now) {
        report.published = job(ctx, "publish_week", &mut report, move |ctx, tx, events| {
            Ok(publish(tx, &ctx.rules(), fired, now, events)?)
        })
        .await;
    }
    if let Some(fired) = schedules.last_fire(&schedules.weekly_digest, now) {
        // Worked out on a reader; the write only marks it sent and queues it.
        if let Some(digest) = digest::prepare(ctx, fired, now).await {
            report.digest = job(ctx, "weekly_digest", &mut report, move |ctx, tx, _| digest.send(ctx, tx, now)).await;
        }
    }
    report.pruned = job(ctx, "housekeeping", &mut report, move |ctx, tx, _| {
        let today = ctx.catalog().today(now);
        Ok(housekeeping::prune(tx, now.timestamp(), today, ctx.config().database.keep_days)?)
    })
    .await;
    report
}

/// Open the week after the one the publish time fell in (once: open_weeks is the mark).
fn publish(
    tx: &rusqlite::Connection,
    rules: &Rules,
    fired: DateTime<Utc>,
    now: DateTime<Utc>,
    events: &mut Events,
) -> rusqlite::Result<bool> {
    let week = week_start(rules.catalog.today(fired)) + Duration::days(7);
    // A fire time from last week opens this week, which is open anyway: nothing to do.
    if week <= week_start(rules.catalog.today(now)) {
        return Ok(false);
    }
    service::publish_week(tx, rules, week, "scheduler", now, events)
}

/// Once at start: upcoming bookings into the members' WeCom calendars, when that was turned on
/// after they were made.
pub async fn backfill_calendar<C: JobContext>(ctx: &Arc<C>) -> usize {
    let mut report = JobReport::default();
    let now = ctx.clock().now().timestamp();
    let added = job(ctx, "calendar_backfill", &mut report, move |ctx, tx, _| {
        Ok(notify::calendar::backfill(tx, &ctx.notifier(), now)?)
    })
    .await;
    if added > 0 {
        tracing::info!(added, "upcoming bookings queued for the members' WeCom calendars");
    }
    added
}

/// The scheduler loop of `serve`: a catch-up pass at once, then one at every tick.
pub async fn run<C: JobContext>(ctx: Arc<C>) -> Result<(), std::convert::Infallible> {
    backfill_calendar(&ctx).await;
    let schedules = Arc::new(Schedules::from_config(ctx.config()));
    loop {
        let (pass_ctx, pass_schedules) = (Arc::clone(&ctx), Arc::clone(&schedules));
        // A task of its own, so that a bug in a job ends one pass, not the scheduler.
        let report = tokio::spawn(async move {
            let now = pass_ctx.clock().now();
            run_due_jobs(&pass_ctx, &pass_schedules, now).await
        })
        .await;
        match report {
            Ok(report) if report != JobReport::default() => tracing::info!(?report, "scheduler pass"),
            Ok(_) => {}
            Err(error) => tracing::error!(error = %error, "scheduler pass panicked; continuing"),
        }
        let now = ctx.clock().now();
        let wait = schedules
            .next_tick(now)
            .and_then(|next| (next - now).to_std().ok())
            .unwrap_or(std::time::Duration::from_secs(60))
            .max(std::time::Duration::from_millis(200));
        tokio::time::sleep(wait).await;
    }
}

/// What `staffhome tick` did: the jobs' report and the deliveries.
#[derive(Debug, Default)]
pub struct TickOutcome {
    pub jobs: JobReport,
    pub delivered: crate::outbox::worker::Delivered,
}

impl std::fmt::Display for TickOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let j = &self.jobs;
        write!(
            f,
            "confirmations {} · reminders {} · no-shows {} (promoted {}, suspended {}) · expired {} · published {} · digest {} · sent {} · retrying {} · failed {}",
            j.confirmations, j.reminders, j.no_shows.marked, j.no_shows.promoted, j.no_shows.suspended, j.expired,
            j.published, j.digest, self.delivered.sent, self.delivered.retried, self.delivered.failed
        )?;
        if !j.failed.is_empty() {
            write!(f, " · failed jobs: {}", j.failed.join(", "))?;
        }
        Ok(())
    }
}

/// One scheduler pass as of the context's clock, then deliver what is due (bounded).
pub async fn tick_once<C: JobContext + crate::outbox::worker::Courier>(
    ctx: &Arc<C>,
) -> Result<TickOutcome, crate::outbox::worker::WorkerError> {
    let schedules = Schedules::from_config(JobContext::config(&**ctx));
    let jobs = run_due_jobs(ctx, &schedules, JobContext::clock(&**ctx).now()).await;
    let mut delivered = crate::outbox::worker::Delivered::default();
    for _ in 0..100 {
        let pass = crate::outbox::worker::deliver_due(ctx).await?;
        if pass.sent + pass.retried + pass.failed == 0 {
            break;
        }
        delivered.sent += pass.sent;
        delivered.retried += pass.retried;
        delivered.failed += pass.failed;
        delivered.deferred += pass.deferred;
    }
    Ok(TickOutcome { jobs, delivered })
}
