-- db/definitions/80_review_cycles.sql -- Review cycles: the daily check, alerts, the weekly rebalance and its preview, cycle locks, the schedule.
--
-- The current definition of each function and view below; the post-apply hook
-- (db/migrations/post-apply_definitions.py) applies an object whenever its text here
-- changes. Each object starts at its '-- define' line. See README, "Adding a migration".

-- define function senate.claim(text,text,text,text)
CREATE OR REPLACE PROCEDURE senate.claim(IN p_migration text, IN p_kind text, IN p_relation text, IN p_name text DEFAULT ''::text)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $procedure$
DECLARE
    v_exists boolean := senate.registry_object_exists(p_kind, p_relation, p_name);
BEGIN
    IF p_kind IN ('column', 'constraint') AND EXISTS (
        SELECT 1 FROM senate.schema_registry AS g
        WHERE g.object_kind = 'table' AND g.relation = p_relation AND g.action = 'created'
          AND g.migration = p_migration) THEN
        RETURN;  -- part of the table this migration created: it goes with the table
    END IF;
    INSERT INTO senate.schema_registry
        (migration, object_kind, relation, object_name, action, previous_comment)
    VALUES (p_migration, p_kind, p_relation, p_name,
            CASE WHEN v_exists THEN 'adopted' ELSE 'created' END,
            CASE WHEN v_exists THEN senate.registry_comment(p_kind, p_relation, p_name) END)
    ON CONFLICT (object_kind, relation, object_name) DO NOTHING;
    IF v_exists AND p_kind = 'table' THEN
        -- An adopted table brings its columns: recorded as adopted, with their comments.
        INSERT INTO senate.schema_registry
            (migration, object_kind, relation, object_name, action, previous_comment)
        SELECT p_migration, 'column', p_relation, a.attname, 'adopted',
               pg_catalog.col_description(a.attrelid, a.attnum)
        FROM pg_catalog.pg_attribute AS a
        WHERE a.attrelid = pg_catalog.to_regclass(p_relation) AND a.attnum > 0
          AND NOT a.attisdropped
        ORDER BY a.attnum
        ON CONFLICT (object_kind, relation, object_name) DO NOTHING;
    END IF;
END;
$procedure$;
COMMENT ON PROCEDURE senate.claim(text,text,text,text) IS 'Call before a CREATE ... IF NOT EXISTS / ADD COLUMN IF NOT EXISTS: records the object (kind table, column, index or constraint) in senate.schema_registry as created (absent now) or adopted (the deployment''s, with its comment; for a table also each of its columns). An object already recorded keeps its first record.';

-- define function senate.release(text)
CREATE OR REPLACE PROCEDURE senate.release(IN p_migration text)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $procedure$
DECLARE
    r record;
    v_rel regclass;
BEGIN
    FOR r IN SELECT g.entry_id, g.object_kind, g.relation, g.object_name
             FROM senate.schema_registry AS g
             WHERE g.action = 'adopted' AND g.commented_by = p_migration
    LOOP
        CALL senate.set_registry_comment(r.object_kind, r.relation, r.object_name, NULL);
        UPDATE senate.schema_registry SET commented_by = NULL WHERE entry_id = r.entry_id;
    END LOOP;
    FOR r IN SELECT g.object_kind, g.relation, g.object_name, g.key_column
             FROM senate.schema_registry AS g
             WHERE g.migration = p_migration AND g.action = 'created'
             ORDER BY g.entry_id DESC
    LOOP
        v_rel := pg_catalog.to_regclass(r.relation);
        CONTINUE WHEN v_rel IS NULL
            OR NOT senate.registry_object_exists(r.object_kind, r.relation, r.object_name)
               AND r.object_kind <> 'row';
        CASE r.object_kind
            WHEN 'table' THEN EXECUTE pg_catalog.format('DROP TABLE %s', v_rel);
            WHEN 'index' THEN EXECUTE pg_catalog.format('DROP INDEX %s', v_rel);
            WHEN 'column' THEN
                EXECUTE pg_catalog.format('ALTER TABLE %s DROP COLUMN %I', v_rel, r.object_name);
            WHEN 'constraint' THEN
                EXECUTE pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT %I', v_rel, r.object_name);
            WHEN 'row' THEN
                EXECUTE pg_catalog.format('DELETE FROM %s WHERE %I::text = $1', v_rel, r.key_column)
                USING r.object_name;
        END CASE;
    END LOOP;
    DELETE FROM senate.schema_registry WHERE migration = p_migration;
END;
$procedure$;
COMMENT ON PROCEDURE senate.release(text) IS 'The registry part of a rollback: removes the comments p_migration gave adopted objects, then drops what p_migration created (rows, constraints, columns, indexes, tables; newest first) and forgets its records. Adopted objects and their data are never touched.';

-- define function public.check_spend_alerts(timestamp with time zone,text,text)
CREATE OR REPLACE FUNCTION public.check_spend_alerts(as_of timestamp with time zone DEFAULT now(), entity_type text DEFAULT NULL::text, entity_id text DEFAULT NULL::text)
 RETURNS SETOF public.spend_alerts
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
 SET lock_timeout TO '5s'
AS $function$
DECLARE
    v_fired public.spend_alerts[];
    v_jit text := pg_catalog.current_setting('jit');
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
    PERFORM pg_catalog.set_config('jit', 'off', true);

    WITH p AS (
        SELECT e AS policy, pb.period_start, pb.period_end,
               (SELECT array_agg(DISTINCT t ORDER BY t) FROM unnest(e.alert_thresholds) AS t)
                   AS thresholds,
               ($1 AT TIME ZONE e.time_zone)::date AS as_of_day,
               EXISTS (SELECT 1 FROM public.resource_budgets AS ub
                       WHERE ub.cost_budget_usd IS NOT NULL) AS money
        FROM public.economics_policy AS e
        CROSS JOIN LATERAL senate.period_bounds($1, e.budget_period, e.time_zone) AS pb
        WHERE e.is_active
    ), own AS (
        -- Each entity's own spend; with one entity asked, it and its subtree's members
        -- (senate.entity_family: none for an entity in no family). Each rollup row counts for
        -- its class and, once some envelope has a cost budget (issue 18), its USD for the
        -- money class usd (the USD cost of every class): one scan of the period's rollups.
        SELECT r.entity_type, r.entity_id, c.resource_type, sum(c.amount) AS spent
        FROM senate.usage_rollups AS r
        CROSS JOIN p
        CROSS JOIN LATERAL (VALUES (r.resource_type, r.amount_total),
                                   ('usd', CASE WHEN p.money THEN r.cost_total_usd END))
             AS c (resource_type, amount)
        WHERE r.usage_day >= p.period_start AND r.usage_day < p.period_end
          AND r.usage_day <= p.as_of_day
          AND c.amount IS NOT NULL
          AND ($2 IS NULL
               OR (r.entity_type, r.entity_id) IN (
                      SELECT $2, $3
                      UNION ALL
                      SELECT d.entity_type, d.entity_id FROM senate.entity_family AS d
                      WHERE d.ancestor_type = $2 AND d.ancestor_id = $3 AND d.depth > 0))
        GROUP BY r.entity_type, r.entity_id, c.resource_type
    ), spend AS (
        -- In a family (issue 19), an ancestor's envelope bounds its whole subtree's spend
        -- (as can_spend and reserve_spend count it): each member's spend counts for itself
        -- and for every ancestor, so an ancestor fires like an envelope does. An entity in no
        -- family: its own spend, as before.
        SELECT x.entity_type, x.entity_id, x.resource_type, sum(x.spent) AS spent
        FROM (SELECT o.entity_type, o.entity_id, o.resource_type, o.spent FROM own AS o
              UNION ALL
              SELECT f.ancestor_type, f.ancestor_id, o.resource_type, o.spent
              FROM own AS o
              JOIN senate.entity_family AS f
                ON f.entity_type = o.entity_type AND f.entity_id = o.entity_id AND f.depth > 0)
             AS x
        WHERE $2 IS NULL OR (x.entity_type = $2 AND x.entity_id = $3)
        GROUP BY x.entity_type, x.entity_id, x.resource_type
        HAVING sum(x.spent) > 0
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
             effective_budget, utilization, fired_as_of)
        SELECT c.entity_type, c.entity_id, c.resource_type, c.period_start, c.period_end,
               c.threshold, c.spent, c.effective_budget, c.utilization, $1
        FROM crossed AS c
        ORDER BY c.entity_type, c.entity_id, c.resource_type, c.threshold
        ON CONFLICT ON CONSTRAINT spend_alerts_once_per_period DO NOTHING
        RETURNING a AS alert
    )
    SELECT array_agg(f.alert ORDER BY (f.alert).alert_id) INTO v_fired FROM fired AS f;

    -- Delivered to listeners when this transaction commits, in firing order. Identifiers
    -- only: any login may NOTIFY this channel, so a listener re-reads spend_alerts by
    -- alert_id and acts only on a row it finds there (the payload stays a few hundred bytes
    -- whatever the figures are).
    PERFORM pg_catalog.pg_notify('senate_spend_alerts',
                                 pg_catalog.json_build_object(
                                     'alert_id', a.alert_id, 'entity_type', a.entity_type,
                                     'entity_id', a.entity_id, 'resource_type', a.resource_type,
                                     'threshold', a.threshold)::text)
    FROM pg_catalog.unnest(v_fired) AS a
    ORDER BY a.alert_id;

    RETURN QUERY SELECT * FROM unnest(v_fired) AS a ORDER BY a.alert_id;
    PERFORM pg_catalog.set_config('jit', v_jit, true);
