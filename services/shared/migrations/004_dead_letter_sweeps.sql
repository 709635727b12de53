-- Erased members whose personal data the dead-letter stream may still hold: a message that
-- failed every delivery is copied there whole (for 90 days), an enrolment with its birthday too.
-- Written in the erasure's transaction; the relay looks through the dead letters, replaces the
-- member's by copies without the personal data, and deletes the row once done.
CREATE TABLE dead_letter_sweeps (
    sweep_id bigserial PRIMARY KEY,
    program_id text NOT NULL,
    member_id text NOT NULL,
    requested_at timestamptz NOT NULL DEFAULT now(),
    attempt_count integer NOT NULL DEFAULT 0,
    last_error text NOT NULL DEFAULT '',
    next_attempt_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX dead_letter_sweeps_due ON dead_letter_sweeps (next_attempt_at);
