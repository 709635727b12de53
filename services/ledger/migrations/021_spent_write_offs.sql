-- Under the WRITE_OFF policy, what a refund wrote off because the member had spent the points,
-- kept per spend (a redeem, or a hold's commit, by its posting id): the spends that took the
-- purchase's points, the latest first, each at most what it took of them; and, at a commit,
-- the write-off of its held points that stood (migration 017). Cancelling the spend (`Reverse`
-- of it) gives its points back, and they pay back first what the spend still owes here
-- (spent_write_offs.py), so the member never keeps refunded points; a spend made after the
-- refund owes nothing. Refunds written off before this migration are not recovered.
CREATE TABLE spent_write_offs (
    program_id text NOT NULL,
    member_id text NOT NULL,
    posting_id bigint NOT NULL,
    written_off_points bigint NOT NULL CHECK (written_off_points > 0),
    paid_back_points bigint NOT NULL DEFAULT 0
        CHECK (paid_back_points >= 0 AND paid_back_points <= written_off_points),
    PRIMARY KEY (program_id, member_id, posting_id)
);
