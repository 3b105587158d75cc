-- 签退: a member who leaves early signs out; the booking is then `completed`, with the real
-- end in `ended_at`, and its place is free for the rest of the slot.
--
-- A CHECK changes only by rebuilding its table (see 0005): new table, copy, drop, rename,
-- then its indexes and triggers again (the runner turns foreign keys off around it).
CREATE TABLE bookings_new (
    id                 INTEGER PRIMARY KEY,
    userid             TEXT NOT NULL REFERENCES users (userid),
    facility           TEXT NOT NULL,
    date               TEXT NOT NULL,
    slot               INTEGER NOT NULL CHECK (slot >= 1),
    starts_at          INTEGER NOT NULL,
    ends_at            INTEGER NOT NULL CHECK (ends_at > starts_at),
    state              TEXT NOT NULL CHECK (state = 'pending' OR state = 'confirmed' OR state = 'checked_in'
                         OR state = 'cancelled' OR state = 'rejected' OR state = 'no_show'
                         OR state = 'closed' OR state = 'expired' OR state = 'completed'),
    approval_level     INTEGER,                -- 1-based level awaiting a decision (pending only)
    source             TEXT NOT NULL DEFAULT 'direct' CHECK (source IN ('direct', 'waitlist')),
    checkin_code       TEXT NOT NULL,
    pass_token         TEXT NOT NULL UNIQUE,
    created_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL,
    cancelled_at       INTEGER,
    cancelled_by       TEXT,
    reason             TEXT,
    user_confirmed_at  INTEGER,
    checked_in_at      INTEGER,
    confirm_asked_at   INTEGER,
    reminded_at        INTEGER,
    schedule_id        TEXT,
    revision           INTEGER NOT NULL DEFAULT 0,
    calendar_sequence  TEXT,
    ended_at           INTEGER                 -- signed out (签退) before `ends_at`: when
);
INSERT INTO bookings_new (id, userid, facility, date, slot, starts_at, ends_at, state, approval_level, source,
                          checkin_code, pass_token, created_at, updated_at, cancelled_at, cancelled_by, reason,
                          user_confirmed_at, checked_in_at, confirm_asked_at, reminded_at, schedule_id, revision,
                          calendar_sequence)
    SELECT id, userid, facility, date, slot, starts_at, ends_at, state, approval_level, source,
           checkin_code, pass_token, created_at, updated_at, cancelled_at, cancelled_by, reason,
           user_confirmed_at, checked_in_at, confirm_asked_at, reminded_at, schedule_id, revision,
           calendar_sequence
    FROM bookings;
DROP TABLE bookings;
ALTER TABLE bookings_new RENAME TO bookings;

-- The text of `LIVE` in src/booking/model.rs: a query that includes it can use these indexes.
CREATE UNIQUE INDEX bookings_one_per_user_slot ON bookings (userid, facility, date, slot)
    WHERE (state = 'pending' OR state = 'confirmed' OR state = 'checked_in');
CREATE INDEX bookings_live_by_slot ON bookings (facility, date, slot)
    WHERE (state = 'pending' OR state = 'confirmed' OR state = 'checked_in');
CREATE INDEX bookings_by_user ON bookings (userid, starts_at);
CREATE INDEX bookings_by_start ON bookings (starts_at);
CREATE INDEX bookings_confirmed_by_start ON bookings (starts_at) WHERE state = 'confirmed';
CREATE INDEX bookings_pending_by_start ON bookings (starts_at) WHERE state = 'pending';

CREATE TRIGGER slot_usage_on_insert AFTER INSERT ON bookings
WHEN (NEW.state = 'pending' OR NEW.state = 'confirmed' OR NEW.state = 'checked_in')
BEGIN
    INSERT INTO slot_usage (facility, date, slot, used) VALUES (NEW.facility, NEW.date, NEW.slot, 1)
        ON CONFLICT (date, facility, slot) DO UPDATE SET used = used + 1;
END;

CREATE TRIGGER slot_usage_on_leave AFTER UPDATE OF state, facility, date, slot ON bookings
WHEN (OLD.state = 'pending' OR OLD.state = 'confirmed' OR OLD.state = 'checked_in')
BEGIN
    UPDATE slot_usage SET used = used - 1 WHERE facility = OLD.facility AND date = OLD.date AND slot = OLD.slot;
END;

CREATE TRIGGER slot_usage_on_enter AFTER UPDATE OF state, facility, date, slot ON bookings
WHEN (NEW.state = 'pending' OR NEW.state = 'confirmed' OR NEW.state = 'checked_in')
BEGIN
    INSERT INTO slot_usage (facility, date, slot, used) VALUES (NEW.facility, NEW.date, NEW.slot, 1)
        ON CONFLICT (date, facility, slot) DO UPDATE SET used = used + 1;
END;

CREATE TRIGGER slot_usage_on_delete AFTER DELETE ON bookings
WHEN (OLD.state = 'pending' OR OLD.state = 'confirmed' OR OLD.state = 'checked_in')
BEGIN
    UPDATE slot_usage SET used = used - 1 WHERE facility = OLD.facility AND date = OLD.date AND slot = OLD.slot;
END;

CREATE TRIGGER bookings_revision AFTER UPDATE OF state, date, slot, starts_at, ends_at ON bookings
WHEN OLD.state IS NOT NEW.state OR OLD.date IS NOT NEW.date OR OLD.slot IS NOT NEW.slot
  OR OLD.starts_at IS NOT NEW.starts_at OR OLD.ends_at IS NOT NEW.ends_at
BEGIN
    UPDATE bookings SET revision = revision + 1 WHERE id = NEW.id;
END;
