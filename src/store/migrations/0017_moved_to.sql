-- 改约 cancels the old booking and takes a new one with a new number. A member who then says
-- 「取消 12」 with the old number is told where it went: the old row names the new one.
ALTER TABLE bookings ADD COLUMN moved_to INTEGER REFERENCES bookings(id);
