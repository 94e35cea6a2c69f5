-- Why (issue 18, point 3, "How good is the forecast"): a runway (budget_forecast, 0151) is
-- only as useful as it is right. forecast_backtest(from_day, to_day) replays the runway
-- estimator over history: for every day d of the range whose budget period has ended, the
-- forecast it would have made at the start of d, for every entity and class with spend, against
-- what that period actually spent; errors per resource class, entity kind and day of period.
-- It reads senate.usage_rollups only (one range of days), never resource_usage.
--
-- The forecast made at the start of day d (00:00 in the policy time zone), with the policy as
-- it is now (budget_period, time_zone, forecast_window_days):
--   rate      = budget_forecast's estimator on the N complete days [d - N, d): trimmed mean,
--               k = greatest(1, N / 7) lowest and highest days dropped, days floored at 0;
--   spent     = spend of the period's days before d;
--   projected = spent + rate x remaining_days (period end - d, in days of 24 hours);
--   actual    = spend of the whole period;  error e = projected - actual.
-- That is budget_forecast_as_of(d 00:00) without the look-ahead (at 00:00 day d has no spend
-- yet). Points where both projected and actual are 0 carry nothing and are left out.
-- Per group:
--   wape   = sum |e| / sum actual             (weighted absolute percentage error, fraction)
--   bias   = sum e / sum actual               (> 0: the forecast over-projects, fraction)
--   mape   = mean of |e| / actual, actual > 0 (mean absolute percentage error, fraction)
--   median_ape = median of |e| / actual, actual > 0
--   mean_abs_error = mean |e|, in the unit of the class
-- Fractions: 1 = 100 %. Groups never pool resource classes (their units differ).
--
-- Cost: one range scan of the rollups over the days [first forecast day - N, last period end),
-- one row per entity, class and day of that span (0 when no spend), one sort of N values per
-- forecast: linear in entities x classes x days. On the default demo economy (520 entities,
-- 3 weeks scored, ~37 000 forecasts) it takes about 0.8 s. Readers may call it (it is
-- SECURITY INVOKER and reads only the rollups).
--
-- Also the report's runway section (senate_report_runway): the envelopes closest to running out
-- this period, from budget_forecast, rounded for reading like the other report views (0141).
SET lock_timeout = '5s';

INSERT INTO senate.error_codes (sqlstate, error_name, meaning, hint) VALUES
  ('S3009', 'backtest_range_invalid',
   'forecast_backtest was given a range whose first day is after its last, or longer than 366 '
   'days.',
   'Pass from_day <= to_day, at most 366 days apart, up to today (policy time zone).')
ON CONFLICT (sqlstate) DO NOTHING;

CREATE OR REPLACE FUNCTION public.forecast_backtest(from_day date, to_day date)
RETURNS TABLE (
    resource_type text, unit text, entity_type text, day_of_period integer, forecasts bigint,
    zero_actual bigint, wape numeric, bias numeric, mape numeric, median_ape numeric,
    mean_abs_error numeric)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
SET jit = off
AS $$
#variable_conflict use_column
DECLARE
    v_policy public.economics_policy;
    v_today date;
    v_n integer;
    v_k integer;
    v_first date;
    v_last date;
