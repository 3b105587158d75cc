-- The scheduler marks on the booking itself that its confirmation and its reminder were due
-- (was: looked for the notice's row in the outbox, which the booking rules should not know).
ALTER TABLE bookings ADD COLUMN confirm_asked_at INTEGER;
ALTER TABLE bookings ADD COLUMN reminded_at INTEGER;
UPDATE bookings SET confirm_asked_at = (SELECT o.created_at FROM outbox o WHERE o.dedupe_key = 'confirm:' || bookings.id)
WHERE EXISTS (SELECT 1 FROM outbox o WHERE o.dedupe_key = 'confirm:' || bookings.id);
UPDATE bookings SET reminded_at = (SELECT o.created_at FROM outbox o WHERE o.dedupe_key = 'remind:' || bookings.id)
WHERE EXISTS (SELECT 1 FROM outbox o WHERE o.dedupe_key = 'remind:' || bookings.id);
