-- Citus placement of the plumbing tables every service schema holds (see migrations/ beside this
-- file). Applied per schema, with search_path set to it, after the migrations, before the
-- service's own citus.sql (deploy/citus.py does both; tests/deploy/test_citus.py checks it).
--
-- The outbox stays on the coordinator as a Citus local table: the relay reads it in one global
-- order (seq) and its two unique keys (seq, event_id) could not both hold the distribution column.
-- Events are written in the same transaction as distributed rows, which Citus allows for local
-- tables added to its metadata (the coordinator must be in the metadata: citus_set_coordinator_host).
SELECT citus_add_local_table_to_metadata('outbox');
-- Beside it, as the relay writes them in the transaction that marks its rows published.
SELECT citus_add_local_table_to_metadata('outbox_personal_messages');
SELECT citus_add_local_table_to_metadata('stream_erasures');
SELECT citus_add_local_table_to_metadata('dead_letter_sweeps');
SELECT citus_add_local_table_to_metadata('plumbing_migrations');
SELECT citus_add_local_table_to_metadata('schema_migrations');

-- A retry looks its key up by (program, key): distributed by the key, one shard per lookup.
SELECT create_distributed_table('idempotency_keys', 'idempotency_key', colocate_with => 'none');
