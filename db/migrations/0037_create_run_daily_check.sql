-- Why: the spec reviews allocations "daily for spend safety". run_daily_check(as_of)
-- compares each entity's spend (amounts, with their USD cost) with its allowance, from
-- the usage rollups (never a scan of resource_usage), and throttles the entities past it:
--   * daily_allowance: spend on the day as_of > daily allowance (resource_daily_allowances,
--     else effective budget / days in the budget period) -> throttled for the rest of that
--     day (not checked when the budget period is one day: then it is the period budget);
--   * period_budget: spend in the budget period up to as_of > effective budget -> throttled
--     until the period ends.
-- It first records the releases that are due: throttles whose window ended before as_of
-- (a new day or period started) and throttles whose window's spend is within the
-- allowance again (a budget rise releases at once through the t60 triggers of 0032; the
-- daily check catches anything else, such as a corrected usage row). Then it fires the
-- spend alerts due (check_spend_alerts). Throttles and releases reach budget_ledger
-- (account entity_status, delta 0, cause throttle | release, note the reason).
--
-- Idempotent: a second run for the same day finds the throttles already in place (one
-- active throttle per entity, class and kind) and the alerts already fired. Checking a
-- past day (catching up after an outage) records what that day deserved; a day in the
-- future is refused (S3008), since it would release throttles early.
SET lock_timeout = '5s';

CREATE OR REPLACE FUNCTION public.run_daily_check(as_of date DEFAULT NULL)
RETURNS TABLE (
    action text, entity_type text, entity_id text, resource_type text, kind text,
    window_start date, window_end date, spent numeric, spent_cost_usd numeric,
    allowance numeric, detail text)
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    v_policy public.economics_policy;
    v_today date;
    v_day date;
    v_day_start timestamptz;
    v_alert_time timestamptz;
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

    -- 1. Releases that are due.
    RETURN QUERY
    SELECT 'released'::text, t.entity_type, t.entity_id, t.resource_type, t.kind,
           t.window_start, t.window_end, t.spent, t.spent_cost_usd, t.allowance,
           t.release_reason
    FROM senate.release_lifted_throttles(NULL, NULL, v_day_start) AS t
    ORDER BY t.entity_type, t.entity_id, t.resource_type, t.kind;

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
                      m.period_end - 1, round(m.effective_budget, 6)) AS reason
        FROM measured AS m
        WHERE m.period_spent > m.effective_budget
        UNION ALL
        SELECT m.entity_type, m.entity_id, m.resource_type, 'daily_allowance',
               v_day, v_day + 1, m.day_spent, m.day_cost, m.daily_allowance,
               format('spent %s %s ($%s) on %s, over its %s daily allowance of %s',
                      m.day_spent, m.resource_type, round(m.day_cost, 4), v_day,
                      CASE WHEN m.explicit_allowance THEN 'explicit' ELSE 'derived' END,
                      round(m.daily_allowance, 6))
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

    -- 3. Spend alerts due.
    RETURN QUERY
    SELECT 'alert'::text, a.entity_type, a.entity_id, a.resource_type,
           format('threshold %s', a.threshold), a.period_start, a.period_end, a.spent,
           NULL::numeric, a.effective_budget,
           format('spent %s of effective budget %s (%s %%) in %s..%s', a.spent,
                  round(a.effective_budget, 6), round(100 * a.utilization, 1), a.period_start,
                  a.period_end - 1)
    FROM public.check_spend_alerts(v_alert_time) AS a;
    PERFORM set_config('jit', v_jit, true);
END;
$$;
COMMENT ON FUNCTION public.run_daily_check(date) IS
  'Daily spend-safety review for the day as_of (default: today in the policy time zone; a future '
  'day -> S3008). Releases the throttles that are due (window ended, or spend within the allowance '
  'again), throttles each entity and class whose spend on that day passed its daily allowance (until '
  'the day ends) or whose spend in the budget period passed its effective budget (until the period '
  'ends), and fires the spend alerts due. Returns one row per action (released, throttled, alert) '
  'with the window, spend (unit of the class) and cost (USD), the allowance passed and the reason. '
  'Throttles and releases are in budget_ledger (account entity_status, cause throttle | release). '
  'Idempotent for a day.';
REVOKE EXECUTE ON FUNCTION public.run_daily_check(date) FROM PUBLIC;
