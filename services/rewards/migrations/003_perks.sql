-- Tier perks: what each tier grants, the tier each member is in (as told by the ledger's
-- TierChanged events) and the perks each member holds or once held.
CREATE TABLE tier_perks (
    program_id text NOT NULL,
    perk_code text NOT NULL,
    tier_code text NOT NULL,
    position integer NOT NULL,
    definition bytea NOT NULL,
    PRIMARY KEY (program_id, perk_code)
);

CREATE INDEX tier_perks_by_tier ON tier_perks (program_id, tier_code, position);

CREATE TABLE member_tiers (
    program_id text NOT NULL,
    member_id text NOT NULL,
    tier_code text NOT NULL,
    changed_at timestamptz NOT NULL,
    PRIMARY KEY (program_id, member_id)
);

CREATE INDEX member_tiers_by_tier ON member_tiers (program_id, tier_code, member_id);

CREATE TABLE member_perks (
    program_id text NOT NULL,
    member_id text NOT NULL,
    perk_code text NOT NULL,
    tier_code text NOT NULL,
    -- PerkStatus: 1 granted, 2 withdrawn.
    status smallint NOT NULL,
    granted_at timestamptz NOT NULL,
    withdrawn_at timestamptz,
    PRIMARY KEY (program_id, member_id, perk_code)
);

-- Events already applied, so a redelivery has no second effect.
CREATE TABLE processed_events (
    consumer text NOT NULL,
    event_id uuid NOT NULL,
    processed_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer, event_id)
);

CREATE INDEX processed_events_processed_at ON processed_events (processed_at);
