-- Why (issue 18, point 2, "Forecast alerts"): an alert when the budget HAS run out comes too
-- late to act on. A forecast alert fires when the PROJECTED spend at period end
-- (budget_forecast, 0151) reaches a policy threshold (economics_policy.forecast_alert_thresholds,
-- default {1.0}: "at this rate it runs out before the period ends"), once per threshold per
-- entity, class and period, through the existing alert path:
--   * the ledger of alerts: a spend_alerts row with alert_kind = 'forecast' (existing rows and
--     check_spend_alerts' rows are 'actual'); "once per period" is the unique key, which now
--     includes alert_kind, so a forecast and an actual alert of the same threshold both fire;
--     the row carries the projection (projected_spend, daily_rate, runs_out_at);
--   * pg_notify('senate_spend_alerts', identifiers only, as 0122) with alert_kind 'forecast';
--     listeners re-read the row by alert_id;
--   * check_forecast_alerts(as_of, entity_type, entity_id) fires them; run_daily_check() calls
--     it after the actual-spend alerts (rows with action 'forecast_alert').
-- A forecast alert is a projection: it does not fire again in the period if the projection
-- falls and rises again, and it does not stop an actual alert.
--
-- spend_alerts is small (a few rows per entity and period) and written only by the alert
-- functions; the unique index is built inside this transaction (writes to spend_alerts wait
-- for it, bounded by lock_timeout) and replaces the old key under the same constraint name, so
-- check_spend_alerts (ON CONFLICT ON CONSTRAINT spend_alerts_once_per_period) is unchanged.
SET lock_timeout = '5s';

CALL senate.claim('0152', 'column', 'public.spend_alerts', 'alert_kind');
ALTER TABLE public.spend_alerts
    ADD COLUMN IF NOT EXISTS alert_kind text NOT NULL DEFAULT 'actual';
CALL senate.claim('0152', 'column', 'public.spend_alerts', 'projected_spend');
ALTER TABLE public.spend_alerts ADD COLUMN IF NOT EXISTS projected_spend numeric;
CALL senate.claim('0152', 'column', 'public.spend_alerts', 'daily_rate');
ALTER TABLE public.spend_alerts ADD COLUMN IF NOT EXISTS daily_rate numeric;
CALL senate.claim('0152', 'column', 'public.spend_alerts', 'runs_out_at');
ALTER TABLE public.spend_alerts ADD COLUMN IF NOT EXISTS runs_out_at timestamptz;

CALL senate.claim('0152', 'constraint', 'public.spend_alerts', 'spend_alerts_alert_kind_known');
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint AS c
                   WHERE c.conrelid = 'public.spend_alerts'::regclass
                     AND c.conname = 'spend_alerts_alert_kind_known') THEN
        -- A handful of rows, all 'actual' by the default: the validating scan is instant.
        -- squawk-ignore constraint-missing-not-valid
        ALTER TABLE public.spend_alerts ADD CONSTRAINT spend_alerts_alert_kind_known
            CHECK (alert_kind IN ('actual', 'forecast')
                   AND (alert_kind = 'forecast') = (projected_spend IS NOT NULL));
    END IF;
END;
$$;

-- The key "once per threshold per period" now per kind, under the same constraint name.
-- squawk-ignore require-concurrent-index-creation
CREATE UNIQUE INDEX IF NOT EXISTS spend_alerts_once_per_kind_idx
    ON public.spend_alerts (entity_type, entity_id, resource_type, period_start, threshold,
                            alert_kind);
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_catalog.pg_constraint AS c
        JOIN pg_catalog.pg_attribute AS a
          ON a.attrelid = c.conrelid AND a.attnum = ANY (c.conkey)
        WHERE c.conrelid = 'public.spend_alerts'::regclass
          AND c.conname = 'spend_alerts_once_per_period' AND a.attname = 'alert_kind') THEN
        -- squawk-ignore ban-drop-constraint
        ALTER TABLE public.spend_alerts DROP CONSTRAINT IF EXISTS spend_alerts_once_per_period;
        ALTER TABLE public.spend_alerts ADD CONSTRAINT spend_alerts_once_per_period
            UNIQUE USING INDEX spend_alerts_once_per_kind_idx;
    END IF;
END;
$$;

COMMENT ON COLUMN public.spend_alerts.alert_kind IS
  'actual (spend in the period reached the threshold; check_spend_alerts) or forecast (projected '
  'spend at period end reached it; check_forecast_alerts). Each kind fires once per threshold per '
  'period.';
