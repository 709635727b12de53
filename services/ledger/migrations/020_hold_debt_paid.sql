-- Of a voided hold's points, those that did not come back to the balance: they paid the member's
-- debt (a refund took back points the member had held, under RECORD_DEBT) or paid back the
-- write-off of such points (WRITE_OFF, migration 017), as points given back do (holds.py). A
-- cancelled redemption tells the member what came back from it. Zero for holds voided before.
ALTER TABLE holds ADD COLUMN debt_paid_points bigint NOT NULL DEFAULT 0
    CHECK (debt_paid_points >= 0);
