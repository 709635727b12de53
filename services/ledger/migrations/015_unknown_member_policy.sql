-- What campaign does with purchases and activities of member ids identity has not enrolled
-- (ledger.proto, UnknownMemberPolicy): 1 earns on an account the first earn opens, as every
-- program did before there was a choice; 2 refuses them.
ALTER TABLE programs ADD COLUMN unknown_member_policy smallint NOT NULL DEFAULT 1
    CHECK (unknown_member_policy IN (1, 2));
