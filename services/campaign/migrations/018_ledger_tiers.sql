-- The program's tiers as the ledger last announced them (TierDefinitionsChanged): their codes
-- and the mappings of removed codes still in force (from_codes[i] -> to_codes[i]). Only the
-- newest version is kept, so a redelivery or a late older announcement changes nothing
-- (services/campaign/consumers_tiers.py). Earning rules follow the mappings when compiled
-- (a rule naming a renamed tier matches the tier its members went to); rules and segments
-- naming codes the tiers do not define are reported, never rewritten.
CREATE TABLE program_tiers (
    program_id text PRIMARY KEY,
    version bigint NOT NULL,
    tier_codes text[] NOT NULL,
    from_codes text[] NOT NULL,
    to_codes text[] NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
