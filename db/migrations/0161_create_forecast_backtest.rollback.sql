-- Removes only what 0161 added: forecast_backtest, the report's runway view, their grants and
-- the S3009 error code.
SET lock_timeout = '5s';
DELETE FROM senate.table_access WHERE relation_name = 'public.senate_report_runway';
DELETE FROM senate.function_access WHERE function_name = 'public.forecast_backtest';
DELETE FROM senate.function_hardening
WHERE function_oid = pg_catalog.to_regprocedure('public.forecast_backtest(date, date)');
-- squawk-ignore ban-drop-view
DROP VIEW IF EXISTS public.senate_report_runway;
DROP FUNCTION IF EXISTS public.forecast_backtest(date, date);
DELETE FROM senate.error_codes WHERE sqlstate = 'S3009';
