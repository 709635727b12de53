-- How many times the program's tiers were set: SetTierDefinitions raises it under the program's
-- row lock and announces it in TierDefinitionsChanged, so identity, rewards and campaign keep
-- the newest tiers and ignore an older announcement redelivered late (a clock could go back).
ALTER TABLE programs ADD COLUMN tiers_version bigint NOT NULL DEFAULT 0;
