-- Member accounts, program accounts, postings, lots, holds and the refunds they reverse.
--
-- Every row of member data is keyed by (program_id, member_id) first, so under Citus all of a
-- member's rows live on one shard and no hot-path query joins across members.
--
-- A member account's ledger balance is vested + pending + held - debt, and always equals the sum
-- of its postings. vested + pending equals the remaining points of its lots; held equals the
-- points of its open holds (taken out of lots when the hold was placed, so expiry never eats
-- them). Program accounts are the other side of every posting; they are striped so concurrent
-- postings do not queue on one row, and the sum over all accounts of a program is zero.

CREATE SEQUENCE posting_ids AS bigint;
CREATE SEQUENCE lot_ids AS bigint;

CREATE TABLE member_accounts (
    program_id text NOT NULL,
    member_id text NOT NULL,
    vested bigint NOT NULL DEFAULT 0 CHECK (vested >= 0),
    pending bigint NOT NULL DEFAULT 0 CHECK (pending >= 0),
    held bigint NOT NULL DEFAULT 0 CHECK (held >= 0),
    debt bigint NOT NULL DEFAULT 0 CHECK (debt >= 0),
    lifetime_earned bigint NOT NULL DEFAULT 0,
    qualifying bigint NOT NULL DEFAULT 0,
    tier_code text NOT NULL,
    tier_since timestamptz NOT NULL,
    next_vest_at timestamptz,
    last_activity_at timestamptz NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (program_id, member_id)
);

CREATE INDEX member_accounts_vesting ON member_accounts (next_vest_at) WHERE next_vest_at IS NOT NULL;
CREATE INDEX member_accounts_activity ON member_accounts (program_id, last_activity_at);

-- kind: 1 issued, 2 redeemed, 3 expired, 4 adjusted, 5 reversed.
CREATE TABLE program_accounts (
    program_id text NOT NULL,
    kind smallint NOT NULL,
    stripe smallint NOT NULL,
    balance bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (program_id, kind, stripe)
);

-- One row per movement of a member account. amount is signed from the member's side; the other
-- side is a program account (counter_kind) or another member (counter_member_id).
CREATE TABLE postings (
    program_id text NOT NULL,
    member_id text NOT NULL,
    posting_id bigint NOT NULL,
    kind smallint NOT NULL,
    amount bigint NOT NULL,
    counter_kind smallint NOT NULL DEFAULT 0,
    counter_member_id text NOT NULL DEFAULT '',
    source_reference text NOT NULL DEFAULT '',
    reason bytea NOT NULL DEFAULT '',
    qualifying boolean NOT NULL DEFAULT false,
    qualifying_amount bigint NOT NULL DEFAULT 0,
    batch_id text NOT NULL DEFAULT '',
    item_key text,
    hold_id text NOT NULL DEFAULT '',
    reversed_posting_id bigint,
    available_after bigint NOT NULL,
    occurred_at timestamptz NOT NULL,
    posted_at timestamptz NOT NULL,
    PRIMARY KEY (program_id, member_id, posting_id),
    CHECK ((counter_kind = 0) <> (counter_member_id = ''))
);

CREATE INDEX postings_reference ON postings (program_id, member_id, source_reference)
    WHERE source_reference <> '';
CREATE UNIQUE INDEX postings_item_key ON postings (program_id, member_id, item_key)
    WHERE item_key IS NOT NULL;

CREATE TABLE lots (
    program_id text NOT NULL,
    member_id text NOT NULL,
    lot_id bigint NOT NULL,
    posting_id bigint NOT NULL,
    amount bigint NOT NULL CHECK (amount > 0),
    remaining bigint NOT NULL,
    vested boolean NOT NULL,
    earned_at timestamptz NOT NULL,
    vests_at timestamptz NOT NULL,
    expires_at timestamptz,
    source_reference text NOT NULL DEFAULT '',
    PRIMARY KEY (program_id, member_id, lot_id),
    CHECK (remaining BETWEEN 0 AND amount)
);

-- FIFO: a member's spendable lots, oldest expiry first (never-expiring last).
CREATE INDEX lots_fifo ON lots (program_id, member_id, expires_at NULLS LAST, lot_id)
    WHERE remaining > 0;
-- Expiry reads only the lots due, however large the ledger.
CREATE INDEX lots_expiring ON lots (expires_at) WHERE remaining > 0 AND expires_at IS NOT NULL;
CREATE INDEX lots_unvested ON lots (program_id, member_id, vests_at) WHERE NOT vested;
CREATE INDEX lots_posting ON lots (program_id, member_id, posting_id);

-- What a spend, a hold, a reversal or a transfer took from which lot.
CREATE TABLE lot_consumptions (
    program_id text NOT NULL,
    member_id text NOT NULL,
    consumer text NOT NULL,
    lot_id bigint NOT NULL,
    amount bigint NOT NULL CHECK (amount > 0),
    PRIMARY KEY (program_id, member_id, consumer, lot_id)
);

-- status: 1 held, 2 committed, 3 voided.
CREATE TABLE holds (
    program_id text NOT NULL,
    member_id text NOT NULL,
    hold_id text NOT NULL,
    amount bigint NOT NULL CHECK (amount > 0),
    status smallint NOT NULL,
    reference text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    closed_at timestamptz,
    void_reason smallint NOT NULL DEFAULT 0,
    posting_id bigint,
    PRIMARY KEY (program_id, member_id, hold_id)
);

-- Holds are addressed by id alone in the API; this finds their member.
CREATE TABLE hold_members (
    program_id text NOT NULL,
    hold_id text NOT NULL,
    member_id text NOT NULL,
    PRIMARY KEY (program_id, hold_id)
);

CREATE INDEX holds_open ON holds (expires_at) WHERE status = 1;

-- Refunds of a purchase, cumulative, so partial refunds reverse pro rata and never exceed it.
CREATE TABLE refunds (
    program_id text NOT NULL,
    member_id text NOT NULL,
    original_reference text NOT NULL,
    original_amount_minor bigint NOT NULL,
    refunded_amount_minor bigint NOT NULL,
    reversed_points bigint NOT NULL,
    PRIMARY KEY (program_id, member_id, original_reference)
);

CREATE TABLE tier_changes (
    program_id text NOT NULL,
    member_id text NOT NULL,
    change_id bigint GENERATED ALWAYS AS IDENTITY,
    from_tier_code text NOT NULL,
    to_tier_code text NOT NULL,
    direction smallint NOT NULL,
    reason smallint NOT NULL,
    qualifying_amount bigint NOT NULL,
    operator_id text NOT NULL DEFAULT '',
    note text NOT NULL DEFAULT '',
    changed_at timestamptz NOT NULL,
    PRIMARY KEY (program_id, member_id, change_id)
);

-- Qualifying points (or spend) per member per local day, for rolling tier windows.
CREATE TABLE qualifying_days (
    program_id text NOT NULL,
    member_id text NOT NULL,
    day date NOT NULL,
    amount bigint NOT NULL,
    PRIMARY KEY (program_id, member_id, day)
);
