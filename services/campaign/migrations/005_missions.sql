-- Missions, each member's progress on them, and the badges members were awarded.

-- status: MissionStatus (2 active, 3 archived). definition: the Mission message as created
-- (status and archive time are the columns'). Program configuration: a reference table under
-- Citus.
CREATE TABLE missions (
    program_id text NOT NULL,
    mission_id text NOT NULL,
    status smallint NOT NULL,
    definition bytea NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    archived_at timestamptz,
    PRIMARY KEY (program_id, mission_id)
);

CREATE INDEX missions_active ON missions (program_id) WHERE status = 2;

-- One row per member and mission once a fact of the member matched a step. state:
-- MissionProgressState (1 not started, 2 in progress, 3 completed). step_counts and step_completed_at are parallel to the mission's
-- steps. attempt counts the windows started: a window that passes restarts the mission.
CREATE TABLE mission_progress (
    program_id text NOT NULL,
    member_id text NOT NULL,
    mission_id text NOT NULL,
    attempt integer NOT NULL,
    state smallint NOT NULL,
    step_counts integer[] NOT NULL,
    step_completed_at timestamptz[] NOT NULL,
    started_at timestamptz,
    deadline_at timestamptz,
    completed_at timestamptz,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (program_id, member_id, mission_id)
);

-- A badge is awarded to a member once, whichever mission or milestone gives it first.
CREATE TABLE member_badges (
    program_id text NOT NULL,
    member_id text NOT NULL,
    badge_code text NOT NULL,
    name text NOT NULL,
    mission_id text NOT NULL DEFAULT '',
    milestone_code text NOT NULL DEFAULT '',
    awarded_at timestamptz NOT NULL,
    PRIMARY KEY (program_id, member_id, badge_code)
);

CREATE INDEX member_badges_newest ON member_badges (program_id, member_id, awarded_at DESC, badge_code);
