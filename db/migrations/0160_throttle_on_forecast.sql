-- Why (issue 18, point 2, "a policy may throttle on forecast (off by default)"): a forecast
-- alert (0152) tells someone; a policy may also act on it. With
-- economics_policy.throttle_on_forecast on, the daily check throttles an envelope and class
-- whose runway says runs_out (budget_forecast: at the estimated rate the projected spend at
-- period end reaches the effective budget before it is spent) exactly as it throttles a
-- period overspend: a spend_throttles row, now of kind 'forecast' (the distinct cause; its
-- budget_ledger row, cause throttle, carries the reason starting 'forecast:'), which makes
-- can_spend refuse and reserve_spend raise S3002 for that class until it is released.
--
-- A forecast throttle holds at most for the budget period (throttled_until = period end) and
-- is released, by the daily check or in the transaction of a budget rise, when
--   * the period ended (as every throttle), or
--   * the projection, re-measured at the release time (budget_forecast_as_of), is within the
--     effective budget again (the budget or market weight rose, or the rate fell), or
--   * the policy no longer throttles on forecast (throttle_on_forecast turned off).
-- The release is measured at the start of the checked day and the throttle at its end; the
-- projection only falls during a day (the same window, less time left), so a throttle is not
-- released and placed again on the same evidence.
--
-- Off by default: with the default policy run_daily_check does exactly what 0152's did (the
-- forecast branch is behind a one-time filter on the policy flag).
--
-- The policy CHECK: throttling on a forecast needs a window of at least 7 days. A shorter
-- window sees only some days of the week (three days read on a Monday are Friday to Sunday),
-- so its rate depends on the weekday it is read on; that is tolerable for an alert, not for a
-- throttle that stops spend. Refused with 23514 naming the constraint, nothing written.
--
-- spend_throttles is small (a few rows per entity and period) and written only by the daily
-- check; its kind CHECK is replaced by one that also admits 'forecast'. Functions replaced
-- here (their previous bodies are saved for the rollback): run_daily_check (0152) and
-- senate.release_lifted_throttles (0032).
SET lock_timeout = '5s';

CALL senate.claim('0160', 'column', 'public.economics_policy', 'throttle_on_forecast');
ALTER TABLE public.economics_policy
    ADD COLUMN IF NOT EXISTS throttle_on_forecast boolean NOT NULL DEFAULT false;
CALL senate.claim('0160', 'constraint', 'public.economics_policy',
                  'economics_policy_throttle_on_forecast_needs_a_week');
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint AS c
                   WHERE c.conrelid = 'public.economics_policy'::regclass
                     AND c.conname = 'economics_policy_throttle_on_forecast_needs_a_week') THEN
        -- One row per policy version, all false by the default: the validating scan is instant.
        -- squawk-ignore constraint-missing-not-valid
        ALTER TABLE public.economics_policy
            ADD CONSTRAINT economics_policy_throttle_on_forecast_needs_a_week
            CHECK (NOT throttle_on_forecast OR forecast_window_days >= 7);
    END IF;
END;
$$;
COMMENT ON COLUMN public.economics_policy.throttle_on_forecast IS
  'Whether the daily check also throttles an envelope and class whose runway says runs_out '
  '(budget_forecast: projected spend at period end >= effective budget while spent is below it): '
  'a spend_throttles row of kind forecast, until the period ends or the projection is within the '
  'budget again. Off by default (forecast alerts only). Needs forecast_window_days >= 7.';
COMMENT ON CONSTRAINT economics_policy_throttle_on_forecast_needs_a_week ON public.economics_policy IS
  'Throttling on a forecast needs a window of at least 7 days (a window shorter than a week '
  'sees only some weekdays, so its rate depends on the day it is read).';

-- The throttle kinds, with forecast.
CALL senate.claim('0160', 'constraint', 'public.spend_throttles', 'spend_throttles_kind_known');
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint AS c
                   WHERE c.conrelid = 'public.spend_throttles'::regclass
                     AND c.conname = 'spend_throttles_kind_known') THEN
        -- A few rows per entity and period, all of the two old kinds: the scan is instant.
        -- squawk-ignore constraint-missing-not-valid
        ALTER TABLE public.spend_throttles ADD CONSTRAINT spend_throttles_kind_known
            CHECK (kind IN ('daily_allowance', 'period_budget', 'forecast'));
    END IF;
END;
$$;
-- squawk-ignore ban-drop-constraint
ALTER TABLE public.spend_throttles DROP CONSTRAINT IF EXISTS spend_throttles_kind_check;
COMMENT ON CONSTRAINT spend_throttles_kind_known ON public.spend_throttles IS
  'kind is daily_allowance, period_budget or forecast.';
