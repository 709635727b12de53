-- Where the members of a removed tier go, kept after SetTierDefinitions moved them: a replica
-- whose program cache still held the old tiers (or a transaction begun before the change) may
-- write a removed code afterwards, and the tier jobs and EvaluateTiers move such an account as
-- the operator mapped it (services/ledger/tiering.py). from_threshold is the removed tier's
-- threshold, so the late move reads as up, down or lateral as the mapping's moves did. A
-- mapping whose target is removed later follows that target's own mapping.
CREATE TABLE tier_code_mappings (
    program_id text NOT NULL REFERENCES programs (program_id),
    from_tier_code text NOT NULL,
    to_tier_code text NOT NULL,
    from_threshold bigint NOT NULL,
    mapped_at timestamptz NOT NULL,
    PRIMARY KEY (program_id, from_tier_code)
);

-- When the program's tiers last changed: the tier job looks for accounts holding a code the
-- tiers do not define until a while after it (jobs.TIER_SWEEP_GRACE), not on every run.
ALTER TABLE programs ADD COLUMN tiers_changed_at timestamptz;
