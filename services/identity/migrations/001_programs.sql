-- The program registry: identity is where a program is created; the other services hold their
-- own parts of its configuration. A small reference table under Citus.
CREATE TABLE programs (
    program_id text PRIMARY KEY,
    name text NOT NULL,
    points_name text NOT NULL,
    currency char(3) NOT NULL,
    time_zone text NOT NULL,
    entry_tier_code text NOT NULL,
    default_locale text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
