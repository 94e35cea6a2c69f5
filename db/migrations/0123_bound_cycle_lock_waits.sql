-- Why (issue 15, "Lock hijack", point 7): a scheduled cycle must never hang on a lock. The
-- rebalance's one-at-a-time lock is now a row only the owner can lock (senate.lock_cycle,
-- 0038), waited for at most 5 s (S5030). The other locks the cycles take (budget envelopes,
-- reserve rows, throttles, snapshots, rollup rows) are project rows that only the project's
-- functions lock, but a caller can keep one in an open transaction (reserve_spend locks its
-- envelope until the caller commits). So every scheduled function now waits at most 5 s for
-- any lock: lock_timeout in its own SET clause (restored when it returns), and a lock it cannot
-- get fails the run with 55P03 (lock_not_available) after 5 s instead of hanging; nothing of
-- that run is written and the next run, once the lock is free, succeeds.
-- check_spend_alerts() got the same clause in 0122.
SET lock_timeout = '5s';

DO $$
DECLARE
    v_fn regprocedure;
BEGIN
    FOR v_fn IN
        SELECT p.oid::regprocedure FROM pg_catalog.pg_proc AS p
        WHERE p.oid IN (pg_catalog.to_regprocedure('public.run_rebalance(timestamptz, boolean, text)'),
                        pg_catalog.to_regprocedure('public.run_daily_check(date)'),
                        pg_catalog.to_regprocedure('public.record_economy_snapshot(timestamptz)'),
                        pg_catalog.to_regprocedure('public.compact_usage_rollups(date, date)'),
                        pg_catalog.to_regprocedure('public.cleanup_spend_reservations(interval)'))
    LOOP
        EXECUTE pg_catalog.format('ALTER FUNCTION %s SET lock_timeout = %L', v_fn, '5s');
    END LOOP;
END;
$$;
