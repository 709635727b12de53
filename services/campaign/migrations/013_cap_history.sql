-- What each member used of the member caps of periods before its counter's (cap_counters holds
-- only the latest period): one row per member, rule, period (0 day, 1 ISO week, 2 month, as in
-- ledger_core.limits) and period key. A purchase that arrives after a later one of its member
-- (services/campaign/member_caps.py) is capped by its own period's row; a row is written when a
-- counter moves on from its period, and when a late purchase earns in it.
CREATE TABLE cap_history (
    program_id text NOT NULL,
    member_id text NOT NULL,
    rule_id text NOT NULL,
    period smallint NOT NULL,
    period_key bigint NOT NULL,
    points bigint NOT NULL,
    PRIMARY KEY (program_id, member_id, rule_id, period, period_key)
);
