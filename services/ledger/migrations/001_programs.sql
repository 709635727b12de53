-- The ledger's part of each program, and its tiers. Both are small reference tables (replicated
-- to every node under Citus); member data is keyed by (program_id, member_id).
CREATE TABLE programs (
    program_id text PRIMARY KEY,
    points_name text NOT NULL,
    currency char(3) NOT NULL,
    time_zone text NOT NULL,
    return_window_days integer NOT NULL CHECK (return_window_days BETWEEN 0 AND 365),
    expiry_kind smallint NOT NULL,
    expiry_months integer NOT NULL,
    expiry_period smallint NOT NULL,
    negative_balance_policy smallint NOT NULL,
    hold_ttl_seconds bigint NOT NULL CHECK (hold_ttl_seconds > 0),
    tier_window_kind smallint NOT NULL,
    tier_window_rolling_days integer NOT NULL,
    tier_requalification_period smallint NOT NULL,
    qualifying_basis smallint NOT NULL,
    rounding_mode smallint NOT NULL,
    expiry_notice_days integer NOT NULL,
    entry_tier_code text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tier_definitions (
    program_id text NOT NULL REFERENCES programs (program_id),
    code text NOT NULL,
    name text NOT NULL,
    rank integer NOT NULL,
    threshold bigint NOT NULL CHECK (threshold >= 0),
    benefits_text text NOT NULL,
    multiplier_bps integer NOT NULL CHECK (multiplier_bps >= 0),
    PRIMARY KEY (program_id, code),
    UNIQUE (program_id, rank)
);
