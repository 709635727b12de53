-- Bulk earning keeps each member's latest qualifying day on the account row, which it updates
-- anyway, instead of one qualifying_days row per member and day: a member's qualifying amount of
-- a day is its qualifying_days row (if any) plus the account's day bucket when the days match.
-- When a batch brings a later day, the update moves the bucket out (qualifying_moved_*, read
-- back by the same statement's RETURNING, which sees only new values) and the batch writes it to
-- qualifying_days. The columns are not indexed, so the account updates stay HOT.
ALTER TABLE member_accounts
    ADD COLUMN qualifying_day date,
    ADD COLUMN qualifying_day_amount bigint NOT NULL DEFAULT 0,
    ADD COLUMN qualifying_moved_day date,
    ADD COLUMN qualifying_moved_amount bigint NOT NULL DEFAULT 0;

-- Every earn writes a lot, and every index of lots is written with it: one index serves both the
-- expiry job (all due lots: expiry_noticed IN (false, true), one range scan each) and the expiry
-- notices (NOT expiry_noticed within the notice window), instead of one index each.
DROP INDEX lots_expiring;
DROP INDEX lots_expiry_notice;
CREATE INDEX lots_expiring ON lots (expiry_noticed, expires_at)
    WHERE remaining > 0 AND expires_at IS NOT NULL;
