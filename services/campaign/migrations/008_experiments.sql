-- Experiments against control groups, the program-wide holdout, and the redemptions the reports
-- count. Assignment is a stable hash (services/campaign/assignment.py), so nothing per member is
-- stored for it.

-- definition: the Experiment message (arms, segment, times, salt); ended_at is set by
-- EndExperiment. Program configuration: a reference table under Citus.
CREATE TABLE experiments (
    program_id text NOT NULL,
    experiment_id text NOT NULL,
    definition bytea NOT NULL,
    -- The rules named by the arms, so the accrual finds the experiments of its live rules.
    rule_ids text[] NOT NULL,
    start_at timestamptz NOT NULL,
    end_at timestamptz,
    ended_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (program_id, experiment_id)
);


CREATE TABLE holdouts (
    program_id text PRIMARY KEY,
    holdout_bps integer NOT NULL,
    assignment_salt text NOT NULL,
    start_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

-- From rewards' RewardRedeemed and RedemptionCancelled events.
CREATE TABLE member_redemptions (
    program_id text NOT NULL,
    member_id text NOT NULL,
    redemption_id text NOT NULL,
    redeemed_at timestamptz NOT NULL,
    points bigint NOT NULL,
    cancelled boolean NOT NULL DEFAULT false,
    PRIMARY KEY (program_id, member_id, redemption_id)
);

CREATE INDEX member_redemptions_period ON member_redemptions (program_id, redeemed_at);
