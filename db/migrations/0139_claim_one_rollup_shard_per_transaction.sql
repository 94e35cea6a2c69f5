-- Why: senate.usage_rollup_shard() (0041) claimed a shard afresh on every call. A transaction
-- that charged two entities (two statements) could claim shard s1 on the first and, its
-- pid % 16 shard having been freed meanwhile, a second shard s2 on the second: one transaction
-- then held two of the 16 shards, so with 16 concurrent writers one found none free, shared a
-- shard unlocked, and two writers upserting the same two rollup rows in opposite orders
-- deadlocked (tests/test_perf_contention.py, once on PostgreSQL 15 in CI).
-- Now the shard a transaction claimed is remembered for the rest of that transaction (a
-- transaction-local setting, re-checked against the advisory lock, so a caller who sets it
-- gains nothing) and reused: one shard per writing transaction.
SET lock_timeout = '5s';

DO $$
BEGIN
    PERFORM senate.save_definition('0139', 'senate.usage_rollup_shard()');
END;
$$;

CREATE OR REPLACE FUNCTION senate.usage_rollup_shard()
RETURNS smallint
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_claimed text := pg_catalog.current_setting('senate.usage_rollup_shard', true);
    v_first integer := pg_catalog.pg_backend_pid() % 16;
BEGIN
    -- The shard this transaction claimed before (taking it again is a no-op for its holder;
    -- a value set by hand is only used if its lock can be taken).
    IF v_claimed ~ '^([0-9]|1[0-5])$'
       AND pg_catalog.pg_try_advisory_xact_lock(1397050945, v_claimed::integer) THEN
        RETURN v_claimed::smallint;
    END IF;
    FOR i IN 0 .. 15 LOOP
        IF pg_catalog.pg_try_advisory_xact_lock(1397050945, (v_first + i) % 16) THEN
            PERFORM pg_catalog.set_config('senate.usage_rollup_shard', ((v_first + i) % 16)::text, true);
            RETURN (v_first + i) % 16;
        END IF;
    END LOOP;
    RETURN v_first;
END;
$$;
COMMENT ON FUNCTION senate.usage_rollup_shard() IS
  'Shard (0-15) of senate.usage_rollups the current transaction writes: held with a '
  'transaction-scoped advisory lock (key 1397050945, shard), trying pg_backend_pid() % 16 '
  'first, and remembered for the rest of the transaction (setting senate.usage_rollup_shard, '
  'transaction-local) so a transaction holds one shard; at most 16 concurrent writing '
  'transactions never share one; with more, the extra writers share pid % 16 unlocked.';
