-- The cards blocked for members who were erased since: a card reported lost or stolen is in
-- someone else's hands, so it stays blocked after its member is erased, but nothing here names
-- the member or the card. An erasure moves each of the members' blocks from identifier_lookup
-- (which names the card and whose it was) to a row keyed by the card's keyed hash: the
-- HMAC-SHA256 under IDENTITY_FORGOTTEN_KEY_SECRET, as erased members' idempotency keys are kept
-- (services/shared/idempotency.py, Forgetting), of the program and the identifier in its normal
-- form. Enrolments, additions, imports and resolves of a card number hash it the same way (under
-- IDENTITY_FORGOTTEN_KEY_PREVIOUS_SECRETS too) and are refused as for any blocked card. Nobody
-- can claim such a card back: its member is gone. Distributed by the hash, as identifier_lookup
-- is by value: a lookup is one probe on one shard.
CREATE TABLE erased_blocked_identifiers (
    program_id text NOT NULL,
    -- forgotten:v2:<hex>, Forgetting.key of the program, kind, provider and normalised value.
    identifier_hash text NOT NULL,
    -- 'lost' or 'stolen', as identifier_lookup.blocked_reason.
    reason text NOT NULL,
    blocked_at timestamptz NOT NULL,
    PRIMARY KEY (program_id, identifier_hash)
);
