-- Puts back the definition of senate.usage_rollup_shard() that 0139 saved before replacing it.
SET lock_timeout = '5s';
DO $$
BEGIN
    PERFORM senate.restore_definitions('0139');
END;
$$;