END;
$function$;
COMMENT ON FUNCTION public.check_spend_alerts(timestamp with time zone,text,text) IS 'Fires the spend alerts due as of as_of (default now): for every entity and class (the money class usd for envelopes with a cost budget: the USD cost of all their usage against it) (or one entity) whose spend in the budget period containing as_of (days up to as_of) has reached a policy alert threshold x its effective budget for the first time this period (in a family, entity_parents: an entity''s spend is its whole subtree''s, itself and every descendant, as the spend gate counts it against its envelope, so an ancestor fires like an envelope does; spent is then the subtree''s), writes a spend_alerts row (fired_as_of = as_of, fired_at = the clock) and sends pg_notify(''senate_spend_alerts'', JSON of identifiers only: alert_id, entity_type, entity_id, resource_type, threshold); listeners re-read the row from spend_alerts by alert_id (any login can NOTIFY a channel, so a payload proves nothing). Waits at most 5 s for a lock (lock_timeout). Returns the new alerts. Schedule it every minute; run_daily_check() calls it too. Errors: S3008 as_of in the future or NULL, 22023 only one of entity_type / entity_id.';

-- define function public.run_daily_check(date)
CREATE OR REPLACE FUNCTION public.run_daily_check(as_of date DEFAULT NULL::date)
 RETURNS TABLE(action text, entity_type text, entity_id text, resource_type text, kind text, window_start date, window_end date, spent numeric, spent_cost_usd numeric, allowance numeric, detail text)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
 SET lock_timeout TO '5s'
AS $function$
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
        UNION ALL
        -- The money class usd (envelopes with a cost budget): the USD cost of every class.
        SELECT r.entity_type, r.entity_id, 'usd',
               coalesce(sum(r.cost_total_usd) FILTER (WHERE r.usage_day = v_day), 0),
               coalesce(sum(r.cost_total_usd) FILTER (WHERE r.usage_day = v_day), 0),
               sum(r.cost_total_usd),
               sum(r.cost_total_usd)
        FROM senate.usage_rollups AS r, pb
        WHERE r.usage_day >= pb.period_start AND r.usage_day <= v_day
          AND EXISTS (SELECT 1 FROM public.resource_budgets AS ub
                      WHERE ub.entity_type = r.entity_type AND ub.entity_id = r.entity_id
                        AND senate.budget_amount(ub, 'usd') IS NOT NULL)
        GROUP BY r.entity_type, r.entity_id
        HAVING sum(r.cost_total_usd) > 0
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
$function$;
COMMENT ON FUNCTION public.run_daily_check(date) IS 'Daily spend-safety review for the day as_of (default: today in the policy time zone; a future day -> S3008). Releases the throttles that are due (window ended, or spend within the allowance again), throttles each entity and class (usd: envelopes with a cost budget, their USD cost of every class) whose spend on that day passed its daily allowance (until the day ends) or whose spend in the budget period passed its effective budget (until the period ends), fires the spend alerts due (check_spend_alerts) and the forecast alerts due (check_forecast_alerts: projected spend at period end past a forecast threshold); with economics_policy.throttle_on_forecast on, also throttles each envelope and class whose runway says runs_out (budget_forecast_as_of at the end of the day; kind forecast, until the period ends or the projection is within the budget again). Returns one row per action (released, throttled, alert, forecast_alert) with the window, spend (unit of the class) and cost (USD), the allowance passed and the reason (amounts rounded to 2 decimals for reading). Throttles and releases are in budget_ledger (account entity_status, cause throttle | release). For a past day the rows carry that day''s times (budget_ledger.as_of, spend_throttles.throttled_as_of / released_as_of, spend_alerts.fired_as_of): releases as of its start, throttles and alerts as of its end. Idempotent for a day.';

-- define function senate.lock_cycle(text,interval)
CREATE OR REPLACE FUNCTION senate.lock_cycle(p_cycle text, p_wait interval DEFAULT '00:00:05'::interval)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
 SET lock_timeout TO '5s'
AS $function$
BEGIN
    -- The SET clause restores the caller's lock_timeout when this function returns.
    PERFORM pg_catalog.set_config(
        'lock_timeout',
        greatest(1, (extract(epoch FROM coalesce(p_wait, interval '5 seconds')) * 1000)::bigint)::text,
        true);
    PERFORM 1 FROM senate.cycle_locks AS c WHERE c.cycle = p_cycle FOR UPDATE OF c;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = '22023', COLUMN = 'cycle',
            MESSAGE = pg_catalog.format('lock_cycle: %L is not a cycle of senate.cycle_locks',
                                        p_cycle);
    END IF;
EXCEPTION WHEN lock_not_available THEN
    PERFORM senate.raise_error('S5030',
        pg_catalog.format('%s: another run holds the cycle lock (waited %s)', p_cycle,
                          coalesce(p_wait, interval '5 seconds')),
        'Nothing was written by this run.');
END;
$function$;
COMMENT ON FUNCTION senate.lock_cycle(text,interval) IS 'Takes the cycle lock of a scheduled cycle (its senate.cycle_locks row, FOR UPDATE, held to the end of the transaction), waiting at most p_wait (default 5 s); S5030 when another run holds it. SECURITY INVOKER: only the owner (a SECURITY DEFINER cycle) may lock the row.';

-- define function public.run_rebalance(timestamp with time zone,boolean,text)
CREATE OR REPLACE FUNCTION public.run_rebalance(as_of timestamp with time zone DEFAULT now(), dry_run boolean DEFAULT true, actor text DEFAULT NULL::text)
 RETURNS TABLE(entity_type text, entity_id text, resource_type text, old_budget numeric, new_budget numeric, delta numeric, reason text, detail text)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
 SET lock_timeout TO '5s'
AS $function$
#variable_conflict use_column
DECLARE
    v_as_of timestamptz := $1;
    v_dry_run boolean := $2;
    v_actor text;
    v_run bigint;
    v_window_start date;
    v_window_end date;
    v_prior_as_of timestamptz;
BEGIN
    IF v_as_of IS NULL OR v_as_of > pg_catalog.now() THEN
        PERFORM senate.raise_error('S3008',
            pg_catalog.format('run_rebalance: as_of %s is not a time up to now',
                              coalesce(v_as_of::text, 'NULL')),
            'as_of must be a time up to now: a rebalance is applied for a window that has ended.',
            'To see what the next run would do, call preview_rebalance() (a future as_of is '
            'allowed there).');
    END IF;
    IF v_dry_run IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = '22023',
            MESSAGE = 'run_rebalance: dry_run = NULL is not allowed',
            COLUMN = 'dry_run',
            HINT = 'Pass true to see the plan, false to apply it.';
    END IF;
    v_actor := CASE WHEN $3 IS NULL THEN session_user::text ELSE senate.require_actor('actor', $3) END;
    IF v_dry_run THEN
        SELECT r.run_id, r.window_start, r.window_end INTO v_run, v_window_start, v_window_end
        FROM senate.rebalance_window(v_as_of) AS w
        JOIN public.rebalance_runs AS r
          ON r.window_start = w.window_start AND r.window_end = w.window_end;
        IF FOUND THEN
            RAISE NOTICE 'run_rebalance: window %..% was already applied by run %; applying it '
                         'again changes nothing. This dry run shows what the rules would do now; '
                         'preview_rebalance() previews the next window', v_window_start,
                         v_window_end - 1, v_run;
        END IF;
    ELSE
        -- The budget and reserve changes (and the throttles they lift) are as of as_of.
        v_prior_as_of := senate.set_change_as_of(v_as_of);
    END IF;
    RETURN QUERY
    SELECT x.entity_type, x.entity_id, x.resource_type, x.old_budget, x.new_budget, x.delta,
           x.reason, x.detail
    FROM senate.plan_rebalance(v_as_of, NOT v_dry_run, v_actor) AS x;
    IF NOT v_dry_run THEN
        PERFORM senate.set_change_as_of(v_prior_as_of);
    END IF;
