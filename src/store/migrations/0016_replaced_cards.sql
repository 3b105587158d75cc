-- A card a member's next question makes stale (the free slots of another day, a booking's card
-- asked for again) is replaced while it still waits to go: `replaces` names what it shows
-- (`choices`, `booking:12`). The index holds only cards still waiting.
ALTER TABLE outbox ADD COLUMN replaces TEXT;
CREATE INDEX outbox_replaceable ON outbox (recipient, replaces) WHERE replaces IS NOT NULL AND state = 'pending';
