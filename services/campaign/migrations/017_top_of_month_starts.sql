-- When the recognition job first saw a program's top members of the month switched on, by the
-- job's own clock (the clock it is run with, not the database's). Only months that end after it
-- are settled, so switching top-N on pays the month it was switched on in, never the month
-- before. ConfigureRecognition deletes the row when top-N is switched off or on, so switching it
-- on again starts afresh; changing only its points, basis or count keeps it.
CREATE TABLE top_of_month_starts (
    program_id text PRIMARY KEY,
    since timestamptz NOT NULL
);

-- Programs whose job already settled a month kept being paid every month: they start from their
-- first settled month, so the month ended before this migration is still paid if not settled yet.
INSERT INTO top_of_month_starts (program_id, since)
SELECT program_id, min(done_at) FROM job_runs WHERE job = 'top_of_month' GROUP BY program_id;
