-- Places taken per facility slot, kept by triggers in the same transaction as every change
-- to a booking. A day's free places (every 空闲 answer, every full slot's alternatives) read
-- at most one row per facility slot here instead of counting every live booking of the day.
-- Admission itself still counts the bookings (see `insert_if_room`): this table only informs.
CREATE TABLE slot_usage (
    facility TEXT NOT NULL,
    date     TEXT NOT NULL,
    slot     INTEGER NOT NULL,
    used     INTEGER NOT NULL,
    PRIMARY KEY (date, facility, slot)
) WITHOUT ROWID;

INSERT INTO slot_usage (facility, date, slot, used)
    SELECT facility, date, slot, count(*) FROM bookings
    WHERE state IN ('pending', 'confirmed', 'checked_in') GROUP BY facility, date, slot;

CREATE TRIGGER slot_usage_on_insert AFTER INSERT ON bookings
WHEN NEW.state IN ('pending', 'confirmed', 'checked_in')
BEGIN
    INSERT INTO slot_usage (facility, date, slot, used) VALUES (NEW.facility, NEW.date, NEW.slot, 1)
        ON CONFLICT (date, facility, slot) DO UPDATE SET used = used + 1;
END;

CREATE TRIGGER slot_usage_on_leave AFTER UPDATE OF state, facility, date, slot ON bookings
WHEN OLD.state IN ('pending', 'confirmed', 'checked_in')
BEGIN
    UPDATE slot_usage SET used = used - 1 WHERE facility = OLD.facility AND date = OLD.date AND slot = OLD.slot;
END;

CREATE TRIGGER slot_usage_on_enter AFTER UPDATE OF state, facility, date, slot ON bookings
WHEN NEW.state IN ('pending', 'confirmed', 'checked_in')
BEGIN
    INSERT INTO slot_usage (facility, date, slot, used) VALUES (NEW.facility, NEW.date, NEW.slot, 1)
        ON CONFLICT (date, facility, slot) DO UPDATE SET used = used + 1;
END;

CREATE TRIGGER slot_usage_on_delete AFTER DELETE ON bookings
WHEN OLD.state IN ('pending', 'confirmed', 'checked_in')
BEGIN
    UPDATE slot_usage SET used = used - 1 WHERE facility = OLD.facility AND date = OLD.date AND slot = OLD.slot;
END;
