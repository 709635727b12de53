-- A calendar-year window's qualifying amount of the year that ended, kept on the account when the
-- window moves on 1 January (tiering.decay_qualifying), before the days of that year are taken
-- off: tiers are judged on the greater of last year's amount and this year's so far, so the
-- re-qualification after 1 January judges the year that ended, not the new one's first hours.
-- previous_window_start is the first day of the year the amount is for; an amount kept for any
-- other year counts for nothing. Not indexed, so the account updates stay HOT.
ALTER TABLE member_accounts
    ADD COLUMN previous_window_qualifying bigint NOT NULL DEFAULT 0,
    ADD COLUMN previous_window_start date;
