-- A card a member's next card of the same makes stale (the free slots of another day, a
-- booking's card asked for again) is not sent if that newer one waits too: `replaces` names
-- what it shows (`choices`, `booking:12`). Found through `outbox_sent_to`, whose entries of a
-- member's unsent rows (sent_at NULL) are the few rows still waiting.
ALTER TABLE outbox ADD COLUMN replaces TEXT;
