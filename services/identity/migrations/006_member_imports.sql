-- Bulk enrolment (ImportMembers). Each batch's answer is kept, so a batch sent again (an import
-- resumed after an interruption) is answered as the first time. Each row's idempotency key is
-- kept as a SHA-256 digest (keys may hold external ids, which an erasure must not leave behind),
-- so a row sent again in another batch enrols nobody new. import_keys is a lookup table keyed by
-- the digest, like identifier_lookup.
CREATE TABLE import_batches (
    program_id text NOT NULL REFERENCES programs (program_id),
    batch_id text NOT NULL,
    request_hash bytea NOT NULL,
    response bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (program_id, batch_id)
);

CREATE TABLE import_keys (
    program_id text NOT NULL,
    key_digest bytea NOT NULL,
    member_id text NOT NULL,
    PRIMARY KEY (program_id, key_digest)
);

-- An erasure forgets the keys that imported the member.
CREATE INDEX import_keys_member ON import_keys (program_id, member_id);
