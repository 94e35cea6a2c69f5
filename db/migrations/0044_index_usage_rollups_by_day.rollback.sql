-- transactional: false
-- Removes only what 0044 added.
-- squawk-ignore ban-concurrent-index-creation-in-transaction
DROP INDEX CONCURRENTLY IF EXISTS senate.usage_rollups_day_idx;
