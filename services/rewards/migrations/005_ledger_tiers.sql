-- The program's tiers as the ledger last announced them (TierDefinitionsChanged), newest
-- version kept, so a late older announcement changes nothing (services/rewards/tier_codes.py).
CREATE TABLE program_tiers (
    program_id text PRIMARY KEY,
    version bigint NOT NULL,
    tier_codes text[] NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);

-- Tier codes a reward's eligibility or a tier's perks name that the ledger's tiers neither
-- define nor map (a tier removed without a mapping, or never defined): such a reward is
-- eligible to nobody in that tier, such perks are granted to nobody. Kept for operators to
-- list (ListRewards undefined_tier_codes_only) and counted (loyalty_rewards_undefined_tier_codes).
-- kind is 'reward' (subject_id: the reward id) or 'perk' (subject_id: the perk code).
CREATE TABLE undefined_tier_codes (
    program_id text NOT NULL,
    kind text NOT NULL,
    subject_id text NOT NULL,
    tier_code text NOT NULL,
    found_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (program_id, kind, subject_id, tier_code)
);
