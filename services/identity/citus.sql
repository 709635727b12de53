-- Citus placement of identity's tables (after services/shared/citus.sql, search_path = identity).

-- The program registry and its keys and inventory: small, replicated to every node. members has
-- a foreign key to programs, which Citus allows to a reference table only.
SELECT create_reference_table('programs');
SELECT create_reference_table('card_series');
SELECT create_reference_table('signing_keys');
-- Looked up by the hash of a presented secret on every gateway call (cached there).
SELECT create_reference_table('api_keys');
-- The ledger's tiers, one row per program, read when a program's entry tier is set.
SELECT create_reference_table('ledger_tiers');

-- Member data: distributed by member, colocated.
SELECT create_distributed_table('members', 'member_id');
SELECT create_distributed_table('member_identifiers', 'member_id', colocate_with => 'members');
SELECT create_distributed_table('consents', 'member_id', colocate_with => 'members');
SELECT create_distributed_table('consent_changes', 'member_id', colocate_with => 'members');
SELECT create_distributed_table('member_requests', 'member_id', colocate_with => 'members');
SELECT create_distributed_table('erasures', 'member_id', colocate_with => 'members');
SELECT create_distributed_table('merges', 'merged_member_id', colocate_with => 'members');
SELECT create_distributed_table('blocked_identifiers', 'member_id', colocate_with => 'members');

-- Resolve tables, distributed by the looked-up value: a resolve is one probe on one shard.
SELECT create_distributed_table('identifier_lookup', 'value', colocate_with => 'none');
-- The blocks kept for erased members' cards, by the card's keyed hash.
SELECT create_distributed_table('erased_blocked_identifiers', 'identifier_hash', colocate_with => 'none');
SELECT create_distributed_table('referral_codes', 'referral_code', colocate_with => 'none');
SELECT create_distributed_table('card_numbers', 'card_number', colocate_with => 'none');
-- Member imports: a batch's stored answer is found by its id, a row's key by its digest.
SELECT create_distributed_table('import_batches', 'batch_id', colocate_with => 'none');
SELECT create_distributed_table('import_keys', 'key_digest', colocate_with => 'none');
