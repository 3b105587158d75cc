-- Waitlist offers: a place freed shortly before its start is held for the first waiter until
-- they accept or decline it, or `offered_until` passes (the scheduler then offers it on).
ALTER TABLE waitlist ADD COLUMN offered_until INTEGER;
CREATE INDEX waitlist_offers ON waitlist (offered_until) WHERE offered_until IS NOT NULL AND state = 'waiting';

-- A held place counts as taken in slot_usage (the day's free places), as it does at admission.
CREATE TRIGGER slot_usage_offer_held AFTER UPDATE OF offered_until ON waitlist
WHEN OLD.offered_until IS NULL AND NEW.offered_until IS NOT NULL AND NEW.state = 'waiting'
BEGIN
    INSERT INTO slot_usage (facility, date, slot, used) VALUES (NEW.facility, NEW.date, NEW.slot, 1)
        ON CONFLICT (date, facility, slot) DO UPDATE SET used = used + 1;
END;

CREATE TRIGGER slot_usage_offer_ended AFTER UPDATE OF offered_until, state ON waitlist
WHEN OLD.offered_until IS NOT NULL AND OLD.state = 'waiting'
  AND NOT (NEW.offered_until IS NOT NULL AND NEW.state = 'waiting')
BEGIN
    UPDATE slot_usage SET used = used - 1 WHERE facility = OLD.facility AND date = OLD.date AND slot = OLD.slot;
END;
