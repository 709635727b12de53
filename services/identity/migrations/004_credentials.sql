-- Signing keys of QR card tokens (purpose 'qr') and member tokens (purpose 'member'), Ed25519.
-- A key signs while not_after is unset (one per program and purpose); after a rotation it keeps
-- verifying until not_after, then it is retired. Small, reference-style under Citus.
CREATE TABLE signing_keys (
    program_id text NOT NULL REFERENCES programs (program_id),
    key_id text NOT NULL,
    purpose text NOT NULL,
    algorithm text NOT NULL,
    private_key bytea NOT NULL,
    public_key bytea NOT NULL,
    not_before timestamptz NOT NULL DEFAULT now(),
    not_after timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (program_id, key_id)
);

CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys (program_id, purpose)
    WHERE not_after IS NULL;

-- API keys of integrations; only the SHA-256 of the (high-entropy) secret is kept.
CREATE TABLE api_keys (
    program_id text NOT NULL REFERENCES programs (program_id),
    key_id text NOT NULL,
    name text NOT NULL,
    scopes text[] NOT NULL,
    secret_hash bytea NOT NULL UNIQUE,
    secret_prefix text NOT NULL,
    requests_per_minute_max integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    revoked_at timestamptz,
    last_used_at timestamptz,
    PRIMARY KEY (program_id, key_id)
);
