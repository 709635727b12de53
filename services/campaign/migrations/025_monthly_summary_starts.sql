-- When the monthly summary job first saw a program's MONTHLY_SUMMARY notifications switched on,
-- by the job's own clock (the as-of it is run with). Only months that end after it are
-- summarised, so switching summaries on sends the first one when the month it was switched on in
-- ends, never a summary of the month before (sent mid-month, of a month nobody had them in).
-- ConfigureNotificationPolicy deletes the row when they are switched off or on, so switching
-- them on again starts afresh. As top_of_month_starts (migration 017).
CREATE TABLE monthly_summary_starts (
    program_id text PRIMARY KEY,
    since timestamptz NOT NULL
);

-- Programs whose job already summarised a month keep being summarised every month: they start
-- from their first summarised month, so the month ended before this migration is still
-- summarised if it was not yet.
INSERT INTO monthly_summary_starts (program_id, since)
SELECT program_id, min(done_at) FROM job_runs WHERE job = 'monthly_summary' GROUP BY program_id;
