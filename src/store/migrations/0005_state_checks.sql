-- The same rules on states, written as comparisons instead of constant IN lists.
--
-- SQLite evaluates `x IN ('a', 'b', 'c')` (a constant list of more than two values) by building
-- a temporary b-tree of the list each time a statement runs it: for a CHECK, on every insert or
-- update of a row; for a partial index's WHERE or a trigger's WHEN, on every change to the table.
-- Booking one place ran five of them, a fifth of the write's instructions. Comparisons joined
-- by OR say the same and cost a few instructions.
--
-- A CHECK changes only by rebuilding its table (https://www.sqlite.org/lang_altertable.html,
-- "making other kinds of table schema changes"): new table, copy, drop, rename, then its
-- indexes and triggers again. Other tables reference `bookings`, so the migration runner turns
-- foreign keys off around the migrations and checks every reference before it commits.

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
                         OR state = 'closed' OR state = 'expired'),
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
    checked_in_at      INTEGER
);
INSERT INTO bookings_new (id, userid, facility, date, slot, starts_at, ends_at, state, approval_level, source,
                          checkin_code, pass_token, created_at, updated_at, cancelled_at, cancelled_by, reason,
                          user_confirmed_at, checked_in_at)
    SELECT id, userid, facility, date, slot, starts_at, ends_at, state, approval_level, source,
           checkin_code, pass_token, created_at, updated_at, cancelled_at, cancelled_by, reason,
           user_confirmed_at, checked_in_at
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

CREATE TABLE outbox_new (
    id               INTEGER PRIMARY KEY,
    dedupe_key       TEXT NOT NULL UNIQUE,
    recipient        TEXT NOT NULL,            -- userid, '@all', or 'party:1|2'
    kind             TEXT NOT NULL,            -- text | markdown | textcard | template_card | update_card
    formal           INTEGER NOT NULL DEFAULT 0,
    payload          TEXT NOT NULL,            -- JSON: the message body without touser/agentid
    state            TEXT NOT NULL DEFAULT 'pending'
                       CHECK (state = 'pending' OR state = 'done' OR state = 'failed'),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    sent_at          INTEGER,
    msgid            TEXT,
    response_code    TEXT,
    last_error       TEXT,
    claimed_until    INTEGER
);
INSERT INTO outbox_new (id, dedupe_key, recipient, kind, formal, payload, state, attempts, next_attempt_at,
                        created_at, sent_at, msgid, response_code, last_error, claimed_until)
    SELECT id, dedupe_key, recipient, kind, formal, payload, state, attempts, next_attempt_at,
           created_at, sent_at, msgid, response_code, last_error, claimed_until
    FROM outbox;
DROP TABLE outbox;
ALTER TABLE outbox_new RENAME TO outbox;
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);
CREATE INDEX outbox_sent_to ON outbox (recipient, sent_at);

CREATE TABLE waitlist_new (
    id           INTEGER PRIMARY KEY,
    userid       TEXT NOT NULL REFERENCES users (userid),
    facility     TEXT NOT NULL,
    date         TEXT NOT NULL,
    slot         INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    state        TEXT NOT NULL DEFAULT 'waiting' CHECK (state = 'waiting' OR state = 'promoted' OR state = 'left'
                                                        OR state = 'closed' OR state = 'expired'),
    booking_id   INTEGER REFERENCES bookings (id),
    updated_at   INTEGER NOT NULL
);
INSERT INTO waitlist_new (id, userid, facility, date, slot, created_at, state, booking_id, updated_at)
    SELECT id, userid, facility, date, slot, created_at, state, booking_id, updated_at FROM waitlist;
DROP TABLE waitlist;
ALTER TABLE waitlist_new RENAME TO waitlist;
CREATE UNIQUE INDEX waitlist_once ON waitlist (userid, facility, date, slot) WHERE state = 'waiting';
CREATE INDEX waitlist_queue ON waitlist (facility, date, slot, id) WHERE state = 'waiting';

CREATE TABLE demand_events_new (
    id        INTEGER PRIMARY KEY,
    kind      TEXT NOT NULL CHECK (kind = 'refused_full' OR kind = 'waitlist_join' OR kind = 'promotion'),
    userid    TEXT NOT NULL,
    facility  TEXT NOT NULL,
    date      TEXT NOT NULL,
    slot      INTEGER NOT NULL,
    at        INTEGER NOT NULL
);
INSERT INTO demand_events_new (id, kind, userid, facility, date, slot, at)
    SELECT id, kind, userid, facility, date, slot, at FROM demand_events;
DROP TABLE demand_events;
ALTER TABLE demand_events_new RENAME TO demand_events;
CREATE INDEX demand_events_by_date ON demand_events (date);