END;
$function$;
COMMENT ON FUNCTION public.run_rebalance(timestamp with time zone,boolean,text) IS 'Weekly strategic rebalance for the review window of as_of (default now; the policy roi_window in days ending where as_of''s budget period begins). Rules (each change at most floor(max_rebalance_step x budget)): idle_reclaim (no spend of a class since as_of''s day - idle_window -> into the reserve), sustained_low_roi (llm_tokens ROI < roi_low_threshold in the last low_roi_windows windows -> into the reserve), strong_roi_market_support (ROI >= roi_high_threshold and applied market weight >= market_support_threshold -> gain from the reserve, in allocation_ranking order), reassigned_idle_budget (the reclaimed idle budget -> the top of allocation_ranking). Budgets + reserve are conserved per class. Returns one row per changed envelope and class and one reserve row per class (entity NULL): old, new, delta (unit of the class), reason (rule) and detail (evidence). dry_run (default true) writes nothing; for a window already applied it raises a NOTICE naming the run and shows what the rules would do now. Applying writes budgets, reserve, budget_ledger (cause rebalance, cause_id = run id, note = rule, as_of = as_of), rebalance_runs and rebalance_changes in one transaction; a window already applied changes nothing (no rows, a NOTICE). actor defaults to the session user. The engine is senate.plan_rebalance; preview_rebalance() is the analysts'' labelled dry run. Errors: S3008 as_of in the future (or NULL), 22023 dry_run NULL, S2010 bad actor, S5030 another apply holds the cycle lock (after 5 s).';

-- define function public.record_economy_snapshot(timestamp with time zone)
CREATE OR REPLACE FUNCTION public.record_economy_snapshot(as_of timestamp with time zone DEFAULT now())
 RETURNS integer
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
 SET lock_timeout TO '5s'
AS $function$
DECLARE
    v_rows integer;
    v_reserve_rows integer;
    v_day date := (as_of AT TIME ZONE senate.policy_time_zone())::date;
BEGIN
    IF as_of IS NULL OR NOT isfinite(as_of) THEN
        RAISE EXCEPTION USING ERRCODE = '22023', COLUMN = 'as_of',
            MESSAGE = format('record_economy_snapshot: as_of = %s is not allowed',
                             coalesce(as_of::text, 'NULL')),
            HINT = 'Pass a finite timestamptz (default now()).';
    END IF;

    -- Per envelope and class: budgets from budget_status_as_of (the period containing
    -- as_of), spend only through as_of's day (later days of the period may exist when
    -- a past instant is recorded).
    INSERT INTO public.budget_snapshots AS s
        (snapshot_at, entity_type, resource_type, period_start, period_end, envelopes,
         base_budget, effective_budget, spent, spent_cost_usd, over_budget_entities)
    SELECT as_of, b.entity_type, b.resource_type, min(b.period_start), min(b.period_end),
           count(*), sum(b.base_budget), sum(b.effective_budget),
           coalesce(sum(u.spent), 0), coalesce(sum(u.spent_cost_usd), 0),
           count(*) FILTER (WHERE coalesce(u.spent, 0) > b.effective_budget)
    FROM public.budget_status_as_of(as_of) AS b
    LEFT JOIN (
        -- Each rollup row counts for its class and, once some envelope has a cost budget
        -- (issue 18), its USD for the money class usd (the USD of every class): one scan.
        SELECT r.entity_type, r.entity_id, c.resource_type,
               sum(c.amount) AS spent, sum(c.cost_usd) AS spent_cost_usd
        FROM senate.usage_rollups AS r
        CROSS JOIN public.budget_period_bounds(as_of) AS p
        CROSS JOIN LATERAL (SELECT CASE WHEN EXISTS (
                                            SELECT 1 FROM public.resource_budgets AS ub
                                            WHERE ub.cost_budget_usd IS NOT NULL)
                                        THEN r.cost_total_usd END AS usd) AS m
        CROSS JOIN LATERAL (VALUES (r.resource_type, r.amount_total, r.cost_total_usd),
                                   ('usd', m.usd, m.usd)) AS c (resource_type, amount, cost_usd)
        WHERE r.usage_day >= p.period_start AND r.usage_day <= v_day
          AND c.amount IS NOT NULL
        GROUP BY r.entity_type, r.entity_id, c.resource_type) AS u
      ON u.entity_type = b.entity_type AND u.entity_id = b.entity_id
     AND u.resource_type = b.resource_type
    GROUP BY b.entity_type, b.resource_type
    ORDER BY b.entity_type, b.resource_type
    ON CONFLICT (snapshot_at, entity_type, resource_type) DO UPDATE
    SET period_start = excluded.period_start, period_end = excluded.period_end,
        envelopes = excluded.envelopes, base_budget = excluded.base_budget,
        effective_budget = excluded.effective_budget, spent = excluded.spent,
        spent_cost_usd = excluded.spent_cost_usd,
        over_budget_entities = excluded.over_budget_entities, recorded_at = clock_timestamp();
    GET DIAGNOSTICS v_rows = ROW_COUNT;

    INSERT INTO public.reserve_snapshots AS s (snapshot_at, resource_type, balance, allocated)
    SELECT as_of, t.resource_type, coalesce(r.balance, 0),
           coalesce((SELECT sum(senate.budget_amount(b, t.resource_type))
                     FROM public.resource_budgets AS b), 0)
    FROM public.resource_types AS t
    LEFT JOIN public.senate_reserve AS r ON r.resource_type = t.resource_type
    -- The money class usd only once it is in use (a reserve or a cost budget).
    WHERE t.resource_type <> 'usd' OR r.resource_type IS NOT NULL
       OR EXISTS (SELECT 1 FROM public.resource_budgets AS b
                  WHERE senate.budget_amount(b, 'usd') IS NOT NULL)
    ORDER BY t.resource_type
    ON CONFLICT (snapshot_at, resource_type) DO UPDATE
    SET balance = excluded.balance, allocated = excluded.allocated,
        recorded_at = clock_timestamp();
    GET DIAGNOSTICS v_reserve_rows = ROW_COUNT;
    RETURN v_rows + v_reserve_rows;
END;
$function$;
COMMENT ON FUNCTION public.record_economy_snapshot(timestamp with time zone) IS 'Records the economy as of an instant (default now()): per entity type and resource class the envelopes, base and effective budgets, spend in the budget period through as_of''s day (USD cost too) and over-budget count (budget_snapshots), and per class the reserve balance and the allocated total (reserve_snapshots). Replaces the rows of the same instant. Returns the rows written. Run it daily (the review cadence); 22023 for a NULL or infinite as_of.';

-- define view public.senate_schedule
CREATE OR REPLACE VIEW public.senate_schedule AS
SELECT j.job_order,
       j.job_name,
       j.cron_schedule,
       j.cadence,
       j.sql_command,
       'senate-db cycle ' || j.cycle_kind || ' --apply' || coalesce(' --actor ' || j.cycle_actor, '')
           AS cli_command,
       CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_extension AS e WHERE e.extname = 'pg_cron')
                 OR coalesce(c.cron_database, pg_catalog.current_database())
                    = pg_catalog.current_database()
            THEN pg_catalog.format('SELECT cron.schedule(%L, %L, $$%s$$);',
                                   j.job_name, j.cron_schedule, j.sql_command)
            ELSE pg_catalog.format('SELECT cron.schedule_in_database(%L, %L, $$%s$$, %L, %L);',
                                   j.job_name, j.cron_schedule, j.sql_command,
                                   pg_catalog.current_database(),
                                   coalesce(nullif(pg_catalog.current_setting(
                                                'senate.scheduling_login', true), ''),
                                            current_user))
       END AS pg_cron_statement,
       j.description
FROM (VALUES
    (1, 'senate-spend-alerts', '* * * * *', 'every minute',
     'SELECT count(*) FROM check_spend_alerts()', 'alerts', NULL,
     'Fires the spend alerts due: a spend_alerts row and a pg_notify on senate_spend_alerts the '
     'first time an envelope''s spend in its budget period reaches a policy threshold (80 % and '
     '100 % by default), so listeners hear within a minute.'),
    (2, 'senate-reservations', '*/10 * * * *', 'every 10 minutes',
     'SELECT * FROM cleanup_spend_reservations()', 'reservations', NULL,
     'Marks open spend reservations past their expiry as expired and deletes finished ones '
     'older than 7 days (expired holds already stopped counting; this keeps the table small).'),
    (3, 'senate-daily-check', '5 * * * *', 'hourly at minute 5',
     'SELECT count(*) FROM run_daily_check()', 'check', NULL,
     'The daily spend check for today: releases the throttles that are due, throttles each '
     'envelope and class over its daily allowance or its period budget, fires the alerts due. '
     'Hourly so that overspend is throttled within the hour; idempotent for a day.'),
    (4, 'senate-snapshot', '55 23 * * *', 'daily at 23:55',
     'SELECT record_economy_snapshot()', 'snapshot', NULL,
     'Records the economy now (budget_snapshots per entity type and class, reserve_snapshots per '
     'class): the history the Senate report charts. Late in the day, so each day''s point holds '
     'the day''s spend; a retry at the same instant replaces its rows.'),
    (5, 'senate-compact-rollups', '15 0 * * *', 'daily at 00:15',
     'SELECT * FROM compact_usage_rollups()', 'compact', NULL,
     'Merges the writer-shard rows of each usage rollup key of the 7 days before today into one '
     'row (totals unchanged, rows a writer holds skipped), so budget checks stay flat.'),
    (6, 'senate-weekly-rebalance', '30 0 * * 1', 'Mondays at 00:30',
     'SELECT count(*) FROM run_rebalance(now(), false, ''pg_cron'')', 'weekly', 'crontab',
     'Applies the weekly rebalance of the week just ended (idle reclaims, low-ROI cuts, raises '
     'for strong ROI with market support, reassignment of idle budget). A window is applied '
     'once: a later run in the same week writes nothing.')
) AS j (job_order, job_name, cron_schedule, cadence, sql_command, cycle_kind, cycle_actor,
        description)
