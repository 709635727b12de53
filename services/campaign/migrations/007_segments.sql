-- Rule-based member segments: definitions, current membership, and what campaign keeps of
-- identity's events for them (enrolment channel, consents, erasure).

-- A segment's definition is the Segment message (conditions and join); the columns are what
-- the refresh job and the listings read. Program configuration: a reference table under Citus.
CREATE TABLE segments (
    program_id text NOT NULL,
    segment_id text NOT NULL,
    definition bytea NOT NULL,
    -- Whether a condition depends on purchases or activities (so those events touch it).
    purchase_driven boolean NOT NULL,
    activity_driven boolean NOT NULL,
    -- Whether a condition is relative to now (recency, windows, enrolment age): such segments
    -- drift as time passes and are recomputed every refresh_interval_s.
    time_relative boolean NOT NULL,
    refresh_interval_s bigint NOT NULL DEFAULT 0,
    member_count bigint NOT NULL DEFAULT 0,
    computed_at timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (program_id, segment_id)
);

-- Current membership. Keyed by member first (CheckSegmentMembership, Citus distribution); the
-- second index serves exports in member order.
CREATE TABLE segment_members (
    program_id text NOT NULL,
    member_id text NOT NULL,
    segment_id text NOT NULL,
    joined_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (program_id, member_id, segment_id)
);

CREATE INDEX segment_members_export ON segment_members (program_id, segment_id, member_id);

-- From identity's MemberEnrolled and MemberErased.
CREATE TABLE segment_member_facts (
    program_id text NOT NULL,
    member_id text NOT NULL,
    enrolled_channel smallint NOT NULL DEFAULT 0,
    erased boolean NOT NULL DEFAULT false,
    PRIMARY KEY (program_id, member_id)
);

-- One row per member and ConsentChannel, from MemberEnrolled and ConsentChanged; a change older
-- than the stored one (a redelivery) is ignored.
CREATE TABLE segment_member_consents (
    program_id text NOT NULL,
    member_id text NOT NULL,
    channel smallint NOT NULL,
    granted boolean NOT NULL,
    changed_at timestamptz NOT NULL,
    PRIMARY KEY (program_id, member_id, channel)
);

-- Members whose facts changed since the refresh job last looked (purchases, tiers, consents,
-- enrolment); the job re-evaluates them against every segment and deletes the rows it did.
CREATE TABLE segment_dirty_members (
    program_id text NOT NULL,
    member_id text NOT NULL,
    marked_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (program_id, member_id)
);

-- How far the refresh job has read the activities table (by recorded_at) per program.
CREATE TABLE segment_activity_marks (
    program_id text PRIMARY KEY,
    recorded_until timestamptz NOT NULL
);
