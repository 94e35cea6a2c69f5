-- Why: the usage rollups are sharded by writer so that concurrent writers charging the
-- same entity do not queue on one row. 0009 picks the shard as pg_backend_pid() % 16:
-- two live backends whose pids agree mod 16 share a shard, so they wait for each other
-- on the hot entity's rollup row, and two transactions that each charge two entities in
-- opposite orders can deadlock (40P01). With 16 writers the first bench run found them
-- on only 11 of the 16 shards.
--
-- senate.usage_rollup_shard() claims a shard with a transaction-scoped advisory lock,
-- trying pid % 16 first and then the next ones. While at most 16 transactions write usage
-- at once, no two of them ever hold the same shard, so rollup upserts never wait for
-- each other and cannot deadlock. A 17th concurrent writer does not wait for a shard: it
-- writes pid % 16 without holding it (the 0009 behaviour), so throughput never falls
-- below what it was.
-- Re-asking within one transaction is cheap: the lock already held is granted again from
-- the backend's local lock table. If pid % 16 was busy at the first statement and free at
-- a later one, the transaction ends up holding two shards; readers sum over shards, so
-- totals are unaffected. Locks end with the transaction (or its savepoint).
-- Advisory lock key: (1397050945, shard); 1397050945 is 'SENA' in ASCII, reserved here.
SET lock_timeout = '5s';

CREATE OR REPLACE FUNCTION senate.usage_rollup_shard()
RETURNS smallint
LANGUAGE plpgsql VOLATILE
AS $$
DECLARE
    v_first integer := pg_backend_pid() % 16;
BEGIN
    FOR i IN 0 .. 15 LOOP
        IF pg_try_advisory_xact_lock(1397050945, (v_first + i) % 16) THEN
            RETURN (v_first + i) % 16;
        END IF;
    END LOOP;
    RETURN v_first;
END;
$$;
COMMENT ON FUNCTION senate.usage_rollup_shard() IS
  'Shard (0-15) of senate.usage_rollups the current transaction writes: held with a '
  'transaction-scoped advisory lock (key 1397050945, shard), trying pg_backend_pid() % 16 '
  'first, so at most 16 concurrent writing transactions never share one; with more, the '
  'extra writers share pid % 16 unlocked.';
