-- Of a cancelled redemption's price, the points that paid the member's debt (a refund took back
-- points the member had spent) when the ledger gave the spend back, instead of returning to the
-- balance; returned_points is then the price less these. Zero for cancellations before this
-- migration, whose returned_points is the whole price.
ALTER TABLE redemptions ADD COLUMN debt_paid_points bigint NOT NULL DEFAULT 0
    CHECK (debt_paid_points >= 0);
