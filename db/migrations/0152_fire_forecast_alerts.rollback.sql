-- Removes only what 0152 added: check_forecast_alerts, the forecast alerts it wrote, the
-- alert_kind key and the forecast columns of spend_alerts; run_daily_check gets back the
-- definition 0152 saved.
SET lock_timeout = '5s';
DO $$
BEGIN
    PERFORM senate.restore_definitions('0152');
END;
$$;
DELETE FROM senate.function_access WHERE function_name = 'public.check_forecast_alerts';
DELETE FROM senate.function_hardening
WHERE function_oid = pg_catalog.to_regprocedure('public.check_forecast_alerts(timestamptz, text, text)');
DROP FUNCTION IF EXISTS public.check_forecast_alerts(timestamptz, text, text);
DELETE FROM public.spend_alerts WHERE alert_kind = 'forecast';
-- The key as 0036 made it, under its name. spend_alerts is the project's own table, written
-- only by the alert functions; a plain build takes milliseconds there.
-- squawk-ignore require-concurrent-index-creation
CREATE UNIQUE INDEX IF NOT EXISTS spend_alerts_once_per_period_idx
    ON public.spend_alerts (entity_type, entity_id, resource_type, period_start, threshold);
-- squawk-ignore ban-drop-constraint
ALTER TABLE public.spend_alerts DROP CONSTRAINT IF EXISTS spend_alerts_once_per_period;
ALTER TABLE public.spend_alerts ADD CONSTRAINT spend_alerts_once_per_period
    UNIQUE USING INDEX spend_alerts_once_per_period_idx;
COMMENT ON CONSTRAINT spend_alerts_once_per_period ON public.spend_alerts IS
  'Each threshold fires once per entity, class and budget period.';
CALL senate.release('0152');
COMMENT ON COLUMN public.spend_alerts.utilization IS 'spent / effective_budget (1 = 100 %); NULL when the effective budget is 0.';
COMMENT ON COLUMN public.spend_alerts.threshold IS 'Threshold crossed, as a fraction of the effective budget (0.8 = 80 %).';
COMMENT ON TABLE public.spend_alerts IS
  'Spend alerts: one row the first time an entity''s spend in a budget period reaches a policy '
  'alert threshold (fraction of its effective budget) for a resource class; each threshold fires '
  'once per period. Each new row is announced by pg_notify(''senate_spend_alerts'', JSON of its '
  'identifiers); listeners re-read the row here by alert_id.';

COMMENT ON COLUMN public.spend_alerts.fired_as_of IS
  'The as_of check_spend_alerts() judged the spend at (run_daily_check: the end of its day); '
  'fired_at is when the row was written. NULL for alerts fired before migration 0140.';
