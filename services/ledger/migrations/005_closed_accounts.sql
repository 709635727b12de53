-- A merged member's account is closed into the survivor's: postings to it are refused, and any
-- points it received after the merge's transfer are swept to the survivor when it closes.
ALTER TABLE member_accounts ADD COLUMN closed_into text;
