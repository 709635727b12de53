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
-- identifiers (its survivor, if it was merged), as a merge moves them from now on.
INSERT INTO blocked_identifiers (program_id, member_id, kind, provider, value, reason, blocked_at)
SELECT l.program_id,
       CASE WHEN m.status = 'merged' THEN m.merged_into_member_id ELSE l.blocked_member_id END,
       l.kind, l.provider, l.value, l.blocked_reason, l.blocked_at
FROM identifier_lookup l
JOIN members m ON m.program_id = l.program_id AND m.member_id = l.blocked_member_id
WHERE l.member_status = 'blocked' AND l.blocked_member_id <> '';
