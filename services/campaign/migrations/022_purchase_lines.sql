-- The lines of each purchase recorded with line detail (RecordPurchase's line_items, or
-- IngestTransactions' line columns), with the points each earned (services/campaign/line_points.py:
-- the purchase's points after caps, bonuses and stacking, attributed to its lines so that they
-- add up to them), and what returns by line took of each so far (return_lines.py), in the
-- purchase's order. One row per purchase, the lines as arrays: a return reads and rewrites one
-- row. Purchases without line detail, and those recorded before this migration, have none: a
-- return by line of one of them is reversed pro rata to its refunded amount, as before.
-- quantities: as given, 0 (not given) counting as 1.
CREATE TABLE purchase_lines (
    program_id text NOT NULL,
    member_id text NOT NULL,
    transaction_id text NOT NULL,
    skus text[] NOT NULL,
    quantities bigint[] NOT NULL,
    amounts_minor bigint[] NOT NULL,
    points bigint[] NOT NULL,
    returned_quantities bigint[] NOT NULL,
    returned_amounts_minor bigint[] NOT NULL,
    returned_points bigint[] NOT NULL,
    PRIMARY KEY (program_id, member_id, transaction_id)
);
