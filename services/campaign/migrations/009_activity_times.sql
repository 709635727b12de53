-- The time campaign gave an activity that came without occurred_at, kept outside the transaction
-- that records it: when that transaction is lost after the ledger posted the points, the client's
-- retry gets the same time, hence the same ledger earn, instead of one the ledger refuses under
-- the same key. A row lives until the activity is recorded.
CREATE TABLE activity_times (
    program_id text NOT NULL,
    member_id text NOT NULL,
    activity_id text NOT NULL,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (program_id, member_id, activity_id)
);
