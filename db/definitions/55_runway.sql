-- db/definitions/55_runway.sql -- Runway: the spend-rate estimator and the forecast of each envelope's period end.
--
-- The current definition of each function and view below; the post-apply hook
-- (db/migrations/post-apply_definitions.py) applies an object whenever its text here
-- changes. Each object starts at its '-- define' line. See README, "Adding a migration".

-- define function public.budget_forecast_as_of(timestamp with time zone)
CREATE OR REPLACE FUNCTION public.budget_forecast_as_of(as_of timestamp with time zone)
 RETURNS TABLE(entity_type text, entity_id text, resource_type text, unit text, effective_budget numeric, period_start date, period_end date, period_ends_at timestamp with time zone, spent numeric, window_start date, window_end date, window_days integer, trimmed_days integer, active_days integer, daily_rate numeric, remaining_days numeric, projected_spend numeric, projected_utilization numeric, runway_status text, runs_out_at timestamp with time zone, runs_out_local timestamp without time zone)
 LANGUAGE sql
 STABLE PARALLEL SAFE
AS $function$
    SELECT b.entity_type,
           b.entity_id,
           t.resource_type,
           t.unit,
           e.effective_budget,
           pb.period_start,
           pb.period_end,
           pb.ends_at,
           s.spent,
           pb.window_start,
           pb.as_of_day,
           pb.window_days,
           pb.trimmed_days,
           s.active_days,
           s.daily_rate,
           pb.remaining_days,
           f.projected_spend,
           CASE WHEN e.effective_budget > 0 THEN f.projected_spend / e.effective_budget END,
           CASE WHEN s.spent >= e.effective_budget THEN 'exhausted'
                WHEN f.projected_spend >= e.effective_budget THEN 'runs_out'
                ELSE 'lasts' END,
           o.runs_out_at,
           date_trunc('hour', o.runs_out_at AT TIME ZONE pb.time_zone)
    FROM public.resource_budgets AS b
    CROSS JOIN public.resource_types AS t
    CROSS JOIN (
        SELECT bounds.period_start, bounds.period_end, bounds.ends_at, p.time_zone,
               p.min_priority_for_market_weight, p.max_market_boost, p.max_market_penalty,
               d.as_of_day, d.as_of_day - p.forecast_window_days AS window_start,
               p.forecast_window_days AS window_days,
               greatest(1, p.forecast_window_days / 7) AS trimmed_days,
               greatest(extract(epoch FROM bounds.ends_at - as_of), 0) / 86400 AS remaining_days
        FROM public.economics_policy AS p
        CROSS JOIN LATERAL senate.period_bounds(as_of, p.budget_period, p.time_zone) AS bounds
        CROSS JOIN LATERAL (SELECT (as_of AT TIME ZONE p.time_zone)::date AS as_of_day) AS d
        WHERE p.is_active) AS pb
    CROSS JOIN LATERAL (SELECT public.effective_budget(
                                   senate.budget_amount(b, t.resource_type),
                                   senate.applied_market_weight(
                                       b.market_weight, b.priority_score,
                                       pb.min_priority_for_market_weight, pb.max_market_boost,
                                       pb.max_market_penalty)) AS effective_budget) AS e
    -- One index range of the rollups per envelope and class: the days of the estimator's
    -- window and of the period so far, summed over shards and subclasses per day.
    CROSS JOIN LATERAL (
        SELECT coalesce(sum(v.amount) FILTER (WHERE v.in_period), 0) AS spent,
               count(*) FILTER (WHERE v.in_window AND v.amount > 0)::integer AS active_days,
               coalesce(sum(greatest(v.amount, 0)) FILTER (
                   WHERE v.in_window
                     AND pb.window_days - v.window_count + v.window_rank > pb.trimmed_days
                     AND pb.window_days - v.window_count + v.window_rank
                         <= pb.window_days - pb.trimmed_days), 0)
               / (pb.window_days - 2 * pb.trimmed_days) AS daily_rate
        FROM (
            SELECT d.amount, d.in_period, d.in_window,
                   row_number() OVER (PARTITION BY d.in_window
                                      ORDER BY greatest(d.amount, 0), d.usage_day) AS window_rank,
                   count(*) OVER (PARTITION BY d.in_window) AS window_count
            FROM (
                SELECT r.usage_day, sum(r.amount_total) AS amount,
                       r.usage_day >= pb.period_start AS in_period,
                       r.usage_day >= pb.window_start AND r.usage_day < pb.as_of_day AS in_window
                FROM senate.usage_rollups AS r
                WHERE r.entity_type = b.entity_type AND r.entity_id = b.entity_id
                  AND r.resource_type = t.resource_type
                  AND r.usage_day >= least(pb.period_start, pb.window_start)
                  AND r.usage_day <= pb.as_of_day
                GROUP BY r.usage_day) AS d
        ) AS v
    ) AS s
    CROSS JOIN LATERAL (SELECT s.spent + s.daily_rate * pb.remaining_days AS projected_spend) AS f
    -- Computed only when it falls within the period, so the interval stays in range.
    CROSS JOIN LATERAL (
        SELECT CASE WHEN s.spent < e.effective_budget AND s.daily_rate > 0
                         AND f.projected_spend >= e.effective_budget
                    THEN least(as_of + make_interval(secs => ((e.effective_budget - s.spent)
                                                              / s.daily_rate * 86400)::double precision),
                               pb.ends_at)
               END AS runs_out_at) AS o
    -- The money class usd has no runway yet (its spend is the cost of every class).
    WHERE t.resource_type <> 'usd'
