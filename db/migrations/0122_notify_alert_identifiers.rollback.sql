-- Puts back the 0036 check_spend_alerts() (whole row as payload, no lock_timeout).
SET lock_timeout = '5s';

CREATE OR REPLACE FUNCTION public.check_spend_alerts(
    as_of timestamptz DEFAULT now(), entity_type text DEFAULT NULL, entity_id text DEFAULT NULL)
RETURNS SETOF public.spend_alerts
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, public, senate, pg_temp
AS $$
DECLARE
    v_fired public.spend_alerts[];
    v_jit text := current_setting('jit');
BEGIN
    IF $1 IS NULL OR $1 > now() THEN
        PERFORM senate.raise_error('S3008',
            format('check_spend_alerts: as_of %s is not a time up to now',
                   coalesce($1::text, 'NULL')));
    END IF;
    IF ($2 IS NULL) <> ($3 IS NULL) THEN
        RAISE EXCEPTION USING
            ERRCODE = '22023',
            MESSAGE = 'check_spend_alerts: give both entity_type and entity_id, or neither',
            COLUMN = CASE WHEN $2 IS NULL THEN 'entity_type' ELSE 'entity_id' END,
            HINT = 'Omit both to check every entity.';
    END IF;
    -- Planner settings for this call only (restored below; an error rolls them back):
    -- JIT compilation costs seconds per call and buys nothing at these sizes.
    PERFORM set_config('jit', 'off', true);

    WITH p AS (
        SELECT e AS policy, pb.period_start, pb.period_end,
               (SELECT array_agg(DISTINCT t ORDER BY t) FROM unnest(e.alert_thresholds) AS t)
                   AS thresholds,
               ($1 AT TIME ZONE e.time_zone)::date AS as_of_day
        FROM public.economics_policy AS e
        CROSS JOIN LATERAL senate.period_bounds($1, e.budget_period, e.time_zone) AS pb
        WHERE e.is_active
    ), spend AS (
        SELECT r.entity_type, r.entity_id, r.resource_type, sum(r.amount_total) AS spent
        FROM senate.usage_rollups AS r, p
        WHERE r.usage_day >= p.period_start AND r.usage_day < p.period_end
          AND r.usage_day <= p.as_of_day
          AND ($2 IS NULL OR (r.entity_type = $2 AND r.entity_id = $3))
        GROUP BY r.entity_type, r.entity_id, r.resource_type
        HAVING sum(r.amount_total) > 0
    ), crossed AS (
        SELECT s.entity_type, s.entity_id, s.resource_type, p.period_start, p.period_end,
               t.threshold, s.spent, e.effective_budget,
               CASE WHEN e.effective_budget > 0 THEN s.spent / e.effective_budget END AS utilization
        FROM spend AS s
        CROSS JOIN p
        JOIN public.resource_budgets AS b
          ON b.entity_type = s.entity_type AND b.entity_id = s.entity_id
        CROSS JOIN LATERAL (SELECT senate.effective_class_budget(b, s.resource_type, p.policy)
                                AS effective_budget) AS e
        CROSS JOIN LATERAL unnest(p.thresholds) AS t (threshold)
        WHERE s.spent >= t.threshold * e.effective_budget
    ), fired AS (
        INSERT INTO public.spend_alerts AS a
            (entity_type, entity_id, resource_type, period_start, period_end, threshold, spent,
             effective_budget, utilization)
        SELECT c.entity_type, c.entity_id, c.resource_type, c.period_start, c.period_end,
               c.threshold, c.spent, c.effective_budget, c.utilization
        FROM crossed AS c
        ORDER BY c.entity_type, c.entity_id, c.resource_type, c.threshold
        ON CONFLICT ON CONSTRAINT spend_alerts_once_per_period DO NOTHING
        RETURNING a.*
    )
    SELECT array_agg(f ORDER BY f.alert_id) INTO v_fired FROM fired AS f;

    -- Delivered to listeners when this transaction commits, in firing order.
    PERFORM pg_notify('senate_spend_alerts', row_to_json(a)::text)
    FROM unnest(v_fired) AS a
    ORDER BY a.alert_id;

    RETURN QUERY SELECT * FROM unnest(v_fired) AS a ORDER BY a.alert_id;
    PERFORM set_config('jit', v_jit, true);
END;
$$;
COMMENT ON FUNCTION public.check_spend_alerts(timestamptz, text, text) IS
  'Fires the spend alerts due as of as_of (default now): for every entity and class (or one '
  'entity) whose spend in the budget period containing as_of (days up to as_of) has reached a '
  'policy alert threshold x its effective budget for the first time this period, writes a '
  'spend_alerts row and sends pg_notify(''senate_spend_alerts'', the row as JSON: alert_id, '
  'entity_type, entity_id, resource_type, period_start, period_end, threshold, spent, '
  'effective_budget, utilization, fired_at). Returns the new alerts. Schedule it every minute; '
  'run_daily_check() calls it too. Errors: S3008 as_of in the future or NULL, 22023 only one of '
  'entity_type / entity_id.';
COMMENT ON TABLE public.spend_alerts IS
  'Spend alerts: one row the first time an entity''s spend in a budget period reaches a policy '
  'alert threshold (fraction of its effective budget) for a resource class; each threshold fires '
  'once per period. Each new row is also sent as pg_notify(''senate_spend_alerts'', JSON).';
DO $$ BEGIN PERFORM senate.grant_role_privileges(); END $$;
