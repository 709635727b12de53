-- The points of a refunded purchase that had expired before a refund came to take them back:
-- they went to the program's expired account already, so a refund counts them as taken back
-- (first, as it takes a purchase's own lot first) and never takes them a second time from the
-- member's other points or as debt (reversals.py). Refunds before this migration counted none.
ALTER TABLE refunds ADD COLUMN expired_points bigint NOT NULL DEFAULT 0 CHECK (expired_points >= 0);
