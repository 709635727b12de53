-- Engagement activities, referrals and the bonuses of surprise and recognition.

-- outcome: ActivityOutcome; verification_state: VerificationState. definition: the Activity.
CREATE TABLE activities (
    program_id text NOT NULL,
    member_id text NOT NULL,
    activity_id text NOT NULL,
    kind smallint NOT NULL,
    occurred_at timestamptz NOT NULL,
    verification_state smallint NOT NULL,
    outcome smallint NOT NULL,
    points bigint NOT NULL DEFAULT 0,
    definition bytea NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (program_id, member_id, activity_id)
);

-- VerifyActivity names an activity by its id alone.
CREATE INDEX activities_by_id ON activities (program_id, activity_id);
CREATE INDEX activities_recent ON activities (program_id, recorded_at);

-- The activities each engagement rule rewarded (or holds pending), for its caps: a pending
-- activity takes its place under the caps until it is rejected.
CREATE TABLE activity_rewards (
    program_id text NOT NULL,
    member_id text NOT NULL,
    rule_id text NOT NULL,
    activity_id text NOT NULL,
    local_day date NOT NULL,
    points bigint NOT NULL,
    PRIMARY KEY (program_id, member_id, rule_id, activity_id)
);

-- Each member is referred at most once. state: 1 pending (waits for the first purchase),
-- 2 rewarded, 3 rejected.
CREATE TABLE referrals (
    program_id text NOT NULL,
    referred_member_id text NOT NULL,
    referrer_member_id text NOT NULL,
    activity_id text NOT NULL,
    state smallint NOT NULL,
    rule_ref text NOT NULL DEFAULT '',
    referrer_points bigint NOT NULL DEFAULT 0,
    referred_points bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (program_id, referred_member_id)
);

CREATE INDEX referrals_by_referrer ON referrals (program_id, referrer_member_id);

-- Bonuses given once per member and period: ('birthday', '2025'), ('milestone', code),
-- ('top_of_month', '2025-05').
CREATE TABLE bonus_awards (
    program_id text NOT NULL,
    member_id text NOT NULL,
    kind text NOT NULL,
    period text NOT NULL,
    points bigint NOT NULL,
    awarded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (program_id, member_id, kind, period)
);

-- Scheduled jobs done per program and period, such as ('top_of_month', '2025-05').
CREATE TABLE job_runs (
    program_id text NOT NULL,
    job text NOT NULL,
    period text NOT NULL,
    done_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (program_id, job, period)
);
