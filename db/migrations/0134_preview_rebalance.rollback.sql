-- Removes only what 0134 added: preview_rebalance, the engine senate.plan_rebalance and
-- senate.rebalance_window, the reader's SELECT on rebalance_runs and rebalance_changes;
-- run_rebalance gets back the definition 0134 saved (the engine in its own body).
SET lock_timeout = '5s';
DELETE FROM senate.function_access
WHERE function_name IN ('public.preview_rebalance', 'senate.plan_rebalance',
                        'senate.rebalance_window');
DELETE FROM senate.table_access
WHERE relation_name IN ('public.rebalance_runs', 'public.rebalance_changes')
  AND role_name = 'senate_reader';
REVOKE SELECT ON public.rebalance_runs, public.rebalance_changes FROM senate_reader;
DO $$
BEGIN
    PERFORM senate.restore_definitions('0134');
END;
$$;
DELETE FROM senate.function_hardening
WHERE function_oid IN (
    SELECT p.oid FROM pg_catalog.pg_proc AS p
    WHERE p.oid IN (pg_catalog.to_regprocedure('public.preview_rebalance(text)'),
                    pg_catalog.to_regprocedure('public.preview_rebalance(timestamptz)'),
                    pg_catalog.to_regprocedure('senate.plan_rebalance(timestamptz, boolean, text)'),
                    pg_catalog.to_regprocedure('senate.rebalance_window(timestamptz)')));
DROP FUNCTION IF EXISTS public.preview_rebalance(text);
DROP FUNCTION IF EXISTS public.preview_rebalance(timestamptz);
DROP FUNCTION IF EXISTS senate.plan_rebalance(timestamptz, boolean, text);
DROP FUNCTION IF EXISTS senate.rebalance_window(timestamptz);