COMMENT ON COLUMN public.spend_alerts.projected_spend IS
  'Forecast alerts: projected spend at period end when it fired (budget_forecast), in the unit of '
  'the class; NULL for actual alerts.';
COMMENT ON COLUMN public.spend_alerts.daily_rate IS
  'Forecast alerts: the estimated daily spend rate then (budget_forecast.daily_rate), in the unit '
  'of the class per day; NULL for actual alerts.';
COMMENT ON COLUMN public.spend_alerts.runs_out_at IS
  'Forecast alerts: when the budget runs out at that rate, if within the period; NULL otherwise '
  'and for actual alerts.';
COMMENT ON COLUMN public.spend_alerts.utilization IS
  'Actual alerts: spent / effective_budget; forecast alerts: projected_spend / effective_budget '
  '(1 = 100 %); NULL when the effective budget is 0.';
COMMENT ON COLUMN public.spend_alerts.threshold IS
  'Threshold crossed, as a fraction of the effective budget (0.8 = 80 %): of the spend '
  '(alert_kind actual, economics_policy.alert_thresholds) or of the projected spend (forecast, '
  'economics_policy.forecast_alert_thresholds).';
COMMENT ON CONSTRAINT spend_alerts_once_per_period ON public.spend_alerts IS
  'Each threshold fires once per entity, class, budget period and alert kind.';
COMMENT ON CONSTRAINT spend_alerts_alert_kind_known ON public.spend_alerts IS
  'alert_kind is actual or forecast; forecast alerts, and only they, carry projected_spend.';
COMMENT ON TABLE public.spend_alerts IS
  'Spend alerts: one row the first time an entity''s spend (alert_kind actual) or projected spend '
  'at period end (forecast) in a budget period reaches a policy alert threshold (fraction of its '
  'effective budget) for a resource class; each threshold fires once per period and kind. Each '
  'new row is announced by pg_notify(''senate_spend_alerts'', JSON of its identifiers); '
  'listeners re-read the row here by alert_id.';

COMMENT ON COLUMN public.spend_alerts.fired_as_of IS
  'The as_of check_spend_alerts() or check_forecast_alerts() judged the spend at '
  '(run_daily_check: the end of its day); fired_at is when the row was written. NULL for alerts '
  'fired before migration 0140.';

CREATE OR REPLACE FUNCTION public.check_forecast_alerts(
    as_of timestamptz DEFAULT now(), entity_type text DEFAULT NULL, entity_id text DEFAULT NULL)
RETURNS SETOF public.spend_alerts
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s'
AS $$
#variable_conflict use_column
DECLARE
    v_fired public.spend_alerts[];
    v_jit text := pg_catalog.current_setting('jit');
