-- Removes only what 0151 added: the budget_forecast view, its function and their grants.
SET lock_timeout = '5s';
DELETE FROM senate.table_access WHERE relation_name = 'public.budget_forecast';
DELETE FROM senate.function_access WHERE function_name = 'public.budget_forecast_as_of';
DELETE FROM senate.function_hardening
WHERE function_oid = pg_catalog.to_regprocedure('public.budget_forecast_as_of(timestamptz)');
-- squawk-ignore ban-drop-view
DROP VIEW IF EXISTS public.budget_forecast;
DROP FUNCTION IF EXISTS public.budget_forecast_as_of(timestamptz);
