-- A card a member's next question makes stale (the free slots of another day, a booking's card
-- asked for again) is replaced while it still waits to go: `replaces` names what it shows
-- (`choices`, `booking:12`), `replaced_by` the card sent instead of it (its state is then
-- 'done', with no `sent_at`). The index holds only cards still waiting.
ALTER TABLE outbox ADD COLUMN replaces TEXT;
ALTER TABLE outbox ADD COLUMN replaced_by INTEGER;
CREATE INDEX outbox_replaceable ON outbox (recipient, replaces) WHERE replaces IS NOT NULL AND state = 'pending';
