-- A moved booking's WeCom schedule is the one its first booking had, updated in place: its
-- calendar entries keep that booking's sequence, so a later removal never overtakes the update.
ALTER TABLE bookings ADD COLUMN calendar_sequence TEXT;
