-- A card reported lost or stolen is blocked: its identifier_lookup row stays, with no member
-- (member_id '' and member_status 'blocked'), so nobody can enrol with it, add it or be
-- recognised by it. These columns say whose it was, why ('lost' or 'stolen') and since when: the
-- owner, or the survivor the owner was merged into, may add a lost card back. An erasure of the
-- owner forgets the card, as it forgets the cards the member holds.
ALTER TABLE identifier_lookup
    ADD COLUMN blocked_member_id text NOT NULL DEFAULT '',
    ADD COLUMN blocked_reason text NOT NULL DEFAULT '',
    ADD COLUMN blocked_at timestamptz;

CREATE INDEX identifier_lookup_blocked ON identifier_lookup (program_id, blocked_member_id)
    WHERE blocked_member_id <> '';
