-- Surprise-and-recognition settings per program (birthday bonus, milestones, top-N of the month).
-- The definition is the RecognitionConfig message; nothing queries inside it.
CREATE TABLE recognition_configs (
    program_id text PRIMARY KEY,
    definition bytea NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
