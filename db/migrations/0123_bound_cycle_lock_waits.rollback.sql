-- Removes only what 0123 added: the lock_timeout clauses.
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
        EXECUTE pg_catalog.format('ALTER FUNCTION %s RESET lock_timeout', v_fn);
    END LOOP;
END;
$$;