BEGIN
    SELECT * INTO v_policy FROM public.economics_policy AS e WHERE e.is_active;
    IF NOT FOUND THEN
        PERFORM senate.raise_error('S1002', 'forecast_backtest: no economics_policy is active');
    END IF;
    v_today := (now() AT TIME ZONE v_policy.time_zone)::date;
    IF $1 IS NULL OR $2 IS NULL OR $2 > v_today THEN
        RAISE EXCEPTION USING
            ERRCODE = 'S3008',
            MESSAGE = format('forecast_backtest: %s is not a day up to today (%s in %s)',
                             CASE WHEN $1 IS NULL THEN 'from_day NULL'
                                  ELSE 'to_day ' || coalesce($2::text, 'NULL') END,
                             v_today, v_policy.time_zone),
            COLUMN = CASE WHEN $1 IS NULL THEN 'from_day' ELSE 'to_day' END,
            HINT = 'Pass two days up to today; only budget periods that have ended are scored.';
    END IF;
    IF $1 > $2 OR $2 - $1 > 366 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'S3009',
            MESSAGE = format('forecast_backtest: from_day %s to to_day %s is not a range of 1 to '
                             '367 days', $1, $2),
            COLUMN = 'from_day',
            DETAIL = format('from_day = %s, to_day = %s', $1, $2),
            HINT = (SELECT e.hint FROM senate.error_codes AS e WHERE e.sqlstate = 'S3009');
    END IF;
    v_n := v_policy.forecast_window_days;
    v_k := greatest(1, v_n / 7);
    -- The span read: from the first window (or the first period) to the end of the last period
    -- that has ended by today and holds a day of the range.
    SELECT least($1 - v_n, b.period_start) INTO v_first
    FROM senate.period_bounds($1::timestamp AT TIME ZONE v_policy.time_zone,
                              v_policy.budget_period, v_policy.time_zone) AS b;
    SELECT least(e.period_end, t.period_start) INTO v_last
    FROM senate.period_bounds($2::timestamp AT TIME ZONE v_policy.time_zone,
                              v_policy.budget_period, v_policy.time_zone) AS e,
         senate.period_bounds(v_today::timestamp AT TIME ZONE v_policy.time_zone,
                              v_policy.budget_period, v_policy.time_zone) AS t;
    IF v_last <= $1 THEN
        RETURN;  -- no period of the range has ended yet
    END IF;

    RETURN QUERY
    WITH cal AS MATERIALIZED (
        -- Every day of the span with its budget period; scored: a forecast day of the range.
        SELECT c.day, pb.period_start,
               c.day - pb.period_start + 1 AS day_of_period,
               extract(epoch FROM pb.ends_at - (c.day::timestamp AT TIME ZONE v_policy.time_zone))
                   / 86400 AS remaining_days,
               c.day BETWEEN $1 AND $2 AS scored
        FROM (SELECT s.t::date AS day
              FROM generate_series(v_first::timestamp, (v_last - 1)::timestamp,
                                   interval '1 day') AS s (t)) AS c
        CROSS JOIN LATERAL senate.period_bounds(c.day::timestamp AT TIME ZONE v_policy.time_zone,
                                                v_policy.budget_period, v_policy.time_zone) AS pb
    ), daily AS MATERIALIZED (
        SELECT r.entity_type, r.entity_id, r.resource_type, r.usage_day,
               sum(r.amount_total) AS amount
        FROM senate.usage_rollups AS r
        WHERE r.usage_day >= v_first AND r.usage_day < v_last
        GROUP BY r.entity_type, r.entity_id, r.resource_type, r.usage_day
    ), keys AS MATERIALIZED (
        -- Every entity and class with spend in the span, numbered (cheap window sorts).
        SELECT row_number() OVER () AS key_id, k.entity_type, k.resource_type, k.entity_id
        FROM (SELECT DISTINCT d.entity_type, d.entity_id, d.resource_type FROM daily AS d) AS k
    ), dense AS (
        -- One row per entity, class and day of the span: its spend (0 without any).
        SELECT z.key_id, z.day, sum(z.amount) AS amount
        FROM (SELECT k.key_id, d.usage_day AS day, d.amount
              FROM daily AS d
              JOIN keys AS k
                ON k.entity_type = d.entity_type AND k.entity_id = d.entity_id
               AND k.resource_type = d.resource_type
              UNION ALL
              SELECT k.key_id, c.day, 0
              FROM keys AS k CROSS JOIN cal AS c) AS z
        GROUP BY z.key_id, z.day
    ), measured AS (
        -- Per day: the spend of its period before it, the period's total, the window before it.
        SELECT y.key_id, c.day_of_period, c.scored, c.remaining_days,
               coalesce(sum(y.amount) OVER w_period_before, 0) AS spent_before,
               sum(y.amount) OVER w_period AS actual,
               array_agg(greatest(y.amount, 0)) OVER w_window AS window_amounts
        FROM dense AS y
        JOIN cal AS c ON c.day = y.day
        WINDOW w_period AS (PARTITION BY y.key_id, c.period_start),
               w_period_before AS (w_period ORDER BY y.day
                                   ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING),
               w_window AS (PARTITION BY y.key_id ORDER BY y.day
                            ROWS BETWEEN v_n PRECEDING AND 1 PRECEDING)
    ), points AS (
        SELECT k.entity_type, k.resource_type, m.day_of_period,
               m.spent_before + tm.rate * m.remaining_days AS projected, m.actual
        FROM (SELECT * FROM measured AS x WHERE x.scored) AS m
        JOIN keys AS k ON k.key_id = m.key_id
        CROSS JOIN LATERAL (
            SELECT coalesce(sum(w.x), 0) / (v_n - 2 * v_k) AS rate
            FROM (SELECT u.x FROM unnest(m.window_amounts) AS u (x)
                  ORDER BY u.x OFFSET v_k LIMIT v_n - 2 * v_k) AS w) AS tm
    ), scored AS (
        SELECT p.*, p.projected - p.actual AS err,
               CASE WHEN p.actual > 0 THEN abs(p.projected - p.actual) / p.actual END AS ape
        FROM points AS p
        WHERE p.projected <> 0 OR p.actual <> 0
    )
    SELECT x.resource_type, t.unit, x.entity_type, x.day_of_period, count(*),
           count(*) FILTER (WHERE x.actual = 0),
           round(CASE WHEN sum(x.actual) > 0 THEN sum(abs(x.err)) / sum(x.actual) END, 6),
           round(CASE WHEN sum(x.actual) > 0 THEN sum(x.err) / sum(x.actual) END, 6),
           round(avg(x.ape), 6),
           round((percentile_cont(0.5) WITHIN GROUP (ORDER BY x.ape::double precision))::numeric, 6),
           round(avg(abs(x.err)), 2)
    FROM scored AS x
    JOIN public.resource_types AS t ON t.resource_type = x.resource_type
    GROUP BY GROUPING SETS ((x.resource_type, t.unit, x.entity_type, x.day_of_period),
                            (x.resource_type, t.unit, x.entity_type),
                            (x.resource_type, t.unit, x.day_of_period),
                            (x.resource_type, t.unit))
    ORDER BY x.resource_type, x.entity_type NULLS FIRST, x.day_of_period NULLS FIRST;
