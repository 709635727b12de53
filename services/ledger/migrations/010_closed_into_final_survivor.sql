-- A closed account names its final survivor: when B is merged into C, the accounts closed into B
-- are repointed to C in the same transaction (services/ledger/merges.py), found through this
-- index of a program's few closed accounts by survivor.
CREATE INDEX member_accounts_closed_into ON member_accounts (program_id, closed_into)
    WHERE closed_into IS NOT NULL;

-- Accounts closed before that into a member closed since (A into B, then B into C) are
-- repointed once here. Row by row, each statement on one member, as Citus routes it; a chain
-- is at most as long as the merged accounts are many, so a loop longer than that is a cycle,
-- which merges never make (identity refuses to merge a merged member either way).
DO $$
DECLARE
    account record;
    survivor text;
    next_survivor text;
    hops integer;
    hops_max integer := (SELECT count(*) FROM member_accounts WHERE closed_into IS NOT NULL);
BEGIN
    FOR account IN
        SELECT program_id, member_id, closed_into FROM member_accounts
        WHERE closed_into IS NOT NULL
    LOOP
        survivor := account.closed_into;
        hops := 0;
        LOOP
            SELECT closed_into INTO next_survivor FROM member_accounts
            WHERE program_id = account.program_id AND member_id = survivor;
            EXIT WHEN next_survivor IS NULL;
            hops := hops + 1;
            IF hops > hops_max THEN
                RAISE EXCEPTION 'accounts closed into each other in a cycle, from %', account.member_id;
            END IF;
            survivor := next_survivor;
        END LOOP;
        IF survivor <> account.closed_into THEN
            UPDATE member_accounts SET closed_into = survivor
            WHERE program_id = account.program_id AND member_id = account.member_id;
        END IF;
    END LOOP;
END
$$;
