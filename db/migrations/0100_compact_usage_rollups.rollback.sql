-- Removes only what 0100 added: the function and its access row. Compacted rollup rows stay
-- as they are (same totals; readers sum over shards either way).
SET lock_timeout = '5s';
DELETE FROM senate.function_hardening
WHERE function_oid = to_regprocedure('public.compact_usage_rollups(date, date)');
DELETE FROM senate.function_access WHERE function_name = 'public.compact_usage_rollups';
DROP FUNCTION IF EXISTS public.compact_usage_rollups(date, date);
