-- transactional: false
-- Why: every review cycle reads the usage rollups of a few recent days for ALL entities
-- (check_spend_alerts: the current budget period, every minute; run_daily_check: the
-- period so far; run_rebalance: the ROI and idle windows), while the rollups hold the whole
-- history. senate.usage_rollups is keyed by entity first, so without another index these
-- reads scan every day ever rolled up. A BRIN index on usage_day lets them read only the
-- recent block ranges: rollup rows of a day are written on and after that day, so the
-- table's physical order follows usage_day closely. BRIN is tiny, costs the rollup upserts
-- next to nothing, and does not prevent HOT updates (usage_day never changes on upsert).
--
-- Built CONCURRENTLY (hence "transactional: false" above): on a deployment the rollups
-- already hold the folded history, and a plain CREATE INDEX would block the rollup upserts -
-- every usage insert - while it scans.
SET lock_timeout = '5s';

-- squawk: .squawk.toml assumes every file runs in a transaction; this one does not (first
-- line "-- transactional: false": yoyo runs it in autocommit), which CONCURRENTLY requires.
-- squawk-ignore ban-concurrent-index-creation-in-transaction
CREATE INDEX CONCURRENTLY IF NOT EXISTS usage_rollups_usage_day_brin
    ON senate.usage_rollups USING brin (usage_day);
COMMENT ON INDEX senate.usage_rollups_usage_day_brin IS
  'Block ranges by usage day: review cycles read only the recent days of all entities.';
