-- Bookings in the members' calendars.
-- The WeCom schedule made for a booking (oa/schedule/add answers its id).
ALTER TABLE bookings ADD COLUMN schedule_id TEXT;
-- Raised on every change a calendar shows (state, time): the ICS feed's SEQUENCE.
ALTER TABLE bookings ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
CREATE TRIGGER bookings_revision AFTER UPDATE OF state, date, slot, starts_at, ends_at ON bookings
WHEN OLD.state IS NOT NEW.state OR OLD.date IS NOT NEW.date OR OLD.slot IS NOT NEW.slot
  OR OLD.starts_at IS NOT NEW.starts_at OR OLD.ends_at IS NOT NEW.ends_at
BEGIN
    UPDATE bookings SET revision = revision + 1 WHERE id = NEW.id;
END;

-- Messages with the same sequence key are sent in the order queued (a schedule's delete
-- never overtakes its add): one is held while an earlier one of its key is pending.
ALTER TABLE outbox ADD COLUMN sequence_key TEXT;
CREATE INDEX outbox_in_sequence ON outbox (sequence_key, id) WHERE sequence_key IS NOT NULL AND state = 'pending';

-- The secret of each member's calendar feed (/calendar/<token>.ics); a reset replaces it.
CREATE TABLE calendar_feeds (
    userid      TEXT PRIMARY KEY REFERENCES users (userid),
    token       TEXT NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);
