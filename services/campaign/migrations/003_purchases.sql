-- What campaign knows of members (from identity's and the ledger's events, and its own counts),
-- the purchases and returns it accrued, per-member cap counters, and ingest batches.
-- Member data is keyed by (program_id, member_id) first, for Citus distribution.

CREATE TABLE members (
    program_id text NOT NULL,
    member_id text NOT NULL,
    -- The tier, from MemberEnrolled and TierChanged; '' until known (the entry tier applies).
    tier_code text NOT NULL DEFAULT '',
    birthday_month smallint,
    birthday_day smallint,
    enrolled_at timestamptz,
    purchase_count bigint NOT NULL DEFAULT 0,
    spend_minor bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (program_id, member_id)
);

CREATE INDEX members_birthday ON members (program_id, birthday_month, birthday_day)
    WHERE birthday_month IS NOT NULL;

-- One row per accrued purchase or return; transaction ids are unique per member within a
-- program (as ledger item keys are), which is what de-duplicates replays.
-- kind: 1 purchase, 2 return. occurred_micros: unix microseconds (as the ingest columns).
-- applications: "rule_id@version:points" joined by commas.
CREATE TABLE transactions (
    program_id text NOT NULL,
    member_id text NOT NULL,
    transaction_id text NOT NULL,
    kind smallint NOT NULL,
    amount_minor bigint NOT NULL,
    points bigint NOT NULL,
    occurred_micros bigint NOT NULL,
    original_transaction_id text NOT NULL DEFAULT '',
    applications text NOT NULL DEFAULT '',
    batch_id text NOT NULL DEFAULT '',
    PRIMARY KEY (program_id, member_id, transaction_id)
);

CREATE INDEX transactions_month ON transactions (program_id, occurred_micros);

-- The accrued purchases again, one row per batch with columnar arrays (see
-- services/campaign/columnar.py), so a backtest reads a million transactions in a few rows.
CREATE TABLE purchase_archive (
    program_id text NOT NULL,
    archive_seq bigserial NOT NULL,
    first_occurred_at timestamptz NOT NULL,
    last_occurred_at timestamptz NOT NULL,
    transaction_count integer NOT NULL,
    columns bytea NOT NULL,
    PRIMARY KEY (program_id, archive_seq)
);

-- The arrays are written once and read whole: stored without compression, which costs CPU on
-- the hot path for little gain on numeric columns.
ALTER TABLE purchase_archive ALTER COLUMN columns SET STORAGE EXTERNAL;

CREATE INDEX purchase_archive_period ON purchase_archive (program_id, first_occurred_at, last_occurred_at);

-- Member cap counters of earning rules with per-member caps, per rule (all versions): the local
-- day, ISO week and month keys of ledger_core.new_cap_counters and the points used in each.
CREATE TABLE cap_counters (
    program_id text NOT NULL,
    member_id text NOT NULL,
    rule_id text NOT NULL,
    day_key bigint NOT NULL,
    day_points bigint NOT NULL,
    week_key bigint NOT NULL,
    week_points bigint NOT NULL,
    month_key bigint NOT NULL,
    month_points bigint NOT NULL,
    PRIMARY KEY (program_id, member_id, rule_id)
);

-- IngestTransactions batches. state 1: accrued and committed here, the ledger request and the
-- plan (which transaction each ledger item belongs to, the returns to reverse) stored but not yet
-- done; state 2: done, the response stored. A replay of a batch in state 1, or the recovery
-- worker, finishes it from what is stored (ledger items and reversals are idempotent).
CREATE TABLE ingest_batches (
    program_id text NOT NULL,
    batch_id text NOT NULL,
    request_hash bytea NOT NULL,
    state smallint NOT NULL,
    ledger_request bytea,
    plan jsonb,
    response bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (program_id, batch_id)
);

CREATE INDEX ingest_batches_unposted ON ingest_batches (updated_at) WHERE state = 1;
