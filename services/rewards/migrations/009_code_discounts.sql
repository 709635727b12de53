-- The discount a code was issued with (a rewards.v1.Discount message), so a till applies what the
-- member paid for after the reward's discount is changed. NULL for codes issued before this
-- column existed and for rewards without a discount: ValidateCode then gives the reward's own.
ALTER TABLE codes ADD COLUMN discount bytea;
