-- Removes only what 0038 added.
DROP FUNCTION IF EXISTS public.run_rebalance(timestamptz, boolean, text);
DROP TABLE IF EXISTS public.rebalance_changes;
DROP TABLE IF EXISTS public.rebalance_runs;
