-- Under the WRITE_OFF policy, the points a refund wrote off because it found them held: they are
-- not spent yet, so when a hold is voided its points pay this back first (reversals.py,
-- holds.py), as points given back pay debt first under RECORD_DEBT; a commit spends them, and
-- its part of the write-off stands. Never more than the account's held points. Refunds written
-- off before this migration count none.
ALTER TABLE member_accounts ADD COLUMN held_write_off bigint NOT NULL DEFAULT 0
    CHECK (held_write_off >= 0);
