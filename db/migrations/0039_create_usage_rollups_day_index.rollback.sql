-- transactional: false
-- Removes only what 0039 added (concurrently, so that usage inserts are not blocked).
SET lock_timeout = '5s';

DROP INDEX CONCURRENTLY IF EXISTS senate.usage_rollups_usage_day_brin;
