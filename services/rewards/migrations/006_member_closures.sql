-- A member merged into another or erased holds no tier perks from then on: closed_at is set
-- (on a row made for the purpose if rewards had not heard of the member), and neither a
-- TierChanged nor an enrolment delivered later changes the row again (services/rewards/
-- perk_members.py). Rows of enrolled members that the ledger has not moved yet are held as of
-- '-infinity', so any TierChanged outranks the enrolment whichever arrives first.
ALTER TABLE member_tiers ADD COLUMN closed_at timestamptz;