COMMENT ON COLUMN public.spend_throttles.kind IS
  'daily_allowance (a day''s spend passed the daily allowance), period_budget (the period''s '
  'spend passed the effective budget) or forecast (the projected spend at period end reached '
  'the effective budget, with economics_policy.throttle_on_forecast on).';
COMMENT ON COLUMN public.spend_throttles.allowance IS
  'Allowance it passed (daily allowance or effective budget; for forecast the effective budget '
  'the projection reached), in the unit of the class.';
COMMENT ON VIEW public.over_budget_and_throttled IS
  'Who is over budget and who is throttled, this budget period (budget_status): every entity and '
  'class that has spent more than its effective budget or is under an active throttle of the '
  'daily check, with its standing (over budget, throttled; over budget, not throttled yet; '
  'throttled, within budget: over a daily allowance, or forecast to run out when the policy '
  'throttles on forecast). Over budget and throttled first, then over budget, then throttled '
  'only; most over first within each.';

DO $$
BEGIN
    PERFORM senate.save_definition('0160', 'senate.release_lifted_throttles(text[], text[], timestamptz)');
    PERFORM senate.save_definition('0160', 'public.run_daily_check(date)');
END;
$$;

-- Releases the unreleased throttles of the listed entities (parallel arrays; both NULL:
-- every entity) whose window ended by p_as_of, or whose window's spend is now within the
-- allowance (budget, market weight or explicit allowance rose), or, for a forecast throttle,
-- whose projection at p_as_of is within the effective budget again or whose policy no longer
-- throttles on forecast. Rows are locked in throttle_id order. Returns the released throttles.
CREATE OR REPLACE FUNCTION senate.release_lifted_throttles(
    p_entity_types text[], p_entity_ids text[], p_as_of timestamptz)
