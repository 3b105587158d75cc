-- A member's recent deliveries, for the outbox's per-member rate limit (one lookup per message
-- claimed). Without it every claim scanned the whole outbox, which only grows.
CREATE INDEX outbox_sent_to ON outbox (recipient, sent_at);
