//! Numbered SQL migrations embedded in the binary, tracked by `PRAGMA user_version`.

use super::StoreError;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

/// Each entry is applied once, in order; never edit one that has shipped, add a new one.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_schedule_approval.sql"),
    include_str!("migrations/0003_slot_usage.sql"),
    include_str!("migrations/0004_retention.sql"),
    include_str!("migrations/0005_state_checks.sql"),
    include_str!("migrations/0006_notice_marks.sql"),
    include_str!("migrations/0007_demand_once.sql"),
    include_str!("migrations/0008_calendar.sql"),
    include_str!("migrations/0009_member_settings.sql"),
    include_str!("migrations/0010_send_budget.sql"),
    include_str!("migrations/0011_calendar_moves.sql"),
    include_str!("migrations/0012_waitlist_offers.sql"),
    include_str!("migrations/0013_sign_out.sql"),
    include_str!("migrations/0014_series.sql"),
    include_str!("migrations/0015_partners.sql"),
    include_str!("migrations/0016_replaced_cards.sql"),
    include_str!("migrations/0017_moved_to.sql"),
];

pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

fn version(conn: &Connection) -> rusqlite::Result<i64> {
    conn.query_row("PRAGMA user_version", [], |row| row.get(0))
}

/// Apply what `conn`'s database lacks, all in one transaction.
pub fn apply(conn: &mut Connection) -> Result<(), StoreError> {
    if version(conn)? == SCHEMA_VERSION {
        return Ok(());
    }
    // A migration may rebuild a table that others reference (0005). SQLite's documented way
    // is with foreign keys off (the pragma does nothing inside a transaction), every reference
    // checked before the commit.
    let enforced: bool = conn.query_row("PRAGMA foreign_keys", [], |row| row.get(0))?;
    conn.pragma_update(None, "foreign_keys", false)?;
    let applied = apply_in_transaction(conn);
    conn.pragma_update(None, "foreign_keys", enforced)?;
    applied
}

