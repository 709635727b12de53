-- Citus placement of campaign's tables (after services/shared/citus.sql, search_path = campaign).

-- Rules and program settings: read by every accrual, replicated to every node.
SELECT create_reference_table('rules');
SELECT create_reference_table('recognition_configs');
SELECT create_reference_table('job_runs');
SELECT create_reference_table('top_of_month_starts');
SELECT create_reference_table('monthly_summary_starts');
-- The ledger's tiers as last announced: per program, small, read when rules are compiled.
SELECT create_reference_table('program_tiers');

-- Member data: distributed by member, colocated.
SELECT create_distributed_table('members', 'member_id');
SELECT create_distributed_table('transactions', 'member_id', colocate_with => 'members');
SELECT create_distributed_table('purchase_answer_keys', 'member_id', colocate_with => 'members');
SELECT create_distributed_table('cap_counters', 'member_id', colocate_with => 'members');
SELECT create_distributed_table('cap_history', 'member_id', colocate_with => 'members');
SELECT create_distributed_table('activities', 'member_id', colocate_with => 'members');
SELECT create_distributed_table('activity_rewards', 'member_id', colocate_with => 'members');
SELECT create_distributed_table('bonus_awards', 'member_id', colocate_with => 'members');
SELECT create_distributed_table('referrals', 'referred_member_id', colocate_with => 'members');

-- Ingest batches are replayed by batch id: one shard per batch.
SELECT create_distributed_table('ingest_batches', 'batch_id', colocate_with => 'none');
-- The columnar archive is read per program (backtests) and written once per batch.
SELECT create_distributed_table('purchase_archive', 'program_id', colocate_with => 'none');
-- Learn loop: definitions are small and read by every node; per-member state follows the member.
SELECT create_reference_table('missions');
SELECT create_reference_table('notification_policies');
SELECT create_reference_table('segments');
SELECT create_reference_table('segment_activity_marks');
SELECT create_reference_table('experiments');
SELECT create_reference_table('holdouts');
SELECT create_distributed_table('mission_progress', 'member_id', colocate_with => 'members');
SELECT create_distributed_table('member_badges', 'member_id', colocate_with => 'members');
SELECT create_distributed_table('notification_members', 'member_id', colocate_with => 'members');
SELECT create_distributed_table('member_consents', 'member_id', colocate_with => 'members');
SELECT create_distributed_table('notification_intents', 'member_id', colocate_with => 'members');
SELECT create_distributed_table('email_deliveries', 'member_id', colocate_with => 'members');
SELECT create_distributed_table('segment_members', 'member_id', colocate_with => 'members');
SELECT create_distributed_table('segment_member_facts', 'member_id', colocate_with => 'members');
SELECT create_distributed_table('segment_member_consents', 'member_id', colocate_with => 'members');
SELECT create_distributed_table('segment_dirty_members', 'member_id', colocate_with => 'members');
SELECT create_distributed_table('member_redemptions', 'member_id', colocate_with => 'members');
SELECT create_distributed_table('activity_times', 'member_id', colocate_with => 'members');
SELECT create_distributed_table('purchase_mission_steps', 'member_id', colocate_with => 'members');
SELECT create_distributed_table('activity_mission_steps', 'member_id', colocate_with => 'members');
SELECT create_distributed_table('purchase_lines', 'member_id', colocate_with => 'members');
