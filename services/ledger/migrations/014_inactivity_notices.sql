-- Under the inactivity policy a member's points expire together at a deadline that follows its
-- last activity (services/ledger/inactivity.py). The expiry notice job announces the deadline
-- once when it enters the notice window and keeps here the last activity it announced it for:
-- new activity moves the deadline and a notice is due again when that one comes near. Only the
-- notice job writes it and it is not indexed, so the account updates stay HOT.
ALTER TABLE member_accounts ADD COLUMN expiry_noticed_activity_at timestamptz;
