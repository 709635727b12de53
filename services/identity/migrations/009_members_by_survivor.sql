-- The members merged into a member, by survivor: a merge of B into C repoints the members merged
-- into B before (merged_into_member_id = B) in the same transaction, so a merged member always
-- names its final survivor, and an erasure or export finds the members merged into one; both
-- scanned every member of the program. Not partial: merged_into_member_id is '' until a merge,
-- and a generic plan of "= $2" cannot prove "<> ''"; the '' entries deduplicate in the B-tree.
CREATE INDEX members_merged_into ON members (program_id, merged_into_member_id);