-- pg_cron's settings are superuser-only: pg_settings hides them from other logins (NULL here).
CROSS JOIN (SELECT (SELECT s.setting FROM pg_catalog.pg_settings AS s
                    WHERE s.name = 'cron.database_name') AS cron_database) AS c;
COMMENT ON VIEW public.senate_schedule IS 'Every periodic Senate job: its pg_cron name, cron schedule, the SQL it runs, the senate-db cycle command that runs the same from cron or a systemd timer, and the pg_cron statement that schedules it (cron.schedule in pg_cron''s database, cron.schedule_in_database from another). senate-db schedule prints it. pg_cron reads schedules in cron.timezone (GMT by default), cron in the cron daemon''s time zone.';
COMMENT ON COLUMN public.senate_schedule.job_order IS 'Position in the list (1 = most frequent).';
COMMENT ON COLUMN public.senate_schedule.job_name IS 'pg_cron job name (cron.job.jobname); scheduling the same name again replaces the job.';
COMMENT ON COLUMN public.senate_schedule.cron_schedule IS 'When it runs: a 5-field cron expression (minute, hour, day of month, month, day of week).';
COMMENT ON COLUMN public.senate_schedule.cadence IS 'The cron expression in words.';
COMMENT ON COLUMN public.senate_schedule.sql_command IS 'The SQL the job runs (needs EXECUTE on the function: senate_admin has it).';
COMMENT ON COLUMN public.senate_schedule.cli_command IS 'The senate-db command that runs the same, writing (add --database URL); without --apply it is a dry run.';
COMMENT ON COLUMN public.senate_schedule.pg_cron_statement IS 'The statement that schedules the job with pg_cron, ready to run as the scheduling login: cron.schedule where pg_cron runs in this database (or where the reader cannot tell: pg_cron not loaded, or its settings hidden from non-superusers), else cron.schedule_in_database for this database, run by a superuser in pg_cron''s database, the job running as senate.scheduling_login (if set) or current_user.';
COMMENT ON COLUMN public.senate_schedule.description IS 'What the job does and why this often.';

-- define function senate.plan_rebalance(timestamp with time zone,boolean,text)
CREATE OR REPLACE FUNCTION senate.plan_rebalance(p_as_of timestamp with time zone, p_apply boolean, p_actor text)
 RETURNS TABLE(entity_type text, entity_id text, resource_type text, old_budget numeric, new_budget numeric, delta numeric, reason text, detail text)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
#variable_conflict use_column
DECLARE
    p public.economics_policy;
    v_as_of timestamptz := p_as_of;
    v_dry_run boolean := NOT p_apply;
    v_actor text := p_actor;
    v_tz text;
    v_as_of_day date;
    v_days integer;
    v_windows integer;
    v_window_end date;
    v_window_start date;
    v_history_start date;
    v_idle_start date;
    v_idle_start_at timestamptz;
    v_run bigint;
    v_pass integer;
    v_reason text;
    v_note text;
    v_jit text := current_setting('jit');
    v_work_mem text := current_setting('work_mem');
