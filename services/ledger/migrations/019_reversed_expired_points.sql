-- The points of a credit (an earn, an adjustment) that had expired when a `Reverse` of it came:
-- they count as taken back, and the tier progress the credit gave for them is taken back with
-- the rest (tier progress counts what was earned, not what is left), once (reversals.py). A
-- refund of the purchase does not count them again (refunds.expired_points, migration 016, is
-- the refunds' own count). Reversals before this migration counted none.
CREATE TABLE reversed_expired_points (
    program_id text NOT NULL,
    member_id text NOT NULL,
    posting_id bigint NOT NULL,
    expired_points bigint NOT NULL CHECK (expired_points >= 0),
    PRIMARY KEY (program_id, member_id, posting_id)
);
