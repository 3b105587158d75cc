-- A member's own settings: light reminders off, their lead time, quiet hours (minutes since
-- local midnight; quiet_from > quiet_to spans midnight).
CREATE TABLE member_settings (
    userid                 TEXT PRIMARY KEY REFERENCES users (userid),
    reminders_off          INTEGER NOT NULL DEFAULT 0,
    remind_before_minutes  INTEGER,
    quiet_from             INTEGER,
    quiet_to               INTEGER,
    updated_at             INTEGER NOT NULL
);

-- A light notice the member did not ask for just now (a reminder, an approver's card): it
-- waits for the end of the member's quiet hours. Replies to the member's own doings do not.
ALTER TABLE outbox ADD COLUMN waits_for_quiet INTEGER NOT NULL DEFAULT 0;
