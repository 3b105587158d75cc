-- App messages sent per local day, against wecom.daily_message_budget; `warned` marks the
-- admins told that 80 % was reached.
CREATE TABLE send_days (
    day     TEXT PRIMARY KEY,
    sent    INTEGER NOT NULL DEFAULT 0,
    warned  INTEGER NOT NULL DEFAULT 0
);