BEGIN
    SELECT * INTO p FROM public.economics_policy AS e WHERE e.is_active;
    IF NOT FOUND THEN
        PERFORM senate.raise_error('S1002', 'run_rebalance: no economics_policy is active');
    END IF;

    v_tz := p.time_zone;
    v_as_of_day := (v_as_of AT TIME ZONE v_tz)::date;
    v_days := greatest(1, ceil(extract(epoch FROM p.roi_window) / 86400))::integer;
    v_windows := p.low_roi_windows;
    SELECT b.period_start INTO v_window_end
    FROM senate.period_bounds(v_as_of, p.budget_period, v_tz) AS b;
    v_window_start := v_window_end - v_days;
    v_history_start := v_window_end - greatest(v_windows, 1) * v_days;
    v_idle_start := v_as_of_day - greatest(1, ceil(extract(epoch FROM p.idle_window) / 86400))::integer;
    v_idle_start_at := v_idle_start::timestamp AT TIME ZONE v_tz;

    IF NOT v_dry_run THEN
        -- One apply at a time; a window is applied once.
        PERFORM senate.lock_cycle('run_rebalance');
        SELECT r.run_id INTO v_run FROM public.rebalance_runs AS r
        WHERE r.window_start = v_window_start AND r.window_end = v_window_end;
        IF FOUND THEN
            RAISE NOTICE 'run_rebalance: window %..% was already applied by run %; nothing changes',
                v_window_start, v_window_end - 1, v_run;
            RETURN;
        END IF;
    END IF;

    -- Planner settings for this call only (restored below; an error rolls them back): JIT
    -- compilation costs seconds per call and buys nothing here, and the sorts and hashes of
    -- a 100k-entity plan fit in memory with this work_mem (one apply runs at a time).
    PERFORM set_config('jit', 'off', true);
    PERFORM set_config('work_mem', '128MB', true);

    -- plpgsql_check cannot see the two temporary tables this function creates at run time;
    -- these pragmas (a constant string: no cost) declare their columns so that every
    -- statement reading them is still checked. Keep them equal to the CREATE TEMP TABLEs.
    PERFORM 'PRAGMA:TABLE: rebalance_candidates (entity_type text, entity_id text, resource_type text, rule text, priority_rank bigint, priority_score numeric, detail text, locked boolean)';
    PERFORM 'PRAGMA:TABLE: rebalance_plan (entity_type text, entity_id text, resource_type text, old_budget numeric, new_budget numeric, delta numeric, reason text, detail text)';

    -- 1. Classify every envelope and class with a budget (one statement).
    IF to_regclass('pg_temp.rebalance_candidates') IS NOT NULL THEN
        DROP TABLE pg_temp.rebalance_candidates;
    END IF;
    CREATE TEMP TABLE rebalance_candidates (
        entity_type    text NOT NULL,
        entity_id      text NOT NULL,
        resource_type  text NOT NULL,
        rule           text NOT NULL,
        priority_rank  bigint NOT NULL,
        priority_score numeric NOT NULL,
        detail         text,
        locked         boolean NOT NULL DEFAULT false
    ) ON COMMIT DROP;

    INSERT INTO pg_temp.rebalance_candidates
        (entity_type, entity_id, resource_type, rule, priority_rank, priority_score, detail)
    WITH ranked_envelopes AS (
        SELECT b.*, row_number() OVER (ORDER BY b.priority_score DESC, b.entity_type, b.entity_id)
                        AS priority_rank
        FROM public.resource_budgets AS b
    ), budgets AS (
        SELECT b.entity_type, b.entity_id, b.priority_score, b.priority_rank, b.created_at,
               rt.resource_type,
               senate.applied_market_weight(b.market_weight, b.priority_score,
                                            p.min_priority_for_market_weight, p.max_market_boost,
                                            p.max_market_penalty) AS market_weight
        FROM ranked_envelopes AS b
        CROSS JOIN public.resource_types AS rt
        -- The money class usd (issue 18) like any class, for envelopes with a cost budget,
        -- once the class has a reserve to reclaim into and lend from (fund_reserve('usd')).
        JOIN public.senate_reserve AS sr ON sr.resource_type = rt.resource_type
        WHERE CASE rt.resource_type
                  WHEN 'llm_tokens' THEN b.token_budget
                  WHEN 'cpu_seconds' THEN b.cpu_budget
                  WHEN 'storage_gb_hours' THEN b.storage_budget_gb
                  WHEN 'api_calls' THEN b.api_call_budget
                  WHEN 'usd' THEN b.cost_budget_usd
              END > 0
    ), usage AS MATERIALIZED (
        -- One pass over the rollups of the days that matter, for both the idle test and
        -- the ROI windows (k = window index, NULL outside the ROI windows). Each rollup row
        -- counts for its class and, once some envelope has a cost budget (issue 18), its USD
        -- for the money class usd (the USD of every class: spent money is not idle).
        SELECT r.entity_type, r.entity_id, c.resource_type,
               CASE WHEN r.usage_day >= v_history_start AND r.usage_day < v_window_end
                    THEN (v_window_end - 1 - r.usage_day) / v_days END AS k,
               sum(c.amount) FILTER (WHERE r.usage_day >= v_idle_start) AS recent_amount,
               sum(c.amount) AS amount
        FROM senate.usage_rollups AS r
        CROSS JOIN LATERAL (VALUES (r.resource_type, r.amount_total),
                                   ('usd', CASE WHEN EXISTS (
                                                    SELECT 1 FROM public.resource_budgets AS ub
                                                    WHERE ub.cost_budget_usd IS NOT NULL)
                                                THEN r.cost_total_usd END))
             AS c (resource_type, amount)
        WHERE r.usage_day >= least(v_history_start, v_idle_start) AND r.usage_day <= v_as_of_day
          AND c.amount IS NOT NULL
        GROUP BY 1, 2, 3, 4
    ), recent AS (
        SELECT u.entity_type, u.entity_id, u.resource_type
        FROM usage AS u
        GROUP BY u.entity_type, u.entity_id, u.resource_type
        HAVING sum(u.recent_amount) > 0
    ), granted AS (
        SELECT ap.entity_type::text AS entity_type, ap.entity_id::text AS entity_id,
               ap.resource_type::text AS resource_type
        FROM public.allocation_proposals AS ap
        WHERE ap.status = 'approved' AND ap.decided_at::timestamptz >= v_idle_start_at
        GROUP BY 1, 2, 3
    ), tokens AS (
        SELECT u.entity_type, u.entity_id, u.k, u.amount AS tokens
        FROM usage AS u
        WHERE u.resource_type = 'llm_tokens' AND u.k IS NOT NULL AND u.amount > 0
    ), edges AS (
        SELECT g.entity_type, g.entity_id,
               (v_window_end - 1 - (g.observed_at AT TIME ZONE v_tz)::date) / v_days AS k,
               sum(g.kg_edges_gained) AS edges
        FROM public.world_model_gains AS g
        WHERE g.observed_at >= v_history_start::timestamp AT TIME ZONE v_tz
          AND g.observed_at < v_window_end::timestamp AT TIME ZONE v_tz
        GROUP BY 1, 2, 3
    ), roi AS (
        SELECT t.entity_type, t.entity_id,
               max(public.roi_score(coalesce(g.edges, 0), t.tokens)) FILTER (WHERE t.k = 0) AS roi_now,
               count(*) FILTER (WHERE t.k < v_windows
                                  AND public.roi_score(coalesce(g.edges, 0), t.tokens)
                                      < p.roi_low_threshold) AS low_windows,
               string_agg(format('%s edges / %s tokens', coalesce(g.edges, 0), t.tokens), ', '
                          ORDER BY t.k) AS evidence
        FROM tokens AS t
        LEFT JOIN edges AS g ON g.entity_type = t.entity_type AND g.entity_id = t.entity_id
                            AND g.k = t.k
        GROUP BY t.entity_type, t.entity_id
    ), blocked AS (
        SELECT DISTINCT gb.entity_type, gb.entity_id
        FROM public.governance_blocks AS gb WHERE gb.resolved_at IS NULL
    ), classified AS (
        SELECT bu.entity_type, bu.entity_id, bu.resource_type, bu.priority_rank,
               CASE
                   WHEN bu.created_at <= v_idle_start_at AND rc.entity_id IS NULL
                        AND gr.entity_id IS NULL
                       THEN 'idle'
                   WHEN bu.resource_type = 'llm_tokens' AND ro.low_windows >= v_windows
                       THEN 'low_roi'
                   WHEN bu.resource_type = 'llm_tokens' AND bl.entity_id IS NULL
                        AND ro.roi_now >= p.roi_high_threshold
                        AND bu.market_weight >= p.market_support_threshold
                       THEN 'strong'
                   WHEN bl.entity_id IS NULL
                       THEN 'ranked'
               END AS rule,
               ro.roi_now, ro.evidence, bu.market_weight, bu.priority_score
        FROM budgets AS bu
        LEFT JOIN recent AS rc
          ON rc.entity_type = bu.entity_type AND rc.entity_id = bu.entity_id
         AND rc.resource_type = bu.resource_type
        LEFT JOIN granted AS gr
          ON gr.entity_type = bu.entity_type AND gr.entity_id = bu.entity_id
         AND gr.resource_type = bu.resource_type
        LEFT JOIN roi AS ro ON ro.entity_type = bu.entity_type AND ro.entity_id = bu.entity_id
        LEFT JOIN blocked AS bl ON bl.entity_type = bu.entity_type AND bl.entity_id = bu.entity_id
    )
    SELECT c.entity_type, c.entity_id, c.resource_type, c.rule, c.priority_rank, c.priority_score,
           CASE c.rule
               WHEN 'idle' THEN
                   format('no %s spend since %s (idle window %s)', c.resource_type, v_idle_start,
                          p.idle_window)
               WHEN 'low_roi' THEN
                   format('ROI below %s edges/token in each of the last %s windows of %s days '
                          'before %s: %s', p.roi_low_threshold, v_windows, v_days, v_window_end,
                          c.evidence)
               WHEN 'strong' THEN
                   format('ROI %s >= %s edges/token in %s..%s and market weight %s >= %s',
                          round(c.roi_now, 8), p.roi_high_threshold, v_window_start,
                          v_window_end - 1, c.market_weight, p.market_support_threshold)
               -- ranked: described in the plan, for the few that receive something
           END
    FROM classified AS c
    WHERE c.rule IS NOT NULL
      AND (c.rule <> 'ranked'
           OR c.resource_type IN (SELECT x.resource_type FROM classified AS x WHERE x.rule = 'idle'));
    ANALYZE pg_temp.rebalance_candidates;

    -- 2. Amounts from the current budgets and reserve. Applying then locks the envelopes that
    --    change (in key order) and the reserve rows, and checks with a fresh snapshot that no
    --    budget or reserve balance the amounts were computed from has changed meanwhile (a
    --    concurrent approval, say); only if one has are the amounts computed again, from the
    --    locked rows and restricted to them.
    v_pass := 1;
    LOOP
        IF to_regclass('pg_temp.rebalance_plan') IS NOT NULL THEN
            DROP TABLE pg_temp.rebalance_plan;
        END IF;
        CREATE TEMP TABLE rebalance_plan (
            entity_type    text,
            entity_id      text,
            resource_type  text NOT NULL,
            old_budget     numeric NOT NULL,
            new_budget     numeric NOT NULL,
            delta          numeric NOT NULL,
            reason         text NOT NULL,
            detail         text
        ) ON COMMIT DROP;

        INSERT INTO pg_temp.rebalance_plan
            (entity_type, entity_id, resource_type, old_budget, new_budget, delta, reason, detail)
        WITH cur AS MATERIALIZED (
            SELECT c.entity_type, c.entity_id, c.resource_type, c.rule, c.priority_rank,
                   c.priority_score, c.detail, x.old_budget,
                   -- A cut (idle, low ROI) never takes budget carved out of a parent's
                   -- unallocated budget (cause proposal_carve_out): that budget was never drawn
                   -- from the reserve, so sending it there would create budget nobody funded;
                   -- it stays in the family, under the parent's unchanged cap.
                   CASE WHEN c.rule IN ('idle', 'low_roi')
                        THEN least(floor(p.max_rebalance_step * x.old_budget),
                                   greatest(x.old_budget - k.carved, 0))
                        ELSE floor(p.max_rebalance_step * x.old_budget) END AS step_amount
            FROM pg_temp.rebalance_candidates AS c
            JOIN public.resource_budgets AS b
              ON b.entity_type = c.entity_type AND b.entity_id = c.entity_id
            CROSS JOIN LATERAL (SELECT senate.budget_amount(b, c.resource_type) AS old_budget) AS x
            CROSS JOIN LATERAL (
                SELECT coalesce(sum(l.delta), 0) AS carved
                FROM public.budget_ledger AS l
                WHERE l.entity_type = c.entity_type AND l.entity_id = c.entity_id
                  AND l.account = 'entity_budget' AND l.resource_type = c.resource_type
                  AND l.cause_type = 'proposal_carve_out' AND c.rule IN ('idle', 'low_roi')) AS k
            WHERE v_pass = 1 OR c.locked
        ), freed AS (
            SELECT f.resource_type, sum(f.step_amount) AS freed,
                   coalesce(sum(f.step_amount) FILTER (WHERE f.rule = 'idle'), 0) AS reclaimed
            FROM cur AS f
            WHERE f.rule IN ('idle', 'low_roi')
            GROUP BY f.resource_type
        ), pool AS MATERIALIZED (
            SELECT r.resource_type, r.balance AS reserve_before,
                   r.balance + coalesce(f.freed, 0) AS pool_a, coalesce(f.reclaimed, 0) AS reclaimed
            FROM public.senate_reserve AS r
            LEFT JOIN freed AS f ON f.resource_type = r.resource_type
        ), strong AS (
            SELECT s.*, sum(s.step_amount) OVER (PARTITION BY s.resource_type
                                                 ORDER BY s.priority_rank
                                                 ROWS UNBOUNDED PRECEDING) AS cum
            FROM cur AS s
            WHERE s.rule = 'strong' AND s.step_amount > 0
        ), strong_gain AS MATERIALIZED (
            SELECT s.*, greatest(least(s.step_amount, po.pool_a - (s.cum - s.step_amount)), 0)
                            AS gain
            FROM strong AS s
            JOIN pool AS po ON po.resource_type = s.resource_type
        ), strong_total AS MATERIALIZED (
            SELECT sg.resource_type, sum(sg.gain) AS total
            FROM strong_gain AS sg
            GROUP BY sg.resource_type
        ), pool_b AS MATERIALIZED (
            SELECT po.resource_type,
                   greatest(least(po.reclaimed, po.pool_a - coalesce(st.total, 0)), 0) AS pool_b
            FROM pool AS po
            LEFT JOIN strong_total AS st ON st.resource_type = po.resource_type
        ), family_roots AS MATERIALIZED (
            -- Families (issue 19): each member of a tree and its root (an ancestor without a
            -- parent); siblings and cousins share a root. No tree, no rows.
            SELECT f.entity_type, f.entity_id, f.ancestor_type AS root_type,
                   f.ancestor_id AS root_id
            FROM senate.entity_family AS f
            WHERE NOT EXISTS (SELECT 1 FROM public.entity_parents AS q
                              WHERE q.entity_type = f.ancestor_type
                                AND q.entity_id = f.ancestor_id)
        ), family_pool AS (
            -- What each family's idle members may lend: of each idle step, at most
            -- family_lending_limit of the member's envelope.
            SELECT s.resource_type, r.root_type, r.root_id,
                   sum(least(s.step_amount, floor(p.family_lending_limit * s.old_budget)))
                       AS lendable,
                   count(*) AS lenders
            FROM cur AS s
            JOIN family_roots AS r ON r.entity_type = s.entity_type AND r.entity_id = s.entity_id
            WHERE s.rule = 'idle' AND s.step_amount > 0
            GROUP BY s.resource_type, r.root_type, r.root_id
        ), family_avail AS (
            -- Within the reclaimed budget the reserve still holds after the strong gains (a
            -- shortfall scales every family's pool down alike).
            SELECT fp.resource_type, fp.root_type, fp.root_id, fp.lendable, fp.lenders,
                   floor(fp.lendable * least(1, pb.pool_b / nullif(sum(fp.lendable) OVER
                                                (PARTITION BY fp.resource_type), 0))) AS pool
            FROM family_pool AS fp
            JOIN pool_b AS pb ON pb.resource_type = fp.resource_type
            WHERE fp.lendable > 0
        ), family_borrowers AS (
            -- Borrowers: the family's members the ranking would serve (not idle, not cut for
            -- low ROI, not blocked, not already raised for strong ROI), each capped at
            -- family_borrowing_limit of its envelope; ordered by cap for the water-filling.
            SELECT s.entity_type, s.entity_id, s.resource_type, s.old_budget, s.priority_rank,
                   r.root_type, r.root_id, fa.pool, fa.lendable, fa.lenders, x.cap,
                   row_number() OVER w AS i,
                   count(*) OVER (PARTITION BY s.resource_type, r.root_type, r.root_id) AS n,
                   coalesce(sum(x.cap) OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING),
                            0) AS caps_before
            FROM cur AS s
            JOIN family_roots AS r ON r.entity_type = s.entity_type AND r.entity_id = s.entity_id
            JOIN family_avail AS fa
              ON fa.resource_type = s.resource_type AND fa.root_type = r.root_type
             AND fa.root_id = r.root_id
            CROSS JOIN LATERAL (SELECT floor(p.family_borrowing_limit * s.old_budget) AS cap) AS x
            WHERE s.rule = 'ranked' AND x.cap > 0 AND fa.pool > 0
            WINDOW w AS (PARTITION BY s.resource_type, r.root_type, r.root_id
                         ORDER BY x.cap, s.entity_type, s.entity_id)
        ), family_level AS (
            -- Water-filling (max-min fair): with caps c1 <= ... <= cn and pool P, the level
            -- is (P - c1 - ... - c(i-1)) / (n - i + 1) for the first i whose cap reaches it;
            -- no such i: every borrower gets its cap.
            SELECT b.resource_type, b.root_type, b.root_id,
                   (pg_catalog.array_agg((b.pool - b.caps_before) / (b.n - b.i + 1) ORDER BY b.i)
                        FILTER (WHERE b.caps_before + b.cap * (b.n - b.i + 1) >= b.pool))[1]
                       AS level
            FROM family_borrowers AS b
            GROUP BY b.resource_type, b.root_type, b.root_id
        ), family_gain AS MATERIALIZED (
            SELECT b.*, floor(least(b.cap, coalesce(l.level, b.cap))) AS gain, l.level
            FROM family_borrowers AS b
            JOIN family_level AS l
              ON l.resource_type = b.resource_type AND l.root_type = b.root_type
             AND l.root_id = b.root_id
        ), family_total AS MATERIALIZED (
            SELECT g.resource_type, sum(g.gain) AS total
            FROM family_gain AS g
            GROUP BY g.resource_type
        ), ranked AS (
            SELECT s.*, sum(s.step_amount) OVER (PARTITION BY s.resource_type
                                                 ORDER BY s.priority_rank
                                                 ROWS UNBOUNDED PRECEDING) AS cum
            FROM cur AS s
            WHERE s.rule = 'ranked' AND s.step_amount > 0
              AND NOT EXISTS (SELECT 1 FROM family_gain AS g
                              WHERE g.entity_type = s.entity_type AND g.entity_id = s.entity_id
                                AND g.resource_type = s.resource_type AND g.gain > 0)
        ), ranked_gain AS (
            SELECT s.*, greatest(least(s.step_amount,
                                       pb.pool_b - coalesce(ft.total, 0) - (s.cum - s.step_amount)),
                                 0) AS gain
            FROM ranked AS s
            JOIN pool_b AS pb ON pb.resource_type = s.resource_type
            LEFT JOIN family_total AS ft ON ft.resource_type = s.resource_type
            WHERE pb.pool_b - coalesce(ft.total, 0) > 0
        ), changes AS (
            SELECT f.entity_type, f.entity_id, f.resource_type, f.old_budget,
                   -f.step_amount AS delta,
                   CASE f.rule WHEN 'idle' THEN 'idle_reclaim' ELSE 'sustained_low_roi' END AS reason,
                   f.detail
            FROM cur AS f
            WHERE f.rule IN ('idle', 'low_roi') AND f.step_amount > 0
            UNION ALL
            SELECT s.entity_type, s.entity_id, s.resource_type, s.old_budget, s.gain,
                   'strong_roi_market_support',
                   s.detail || CASE WHEN s.gain < s.step_amount
                                    THEN format(' (limited by the reserve: %s of a %s step)',
                                                s.gain, s.step_amount)
                                    ELSE '' END
            FROM strong_gain AS s
            WHERE s.gain > 0
            UNION ALL
            SELECT g.entity_type, g.entity_id, g.resource_type, g.old_budget, g.gain,
                   'family_lending',
                   format('idle budget of its family (root %s %s) reassigned inside it before the '
                          'global ranking: %s lendable from %s idle member(s) (at most %s of each '
                          'one''s envelope), shared fairly by %s borrower(s): equal share %s, '
                          'capped at %s (%s of its envelope)', g.root_type, g.root_id, g.pool,
                          g.lenders, p.family_lending_limit, g.n,
                          coalesce(round(g.level, 2)::text, 'above every cap'), g.cap,
                          p.family_borrowing_limit)
            FROM family_gain AS g
            WHERE g.gain > 0
            UNION ALL
            SELECT s.entity_type, s.entity_id, s.resource_type, s.old_budget, s.gain,
                   'reassigned_idle_budget',
                   format('priority rank %s in allocation_ranking (priority_score %s)',
                          s.priority_rank, s.priority_score)
                   || CASE WHEN s.gain < s.step_amount
                                    THEN format(' (the last of the reclaimed budget: %s of a %s step)',
                                                s.gain, s.step_amount)
                                    ELSE '' END
            FROM ranked_gain AS s
            WHERE s.gain > 0
        )
        SELECT c.entity_type, c.entity_id, c.resource_type, c.old_budget, c.old_budget + c.delta,
               c.delta, c.reason, c.detail
        FROM changes AS c
        UNION ALL
        SELECT NULL, NULL, po.resource_type, po.reserve_before, po.reserve_before - t.total,
               -t.total, 'reserve',
               format('%s changes: %s reclaimed/reduced into the reserve, %s granted from it',
                      t.n, t.freed, t.granted)
        FROM (SELECT c.resource_type, sum(c.delta) AS total, count(*) AS n,
                     -coalesce(sum(c.delta) FILTER (WHERE c.delta < 0), 0) AS freed,
                     coalesce(sum(c.delta) FILTER (WHERE c.delta > 0), 0) AS granted
              FROM changes AS c GROUP BY c.resource_type) AS t
        JOIN pool AS po ON po.resource_type = t.resource_type;

        EXIT WHEN v_dry_run OR v_pass = 2;
        PERFORM 1
        FROM public.resource_budgets AS b
        WHERE (b.entity_type, b.entity_id) IN (
                  SELECT x.entity_type, x.entity_id FROM pg_temp.rebalance_plan AS x
                  WHERE x.entity_type IS NOT NULL)
        ORDER BY b.entity_type, b.entity_id
        FOR NO KEY UPDATE OF b;
        PERFORM 1 FROM public.senate_reserve AS r ORDER BY r.resource_type FOR NO KEY UPDATE;
        EXIT WHEN NOT EXISTS (
            SELECT 1
            FROM pg_temp.rebalance_plan AS x
            JOIN public.resource_budgets AS b
              ON b.entity_type = x.entity_type AND b.entity_id = x.entity_id
            WHERE senate.budget_amount(b, x.resource_type) <> x.old_budget
            UNION ALL
            SELECT 1
            FROM pg_temp.rebalance_plan AS x
            JOIN public.senate_reserve AS r ON r.resource_type = x.resource_type
            WHERE x.entity_type IS NULL AND r.balance <> x.old_budget);
        UPDATE pg_temp.rebalance_candidates AS c SET locked = true
        FROM pg_temp.rebalance_plan AS x
        WHERE x.entity_type = c.entity_type AND x.entity_id = c.entity_id
          AND x.resource_type = c.resource_type;
        v_pass := 2;
    END LOOP;

    IF v_dry_run THEN
        RETURN QUERY
        SELECT x.entity_type, x.entity_id, x.resource_type, x.old_budget, x.new_budget, x.delta,
               x.reason, x.detail
        FROM pg_temp.rebalance_plan AS x
        ORDER BY x.resource_type, x.entity_type IS NULL, x.reason, x.entity_type, x.entity_id;
        PERFORM set_config('jit', v_jit, true);
        PERFORM set_config('work_mem', v_work_mem, true);
        RETURN;
    END IF;

    -- 3. Apply: the run, the budgets (one statement per rule: the ledger note names it),
    --    the reserve, and the plan.
    INSERT INTO public.rebalance_runs
        (window_start, window_end, as_of, policy_version, actor, gains, reductions, reclaims,
         reassignments, family_loans)
    SELECT v_window_start, v_window_end, v_as_of, p.policy_version, v_actor,
           count(*) FILTER (WHERE x.reason = 'strong_roi_market_support'),
           count(*) FILTER (WHERE x.reason = 'sustained_low_roi'),
           count(*) FILTER (WHERE x.reason = 'idle_reclaim'),
           count(*) FILTER (WHERE x.reason = 'reassigned_idle_budget'),
           count(*) FILTER (WHERE x.reason = 'family_lending')
    FROM pg_temp.rebalance_plan AS x
    RETURNING run_id INTO v_run;

    FOR v_reason, v_note IN
        SELECT r.reason, r.note
        FROM (VALUES
            (1, 'idle_reclaim', format('idle budget reclaimed into the reserve: no spend since %s',
                                       v_idle_start)),
            (2, 'sustained_low_roi', format('sustained low ROI: below %s edges/token in %s windows',
                                            p.roi_low_threshold, v_windows)),
            (3, 'strong_roi_market_support',
                format('strong ROI (>= %s edges/token) and market support (>= %s): gain from the '
                       'reserve', p.roi_high_threshold, p.market_support_threshold)),
            (4, 'family_lending',
                format('reclaimed idle budget reassigned inside its family before the global '
                       'ranking: fair shares within family_lending_limit %s and '
                       'family_borrowing_limit %s', p.family_lending_limit,
                       p.family_borrowing_limit)),
            (5, 'reassigned_idle_budget', 'reclaimed idle budget reassigned to the top of '
                                          'allocation_ranking')) AS r (ord, reason, note)
        WHERE EXISTS (SELECT 1 FROM pg_temp.rebalance_plan AS x WHERE x.reason = r.reason)
        ORDER BY r.ord
    LOOP
        PERFORM senate.set_change_cause('rebalance', v_run::text, v_actor,
            format('rebalance run %s (window %s..%s), %s: %s', v_run, v_window_start,
                   v_window_end - 1, v_reason, v_note));
        UPDATE public.resource_budgets AS b
        SET token_budget = b.token_budget + d.llm_tokens,
            cpu_budget = b.cpu_budget + d.cpu_seconds,
            storage_budget_gb = b.storage_budget_gb + d.storage_gb_hours,
            api_call_budget = b.api_call_budget + d.api_calls,
            cost_budget_usd = CASE WHEN d.usd = 0 THEN b.cost_budget_usd
                                   ELSE b.cost_budget_usd + d.usd END,
            updated_at = now()
        FROM (SELECT x.entity_type, x.entity_id,
                     coalesce(sum(x.delta) FILTER (WHERE x.resource_type = 'llm_tokens'), 0) AS llm_tokens,
                     coalesce(sum(x.delta) FILTER (WHERE x.resource_type = 'cpu_seconds'), 0) AS cpu_seconds,
                     coalesce(sum(x.delta) FILTER (WHERE x.resource_type = 'storage_gb_hours'), 0)
                         AS storage_gb_hours,
                     coalesce(sum(x.delta) FILTER (WHERE x.resource_type = 'api_calls'), 0) AS api_calls,
                     coalesce(sum(x.delta) FILTER (WHERE x.resource_type = 'usd'), 0) AS usd
              FROM pg_temp.rebalance_plan AS x
              WHERE x.reason = v_reason
              GROUP BY x.entity_type, x.entity_id) AS d
        WHERE b.entity_type = d.entity_type AND b.entity_id = d.entity_id;
    END LOOP;

    PERFORM senate.set_change_cause('rebalance', v_run::text, v_actor,
        format('rebalance run %s (window %s..%s): net reserve change (reclaims and reductions in, '
               'gains out)', v_run, v_window_start, v_window_end - 1));
    UPDATE public.senate_reserve AS r
    SET balance = r.balance + x.delta, updated_at = now()
    FROM pg_temp.rebalance_plan AS x
    WHERE x.entity_type IS NULL AND x.resource_type = r.resource_type AND x.delta <> 0;
    PERFORM senate.clear_change_cause();

    INSERT INTO public.rebalance_changes
        (run_id, entity_type, entity_id, resource_type, old_budget, new_budget, delta, reason, detail)
    SELECT v_run, x.entity_type, x.entity_id, x.resource_type, x.old_budget, x.new_budget,
           x.delta, x.reason, x.detail
    FROM pg_temp.rebalance_plan AS x;

    RETURN QUERY
    SELECT x.entity_type, x.entity_id, x.resource_type, x.old_budget, x.new_budget, x.delta,
           x.reason, x.detail
    FROM pg_temp.rebalance_plan AS x
    ORDER BY x.resource_type, x.entity_type IS NULL, x.reason, x.entity_type, x.entity_id;
    PERFORM set_config('jit', v_jit, true);
    PERFORM set_config('work_mem', v_work_mem, true);