BEGIN
    IF $1 IS NULL OR $1 > pg_catalog.now() THEN
        PERFORM senate.raise_error('S3008',
            pg_catalog.format('check_forecast_alerts: as_of %s is not a time up to now',
                              coalesce($1::text, 'NULL')));
    END IF;
    IF ($2 IS NULL) <> ($3 IS NULL) THEN
        RAISE EXCEPTION USING
            ERRCODE = '22023',
            MESSAGE = 'check_forecast_alerts: give both entity_type and entity_id, or neither',
            COLUMN = CASE WHEN $2 IS NULL THEN 'entity_type' ELSE 'entity_id' END,
            DETAIL = pg_catalog.format('entity_type = %s, entity_id = %s',
                                       coalesce(pg_catalog.quote_literal(pg_catalog.left($2, 80)), 'NULL'),
                                       coalesce(pg_catalog.quote_literal(pg_catalog.left($3, 80)), 'NULL')),
            HINT = 'Omit both to check every entity.';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM public.economics_policy AS e WHERE e.is_active) THEN
        PERFORM senate.raise_error('S1002', 'check_forecast_alerts: no economics_policy is active');
    END IF;
    -- JIT compilation costs seconds per call and buys nothing at these sizes.
    PERFORM pg_catalog.set_config('jit', 'off', true);

    WITH t AS (
        SELECT DISTINCT x.threshold
        FROM public.economics_policy AS e
        CROSS JOIN LATERAL pg_catalog.unnest(e.forecast_alert_thresholds) AS x (threshold)
        WHERE e.is_active
    ), crossed AS (
        SELECT f.entity_type, f.entity_id, f.resource_type, f.period_start, f.period_end,
               t.threshold, f.spent, f.effective_budget, f.projected_utilization,
               f.projected_spend, f.daily_rate, f.runs_out_at
        FROM public.budget_forecast_as_of($1) AS f
        CROSS JOIN t
        WHERE ($2 IS NULL OR (f.entity_type = $2 AND f.entity_id = $3))
          AND f.projected_spend > 0
          AND f.projected_spend >= t.threshold * f.effective_budget
    ), fired AS (
        INSERT INTO public.spend_alerts AS a
            (entity_type, entity_id, resource_type, period_start, period_end, threshold, spent,
             effective_budget, utilization, alert_kind, projected_spend, daily_rate, runs_out_at,
             fired_as_of)
        SELECT c.entity_type, c.entity_id, c.resource_type, c.period_start, c.period_end,
               c.threshold, c.spent, c.effective_budget, c.projected_utilization, 'forecast',
               c.projected_spend, c.daily_rate, c.runs_out_at, $1
        FROM crossed AS c
        ORDER BY c.entity_type, c.entity_id, c.resource_type, c.threshold
        ON CONFLICT ON CONSTRAINT spend_alerts_once_per_period DO NOTHING
        RETURNING a.*
    )
    SELECT pg_catalog.array_agg(f ORDER BY f.alert_id) INTO v_fired FROM fired AS f;

    -- Delivered when this transaction commits, in firing order; identifiers only (0122).
    PERFORM pg_catalog.pg_notify('senate_spend_alerts',
                                 pg_catalog.json_build_object(
                                     'alert_id', a.alert_id, 'entity_type', a.entity_type,
                                     'entity_id', a.entity_id, 'resource_type', a.resource_type,
                                     'threshold', a.threshold, 'alert_kind', a.alert_kind)::text)
    FROM pg_catalog.unnest(v_fired) AS a
    ORDER BY a.alert_id;

    RETURN QUERY SELECT * FROM pg_catalog.unnest(v_fired) AS a ORDER BY a.alert_id;
    PERFORM pg_catalog.set_config('jit', v_jit, true);
END;
$$;
COMMENT ON FUNCTION public.check_forecast_alerts(timestamptz, text, text) IS
  'Fires the forecast alerts due as of as_of (default now): for every entity and class (or one '
  'entity) whose projected spend at the end of the budget period containing as_of '
  '(budget_forecast_as_of(as_of).projected_spend, > 0) has reached a policy forecast threshold x '
  'its effective budget (economics_policy.forecast_alert_thresholds) for the first time this '
  'period, writes a spend_alerts row with alert_kind forecast (with projected_spend, daily_rate, '
  'runs_out_at) and sends pg_notify(''senate_spend_alerts'', JSON of identifiers: alert_id, '
  'entity_type, entity_id, resource_type, threshold, alert_kind). Returns the new alerts. '
  'run_daily_check() calls it. Errors: S3008 as_of in the future or NULL, 22023 only one of '
  'entity_type / entity_id, S1002 no active policy.';

DO $$
BEGIN
    PERFORM senate.save_definition('0152', 'public.run_daily_check(date)');
END;
$$;