fn apply_in_transaction(conn: &mut Connection) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    // Read again under the lock: another process may have migrated meanwhile.
    let found = version(&tx)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::TooNew { found, supported: SCHEMA_VERSION });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", index as i64 + 1)?;
    }
    let broken: Option<String> = tx.query_row("PRAGMA foreign_key_check", [], |row| row.get(0)).optional()?;
    if let Some(table) = broken {
        // Dropping the transaction rolls every migration back.
        return Err(StoreError::BrokenReferences { table });
    }
    tx.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database as a release with the first `version` migrations left it.
    fn database_at(dir: &tempfile::TempDir, version: usize) -> Connection {
        let conn = Connection::open(dir.path().join("old.db")).unwrap();
        conn.pragma_update(None, "foreign_keys", true).unwrap();
        for sql in &MIGRATIONS[..version] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", version as i64).unwrap();
        conn
    }

    fn count(conn: &Connection, sql: &str) -> i64 {
        conn.query_row(sql, [], |row| row.get(0)).unwrap()
    }

    const BOOK: &str = "INSERT INTO bookings (userid, facility, date, slot, starts_at, ends_at, state, checkin_code,
                                              pass_token, created_at, updated_at)
                        VALUES (?1, 'gym', '2026-12-01', 1, 100, 200, ?2, '123456', ?3, 0, 0)";

    #[test]
    fn rebuilt_tables_keep_their_rows_references_counters_and_rules() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = database_at(&dir, 4);
        conn.execute_batch(
            "INSERT INTO users (userid, created_at, last_seen_at) VALUES ('u1', 0, 0), ('u2', 0, 0);
             INSERT INTO bookings (id, userid, facility, date, slot, starts_at, ends_at, state, checkin_code,
                                   pass_token, created_at, updated_at)
                 VALUES (1, 'u1', 'gym', '2026-12-01', 1, 100, 200, 'confirmed', '123456', 't1', 0, 0),
                        (2, 'u2', 'gym', '2026-12-01', 1, 100, 200, 'cancelled', '654321', 't2', 0, 0);
             INSERT INTO waitlist (userid, facility, date, slot, created_at, state, booking_id, updated_at)
                 VALUES ('u2', 'gym', '2026-12-01', 1, 0, 'promoted', 2, 0);
             INSERT INTO strikes (userid, booking_id, at) VALUES ('u2', 2, 0);
             INSERT INTO outbox (dedupe_key, recipient, kind, payload, next_attempt_at, created_at, claimed_until)
                 VALUES ('k', 'u1', 'text', '{}', 0, 0, 5);
             INSERT INTO demand_events (kind, userid, facility, date, slot, at)
                 VALUES ('refused_full', 'u2', 'gym', '2026-12-01', 1, 0);",
        )
        .unwrap();

        apply(&mut conn).unwrap();

        assert_eq!(version(&conn).unwrap(), SCHEMA_VERSION);
        assert_eq!(count(&conn, "SELECT count(*) FROM bookings"), 2);
        assert_eq!(count(&conn, "SELECT booking_id FROM waitlist"), 2);
        assert_eq!(count(&conn, "SELECT claimed_until FROM outbox WHERE dedupe_key = 'k'"), 5);
        assert_eq!(count(&conn, "SELECT count(*) FROM demand_events"), 1);
        let used = "SELECT used FROM slot_usage WHERE facility = 'gym' AND date = '2026-12-01' AND slot = 1";
        assert_eq!(count(&conn, used), 1);
        // The triggers came back with the table: a cancellation frees the place, a booking takes it.
        conn.execute("UPDATE bookings SET state = 'cancelled' WHERE id = 1", []).unwrap();
        assert_eq!(count(&conn, used), 0);
        conn.execute(BOOK, ["u2", "confirmed", "t3"]).unwrap();
        assert_eq!(count(&conn, used), 1);
        // So did the rules: one live booking per member and slot, known states, real members.
        assert!(conn.execute(BOOK, ["u2", "pending", "t4"]).is_err(), "a second live booking");
        assert!(conn.execute(BOOK, ["u1", "booked", "t5"]).is_err(), "an unknown state");
        assert!(conn.execute(BOOK, ["nobody", "confirmed", "t6"]).is_err(), "foreign keys are enforced again");
        assert!(conn.execute("UPDATE outbox SET state = 'sent'", []).is_err(), "an unknown outbox state");
        assert!(conn.execute("UPDATE waitlist SET state = 'gone'", []).is_err(), "an unknown waitlist state");
        assert!(conn.execute("UPDATE demand_events SET kind = 'other'", []).is_err(), "an unknown demand kind");
    }

    #[test]
    fn the_sign_out_rebuild_keeps_every_column_and_takes_the_new_state() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = database_at(&dir, 12);
        conn.execute_batch(
            "INSERT INTO users (userid, created_at, last_seen_at) VALUES ('u1', 0, 0);
             INSERT INTO bookings (id, userid, facility, date, slot, starts_at, ends_at, state, checkin_code,
                                   pass_token, created_at, updated_at, checked_in_at, reminded_at, schedule_id,
                                   revision, calendar_sequence)
                 VALUES (1, 'u1', 'gym', '2026-12-01', 1, 100, 200, 'checked_in', '123456', 't1', 0, 0, 90, 40,
                         'sched-1', 3, 'booking:7');
             INSERT INTO strikes (userid, booking_id, at) VALUES ('u1', 1, 0);",
        )
        .unwrap();

        apply(&mut conn).unwrap();

        let kept: (i64, i64, String, i64, String) = conn
            .query_row(
                "SELECT checked_in_at, reminded_at, schedule_id, revision, calendar_sequence FROM bookings WHERE id = 1",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
            )
            .unwrap();
        assert_eq!(kept, (90, 40, "sched-1".to_string(), 3, "booking:7".to_string()));
        let used = "SELECT used FROM slot_usage WHERE facility = 'gym' AND date = '2026-12-01' AND slot = 1";
        assert_eq!(count(&conn, used), 1);
        conn.execute("UPDATE bookings SET state = 'completed', ended_at = 150 WHERE id = 1", []).unwrap();
        assert_eq!(count(&conn, used), 0, "a completed visit frees its place");
        assert_eq!(count(&conn, "SELECT revision FROM bookings WHERE id = 1"), 4, "the revision trigger is back");
        assert!(conn.execute("UPDATE bookings SET state = 'done' WHERE id = 1", []).is_err(), "states still checked");
    }

    #[test]
    fn confirmations_and_reminders_already_queued_are_marked_on_their_bookings() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = database_at(&dir, 5);
        conn.execute_batch(
            "INSERT INTO users (userid, created_at, last_seen_at) VALUES ('u1', 0, 0);
             INSERT INTO bookings (id, userid, facility, date, slot, starts_at, ends_at, state, checkin_code,
                                   pass_token, created_at, updated_at)
                 VALUES (1, 'u1', 'gym', '2026-12-01', 9, 100, 200, 'confirmed', '123456', 't1', 0, 0),
                        (2, 'u1', 'gym', '2026-12-01', 10, 200, 300, 'confirmed', '654321', 't2', 0, 0);
             INSERT INTO outbox (dedupe_key, recipient, kind, payload, next_attempt_at, created_at)
                 VALUES ('confirm:1', 'u1', 'template_card', '{}', 0, 40), ('remind:1', 'u1', 'text', '{}', 0, 50);",
        )
        .unwrap();

        apply(&mut conn).unwrap();

        let marks = |id: i64| -> (Option<i64>, Option<i64>) {
            conn.query_row("SELECT confirm_asked_at, reminded_at FROM bookings WHERE id = ?1", [id], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap()
        };
        assert_eq!(marks(1), (Some(40), Some(50)));
        assert_eq!(marks(2), (None, None));
    }

    #[test]
    fn a_broken_reference_rolls_every_migration_back() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = database_at(&dir, 4);
        conn.pragma_update(None, "foreign_keys", false).unwrap();
        conn.execute(BOOK, ["nobody", "confirmed", "t1"]).unwrap();
        conn.pragma_update(None, "foreign_keys", true).unwrap();

        let error = apply(&mut conn).unwrap_err();

        assert!(matches!(&error, StoreError::BrokenReferences { table } if table == "bookings"), "{error}");
        assert_eq!(version(&conn).unwrap(), 4);
        let enforced: bool = conn.query_row("PRAGMA foreign_keys", [], |row| row.get(0)).unwrap();
        assert!(enforced);
    }

    /// A constant IN list of more than two values in a CHECK, a partial index or a trigger
    /// makes SQLite build a temporary b-tree on every change to the table.
    #[test]
    fn no_rule_of_the_schema_lists_more_than_two_constants() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = database_at(&dir, 0);
        apply(&mut conn).unwrap();
        let mut stmt = conn.prepare("SELECT name, sql FROM sqlite_schema WHERE sql IS NOT NULL").unwrap();
        let rows = stmt.query_map([], |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))).unwrap();
        let long_list = regex::Regex::new(r"(?i)\bIN\s*\(\s*'[^']*'\s*,\s*'[^']*'\s*,").unwrap();
        for (name, sql) in rows.map(Result::unwrap) {
            assert!(!long_list.is_match(&sql), "{name}: {sql}");
        }
        assert!(!crate::store::builds_temporary_btree(BOOK), "booking a place");
    }

    #[test]
    fn repeated_refusals_of_one_member_for_one_slot_become_one() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = database_at(&dir, 6);
        let refuse = "INSERT INTO demand_events (kind, userid, facility, date, slot, at)
                      VALUES ('refused_full', ?1, 'gym', '2026-12-01', ?2, 0)";
        for (user, slot) in [("u1", 1), ("u1", 1), ("u1", 1), ("u1", 2), ("u2", 1)] {
            conn.execute(refuse, rusqlite::params![user, slot]).unwrap();
        }
        conn.execute(
            "INSERT INTO demand_events (kind, userid, facility, date, slot, at)
             VALUES ('waitlist_join', 'u1', 'gym', '2026-12-01', 1, 0), ('waitlist_join', 'u1', 'gym', '2026-12-01', 1, 0)",
            [],
        )
        .unwrap();

        apply(&mut conn).unwrap();

        assert_eq!(count(&conn, "SELECT count(*) FROM demand_events WHERE kind = 'refused_full'"), 3);
        assert_eq!(count(&conn, "SELECT count(*) FROM demand_events WHERE kind = 'waitlist_join'"), 2, "joins stay");
        assert!(conn.execute(refuse, rusqlite::params!["u1", 1]).is_err(), "a repeated refusal is refused");
    }
}
