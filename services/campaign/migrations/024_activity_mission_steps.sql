-- The mission step each activity counted for, per mission, with the activity's time
-- (mission_tracker.on_activity). With purchase_mission_steps (and the purchases' times in
-- transactions) these are the facts each attempt counted, so when a refused or returned purchase
-- is taken back the attempt's window is measured again from the first fact it still counts
-- (mission_tracker.take_back). Activities counted before this migration have none; an attempt
-- they counted in keeps its window as it was.
CREATE TABLE activity_mission_steps (
    program_id text NOT NULL,
    member_id text NOT NULL,
    activity_id text NOT NULL,
    mission_id text NOT NULL,
    attempt integer NOT NULL,
    step integer NOT NULL,
    occurred_micros bigint NOT NULL,
    PRIMARY KEY (program_id, member_id, activity_id, mission_id)
);
