-- A day's free places (every 空闲 answer and every full-slot refusal's alternatives) read the
-- live bookings of one date grouped by facility and slot: this index answers that alone,
-- in order (state included, so no row is read), instead of a scan of every booking ever
-- made and a sort.
CREATE INDEX bookings_live_by_day ON bookings (date, facility, slot, state)
    WHERE state IN ('pending', 'confirmed', 'checked_in');
