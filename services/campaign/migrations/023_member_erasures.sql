-- When identity's erasure of the member was consumed: a program that refuses purchases of
-- members identity has not enrolled (ledger's UnknownMemberPolicy REFUSE) refuses an erased
-- member's too, without asking identity (services/campaign/enrolment.py).
ALTER TABLE members ADD COLUMN erased_at timestamptz;
