-- A lot made by a posting now shares the posting's id, so finding a posting's lot is a primary-key
-- lookup and bulk earning draws one id per item. Lots written before this took ids from lot_ids;
-- no deployment holds such lots yet.
DROP INDEX lots_posting;
DROP SEQUENCE lot_ids;

-- Member accounts change with every posting; with no index on the columns that change, those
-- updates stay HOT (no index writes). The vesting job finds due members through their lots
-- instead, and the inactivity expiry reads a program's accounts once per run.
DROP INDEX member_accounts_vesting;
DROP INDEX member_accounts_activity;
ALTER TABLE member_accounts SET (fillfactor = 80);
DROP INDEX lots_unvested;
CREATE INDEX lots_unvested ON lots (vests_at) WHERE NOT vested;