END;
$function$;
COMMENT ON FUNCTION senate.plan_rebalance(timestamp with time zone,boolean,text) IS 'The weekly rebalance engine, shared by run_rebalance (apply or dry run) and preview_rebalance: plans the rules for the review window of p_as_of (idle reclaim, low-ROI cut, strong-ROI gain, then the reclaimed idle budget: first inside each family, family_lending, fair shares within the policy''s lending and borrowing limits; then by allocation_ranking, reassigned_idle_budget) and, with p_apply, applies them (cycle lock, once per window, budgets, reserve, ledger, rebalance_runs, rebalance_changes) under p_actor. Without p_apply it writes nothing (temporary tables only). Validates nothing but the active policy: callers (run_rebalance, preview_rebalance) check their arguments. SECURITY INVOKER, EXECUTE revoked from PUBLIC: only those definer functions, running as senate_owner, call it.';

-- define function public.preview_rebalance(timestamp with time zone)
CREATE OR REPLACE FUNCTION public.preview_rebalance(as_of timestamp with time zone)
 RETURNS TABLE(window_start date, window_end date, label text, run_id bigint, run_as_of timestamp with time zone, entity_type text, entity_id text, resource_type text, unit text, old_budget numeric, new_budget numeric, delta numeric, reason text, detail text)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
 SET lock_timeout TO '5s'
