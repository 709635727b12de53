-- A cancellation the ledger refused for good (a refusal, not an outage: retrying cannot help).
-- The redemption is put back as it was (completed, its codes valid again: a member must never be
-- left with neither the coupon nor the points) and the refusal kept, so CancelRedemption, and
-- its retries with the same key, answer FAILED_PRECONDITION with it (services/rewards/steps.py).
-- Empty when no cancellation was refused; a later cancellation overwrites it.
ALTER TABLE redemptions
    ADD COLUMN cancel_refused_code text NOT NULL DEFAULT '',
    ADD COLUMN cancel_refused_reason text NOT NULL DEFAULT '';
