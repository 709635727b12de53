-- Merges, keyed by the merged member: one member is merged at most once. The identity side
-- (identifiers, status) commits first; the points transfer in the ledger follows with an
-- idempotency key derived from the merge, and the merge is complete once it is recorded here.
CREATE TABLE merges (
    program_id text NOT NULL,
    merged_member_id text NOT NULL,
    survivor_member_id text NOT NULL,
    idempotency_key text NOT NULL,
    operator_id text NOT NULL DEFAULT '',
    note text NOT NULL DEFAULT '',
    moved_identifier_count integer NOT NULL,
    -- The TransferPoints request sent to the ledger (loyalty.ledger.v1), and its key.
    transfer_idempotency_key text NOT NULL,
    transfer_request bytea NOT NULL,
    -- pending until the ledger answered, then completed.
    state text NOT NULL DEFAULT 'pending',
    ledger_transfer_id text NOT NULL DEFAULT '',
    transferred_points bigint NOT NULL DEFAULT 0,
    last_error text NOT NULL DEFAULT '',
    attempt_count integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    PRIMARY KEY (program_id, merged_member_id)
);

CREATE INDEX merges_pending ON merges (created_at) WHERE state = 'pending';

-- Who erased a member, when and why; the member id stays as a pseudonym.
CREATE TABLE erasures (
    program_id text NOT NULL,
    member_id text NOT NULL,
    operator_id text NOT NULL,
    reason text NOT NULL,
    erased_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (program_id, member_id)
);
