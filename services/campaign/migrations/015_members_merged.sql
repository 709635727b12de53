-- A member merged away (identity.member_merged): the survivor it went into. The ledger closes
-- the merged member's account and refuses its postings; campaign refuses its purchases before
-- accruing them, so no milestone, referral, mission, cap or backtest archive counts a purchase
-- whose points could not be posted.
ALTER TABLE members ADD COLUMN merged_into text;

-- The few merged members of a program, looked up for every purchase batch.
CREATE INDEX members_merged ON members (program_id, member_id) WHERE merged_into IS NOT NULL;
