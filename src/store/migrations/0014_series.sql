-- Recurring bookings (预约 羽毛球 每周三 18:30 4周): a series, its bookings, and the dates of
-- weeks not yet open that are held for it (booked when the week opens, before everyone else).
CREATE TABLE series (
    id          INTEGER PRIMARY KEY,
    userid      TEXT NOT NULL REFERENCES users (userid),
    facility    TEXT NOT NULL,
    slots       TEXT NOT NULL,             -- the slot numbers of each occurrence, e.g. '10' or '10,11'
    weekdays    INTEGER NOT NULL,          -- bit 0 = Monday … bit 6 = Sunday
    first_date  TEXT NOT NULL,
    last_date   TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'active' CHECK (state = 'active' OR state = 'ended'),
    end_reason  TEXT,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);
CREATE INDEX series_by_member ON series (userid) WHERE state = 'active';

ALTER TABLE bookings ADD COLUMN series_id INTEGER REFERENCES series (id);
CREATE INDEX bookings_by_series ON bookings (series_id, starts_at) WHERE series_id IS NOT NULL;

CREATE TABLE series_holds (
    series_id   INTEGER NOT NULL REFERENCES series (id),
    date        TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'held'
                CHECK (state = 'held' OR state = 'booked' OR state = 'failed' OR state = 'cancelled'),
    reason      TEXT,
    PRIMARY KEY (series_id, date)
) WITHOUT ROWID;
CREATE INDEX series_holds_due ON series_holds (date) WHERE state = 'held';
