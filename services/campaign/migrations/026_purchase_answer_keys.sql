-- The RecordPurchase key each purchase was recorded under. The same purchase sent again under
-- another key is a duplicate, answered with the first answer (its breakdown per rule with names
-- and explanations, its posting and vesting), which idempotency_keys keeps under this key
-- (services/campaign/repository_answer_keys.py). Purchases recorded by IngestTransactions (whose
-- answers are per batch) or before this migration have none: a duplicate of one is answered
-- from its transactions row (points per rule only), as before.
CREATE TABLE purchase_answer_keys (
    program_id text NOT NULL,
    member_id text NOT NULL,
    transaction_id text NOT NULL,
    idempotency_key text NOT NULL,
    PRIMARY KEY (program_id, member_id, transaction_id)
);
