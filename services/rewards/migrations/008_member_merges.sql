-- Who was merged into whom (identity.member_merged), so a reward's per-member limit counts a
-- person once: what a merged member redeemed counts against the survivor. Kept closed under
-- merging: a member merged into a survivor brings the members merged into it before, so one
-- read by the survivor finds them all (services/rewards/redemption_store.py). Merges identity
-- made before this table existed are not known.
CREATE TABLE member_merges (
    program_id text NOT NULL,
    -- The survivor.
    member_id text NOT NULL,
    merged_member_id text NOT NULL,
    merged_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (program_id, member_id, merged_member_id)
);