AS $function$
#variable_conflict use_column
DECLARE
    p public.economics_policy;
    v_as_of timestamptz := $1;
    v_today date;
    v_period_start date;
    v_next_period_end date;
    v_window_start date;
    v_window_end date;
    v_run bigint;
    v_label text;
    v_rows bigint;
BEGIN
    IF v_as_of IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'S3008',
            MESSAGE = 'preview_rebalance: as_of = NULL is not allowed',
            COLUMN = 'as_of',
            DETAIL = 'as_of: NULL',
            HINT = 'Pass the time of the run to preview, or call preview_rebalance() for the next '
                   'window.';
    END IF;
    SELECT * INTO p FROM public.economics_policy AS e WHERE e.is_active;
    IF NOT FOUND THEN
        PERFORM senate.raise_error('S1002', 'preview_rebalance: no economics_policy is active');
    END IF;
    v_today := (pg_catalog.now() AT TIME ZONE p.time_zone)::date;
    SELECT b.period_start INTO v_period_start
    FROM senate.period_bounds(pg_catalog.now(), p.budget_period, p.time_zone) AS b;
    SELECT w.window_start, w.window_end INTO v_window_start, v_window_end
    FROM senate.rebalance_window(v_as_of) AS w;
    IF v_window_start > v_today THEN
        SELECT b.period_end INTO v_next_period_end
        FROM senate.period_bounds(pg_catalog.now() + (CASE p.budget_period WHEN 'day' THEN 1
                                                                           ELSE 7 END
                                                      * interval '1 day'),
                                  p.budget_period, p.time_zone) AS b;
        RAISE EXCEPTION USING
            ERRCODE = 'S3008',
            MESSAGE = pg_catalog.format(
                'preview_rebalance: a run at %s would review %s..%s, which has not begun',
                v_as_of, v_window_start, v_window_end - 1),
            COLUMN = 'as_of',
            DETAIL = pg_catalog.format('as_of: %s', v_as_of),
            HINT = pg_catalog.format(
                'The latest window that can be previewed is the current one: '
                'preview_rebalance(''current''), or an as_of before %s.', v_next_period_end);
    END IF;

    SELECT r.run_id INTO v_run
    FROM public.rebalance_runs AS r
    WHERE r.window_start = v_window_start AND r.window_end = v_window_end;
    IF FOUND THEN
        RAISE NOTICE 'preview_rebalance: window %..% was already applied by run %; the rows are what '
                     'that run changed, nothing is planned again', v_window_start,
                     v_window_end - 1, v_run;
        RETURN QUERY
        SELECT v_window_start, v_window_end, pg_catalog.format('already applied by run %s', v_run),
               v_run, r.as_of, c.entity_type, c.entity_id, c.resource_type, rt.unit, c.old_budget,
               c.new_budget, c.delta, c.reason, c.detail
        FROM public.rebalance_changes AS c
        JOIN public.rebalance_runs AS r ON r.run_id = c.run_id
        LEFT JOIN public.resource_types AS rt ON rt.resource_type = c.resource_type
        WHERE c.run_id = v_run
        ORDER BY c.resource_type, c.entity_type IS NULL, c.reason, c.entity_type, c.entity_id;
        RETURN;
    END IF;

    IF pg_catalog.current_setting('transaction_read_only') = 'on' THEN
        RAISE EXCEPTION USING
            ERRCODE = '25006',
            MESSAGE = 'preview_rebalance: needs a read-write transaction',
            DETAIL = 'transaction_read_only: on',
            HINT = 'The preview plans in temporary tables (dropped at commit; nothing else is '
                   'written): run it outside BEGIN READ ONLY, or SET default_transaction_read_only '
                   '= off first. A hot standby cannot run it.';
    END IF;
    v_label := CASE
                   WHEN v_window_end > v_today
                       THEN pg_catalog.format('current %s so far', p.budget_period)
                   WHEN v_window_end = v_period_start
                       THEN pg_catalog.format('previous %s, not applied yet', p.budget_period)
                   ELSE 'earlier window, not applied yet'
               END;
    RETURN QUERY
    SELECT v_window_start, v_window_end, v_label, NULL::bigint, v_as_of, x.entity_type,
           x.entity_id, x.resource_type, rt.unit, x.old_budget, x.new_budget, x.delta, x.reason,
           x.detail
    FROM senate.plan_rebalance(v_as_of, false, session_user::text) AS x
    LEFT JOIN public.resource_types AS rt ON rt.resource_type = x.resource_type
    ORDER BY x.resource_type, x.entity_type IS NULL, x.reason, x.entity_type, x.entity_id;
    GET DIAGNOSTICS v_rows = ROW_COUNT;
    RAISE NOTICE 'preview_rebalance: window %..% (%): % rows planned as of %; nothing was written',
        v_window_start, v_window_end - 1, v_label, v_rows, v_as_of;
