-- transactional: false
-- Why: daily_spend (one day, every entity) and the review cycles (every entity over a
-- window of days) read senate.usage_rollups by usage_day, but its primary key starts
-- with the entity, so without this index each such query scans every rollup row ever
-- written. Measured on the bench machine at 1M usage rows (733k rollup rows, 72 MB):
-- daily_spend for one day 355 ms without, 243 ms with (the rest is grouping the day's
-- 26k rows); the scan it removes grows with the history, the index range does not.
-- usage_day never changes once a rollup row exists, so the index does not stop HOT
-- updates: only the first row of a new (entity, class, day, shard) pays one index
-- insert. A covering index (INCLUDE the totals) was rejected: it would make every rollup
-- update non-HOT. Built CONCURRENTLY (outside a transaction) so ingest never waits.
SET lock_timeout = '5s';

-- squawk-ignore ban-concurrent-index-creation-in-transaction
CREATE INDEX CONCURRENTLY IF NOT EXISTS usage_rollups_day_idx
    ON senate.usage_rollups (usage_day);
COMMENT ON INDEX senate.usage_rollups_day_idx IS
  'Rollup rows of one day or a window of days (daily_spend, review cycles), without reading '
  'the whole history.';