$function$;
COMMENT ON FUNCTION public.budget_forecast_as_of(timestamp with time zone) IS 'budget_forecast as of a time: the runway of every envelope and resource class in the budget period containing as_of (budgets, weights and policy as they are now; spend up to as_of''s day; rate from the forecast_window_days complete days before it). An inlinable SQL function: filters on entity_type and entity_id reach the rollup scan. budget_forecast is budget_forecast_as_of(now()). The money class usd (cost budgets) is not forecast.';

-- define view public.budget_forecast
CREATE OR REPLACE VIEW public.budget_forecast AS
SELECT f.entity_type, f.entity_id, f.resource_type, f.unit, f.effective_budget, f.period_start,
       f.period_end, f.period_ends_at, f.spent, f.window_start, f.window_end, f.window_days,
       f.trimmed_days, f.active_days, f.daily_rate, f.remaining_days, f.projected_spend,
       f.projected_utilization, f.runway_status, f.runs_out_at, f.runs_out_local
FROM public.budget_forecast_as_of(now()) AS f;
COMMENT ON VIEW public.budget_forecast IS 'Runway per entity and resource class in the current budget period, from senate.usage_rollups only (fast at any history size; filter by entity_type and entity_id). daily_rate = trimmed mean of the daily spend over the N = economics_policy.forecast_window_days complete days before today (days without spend count 0): drop the k = greatest(1, N / 7) lowest and k highest days, average the other N - 2k (robust to a one-day spike and a quiet weekend). projected_spend = spent (period so far, today included) + daily_rate x remaining_days; runs_out_at = now() + (effective_budget - spent) / daily_rate days when that is before the period ends. Columns are only ever appended.';
COMMENT ON COLUMN public.budget_forecast.entity_type IS 'Kind of entity.';
COMMENT ON COLUMN public.budget_forecast.entity_id IS 'Entity identifier.';
COMMENT ON COLUMN public.budget_forecast.resource_type IS 'Resource class: llm_tokens, cpu_seconds, storage_gb_hours, api_calls.';
COMMENT ON COLUMN public.budget_forecast.unit IS 'Unit of the budget, spend and rate columns: tokens, CPU-seconds, GB-hours or calls.';
COMMENT ON COLUMN public.budget_forecast.effective_budget IS 'Effective budget of the class for the period (as budget_status), in unit.';
COMMENT ON COLUMN public.budget_forecast.period_start IS 'First day of the current budget period (policy time zone).';
COMMENT ON COLUMN public.budget_forecast.period_end IS 'First day AFTER the current budget period (exclusive bound).';
COMMENT ON COLUMN public.budget_forecast.period_ends_at IS 'Instant the current budget period ends (timestamptz).';
COMMENT ON COLUMN public.budget_forecast.spent IS 'Spend in the period so far, today included, in unit.';
COMMENT ON COLUMN public.budget_forecast.window_start IS 'First day of the estimator window (today - forecast_window_days), policy time zone.';
COMMENT ON COLUMN public.budget_forecast.window_end IS 'First day after the estimator window: today (a partial day, not in the window).';
COMMENT ON COLUMN public.budget_forecast.window_days IS 'N: complete days in the estimator window (economics_policy.forecast_window_days), in days.';
COMMENT ON COLUMN public.budget_forecast.trimmed_days IS 'k = greatest(1, N / 7): days dropped at each end (lowest and highest) before averaging, in days.';
COMMENT ON COLUMN public.budget_forecast.active_days IS 'Days of the window with spend > 0, in days.';
COMMENT ON COLUMN public.budget_forecast.daily_rate IS 'Estimated spend per day (24 hours), in unit per day: trimmed mean of the window''s daily spend.';
COMMENT ON COLUMN public.budget_forecast.remaining_days IS 'Time left in the period, in days of 24 hours (fractional, >= 0).';
COMMENT ON COLUMN public.budget_forecast.projected_spend IS 'spent + daily_rate x remaining_days: spend at period end at this rate, in unit.';
COMMENT ON COLUMN public.budget_forecast.projected_utilization IS 'projected_spend / effective_budget as a fraction (1 = 100 %); NULL when the effective budget is 0.';
COMMENT ON COLUMN public.budget_forecast.runway_status IS 'exhausted (spent >= effective budget already), runs_out (projected_spend >= effective budget: it runs out before the period ends) or lasts.';
COMMENT ON COLUMN public.budget_forecast.runs_out_at IS 'When spent + daily_rate x t reaches the effective budget, if within the period (runway_status runs_out); NULL otherwise.';
COMMENT ON COLUMN public.budget_forecast.runs_out_local IS 'runs_out_at as a local wall-clock time in the policy time zone, to the hour (day and hour it runs out).';

