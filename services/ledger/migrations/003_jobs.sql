-- When each scheduled job last completed per program (tier re-qualification runs once a period).
CREATE TABLE program_jobs (
    program_id text NOT NULL,
    job text NOT NULL,
    last_run_at timestamptz NOT NULL,
    PRIMARY KEY (program_id, job)
);

-- A lot whose expiry was announced (PointsExpiring) is not announced again.
ALTER TABLE lots ADD COLUMN expiry_noticed boolean NOT NULL DEFAULT false;
CREATE INDEX lots_expiry_notice ON lots (expires_at) WHERE remaining > 0 AND NOT expiry_noticed;
