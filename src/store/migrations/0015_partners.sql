-- Partners (预约 羽毛球 周三 18:30 和 lisi wangwu): a place taken for a partner is a booking of
-- the partner's, booked by the booker (whose quota it counts against), invited until answered.
ALTER TABLE bookings ADD COLUMN booked_by TEXT;
ALTER TABLE bookings ADD COLUMN partner_state TEXT;     -- 'invited' | 'accepted' | 'declined'
CREATE INDEX bookings_by_booker ON bookings (booked_by, starts_at) WHERE booked_by IS NOT NULL;
