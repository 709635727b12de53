-- Each AdjustStock with the reason it was given, so the stock's changes can be accounted for.
CREATE TABLE stock_adjustments (
    program_id text NOT NULL,
    reward_id text NOT NULL,
    adjusted_at timestamptz NOT NULL DEFAULT now(),
    delta bigint NOT NULL,
    available_after bigint NOT NULL,
    reason text NOT NULL
);

CREATE INDEX stock_adjustments_by_reward ON stock_adjustments (program_id, reward_id, adjusted_at);
