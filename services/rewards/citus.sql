-- Citus placement of rewards' tables (after services/shared/citus.sql, search_path = rewards).

-- The catalog and the perks of each tier: replicated to every node. A redemption's stock
-- reservation is an UPDATE of a catalog row, which Citus applies on every node in one
-- transaction: fine at redemption rates, and it keeps catalog reads local to every shard.
SELECT create_reference_table('rewards');
SELECT create_reference_table('tier_perks');
-- Stock adjustments are written with the catalog row they change.
SELECT create_reference_table('stock_adjustments');
-- The ledger's tiers and the catalog's codes they no longer define: per program, small.
SELECT create_reference_table('program_tiers');
SELECT create_reference_table('undefined_tier_codes');

-- Member data: distributed by member, colocated.
SELECT create_distributed_table('redemptions', 'member_id');
SELECT create_distributed_table('member_reward_counts', 'member_id', colocate_with => 'redemptions');
SELECT create_distributed_table('member_tiers', 'member_id', colocate_with => 'redemptions');
SELECT create_distributed_table('member_perks', 'member_id', colocate_with => 'redemptions');
-- Keyed by the survivor: a redemption of the survivor reads the members merged into it.
SELECT create_distributed_table('member_merges', 'member_id', colocate_with => 'redemptions');

-- Lookups by what a till or a client presents: a redemption id, an idempotency key, a code.
SELECT create_distributed_table('redemption_members', 'redemption_id', colocate_with => 'none');
SELECT create_distributed_table('redemption_keys', 'idempotency_key', colocate_with => 'none');
SELECT create_distributed_table('codes', 'code', colocate_with => 'none');
SELECT create_distributed_table('partner_codes', 'code', colocate_with => 'none');

-- Consumer de-duplication, by event id.
SELECT create_distributed_table('processed_events', 'event_id', colocate_with => 'none');