-- define function public.forecast_backtest(date,date)
CREATE OR REPLACE FUNCTION public.forecast_backtest(from_day date, to_day date)
 RETURNS TABLE(resource_type text, unit text, entity_type text, day_of_period integer, forecasts bigint, zero_actual bigint, wape numeric, bias numeric, mape numeric, median_ape numeric, mean_abs_error numeric)
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
 SET jit TO 'off'
AS $function$
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
$function$;
COMMENT ON FUNCTION public.forecast_backtest(date,date) IS 'How good is the runway forecast: for every day d in [from_day, to_day] whose budget period has ended, the forecast budget_forecast would have made at the start of d (policy time zone; rate = trimmed mean of the N = forecast_window_days days before d, projected = spend of the period before d + rate x days left) for every entity and class with spend, against what the period actually spent. One row per resource class (with its unit) and entity kind and day of period (1 = first day); NULL entity_type or day_of_period = all of them. forecasts = points scored (projected and actual both 0 are left out); zero_actual = of them, periods that spent nothing; wape = sum |projected - actual| / sum actual; bias = sum (projected - actual) / sum actual (> 0 over-projects); mape and median_ape = mean and median of |projected - actual| / actual over points with actual > 0 (fractions, 1 = 100 %, to 6 decimals); mean_abs_error in the unit of the class (2 decimals). Reads senate.usage_rollups only. Errors: S3008 a NULL day or to_day after today, S3009 from_day after to_day or more than 366 days apart, S1002 no active policy.';
