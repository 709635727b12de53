-- Citus placement of the ledger's tables (after services/shared/citus.sql, search_path = ledger).
--
-- Member data is distributed by member_id and colocated, so a posting (member account, posting,
-- lots, consumptions) stays on one shard and nothing on the hot path joins across members.
-- Member ids are unique across programs, and every primary and unique key starts with
-- (program_id, member_id), as Citus requires of a key on a distributed table.

-- Program configuration: small, read by every posting, so replicated to every node.
SELECT create_reference_table('programs');
SELECT create_reference_table('tier_definitions');
SELECT create_reference_table('program_jobs');
SELECT create_reference_table('tier_code_mappings');

SELECT create_distributed_table('member_accounts', 'member_id');
SELECT create_distributed_table('postings', 'member_id', colocate_with => 'member_accounts');
SELECT create_distributed_table('lots', 'member_id', colocate_with => 'member_accounts');
SELECT create_distributed_table('lot_consumptions', 'member_id', colocate_with => 'member_accounts');
SELECT create_distributed_table('holds', 'member_id', colocate_with => 'member_accounts');
SELECT create_distributed_table('refunds', 'member_id', colocate_with => 'member_accounts');
SELECT create_distributed_table('tier_changes', 'member_id', colocate_with => 'member_accounts');
SELECT create_distributed_table('qualifying_days', 'member_id', colocate_with => 'member_accounts');
SELECT create_distributed_table('moved_lots', 'member_id', colocate_with => 'member_accounts');
SELECT create_distributed_table('reversed_expired_points', 'member_id', colocate_with => 'member_accounts');
SELECT create_distributed_table('spent_write_offs', 'member_id', colocate_with => 'member_accounts');

-- Holds are addressed by id alone in the API: the lookup is distributed by the hold id.
SELECT create_distributed_table('hold_members', 'hold_id', colocate_with => 'none');

-- The program side of every posting, striped 16 ways per program (kind, stripe): by program, so
-- a program's accounts sum on one shard; a posting touches its member's shard and this one.
SELECT create_distributed_table('program_accounts', 'program_id', colocate_with => 'none');
