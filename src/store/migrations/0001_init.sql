-- Instants are INTEGER unix seconds (UTC); calendar dates are TEXT 'YYYY-MM-DD' in the
-- configured time zone; a slot is its 1-based number in the slot table.

CREATE TABLE users (
    userid        TEXT PRIMARY KEY,
    role          TEXT NOT NULL DEFAULT 'staff' CHECK (role IN ('staff', 'admin')),
    department    TEXT,
    created_at    INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    suspended_until INTEGER                    -- no new bookings before this instant
);

-- One row per callback acted on, with the reply it got: a WeCom retry gets the same reply.
CREATE TABLE processed_callbacks (
    dedupe_key  TEXT PRIMARY KEY,
    userid      TEXT NOT NULL,
    kind        TEXT NOT NULL,
    reply_kind  TEXT NOT NULL,
    reply       TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX processed_callbacks_age ON processed_callbacks (created_at);

-- Messages to send, written in the same transaction as the change that causes them.
CREATE TABLE outbox (
    id               INTEGER PRIMARY KEY,
    dedupe_key       TEXT NOT NULL UNIQUE,
    recipient        TEXT NOT NULL,            -- userid, '@all', or 'party:1|2'
    kind             TEXT NOT NULL,            -- text | markdown | textcard | template_card | update_card
    formal           INTEGER NOT NULL DEFAULT 0,
    payload          TEXT NOT NULL,            -- JSON: the message body without touser/agentid
    state            TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'done', 'failed')),
    attempts         INTEGER NOT NULL DEFAULT 0,
    next_attempt_at  INTEGER NOT NULL,
    created_at       INTEGER NOT NULL,
    sent_at          INTEGER,
    msgid            TEXT,
    response_code    TEXT,
    last_error       TEXT
);
CREATE INDEX outbox_due ON outbox (state, next_attempt_at);

CREATE TABLE bookings (
    id                 INTEGER PRIMARY KEY,
    userid             TEXT NOT NULL REFERENCES users (userid),
    facility           TEXT NOT NULL,
    date               TEXT NOT NULL,
    slot               INTEGER NOT NULL CHECK (slot >= 1),
    starts_at          INTEGER NOT NULL,
    ends_at            INTEGER NOT NULL CHECK (ends_at > starts_at),
    state              TEXT NOT NULL CHECK (state IN
                         ('pending', 'confirmed', 'checked_in', 'cancelled', 'rejected',
                          'no_show', 'closed', 'expired')),
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
-- One user holds at most one live booking per facility slot.
CREATE UNIQUE INDEX bookings_one_per_user_slot ON bookings (userid, facility, date, slot)
    WHERE state IN ('pending', 'confirmed', 'checked_in');
CREATE INDEX bookings_live_by_slot ON bookings (facility, date, slot)
    WHERE state IN ('pending', 'confirmed', 'checked_in');
CREATE INDEX bookings_by_user ON bookings (userid, starts_at);
CREATE INDEX bookings_by_start ON bookings (starts_at);

CREATE TABLE waitlist (
    id           INTEGER PRIMARY KEY,
    userid       TEXT NOT NULL REFERENCES users (userid),
    facility     TEXT NOT NULL,
    date         TEXT NOT NULL,
    slot         INTEGER NOT NULL,
    created_at   INTEGER NOT NULL,
    state        TEXT NOT NULL DEFAULT 'waiting' CHECK (state IN ('waiting', 'promoted', 'left', 'closed', 'expired')),
    booking_id   INTEGER REFERENCES bookings (id),
    updated_at   INTEGER NOT NULL
);
CREATE UNIQUE INDEX waitlist_once ON waitlist (userid, facility, date, slot) WHERE state = 'waiting';
CREATE INDEX waitlist_queue ON waitlist (facility, date, slot, id) WHERE state = 'waiting';

-- Weeks opened for booking beyond the current one (by publish_week or 发布).
CREATE TABLE open_weeks (
    week_start  TEXT PRIMARY KEY,              -- the Monday
    opened_at   INTEGER NOT NULL,
    opened_by   TEXT NOT NULL
);

-- Stop-use (停用) periods; ends_at NULL = until reopened.
CREATE TABLE closures (
    id          INTEGER PRIMARY KEY,
    facility    TEXT NOT NULL,
    starts_at   INTEGER NOT NULL,
    ends_at     INTEGER,
    reason      TEXT NOT NULL,
    created_by  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    ended_at    INTEGER
);
CREATE INDEX closures_by_facility ON closures (facility, starts_at);

-- A half-finished conversation per user (预约 健身房 → "which slot?").
CREATE TABLE dialogues (
    userid      TEXT PRIMARY KEY,
    state       TEXT NOT NULL,                 -- JSON of chat::dialogue::Dialogue
    updated_at  INTEGER NOT NULL
);

-- Demand the bookings table cannot show: refusals for a full slot, waitlist joins, promotions.
CREATE TABLE demand_events (
    id        INTEGER PRIMARY KEY,
    kind      TEXT NOT NULL CHECK (kind IN ('refused_full', 'waitlist_join', 'promotion')),
    userid    TEXT NOT NULL,
    facility  TEXT NOT NULL,
    date      TEXT NOT NULL,
    slot      INTEGER NOT NULL,
    at        INTEGER NOT NULL
);
CREATE INDEX demand_events_by_date ON demand_events (date);
