-- Qualifying amounts of days other than the account's day bucket (migration 006) are appended,
-- a row per batch, member and day, rather than added into one row per member and day: an import
-- of past purchases brings most of its items here, and a COPY of new rows costs a fraction of an
-- upsert, which also had to lock its rows in order against concurrent batches. A member's amount
-- of a day is the sum of its rows. The only reader, re-qualification, deletes a program's days
-- that left the window: by day, which the new index serves.
ALTER TABLE qualifying_days DROP CONSTRAINT qualifying_days_pkey;
CREATE INDEX qualifying_days_by_day ON qualifying_days (program_id, day);