END;
$function$;
COMMENT ON FUNCTION public.preview_rebalance(timestamp with time zone) IS 'The rebalance a run at as_of would apply, as a dry run that writes nothing (no run, no ledger row), for analysts (senate_reader). as_of may be in the future as long as its review window has begun: the current week so far is planned on the data recorded so far. Each row carries its window (window_start .. window_end, exclusive end, local dates), a label (current week so far; previous week, not applied yet; earlier window, not applied yet; already applied by run N), run_id (the applied run, else NULL), run_as_of (the as_of planned for, or the applied run''s), then the plan as run_rebalance returns it with the unit of the class (tokens, CPU-seconds, GB-hours, calls). A window already applied is not planned again: a NOTICE names the run and the rows are what it changed (rebalance_changes). Every preview raises a NOTICE naming its window. Planning needs a read-write transaction (temporary tables): 25006 in a read-only one. Errors: S3008 as_of NULL or a window that has not begun, S1002 no active policy, 25006 read-only.';

-- define function public.preview_rebalance(text)
CREATE OR REPLACE FUNCTION public.preview_rebalance(review_window text DEFAULT 'next'::text)
 RETURNS TABLE(window_start date, window_end date, label text, run_id bigint, run_as_of timestamp with time zone, entity_type text, entity_id text, resource_type text, unit text, old_budget numeric, new_budget numeric, delta numeric, reason text, detail text)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
 SET lock_timeout TO '5s'
AS $function$
#variable_conflict use_column
DECLARE
    p public.economics_policy;
    v_which text := $1;
    v_next_run timestamptz;
    v_as_of timestamptz;
    v_prefix text := '';
BEGIN
    IF v_which IS NULL OR v_which NOT IN ('next', 'previous', 'current') THEN
        RAISE EXCEPTION USING
            ERRCODE = '22023',
            MESSAGE = pg_catalog.format(
                'preview_rebalance: review_window %s is not next, previous or current',
                coalesce(pg_catalog.quote_literal(v_which), 'NULL')),
            COLUMN = 'review_window',
            DETAIL = pg_catalog.format('review_window: %s', coalesce(v_which, 'NULL')),
            HINT = 'next (default): the window the next apply reviews; previous: the window a run '
                   'now reviews; current: the current week so far (reviewed by the run at the start '
                   'of the next period).';
    END IF;
    SELECT * INTO p FROM public.economics_policy AS e WHERE e.is_active;
    IF NOT FOUND THEN
        PERFORM senate.raise_error('S1002', 'preview_rebalance: no economics_policy is active');
    END IF;
    -- The next scheduled run reviews the current period: it runs when the next period begins.
    SELECT b.ends_at INTO v_next_run
    FROM senate.period_bounds(pg_catalog.now(), p.budget_period, p.time_zone) AS b;
    v_as_of := CASE v_which
                   WHEN 'previous' THEN pg_catalog.now()
                   WHEN 'current' THEN v_next_run
                   ELSE CASE WHEN EXISTS (
                                 SELECT 1
                                 FROM senate.rebalance_window(pg_catalog.now()) AS w
                                 JOIN public.rebalance_runs AS r
                                   ON r.window_start = w.window_start
                                  AND r.window_end = w.window_end)
                             THEN v_next_run ELSE pg_catalog.now() END
               END;
    IF v_which = 'next' THEN
        v_prefix := 'next window: ';
    END IF;
    RETURN QUERY
    SELECT x.window_start, x.window_end, v_prefix || x.label, x.run_id, x.run_as_of, x.entity_type,
           x.entity_id, x.resource_type, x.unit, x.old_budget, x.new_budget, x.delta, x.reason,
           x.detail
    FROM public.preview_rebalance(as_of => v_as_of) AS x;
END;
$function$;
COMMENT ON FUNCTION public.preview_rebalance(text) IS 'Labelled dry run of a rebalance window for analysts (senate_reader); writes nothing. review_window: next (default) = the window the next apply reviews: the previous week while it is not applied yet, else the current week so far (labels prefixed "next window: "); previous = the window a run now reviews (run_rebalance(now())); current = the current week so far, as the run at the start of the next period will review it (as_of = that start, on the data recorded so far). Rows and NOTICEs as preview_rebalance(as_of); a window already applied is not planned again (NOTICE with the run id; the rows are what it changed). Errors: 22023 unknown review_window, S1002 no active policy.';

-- define function public.check_forecast_alerts(timestamp with time zone,text,text)
CREATE OR REPLACE FUNCTION public.check_forecast_alerts(as_of timestamp with time zone DEFAULT now(), entity_type text DEFAULT NULL::text, entity_id text DEFAULT NULL::text)
 RETURNS SETOF public.spend_alerts
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
 SET lock_timeout TO '5s'
AS $function$
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
        RETURNING a AS alert
    )
    SELECT pg_catalog.array_agg(f.alert ORDER BY (f.alert).alert_id) INTO v_fired FROM fired AS f;

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
$function$;
COMMENT ON FUNCTION public.check_forecast_alerts(timestamp with time zone,text,text) IS 'Fires the forecast alerts due as of as_of (default now): for every entity and class (or one entity) whose projected spend at the end of the budget period containing as_of (budget_forecast_as_of(as_of).projected_spend, > 0) has reached a policy forecast threshold x its effective budget (economics_policy.forecast_alert_thresholds) for the first time this period, writes a spend_alerts row with alert_kind forecast (with projected_spend, daily_rate, runs_out_at) and sends pg_notify(''senate_spend_alerts'', JSON of identifiers: alert_id, entity_type, entity_id, resource_type, threshold, alert_kind). Returns the new alerts. run_daily_check() calls it. Errors: S3008 as_of in the future or NULL, 22023 only one of entity_type / entity_id, S1002 no active policy.';
