-- Every mutation is idempotent by (program, idempotency key): the first request's hash and its
-- response are kept, a retry gets the same response, the same key with another request is refused.
CREATE TABLE idempotency_keys (
    program_id text NOT NULL,
    idempotency_key text NOT NULL,
    method text NOT NULL,
    request_hash bytea NOT NULL,
    response bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (program_id, idempotency_key)
);

CREATE INDEX idempotency_keys_created_at ON idempotency_keys (created_at);
