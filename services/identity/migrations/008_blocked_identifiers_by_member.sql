-- A member's blocked cards as the member sees them (GetMember, the export), kept by member as
-- member_identifiers is: identifier_lookup holds the block itself (uniqueness and resolve) but is
-- distributed by value, so listing a member's blocked cards there would ask every shard. A row is
-- written with the block, in the same transaction, keeping how the member held the card (verified,
-- added_at); it goes when the card goes back to its member (lost, then found) or the member is
-- erased, and moves with the member's identifiers to a merge's survivor.
CREATE TABLE blocked_identifiers (
    program_id text NOT NULL,
    member_id text NOT NULL,
    kind smallint NOT NULL,
    provider text NOT NULL DEFAULT '',
    value text NOT NULL,
    verified boolean NOT NULL DEFAULT false,
    -- When the member attached the card; unknown (NULL) for cards blocked before this table.
    added_at timestamptz,
    -- 'lost' or 'stolen', as identifier_lookup.blocked_reason.
    reason text NOT NULL,
    blocked_at timestamptz NOT NULL,
    PRIMARY KEY (program_id, member_id, kind, provider, value)
);

-- The cards blocked before this table: each under the member now holding the blocked member's
-- identifiers (its survivor, if it was merged), as a merge moves them from now on. The blocked
-- cards (few) are read first: identifier_lookup is distributed by value and members by member,
-- so under Citus a plain join of the two needs repartition joins; an intermediate result of the
-- blocked cards joins members on their own shards.
INSERT INTO blocked_identifiers (program_id, member_id, kind, provider, value, reason, blocked_at)
WITH blocked AS MATERIALIZED (
    SELECT program_id, blocked_member_id, kind, provider, value, blocked_reason, blocked_at
    FROM identifier_lookup
    WHERE member_status = 'blocked' AND blocked_member_id <> ''
)
SELECT b.program_id,
       CASE WHEN m.status = 'merged' THEN m.merged_into_member_id ELSE b.blocked_member_id END,
       b.kind, b.provider, b.value, b.blocked_reason, b.blocked_at
FROM blocked b
JOIN members m ON m.program_id = b.program_id AND m.member_id = b.blocked_member_id;