END;
$$;
COMMENT ON FUNCTION public.forecast_backtest(date, date) IS
  'How good is the runway forecast: for every day d in [from_day, to_day] whose budget period has '
  'ended, the forecast budget_forecast would have made at the start of d (policy time zone; '
  'rate = trimmed mean of the N = forecast_window_days days before d, projected = spend of the '
  'period before d + rate x days left) for every entity and class with spend, against what the '
  'period actually spent. One row per resource class (with its unit) and entity kind and day of '
  'period (1 = first day); NULL entity_type or day_of_period = all of them. forecasts = points '
  'scored (projected and actual both 0 are left out); zero_actual = of them, periods that spent '
  'nothing; wape = sum |projected - actual| / sum actual; bias = sum (projected - actual) / sum '
  'actual (> 0 over-projects); mape and median_ape = mean and median of |projected - actual| / '
  'actual over points with actual > 0 (fractions, 1 = 100 %, to 6 decimals); mean_abs_error in '
  'the unit of the class (2 decimals). Reads senate.usage_rollups only. Errors: S3008 a NULL day or to_day after today, S3009 '
  'from_day after to_day or more than 366 days apart, S1002 no active policy.';

-- The report's runway section: the envelopes closest to running out this period. Its columns
-- do not move with the clock within a day (spent and the rate are per day; runway_days is
-- counted from them), except the runs-out hour and the projected percentage, which change
-- by the second only at a rounding boundary.
CREATE OR REPLACE VIEW public.senate_report_runway AS
SELECT f.entity_type,
       f.entity_id,
       f.resource_type,
       f.unit,
       trim_scale(round(f.effective_budget, 2)) AS effective_budget,
       trim_scale(round(f.spent, 2)) AS spent,
       trim_scale(round(f.daily_rate, 2)) AS daily_rate,
       round((f.effective_budget - f.spent) / f.daily_rate, 2) AS runway_days,
       round(f.projected_utilization, 2) AS projected_utilization,
       f.runs_out_local,
       f.runs_out_at,
       f.period_end
FROM public.budget_forecast AS f
WHERE f.runway_status = 'runs_out'
ORDER BY (f.effective_budget - f.spent) / f.daily_rate, f.entity_type, f.entity_id,
         f.resource_type;
COMMENT ON VIEW public.senate_report_runway IS
  'Runway: entity and class pairs projected to run out before this budget period ends '
  '(budget_forecast.runway_status runs_out), soonest first; amounts rounded to 2 decimals for '
  'reading (exact values in budget_forecast).';
COMMENT ON COLUMN public.senate_report_runway.entity_type IS 'Kind of entity.';
COMMENT ON COLUMN public.senate_report_runway.entity_id IS 'Entity identifier.';
COMMENT ON COLUMN public.senate_report_runway.resource_type IS 'Resource class.';
COMMENT ON COLUMN public.senate_report_runway.unit IS 'Unit of the amounts: tokens, CPU-seconds, GB-hours or calls.';
COMMENT ON COLUMN public.senate_report_runway.effective_budget IS 'Effective budget this period, in unit (2 decimals).';
COMMENT ON COLUMN public.senate_report_runway.spent IS 'Spend this period so far, today included, in unit (2 decimals).';
COMMENT ON COLUMN public.senate_report_runway.daily_rate IS 'Estimated spend per day (budget_forecast.daily_rate), in unit per day (2 decimals).';
COMMENT ON COLUMN public.senate_report_runway.runway_days IS '(effective_budget - spent) / daily_rate: days of spend left at that rate, in days (2 decimals).';
COMMENT ON COLUMN public.senate_report_runway.projected_utilization IS 'Projected spend at period end / effective_budget, as a fraction (2 decimals: whole percent).';
COMMENT ON COLUMN public.senate_report_runway.runs_out_local IS 'When it runs out at that rate, local wall-clock time in the policy time zone, to the hour.';
COMMENT ON COLUMN public.senate_report_runway.runs_out_at IS 'When it runs out at that rate (timestamptz, exact).';
COMMENT ON COLUMN public.senate_report_runway.period_end IS 'First day after the budget period (exclusive bound).';

INSERT INTO senate.function_access
    (function_name, granted_to, security_definer, revoke_from_public, description) VALUES
  ('public.forecast_backtest', '{senate_reader}', false, false,
   'Read over the rollups (the runway backtest); readers may read them.')
ON CONFLICT (function_name) DO NOTHING;

INSERT INTO senate.table_access (relation_name, role_name, privilege) VALUES
  ('public.senate_report_runway', 'senate_reader', 'SELECT'),
  ('public.senate_report_runway', 'senate_owner', 'SELECT')
ON CONFLICT DO NOTHING;

DO $$
BEGIN
    PERFORM senate.grant_role_privileges();
END;
$$;
