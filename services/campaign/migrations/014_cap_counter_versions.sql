-- Bumped by every write of a counter row, which writes only if the version is still the one it
-- read (services/campaign/repository_purchases.py, store_counters): a compare-and-set that also
-- catches a concurrent batch that wrote a member's history but left its counter as it was.
ALTER TABLE cap_counters ADD COLUMN version bigint NOT NULL DEFAULT 0;
