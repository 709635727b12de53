-- The reward catalog. Stock counters are columns so a redemption can reserve a unit with one
-- conditional UPDATE; the rest of the definition is the Reward message.
CREATE TABLE rewards (
    program_id text NOT NULL,
    reward_id text NOT NULL,
    kind smallint NOT NULL,
    status smallint NOT NULL,
    points_price bigint NOT NULL CHECK (points_price > 0),
    valid_from timestamptz,
    valid_until timestamptz,
    stock_unlimited boolean NOT NULL,
    stock_available bigint NOT NULL CHECK (stock_available >= 0),
    stock_reserved bigint NOT NULL DEFAULT 0 CHECK (stock_reserved >= 0),
    stock_redeemed bigint NOT NULL DEFAULT 0 CHECK (stock_redeemed >= 0),
    per_member_limit integer NOT NULL CHECK (per_member_limit >= 0),
    definition bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (program_id, reward_id),
    CHECK (valid_until IS NULL OR valid_from IS NULL OR valid_until > valid_from)
);

CREATE INDEX rewards_catalog ON rewards (program_id, status, points_price, reward_id);