CREATE OR REPLACE FUNCTION public.run_daily_check(as_of date DEFAULT NULL::date)
RETURNS TABLE(action text, entity_type text, entity_id text, resource_type text, kind text,
              window_start date, window_end date, spent numeric, spent_cost_usd numeric,
              allowance numeric, detail text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s'
AS $_$
#variable_conflict use_column
DECLARE
    v_policy public.economics_policy;
    v_today date;
    v_day date;
    v_day_start timestamptz;
    v_alert_time timestamptz;
    v_prior_as_of timestamptz;
    v_past boolean;
    v_jit text := current_setting('jit');
BEGIN
    -- Planner settings for this call only (restored below; an error rolls them back):
    -- JIT compilation costs seconds per call and buys nothing at these sizes.
    PERFORM set_config('jit', 'off', true);
    SELECT * INTO v_policy FROM public.economics_policy AS e WHERE e.is_active;
    IF NOT FOUND THEN
        PERFORM senate.raise_error('S1002', 'run_daily_check: no economics_policy is active');
    END IF;
    v_today := (now() AT TIME ZONE v_policy.time_zone)::date;
    v_day := coalesce($1, v_today);
    IF v_day > v_today THEN
        PERFORM senate.raise_error('S3008',
            format('run_daily_check: %s is after today (%s in %s)', v_day, v_today,
                   v_policy.time_zone));
    END IF;
    v_day_start := v_day::timestamp AT TIME ZONE v_policy.time_zone;
    -- The alerts of a past day are judged at the end of that day.
    v_alert_time := least(now(), (v_day + 1)::timestamp AT TIME ZONE v_policy.time_zone
                                 - interval '1 microsecond');
    -- A past day's rows carry that day's times (budget_ledger.as_of, spend_throttles
    -- throttled_as_of / released_as_of): releases as of its start, throttles as of its end.
    -- Today's carry the transaction's declared as_of, else the clock.
    v_past := v_day < v_today;
    IF v_past THEN
        v_prior_as_of := senate.set_change_as_of(v_day_start);
    END IF;

    -- 1. Releases that are due.
    RETURN QUERY
    SELECT 'released'::text, t.entity_type, t.entity_id, t.resource_type, t.kind,
           t.window_start, t.window_end, t.spent, t.spent_cost_usd, t.allowance,
           t.release_reason
    FROM senate.release_lifted_throttles(NULL, NULL, v_day_start) AS t
    ORDER BY t.entity_type, t.entity_id, t.resource_type, t.kind;

    IF v_past THEN
        PERFORM senate.set_change_as_of(v_alert_time);
    END IF;

    -- 2. New throttles.
    RETURN QUERY
    WITH pb AS (
        SELECT b.period_start, b.period_end
        FROM senate.period_bounds(v_day_start, v_policy.budget_period, v_policy.time_zone) AS b
    ), spend AS (
        SELECT r.entity_type, r.entity_id, r.resource_type,
               coalesce(sum(r.amount_total) FILTER (WHERE r.usage_day = v_day), 0) AS day_spent,
               coalesce(sum(r.cost_total_usd) FILTER (WHERE r.usage_day = v_day), 0) AS day_cost,
               sum(r.amount_total) AS period_spent,
               sum(r.cost_total_usd) AS period_cost
        FROM senate.usage_rollups AS r, pb
        WHERE r.usage_day >= pb.period_start AND r.usage_day <= v_day
        GROUP BY r.entity_type, r.entity_id, r.resource_type
        HAVING sum(r.amount_total) > 0
    ), measured AS (
        SELECT s.*, pb.period_start, pb.period_end, e.effective_budget,
               coalesce(a.daily_allowance,
                        senate.derived_daily_allowance(e.effective_budget, pb.period_start,
                                                       pb.period_end)) AS daily_allowance,
               a.daily_allowance IS NOT NULL AS explicit_allowance
        FROM spend AS s
        CROSS JOIN pb
        JOIN public.resource_budgets AS b
          ON b.entity_type = s.entity_type AND b.entity_id = s.entity_id
        LEFT JOIN public.resource_daily_allowances AS a
          ON a.entity_type = s.entity_type AND a.entity_id = s.entity_id
         AND a.resource_type = s.resource_type
        CROSS JOIN LATERAL (SELECT senate.effective_class_budget(b, s.resource_type, v_policy)
                                AS effective_budget) AS e
    ), breaches AS (
        SELECT m.entity_type, m.entity_id, m.resource_type, 'period_budget' AS kind,
               m.period_start AS window_start, m.period_end AS window_end,
               m.period_spent AS spent, m.period_cost AS spent_cost_usd,
               m.effective_budget AS allowance,
               format('spent %s %s ($%s) in budget period %s..%s, over its effective budget of %s',
                      m.period_spent, m.resource_type, round(m.period_cost, 4), m.period_start,
                      m.period_end - 1, trim_scale(round(m.effective_budget, 2))) AS reason
        FROM measured AS m
        WHERE m.period_spent > m.effective_budget
        UNION ALL
        SELECT m.entity_type, m.entity_id, m.resource_type, 'daily_allowance',
               v_day, v_day + 1, m.day_spent, m.day_cost, m.daily_allowance,
               format('spent %s %s ($%s) on %s, over its %s daily allowance of %s',
                      m.day_spent, m.resource_type, round(m.day_cost, 4), v_day,
                      CASE WHEN m.explicit_allowance THEN 'explicit' ELSE 'derived' END,
                      trim_scale(round(m.daily_allowance, 2)))
        FROM measured AS m
        WHERE m.day_spent > m.daily_allowance AND m.period_end - m.period_start > 1
    ), placed AS (
        INSERT INTO public.spend_throttles AS t
            (entity_type, entity_id, resource_type, kind, window_start, window_end, spent,
             spent_cost_usd, allowance, reason, throttled_until)
        SELECT x.entity_type, x.entity_id, x.resource_type, x.kind, x.window_start, x.window_end,
               x.spent, x.spent_cost_usd, x.allowance, x.reason,
               x.window_end::timestamp AT TIME ZONE v_policy.time_zone
        FROM breaches AS x
        ORDER BY x.entity_type, x.entity_id, x.resource_type, x.kind
        ON CONFLICT (entity_type, entity_id, resource_type, kind) WHERE released_at IS NULL
        DO NOTHING
        RETURNING t.*
    )
    SELECT 'throttled'::text, p.entity_type, p.entity_id, p.resource_type, p.kind,
           p.window_start, p.window_end, p.spent, p.spent_cost_usd, p.allowance, p.reason
    FROM placed AS p
    ORDER BY p.entity_type, p.entity_id, p.resource_type, p.kind;

    -- 3. Spend alerts due (fired_as_of = the end of the day).
    RETURN QUERY
    SELECT 'alert'::text, a.entity_type, a.entity_id, a.resource_type,
           format('threshold %s', a.threshold), a.period_start, a.period_end, a.spent,
           NULL::numeric, a.effective_budget,
           format('spent %s of effective budget %s (%s %%) in %s..%s', a.spent,
                  trim_scale(round(a.effective_budget, 2)), round(100 * a.utilization, 1),
                  a.period_start, a.period_end - 1)
    FROM public.check_spend_alerts(v_alert_time) AS a;
    -- 4. Forecast alerts due (0152): projected spend at period end past a forecast threshold
    -- (fired_as_of = the end of the day, like the spend alerts).
    RETURN QUERY
    SELECT 'forecast_alert'::text, a.entity_type, a.entity_id, a.resource_type,
           format('forecast threshold %s', a.threshold), a.period_start, a.period_end, a.spent,
           NULL::numeric, a.effective_budget,
           format('projected %s of effective budget %s (%s %%) by %s at %s a day (spent %s)%s',
                  trim_scale(round(a.projected_spend, 2)), trim_scale(round(a.effective_budget, 2)),
                  round(100 * a.utilization, 1), a.period_end - 1,
                  trim_scale(round(a.daily_rate, 2)), trim_scale(round(a.spent, 2)),
                  CASE WHEN a.runs_out_at IS NOT NULL
                       THEN format('; runs out at %s', a.runs_out_at) ELSE '' END)
    FROM public.check_forecast_alerts(v_alert_time) AS a;

    IF v_past THEN
        PERFORM senate.set_change_as_of(v_prior_as_of);
    END IF;
    PERFORM set_config('jit', v_jit, true);
END;
$_$;
COMMENT ON FUNCTION public.run_daily_check(date) IS
  'Daily spend-safety review for the day as_of (default: today in the policy time zone; a future '
  'day -> S3008). Releases the throttles that are due (window ended, or spend within the '
  'allowance again), throttles each entity and class whose spend on that day passed its daily '
  'allowance (until the day ends) or whose spend in the budget period passed its effective budget '
  '(until the period ends), fires the spend alerts due (check_spend_alerts) and the forecast '
  'alerts due (check_forecast_alerts: projected spend at period end past a forecast threshold). '
  'Returns one row per action (released, throttled, alert, forecast_alert) with the window, spend '
  '(unit of the class) and cost (USD), the allowance passed and the reason (amounts rounded to 2 '
  'decimals for reading). Throttles and releases are in budget_ledger (account entity_status, '
  'cause throttle | release). For a past day the rows carry that day''s times '
  '(budget_ledger.as_of, spend_throttles.throttled_as_of / released_as_of, '
  'spend_alerts.fired_as_of): releases as of its start, throttles and alerts as of its end. '
  'Idempotent for a day.';

INSERT INTO senate.function_access
    (function_name, granted_to, security_definer, revoke_from_public, description) VALUES
  ('public.check_forecast_alerts', '{senate_admin}', true, true, 'Scheduler: forecast alerts.')
ON CONFLICT (function_name) DO NOTHING;

DO $$
BEGIN
    PERFORM senate.grant_role_privileges();
END;
$$;

CALL senate.settle_comments('0152');
