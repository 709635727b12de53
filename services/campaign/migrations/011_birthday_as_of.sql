-- When the birthday campaign holds was true (the occurred_at of the identity event that set it):
-- identity's events can come back out of order (a redelivery after a later change), and an older
-- one must not undo a newer birthday. NULL for rows from before this column, which any event
-- then updates.
ALTER TABLE members ADD COLUMN birthday_as_of timestamptz;
