-- Earning and engagement rules, one row per version. A version never changes once written except
-- for its status; accruals record "rule_id@version", so a change never rewrites past accruals.
-- Rules are program configuration: under Citus this is a reference table.
CREATE TABLE rules (
    program_id text NOT NULL,
    rule_id text NOT NULL,
    version integer NOT NULL,
    -- 'earning' or 'engagement'.
    kind text NOT NULL,
    -- The ActivityKind of an engagement rule, 0 for earning rules.
    activity_kind smallint NOT NULL DEFAULT 0,
    -- The RuleStatus: 1 draft, 2 active, 3 superseded, 4 archived.
    status smallint NOT NULL,
    priority integer NOT NULL,
    -- The Rule message of this version (status and times are the columns').
    definition bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    activated_at timestamptz,
    PRIMARY KEY (program_id, rule_id, version)
);

CREATE INDEX rules_active ON rules (program_id, kind, activity_kind) WHERE status = 2;
