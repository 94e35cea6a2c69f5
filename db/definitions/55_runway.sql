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
$function$;
COMMENT ON FUNCTION public.budget_forecast_as_of(timestamp with time zone) IS 'budget_forecast as of a time: the runway of every envelope and resource class in the budget period containing as_of (budgets, weights and policy as they are now; spend up to as_of''s day; rate from the forecast_window_days complete days before it). An inlinable SQL function: filters on entity_type and entity_id reach the rollup scan. budget_forecast is budget_forecast_as_of(now()).';

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
