-- A program's purchases of a period (the top members of the month, experiment reports) are found
-- by time. A btree on (program_id, occurred_micros) made every recorded purchase pay for that
-- with an entry at a random place of a large index: about 12 µs of PostgreSQL's time a purchase
-- in a bulk ingest, half of what the row itself costs. Purchases arrive about in time order (a
-- till's day, an export's period), which a BRIN index summarises in a few pages, for almost
-- nothing a row; the period queries read only the block ranges the period can be in.
DROP INDEX transactions_month;
CREATE INDEX transactions_time ON transactions USING brin (occurred_micros);
