//! Property test: random book / cancel / waitlist sequences by random members keep the
//! invariants after every step.

use chrono::{Duration, NaiveDate};
use proptest::prelude::*;
use staffhome::app::AppContext;
use staffhome::booking::{service, Booking, BookingError, Events};
use staffhome::clock::FixedClock;
use staffhome::config::Config;
use std::sync::Arc;

#[derive(Debug, Clone)]
enum Op {
    Book { user: u8, facility: u8, slot: u8 },
    Cancel { user: u8, pick: u8 },
    Wait { user: u8, facility: u8, slot: u8 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0u8..8, 0u8..3, 9u8..12).prop_map(|(user, facility, slot)| Op::Book { user, facility, slot }),
        (0u8..8, any::<u8>()).prop_map(|(user, pick)| Op::Cancel { user, pick }),
        (0u8..8, 0u8..3, 9u8..12).prop_map(|(user, facility, slot)| Op::Wait { user, facility, slot }),
    ]
}

const FACILITIES: [&str; 3] = ["treadmill", "pingpong", "squash"];

fn check_invariants(ctx: &AppContext) {
    ctx.store
        .read(|c| -> rusqlite::Result<()> {
            // Count ≤ capacity in every slot.
            let mut stmt = c.prepare(
                "SELECT facility, date, slot, count(*) FROM bookings WHERE state IN ('pending','confirmed','checked_in')
                 GROUP BY facility, date, slot",
            )?;
            let rows: Vec<(String, String, u32, u32)> =
                stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?.collect::<Result<_, _>>()?;
            for (facility, date, slot, count) in &rows {
                let capacity = ctx.catalog.facility(facility).map_or(0, |f| f.capacity);
                assert!(*count <= capacity, "{facility} {date} #{slot}: {count} > {capacity}");
            }
            // The trigger-kept counters agree with the bookings.
            let mut stmt = c.prepare("SELECT facility, date, slot, used FROM slot_usage WHERE used <> 0")?;
            let mut counted: Vec<(String, String, u32, u32)> =
                stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?.collect::<Result<_, _>>()?;
            let mut expected = rows.clone();
            counted.sort();
            expected.sort();
            assert_eq!(counted, expected, "slot_usage drifted from the bookings");
            // Waitlist only for full slots.
            let mut stmt = c.prepare("SELECT DISTINCT facility, date, slot FROM waitlist WHERE state = 'waiting'")?;
            let waiting: Vec<(String, String, u32)> =
                stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?.collect::<Result<_, _>>()?;
            for (facility, date, slot) in waiting {
                let capacity = ctx.catalog.facility(&facility).map_or(0, |f| f.capacity);
                let used =
                    rows.iter().find(|(f, d, s, _)| *f == facility && *d == date && *s == slot).map_or(0, |r| r.3);
                assert_eq!(used, capacity, "waiters for a slot that is not full: {facility} {date} #{slot}");
            }
            // No member twice in one slot (live), nor waiting for a slot they hold.
            let twice: i64 = c.query_row(
                "SELECT count(*) FROM (SELECT userid, facility, date, slot FROM bookings
                   WHERE state IN ('pending','confirmed','checked_in') GROUP BY 1,2,3,4 HAVING count(*) > 1)",
                [],
                |r| r.get(0),
            )?;
            assert_eq!(twice, 0);
            let both: i64 = c.query_row(
                "SELECT count(*) FROM waitlist w JOIN bookings b USING (userid, facility, date, slot)
                 WHERE w.state = 'waiting' AND b.state IN ('pending','confirmed','checked_in')",
                [],
                |r| r.get(0),
            )?;
            assert_eq!(both, 0);
            Ok(())
        })
        .expect("invariant queries");
}

fn run(ops: Vec<Op>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = crate::common::config_text("http://127.0.0.1:1", &dir.path().join("p.db"));
    let mut config = Config::from_toml(&text, |_| None).expect("config");
    config.booking.max_active_per_user = 3;
    let clock = Arc::new(FixedClock::new(crate::common::monday_10am()));
    let ctx = Arc::new(AppContext::new(config, clock).expect("ctx"));
    let now = crate::common::monday_10am();
    let date = NaiveDate::from_ymd_opt(2026, 11, 24).expect("date");
    for (step, op) in ops.into_iter().enumerate() {
        let now = now + Duration::seconds(step as i64);
        let (write_ctx, shown) = (Arc::clone(&ctx), format!("{op:?}"));
        let result: Result<(), BookingError> = ctx
            .store
            .write(move |tx| {
                let (rules, mut events) = (write_ctx.rules(), Events::default());
                let ctx = &*write_ctx;
                let (Op::Book { user, .. } | Op::Cancel { user, .. } | Op::Wait { user, .. }) = &op;
                staffhome::users::touch(tx, &format!("u{user}"), now.timestamp())?;
                match &op {
                    Op::Book { user, facility, slot } => {
                        let facility = ctx.catalog.facility(FACILITIES[*facility as usize]).expect("facility");
                        let booked = service::book(
                            tx,
                            &rules,
                            &format!("u{user}"),
                            facility,
                            date,
                            &[*slot as u32],
                            now,
                            &mut events,
                        );
                        ignore_refusal(booked.and_then(|booked| stored_as_returned(tx, &booked)))
                    }
                    Op::Wait { user, facility, slot } => {
                        let facility = ctx.catalog.facility(FACILITIES[*facility as usize]).expect("facility");
                        ignore_refusal(
                            staffhome::booking::waitlist::join_waitlist(
                                tx,
                                &rules,
                                &format!("u{user}"),
                                facility,
                                date,
                                *slot as u32,
                                now,
                            )
                            .map(|_| ()),
                        )
                    }
                    Op::Cancel { user, pick } => {
                        let ids: Vec<i64> = {
                            let mut stmt = tx.prepare(
                                "SELECT id FROM bookings WHERE userid = ?1 AND state = 'confirmed' ORDER BY id",
                            )?;
                            let rows = stmt.query_map([format!("u{user}")], |r| r.get(0))?;
                            rows.collect::<Result<_, _>>()?
                        };
                        if ids.is_empty() {
                            return Ok(());
                        }
                        let id = ids[*pick as usize % ids.len()];
                        let cancelled = service::cancel(tx, &rules, &format!("u{user}"), false, id, now, &mut events)?;
                        stored_as_returned(tx, cancelled.promoted.as_slice())
                    }
                }
            })
            .wait();
        result.unwrap_or_else(|e| panic!("step {step} {shown}: {e}"));
        check_invariants(&ctx);
    }
}

/// What booking (or promotion) returns is what it wrote: it is built from the values, not read back.
fn stored_as_returned(tx: &rusqlite::Connection, bookings: &[Booking]) -> Result<(), BookingError> {
    for booking in bookings {
        assert_eq!(service::booking_by_id(tx, booking.id)?.as_ref(), Some(booking));
    }
    Ok(())
}

/// Refusals are normal outcomes here; only database errors fail the run.
fn ignore_refusal(result: Result<(), BookingError>) -> Result<(), BookingError> {
    match result {
        Err(BookingError::Db(e)) => Err(BookingError::Db(e)),
        _ => Ok(()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn invariants_hold_after_every_step(ops in proptest::collection::vec(op(), 1..60)) {
        run(ops);
    }
}
