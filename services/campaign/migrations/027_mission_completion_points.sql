-- The points a completion gave and its MissionCompleted announced: the mission's reward, or none
-- for a member the program-wide holdout keeps out. A completion taken back names these in its
-- MissionCompletionWithdrawn. NULL for completions recorded before this migration, which were
-- announced with the mission's reward and are withdrawn with it.
ALTER TABLE mission_progress ADD COLUMN completed_points integer;
