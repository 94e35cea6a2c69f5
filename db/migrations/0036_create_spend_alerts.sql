-- Why: services and the Senate want to know when an entity's spend crosses the policy's
-- alert thresholds (economics_policy.alert_thresholds, 80 % and 100 % of the effective
-- budget by default) - once per threshold per budget period, written down and pushed.
-- check_spend_alerts() writes one spend_alerts row per (entity, class, period,
-- threshold) the first time spend >= threshold x effective budget (the unique key makes
-- "once per period" hold under concurrent checks too) and sends
-- pg_notify('senate_spend_alerts', <the alert row as JSON>) for each new row; listeners
-- receive the notifications when the checking transaction commits.
--
-- Where detection happens, and why: in check_spend_alerts(), run on a schedule (every
-- minute with pg_cron, see README "Review cycles"; run_daily_check() calls it too), not
-- in the usage insert path. Inserting usage is the hottest path of the platform and is
-- benchmarked against a bare insert; detecting a crossing there would cost every insert
-- statement a read of the entity's period rollups and envelope. Alerts are advisory -
-- enforcement is can_spend / reserve_spend and the daily check's throttles - so a delay
-- of up to one schedule interval is acceptable, while ingest stays close to a bare
-- insert. One check reads the current period's rollups once for all entities (or one
-- index range for one entity, when called with an entity), never resource_usage.
SET lock_timeout = '5s';

CALL senate.claim('0036', 'table', 'public.spend_alerts');
CREATE TABLE IF NOT EXISTS public.spend_alerts (
    alert_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entity_type       text NOT NULL,
    entity_id         text NOT NULL,
    resource_type     text NOT NULL REFERENCES public.resource_types (resource_type),
    period_start      date NOT NULL,
    period_end        date NOT NULL,
    threshold         numeric NOT NULL CHECK (threshold > 0),
    spent             numeric NOT NULL,
    effective_budget  numeric NOT NULL,
    utilization       numeric,
    fired_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT spend_alerts_once_per_period
        UNIQUE (entity_type, entity_id, resource_type, period_start, threshold)
);
COMMENT ON TABLE public.spend_alerts IS
  'Spend alerts: one row the first time an entity''s spend in a budget period reaches a policy '
  'alert threshold (fraction of its effective budget) for a resource class; each threshold fires '
  'once per period. Each new row is also sent as pg_notify(''senate_spend_alerts'', JSON).';
COMMENT ON COLUMN public.spend_alerts.alert_id IS 'Surrogate key, order of firing.';
COMMENT ON COLUMN public.spend_alerts.entity_type IS 'Kind of entity.';
COMMENT ON COLUMN public.spend_alerts.entity_id IS 'Entity whose spend crossed the threshold.';
COMMENT ON COLUMN public.spend_alerts.resource_type IS 'Resource class.';
COMMENT ON COLUMN public.spend_alerts.period_start IS 'First day of the budget period (policy time zone).';
COMMENT ON COLUMN public.spend_alerts.period_end IS 'First day after the budget period (exclusive).';
COMMENT ON COLUMN public.spend_alerts.threshold IS 'Threshold crossed, as a fraction of the effective budget (0.8 = 80 %).';
COMMENT ON COLUMN public.spend_alerts.spent IS 'Spend in the period when the alert fired, in the unit of the class (tokens, CPU-seconds, GB-hours, calls).';
COMMENT ON COLUMN public.spend_alerts.effective_budget IS 'Effective budget then, in the unit of the class.';
COMMENT ON COLUMN public.spend_alerts.utilization IS 'spent / effective_budget (1 = 100 %); NULL when the effective budget is 0.';
COMMENT ON COLUMN public.spend_alerts.fired_at IS 'When the alert was written (clock time).';
COMMENT ON CONSTRAINT spend_alerts_once_per_period ON public.spend_alerts IS
  'Each threshold fires once per entity, class and budget period.';

CALL senate.claim('0036', 'index', 'public.spend_alerts_fired_idx');
CREATE INDEX IF NOT EXISTS spend_alerts_fired_idx ON public.spend_alerts (fired_at);
COMMENT ON INDEX public.spend_alerts_fired_idx IS 'Recent alerts first.';

CREATE OR REPLACE FUNCTION public.check_spend_alerts(
    as_of timestamptz DEFAULT now(), entity_type text DEFAULT NULL, entity_id text DEFAULT NULL)
RETURNS SETOF public.spend_alerts
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
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
REVOKE EXECUTE ON FUNCTION public.check_spend_alerts(timestamptz, text, text) FROM PUBLIC;

CALL senate.settle_comments('0036');
