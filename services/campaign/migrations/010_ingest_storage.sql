-- An ingest batch in state 1 holds its ledger request (about 60 bytes per item, so over half a
-- megabyte for ten thousand transactions) until its answer is stored a moment later, which
-- clears it: compressing it (pglz, about 10 ms a batch) costs more than writing it whole.
ALTER TABLE ingest_batches ALTER COLUMN ledger_request SET STORAGE EXTERNAL;
