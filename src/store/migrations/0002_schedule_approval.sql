-- A worker claims a row before sending it, so two processes (serve and tick) never send one
-- row twice; a claim lapses if its worker dies.
ALTER TABLE outbox ADD COLUMN claimed_until INTEGER;

-- No-shows count as strikes; enough in a window suspend booking. An admin may forgive one.
CREATE TABLE strikes (
    id           INTEGER PRIMARY KEY,
    userid       TEXT NOT NULL REFERENCES users (userid),
    booking_id   INTEGER NOT NULL UNIQUE REFERENCES bookings (id),
    at           INTEGER NOT NULL,
    forgiven_at  INTEGER,
    forgiven_by  TEXT
);
CREATE INDEX strikes_by_user ON strikes (userid, at);

-- One approval card per approver and level; its task id and the response code to update it.
CREATE TABLE approval_cards (
    id             INTEGER PRIMARY KEY,
    booking_id     INTEGER NOT NULL REFERENCES bookings (id),
    level          INTEGER NOT NULL,
    approver       TEXT NOT NULL,
    task_id        TEXT NOT NULL UNIQUE,
    outbox_key     TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    UNIQUE (booking_id, level, approver)
);

-- The first decision per level wins (the primary key refuses a second).
CREATE TABLE approval_decisions (
    booking_id  INTEGER NOT NULL REFERENCES bookings (id),
    level       INTEGER NOT NULL,
    approver    TEXT NOT NULL,
    decision    TEXT NOT NULL CHECK (decision IN ('approve', 'reject')),
    reason      TEXT,
    at          INTEGER NOT NULL,
    PRIMARY KEY (booking_id, level)
);

-- What the scheduler's cron jobs did (publish, digest), so a restart never repeats one.
CREATE TABLE job_runs (
    job      TEXT NOT NULL,
    period   TEXT NOT NULL,
    ran_at   INTEGER NOT NULL,
    PRIMARY KEY (job, period)
);

-- The scheduler's scans look only at bookings still waiting for something. One index per
-- state: SQLite uses a partial index only when the query's WHERE names its condition exactly.
CREATE INDEX bookings_confirmed_by_start ON bookings (starts_at) WHERE state = 'confirmed';
CREATE INDEX bookings_pending_by_start ON bookings (starts_at) WHERE state = 'pending';
