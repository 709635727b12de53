-- merged_into names a merged member's final survivor: when B is merged into C, the members
-- merged into B are repointed to C in the same transaction (repository_purchases.member_merged),
-- found through this index of a program's few merged members by survivor.
CREATE INDEX members_merged_into ON members (program_id, merged_into) WHERE merged_into IS NOT NULL;

-- Members recorded before that as merged into a member merged since (A into B, then B into C)
-- are repointed once here. Row by row, each statement on one member, as Citus routes it; a chain
-- is at most as long as the merged members are many, so a loop longer than that is a cycle,
-- which merges never make (identity refuses to merge a merged member either way).
DO $$
DECLARE
    member record;
    survivor text;
    next_survivor text;
    hops integer;
    hops_max integer := (SELECT count(*) FROM members WHERE merged_into IS NOT NULL);
BEGIN
    FOR member IN
        SELECT program_id, member_id, merged_into FROM members WHERE merged_into IS NOT NULL
    LOOP
        survivor := member.merged_into;
        hops := 0;
        LOOP
            SELECT merged_into INTO next_survivor FROM members
            WHERE program_id = member.program_id AND member_id = survivor;
            EXIT WHEN next_survivor IS NULL;
            hops := hops + 1;
            IF hops > hops_max THEN
                RAISE EXCEPTION 'members merged into each other in a cycle, from %', member.member_id;
            END IF;
            survivor := next_survivor;
        END LOOP;
        IF survivor <> member.merged_into THEN
            UPDATE members SET merged_into = survivor
            WHERE program_id = member.program_id AND member_id = member.member_id;
        END IF;
    END LOOP;
END
$$;
