-- Redemptions as a recorded state machine. Each step is written before the external call that
-- follows it, so a redemption left mid-way by a crash can be finished or undone by the recovery
-- worker (see services/rewards/redemptions.py). Member data is keyed by (program, member); the
-- lookup tables (redemption_members, codes) resolve an id or a code presented at a till.
CREATE TABLE redemptions (
    program_id text NOT NULL,
    member_id text NOT NULL,
    redemption_id text NOT NULL,
    idempotency_key text NOT NULL,
    request_hash bytea NOT NULL,
    reward_id text NOT NULL,
    quantity integer NOT NULL CHECK (quantity > 0),
    points bigint NOT NULL CHECK (points > 0),
    channel smallint NOT NULL DEFAULT 0,
    store_id text NOT NULL DEFAULT '',
    -- pending, hold_placed, stock_reserved, code_issued, committed, voiding, voided,
    -- cancelling, cancelled.
    step text NOT NULL,
    -- The RedemptionStatus the step shows as.
    status smallint NOT NULL,
    hold_id text NOT NULL DEFAULT '',
    posting_id text NOT NULL DEFAULT '',
    stock_reserved boolean NOT NULL DEFAULT false,
    codes_issued boolean NOT NULL DEFAULT false,
    failure_code text NOT NULL DEFAULT '',
    failure_reason text NOT NULL DEFAULT '',
    -- Set when a cancellation asked for the redemption to be undone before it completed.
    cancel_requested boolean NOT NULL DEFAULT false,
    cancel_idempotency_key text,
    cancel_request_hash bytea,
    cancel_reason text NOT NULL DEFAULT '',
    cancel_operator_id text NOT NULL DEFAULT '',
    returned_points bigint NOT NULL DEFAULT 0,
    -- Who drives the redemption, until when; an expired lease is taken over by recovery.
    lease_owner uuid,
    lease_until timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    cancelled_at timestamptz,
    PRIMARY KEY (program_id, member_id, redemption_id),
    UNIQUE (program_id, member_id, idempotency_key)
);

CREATE INDEX redemptions_unfinished ON redemptions (lease_until)
    WHERE step NOT IN ('committed', 'voided', 'cancelled');
CREATE INDEX redemptions_by_member ON redemptions (program_id, member_id, created_at DESC, redemption_id DESC);
CREATE INDEX redemptions_by_program ON redemptions (program_id, created_at DESC, redemption_id DESC);

-- Which member a redemption belongs to, for reads by redemption id alone.
CREATE TABLE redemption_members (
    program_id text NOT NULL,
    redemption_id text NOT NULL,
    member_id text NOT NULL,
    PRIMARY KEY (program_id, redemption_id)
);

-- Which member holds which idempotency key of Redeem; keys are per program, members are not.
CREATE TABLE redemption_keys (
    program_id text NOT NULL,
    idempotency_key text NOT NULL,
    member_id text NOT NULL,
    redemption_id text NOT NULL,
    PRIMARY KEY (program_id, idempotency_key)
);

-- Units of each reward a member redeemed and did not get back: the per-member limit's counter,
-- locked by the upsert that reserves a unit.
CREATE TABLE member_reward_counts (
    program_id text NOT NULL,
    member_id text NOT NULL,
    reward_id text NOT NULL,
    redeemed_count integer NOT NULL CHECK (redeemed_count >= 0),
    PRIMARY KEY (program_id, member_id, reward_id)
);

-- Issued codes, looked up by the code a till presents. Generated codes are stored in their
-- canonical form (Crockford base32, upper case, no separators); partner codes as imported.
CREATE TABLE codes (
    program_id text NOT NULL,
    code text NOT NULL,
    member_id text NOT NULL,
    redemption_id text NOT NULL,
    reward_id text NOT NULL,
    partner boolean NOT NULL DEFAULT false,
    store_ids text[] NOT NULL DEFAULT '{}',
    expires_at timestamptz,
    issued_at timestamptz NOT NULL DEFAULT now(),
    -- Set when the redemption commits; until then the code is not usable.
    activated_at timestamptz,
    cancelled_at timestamptz,
    used_at timestamptz,
    used_store_id text NOT NULL DEFAULT '',
    used_till_id text NOT NULL DEFAULT '',
    used_transaction_id text NOT NULL DEFAULT '',
    PRIMARY KEY (program_id, code)
);

CREATE INDEX codes_by_redemption ON codes (program_id, redemption_id);

-- Partner-issued codes waiting in a reward's pool; a redemption takes them in import order.
CREATE TABLE partner_codes (
    program_id text NOT NULL,
    code text NOT NULL,
    reward_id text NOT NULL,
    seq bigserial NOT NULL,
    expires_at timestamptz,
    redemption_id text,
    imported_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (program_id, code)
);

CREATE INDEX partner_codes_pool ON partner_codes (program_id, reward_id, seq)
    WHERE redemption_id IS NULL;
CREATE INDEX partner_codes_by_redemption ON partner_codes (program_id, redemption_id)
    WHERE redemption_id IS NOT NULL;
