-- The mission step each purchase counted for, per mission (mission_tracker.on_purchases): a
-- return in full takes back the steps of its purchase and re-opens the completions that leaves
-- short (return_takebacks.py); a purchase the ledger refuses takes its rows with it
-- (withdrawal.py). Purchases counted before this migration have none, and their returns take no
-- step back.
CREATE TABLE purchase_mission_steps (
    program_id text NOT NULL,
    member_id text NOT NULL,
    transaction_id text NOT NULL,
    mission_id text NOT NULL,
    attempt integer NOT NULL,
    step integer NOT NULL,
    PRIMARY KEY (program_id, member_id, transaction_id, mission_id)
);
