-- Removes only what 0041 added. Roll back 0042 first (it calls this function).
DROP FUNCTION IF EXISTS senate.usage_rollup_shard();
