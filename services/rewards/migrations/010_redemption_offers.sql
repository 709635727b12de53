-- The reward as Redeem read it when the redemption started (a rewards.v1.Reward definition, as
-- rewards.definition holds it): the version whose price the hold was placed for. The codes are
-- issued with its discount, so an edit of the price and the discount while the points are held
-- never gives one version's discount at the other's price (services/rewards/steps.py). NULL for
-- redemptions stored before this column existed: their codes take the reward's discount as it
-- is when they are issued, as before.
ALTER TABLE redemptions ADD COLUMN reward_definition bytea;