RETURNS SETOF public.spend_throttles
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_jit text := current_setting('jit');
BEGIN
    -- Planner settings for this call only (restored below; an error rolls them back):
    -- JIT compilation costs seconds per call and buys nothing at these sizes.
    PERFORM set_config('jit', 'off', true);
    RETURN QUERY
    WITH p AS (
        SELECT e.* FROM public.economics_policy AS e WHERE e.is_active
    ), candidates AS (
        SELECT t.throttle_id
        FROM public.spend_throttles AS t
        WHERE t.released_at IS NULL
          AND (p_entity_types IS NULL
               OR (t.entity_type, t.entity_id) IN (
                      SELECT u.entity_type, u.entity_id
                      FROM unnest(p_entity_types, p_entity_ids) AS u (entity_type, entity_id)))
        ORDER BY t.throttle_id
        FOR UPDATE OF t
    ), measured AS (
        SELECT t.throttle_id,
               CASE WHEN t.throttled_until <= p_as_of THEN
                        format('window %s..%s ended: a new %s began', t.window_start,
                               t.window_end - 1,
                               CASE t.kind WHEN 'daily_allowance' THEN 'day' ELSE 'budget period' END)
                    WHEN t.kind = 'forecast' AND NOT p.throttle_on_forecast THEN
                        'the policy no longer throttles on forecast (throttle_on_forecast is off)'
                    WHEN t.kind = 'forecast' THEN
                        CASE WHEN b.entity_id IS NOT NULL
                                  AND fc.projected_spend < fc.effective_budget THEN
                                 format('forecast within budget again: projected %s of effective '
                                        'budget %s by %s at %s a day',
                                        trim_scale(round(fc.projected_spend, 2)),
                                        trim_scale(round(fc.effective_budget, 2)),
                                        fc.period_end - 1, trim_scale(round(fc.daily_rate, 2)))
                        END
                    WHEN b.entity_id IS NOT NULL AND s.spent <= x.allowance THEN
                        format('%s rose: spent %s of %s in %s..%s is within it again',
                               CASE t.kind WHEN 'daily_allowance' THEN 'daily allowance'
                                           ELSE 'effective budget' END,
                               s.spent, round(x.allowance, 6), t.window_start, t.window_end - 1)
               END AS release_reason
        FROM candidates AS c
        JOIN public.spend_throttles AS t ON t.throttle_id = c.throttle_id
        CROSS JOIN p
        LEFT JOIN public.resource_budgets AS b
          ON b.entity_type = t.entity_type AND b.entity_id = t.entity_id
        LEFT JOIN public.resource_daily_allowances AS a
          ON a.entity_type = t.entity_type AND a.entity_id = t.entity_id
         AND a.resource_type = t.resource_type
        CROSS JOIN LATERAL senate.period_bounds(t.window_start::timestamp AT TIME ZONE p.time_zone,
                                                p.budget_period, p.time_zone) AS pb
        CROSS JOIN LATERAL (
            SELECT coalesce(sum(r.amount_total), 0) AS spent
            FROM senate.usage_rollups AS r
            WHERE r.entity_type = t.entity_type AND r.entity_id = t.entity_id
              AND r.resource_type = t.resource_type
              AND r.usage_day >= t.window_start AND r.usage_day < t.window_end) AS s
        CROSS JOIN LATERAL (
            SELECT CASE t.kind
                       WHEN 'daily_allowance' THEN
                           coalesce(a.daily_allowance,
                                    senate.derived_daily_allowance(
                                        senate.effective_class_budget(b, t.resource_type, p),
                                        pb.period_start, pb.period_end))
                       ELSE senate.effective_class_budget(b, t.resource_type, p)
                   END AS allowance) AS x
        -- Forecast throttles only: the runway of the class at p_as_of (one entity's rollups).
        LEFT JOIN LATERAL (
            SELECT f.projected_spend, f.effective_budget, f.daily_rate, f.period_end
            FROM public.budget_forecast_as_of(p_as_of) AS f
            WHERE t.kind = 'forecast'
              AND f.entity_type = t.entity_type AND f.entity_id = t.entity_id
              AND f.resource_type = t.resource_type) AS fc ON true
    )
    UPDATE public.spend_throttles AS t
    SET released_at = greatest(now(), t.throttled_at), release_reason = m.release_reason
    FROM measured AS m
    WHERE t.throttle_id = m.throttle_id AND m.release_reason IS NOT NULL
    RETURNING t.*;
    PERFORM set_config('jit', v_jit, true);
END;
$$;
COMMENT ON FUNCTION senate.release_lifted_throttles(text[], text[], timestamptz) IS
  'Releases unreleased throttles of the listed entities (parallel arrays, or all when NULL) whose '
  'window ended by p_as_of, or whose window''s spend is within the current allowance again (daily '
  'allowance or effective budget); a forecast throttle when the projection at p_as_of '
  '(budget_forecast_as_of) is below the effective budget again or the policy no longer throttles '
  'on forecast. Locks throttles in id order; returns the released throttles.';

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

    -- 2. New throttles: daily allowance, period budget, and (0160) forecast.
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
        UNION ALL
        -- 0160: with throttle_on_forecast, an envelope whose runway says runs_out at the end of
        -- the day (the time its alerts are judged at) is throttled for the rest of the period.
        SELECT f.entity_type, f.entity_id, f.resource_type, 'forecast',
               f.period_start, f.period_end, f.spent, coalesce(s.period_cost, 0),
               f.effective_budget,
               format('forecast: projected %s %s by %s at %s a day, over its effective budget '
                      'of %s (spent %s); runs out about %s %s',
                      trim_scale(round(f.projected_spend, 2)), f.resource_type, f.period_end - 1,
                      trim_scale(round(f.daily_rate, 2)), trim_scale(round(f.effective_budget, 2)),
                      trim_scale(round(f.spent, 2)),
                      to_char(f.runs_out_local, 'YYYY-MM-DD HH24:00'), v_policy.time_zone)
        FROM public.budget_forecast_as_of(v_alert_time) AS f
        LEFT JOIN spend AS s
          ON s.entity_type = f.entity_type AND s.entity_id = f.entity_id
         AND s.resource_type = f.resource_type
        WHERE v_policy.throttle_on_forecast AND f.runway_status = 'runs_out'
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
  'alerts due (check_forecast_alerts: projected spend at period end past a forecast threshold); '
  'with economics_policy.throttle_on_forecast on, also throttles each envelope and class whose '
  'runway says runs_out (budget_forecast_as_of at the end of the day; kind forecast, until the '
  'period ends or the projection is within the budget again). '
  'Returns one row per action (released, throttled, alert, forecast_alert) with the window, spend '
  '(unit of the class) and cost (USD), the allowance passed and the reason (amounts rounded to 2 '
  'decimals for reading). Throttles and releases are in budget_ledger (account entity_status, '
  'cause throttle | release). For a past day the rows carry that day''s times '
  '(budget_ledger.as_of, spend_throttles.throttled_as_of / released_as_of, '
  'spend_alerts.fired_as_of): releases as of its start, throttles and alerts as of its end. '
  'Idempotent for a day.';

DO $$
BEGIN
    PERFORM senate.grant_role_privileges();
END;
$$;

CALL senate.settle_comments('0160');
