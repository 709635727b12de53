-- The program's tiers as the ledger last announced them (TierDefinitionsChanged): the ledger
-- owns tiers, and identity follows its entry tier, which a rename there changes. Kept apart
-- from programs because the announcement may arrive before identity's program is created; the
-- version keeps the newest, so a late redelivery of an older one changes nothing.
CREATE TABLE ledger_tiers (
    program_id text PRIMARY KEY,
    version bigint NOT NULL,
    entry_tier_code text NOT NULL,
    tier_codes text[] NOT NULL,
    -- Removed code -> the tier its members went to, as parallel arrays.
    mapped_from_codes text[] NOT NULL,
    mapped_to_codes text[] NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
