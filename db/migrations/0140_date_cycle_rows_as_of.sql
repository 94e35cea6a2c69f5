-- Why (issue 16, point 5 "The demo tells a dated story"): a review cycle run "as of" a past
-- time (run_daily_check(day), run_rebalance(as_of), check_spend_alerts(as_of): a catch-up after
-- an outage, or the demo's simulated days) wrote its ledger, throttle and alert rows with the
-- wall-clock time only, so forty simulated days read as one second and explain_budget() had no
-- dates to tell. The rows keep their wall-clock column (recorded_at, throttled_at, released_at,
-- fired_at: when the row was written; the ledger stays honest about that) and gain the economy
-- time the change belongs to:
--   budget_ledger.as_of                    the as_of of the change
--   spend_throttles.throttled_as_of        when the throttle took effect
--   spend_throttles.released_as_of         when it was released
--   spend_alerts.fired_as_of               the as_of the alert was judged at
-- The as_of of a transaction's changes is a row of senate.change_as_of (backend pid and
-- top-level transaction id, like senate.change_causes), written only by
-- senate.set_change_as_of(), which only the owner may execute (so only the project's SECURITY
-- DEFINER functions, and an owner's session such as the demo's, declare a time; nothing a
-- caller can SET is read). BEFORE INSERT/UPDATE triggers stamp the columns from it, whatever
-- the statement says; without one they copy the wall-clock column.
--   run_daily_check(day) for a past day: releases as of the start of that day, throttles as
--     of its end (today: as the transaction says, else the clock);
--   run_rebalance(as_of, dry_run => false): its budget and reserve changes as of as_of;
--   check_spend_alerts(as_of): fired_as_of = as_of.
-- explain_budget() shows the as_of of each change and can leave out the rows that changed no
-- amount (throttle and release status rows): explain_budget(type, id, include_unchanged =>
-- false). budget_move_evidence gains as_of (appended).
-- Rows written before this migration keep NULL in the new columns: read the wall-clock column.
SET lock_timeout = '5s';

-- 1. The as_of of a transaction's changes ---------------------------------------------------
CREATE TABLE IF NOT EXISTS senate.change_as_of (
    backend_pid     integer NOT NULL,
    transaction_id  xid8 NOT NULL,
    as_of           timestamptz NOT NULL,
    set_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (backend_pid, transaction_id)
);
COMMENT ON TABLE senate.change_as_of IS
  'The economy time (as_of) of the budget, reserve, throttle and alert changes of one transaction '
  '(backend pid and top-level transaction id), written only by senate.set_change_as_of(), which '
  'only the owner (the project''s SECURITY DEFINER functions, an owner''s session) may execute. '
  'Without a row, changes are as of the time they are written.';
COMMENT ON COLUMN senate.change_as_of.backend_pid IS 'Backend (pg_backend_pid()) of the transaction.';
COMMENT ON COLUMN senate.change_as_of.transaction_id IS 'Top-level transaction (pg_current_xact_id()).';
COMMENT ON COLUMN senate.change_as_of.as_of IS 'The instant the transaction''s changes belong to (a review cycle''s as_of).';
COMMENT ON COLUMN senate.change_as_of.set_at IS 'When it was set (clock time).';
REVOKE ALL ON senate.change_as_of FROM PUBLIC;

CREATE OR REPLACE FUNCTION senate.set_change_as_of(p_as_of timestamptz)
RETURNS timestamptz
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_xact xid8 := pg_catalog.pg_current_xact_id();
    v_prior timestamptz;
BEGIN
    -- Rows this backend left behind in earlier transactions (committed without a clear).
    DELETE FROM senate.change_as_of AS c
    WHERE c.backend_pid = pg_catalog.pg_backend_pid() AND c.transaction_id <> v_xact;
    SELECT c.as_of INTO v_prior
    FROM senate.change_as_of AS c
    WHERE c.backend_pid = pg_catalog.pg_backend_pid() AND c.transaction_id = v_xact;
    IF p_as_of IS NULL THEN
        DELETE FROM senate.change_as_of AS c
        WHERE c.backend_pid = pg_catalog.pg_backend_pid() AND c.transaction_id = v_xact;
    ELSE
        INSERT INTO senate.change_as_of AS c (backend_pid, transaction_id, as_of)
        VALUES (pg_catalog.pg_backend_pid(), v_xact, p_as_of)
        ON CONFLICT (backend_pid, transaction_id) DO UPDATE
        SET as_of = excluded.as_of, set_at = excluded.set_at;
    END IF;
    RETURN v_prior;
END;
$$;
COMMENT ON FUNCTION senate.set_change_as_of(timestamptz) IS
  'Declares the economy time (as_of) of the budget, reserve, throttle and alert changes that '
  'follow in this transaction (budget_ledger.as_of, spend_throttles.throttled_as_of and '
  'released_as_of); NULL forgets it (changes are then as of the time they are written). Returns '
  'the as_of it replaces (NULL if none), for the caller to put back. Owner only.';
REVOKE EXECUTE ON FUNCTION senate.set_change_as_of(timestamptz) FROM PUBLIC;

CREATE OR REPLACE FUNCTION senate.current_change_as_of()
RETURNS timestamptz
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT c.as_of
    FROM senate.change_as_of AS c
    WHERE c.backend_pid = pg_catalog.pg_backend_pid()
      AND c.transaction_id = pg_catalog.pg_current_xact_id_if_assigned()
$$;
COMMENT ON FUNCTION senate.current_change_as_of() IS
  'The as_of senate.set_change_as_of() declared for this transaction, else NULL. SECURITY '
  'DEFINER so that the stamping triggers, running as any writer, can read it; it shows only the '
  'calling transaction''s own.';

-- 2. Ledger, throttle and alert rows carry it -----------------------------------------------
ALTER TABLE public.budget_ledger ADD COLUMN IF NOT EXISTS as_of timestamptz;
COMMENT ON COLUMN public.budget_ledger.as_of IS
  'The economy time of the change: the as_of of the review cycle or session that made it (a past '
  'day when a cycle runs for one, the demo''s simulated days), else recorded_at. Set by trigger '
  't98_stamp_as_of whatever the INSERT says; NULL for rows recorded before migration 0140 (read '
  'recorded_at).';
ALTER TABLE public.spend_throttles ADD COLUMN IF NOT EXISTS throttled_as_of timestamptz;
ALTER TABLE public.spend_throttles ADD COLUMN IF NOT EXISTS released_as_of timestamptz;
COMMENT ON COLUMN public.spend_throttles.throttled_as_of IS
  'The economy time the throttle took effect: the end of the day run_daily_check judged (for a '
  'past day), else throttled_at. Set by trigger t15_stamp_as_of; NULL for throttles placed before '
  'migration 0140.';
COMMENT ON COLUMN public.spend_throttles.released_as_of IS
  'The economy time of the release: the start of the day run_daily_check judged (for a past day) '
  'or the as_of of the change that lifted it, else released_at; never before throttled_as_of. '
  'Set by trigger t15_stamp_as_of; NULL while unreleased and for releases before migration 0140.';
ALTER TABLE public.spend_alerts ADD COLUMN IF NOT EXISTS fired_as_of timestamptz;
COMMENT ON COLUMN public.spend_alerts.fired_as_of IS
  'The as_of check_spend_alerts() judged the spend at (run_daily_check: the end of its day); '
  'fired_at is when the row was written. NULL for alerts fired before migration 0140.';

CREATE OR REPLACE FUNCTION senate.stamp_ledger_as_of()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    NEW.as_of := coalesce(senate.current_change_as_of(), NEW.recorded_at);
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION senate.stamp_ledger_as_of() IS
  'BEFORE INSERT row trigger on budget_ledger: as_of := the transaction''s declared as_of '
  '(senate.current_change_as_of()), else recorded_at, whatever the INSERT gave.';

DROP TRIGGER IF EXISTS t98_stamp_as_of ON public.budget_ledger;
CREATE TRIGGER t98_stamp_as_of
    BEFORE INSERT ON public.budget_ledger
    FOR EACH ROW EXECUTE FUNCTION senate.stamp_ledger_as_of();
COMMENT ON TRIGGER t98_stamp_as_of ON public.budget_ledger IS
  'Each ledger row records the economy time of its change (as_of) beside the time it was written.';

CREATE OR REPLACE FUNCTION senate.stamp_throttle_as_of()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.throttled_as_of := coalesce(senate.current_change_as_of(), NEW.throttled_at);
        NEW.released_as_of := CASE WHEN NEW.released_at IS NOT NULL THEN
                                       greatest(coalesce(senate.current_change_as_of(),
                                                         NEW.released_at), NEW.throttled_as_of)
                                   END;
    ELSIF OLD.released_at IS NULL AND NEW.released_at IS NOT NULL THEN
        NEW.released_as_of := greatest(coalesce(senate.current_change_as_of(), NEW.released_at),
                                       OLD.throttled_as_of);
    END IF;
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION senate.stamp_throttle_as_of() IS
  'BEFORE INSERT OR UPDATE row trigger on spend_throttles (after t10_guard_spend_throttles, which '
  'refuses any other change): throttled_as_of on placement and released_as_of on release := the '
  'transaction''s declared as_of (senate.current_change_as_of()), else the wall-clock column.';

DROP TRIGGER IF EXISTS t15_stamp_as_of ON public.spend_throttles;
CREATE TRIGGER t15_stamp_as_of
    BEFORE INSERT OR UPDATE ON public.spend_throttles
    FOR EACH ROW EXECUTE FUNCTION senate.stamp_throttle_as_of();
COMMENT ON TRIGGER t15_stamp_as_of ON public.spend_throttles IS
  'Each throttle records the economy time it took effect and was released.';

-- 3. The cycles declare their as_of ---------------------------------------------------------
DO $$
BEGIN
    PERFORM senate.save_definition('0140', 'public.run_daily_check(date)');
    PERFORM senate.save_definition('0140', 'public.run_rebalance(timestamptz, boolean, text)');
    PERFORM senate.save_definition('0140', 'public.check_spend_alerts(timestamptz, text, text)');
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
  '(until the period ends), and fires the spend alerts due. Returns one row per action (released, '
  'throttled, alert) with the window, spend (unit of the class) and cost (USD), the allowance '
  'passed and the reason (amounts rounded to 2 decimals for reading). Throttles and releases are '
  'in budget_ledger (account entity_status, cause throttle | release). For a past day the rows '
  'carry that day''s times (budget_ledger.as_of, spend_throttles.throttled_as_of / '
  'released_as_of, spend_alerts.fired_as_of): releases as of its start, throttles and alerts as '
  'of its end. Idempotent for a day.';

CREATE OR REPLACE FUNCTION public.run_rebalance(
    as_of timestamptz DEFAULT now(), dry_run boolean DEFAULT true, actor text DEFAULT NULL)
RETURNS TABLE(entity_type text, entity_id text, resource_type text, old_budget numeric,
              new_budget numeric, delta numeric, reason text, detail text)
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s'
AS $_$
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
$_$;
COMMENT ON FUNCTION public.run_rebalance(timestamptz, boolean, text) IS
  'Weekly strategic rebalance for the review window of as_of (default now; the policy roi_window '
  'in days ending where as_of''s budget period begins). Rules (each change at most '
  'floor(max_rebalance_step x budget)): idle_reclaim (no spend of a class since as_of''s day - '
  'idle_window -> into the reserve), sustained_low_roi (llm_tokens ROI < roi_low_threshold in the '
  'last low_roi_windows windows -> into the reserve), strong_roi_market_support (ROI >= '
  'roi_high_threshold and applied market weight >= market_support_threshold -> gain from the '
  'reserve, in allocation_ranking order), reassigned_idle_budget (the reclaimed idle budget -> '
  'the top of allocation_ranking). Budgets + reserve are conserved per class. Returns one row per '
  'changed envelope and class and one reserve row per class (entity NULL): old, new, delta (unit '
  'of the class), reason (rule) and detail (evidence). dry_run (default true) writes nothing; for '
  'a window already applied it raises a NOTICE naming the run and shows what the rules would do '
  'now. Applying writes budgets, reserve, budget_ledger (cause rebalance, cause_id = run id, note '
  '= rule, as_of = as_of), rebalance_runs and rebalance_changes in one transaction; a window '
  'already applied changes nothing (no rows, a NOTICE). actor defaults to the session user. The '
  'engine is senate.plan_rebalance; preview_rebalance() is the analysts'' labelled dry run. '
  'Errors: S3008 as_of in the future (or NULL), 22023 dry_run NULL, S2010 bad actor, S5030 '
  'another apply holds the cycle lock (after 5 s).';

CREATE OR REPLACE FUNCTION public.check_spend_alerts(
    as_of timestamptz DEFAULT now(), entity_type text DEFAULT NULL, entity_id text DEFAULT NULL)
RETURNS SETOF public.spend_alerts
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s'
AS $_$
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
             effective_budget, utilization, fired_as_of)
        SELECT c.entity_type, c.entity_id, c.resource_type, c.period_start, c.period_end,
               c.threshold, c.spent, c.effective_budget, c.utilization, $1
        FROM crossed AS c
        ORDER BY c.entity_type, c.entity_id, c.resource_type, c.threshold
        ON CONFLICT ON CONSTRAINT spend_alerts_once_per_period DO NOTHING
        RETURNING a.*
    )
    SELECT array_agg(f ORDER BY f.alert_id) INTO v_fired FROM fired AS f;

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
$_$;
COMMENT ON FUNCTION public.check_spend_alerts(timestamptz, text, text) IS
  'Fires the spend alerts due as of as_of (default now): for every entity and class (or one '
  'entity) whose spend in the budget period containing as_of (days up to as_of) has reached a '
  'policy alert threshold x its effective budget for the first time this period, writes a '
  'spend_alerts row (fired_as_of = as_of, fired_at = the clock) and sends '
  'pg_notify(''senate_spend_alerts'', JSON of identifiers only: alert_id, entity_type, entity_id, '
  'resource_type, threshold); listeners re-read the row from spend_alerts by alert_id (any login '
  'can NOTIFY a channel, so a payload proves nothing). Waits at most 5 s for a lock '
  '(lock_timeout). Returns the new alerts. Schedule it every minute; run_daily_check() calls it '
  'too. Errors: S3008 as_of in the future or NULL, 22023 only one of entity_type / entity_id.';

-- 4. explain_budget: the as_of of each change; unchanged rows on request ---------------------
-- Its result gains a column and it gains a parameter: dropped and recreated (0111 did the same).
DELETE FROM senate.function_hardening
WHERE function_oid = to_regprocedure('public.explain_budget(text, text)');
-- squawk-ignore ban-drop-function
DROP FUNCTION IF EXISTS public.explain_budget(text, text);
CREATE FUNCTION public.explain_budget(
    p_entity_type text, p_entity_id text, include_unchanged boolean DEFAULT true)
RETURNS TABLE (
    ledger_id       bigint,
    recorded_at     timestamptz,
    resource_type   text,
    balance_before  numeric,
    balance_after   numeric,
    delta           numeric,
    unit            text,
    cause           text,
    actor           text,
    explanation     text,
    login           text,
    as_of           timestamptz)
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT l.ledger_id,
           l.recorded_at,
           l.resource_type,
           l.balance_before,
           l.balance_after,
           l.delta,
           coalesce(rt.unit, ''),
           l.cause_type || coalesce(' ' || l.cause_id, ''),
           l.actor,
           CASE
               WHEN p.id IS NOT NULL THEN
                   pg_catalog.format('proposal %s by %s approved: %s%s', p.id,
                          coalesce(p.proposer_agent::text, p.proposer_id::text, 'unknown'),
                          CASE WHEN pg_catalog.length(p.justification) > 160
                               THEN pg_catalog.left(p.justification, 159) || '…'
                               ELSE p.justification END,
                          coalesce(' (' || l.note || ')', ''))
               WHEN l.account = 'entity_status' THEN coalesce('status: ' || l.note, 'status change')
               ELSE coalesce(l.note, '')
           END,
           l.session_login,
           coalesce(l.as_of, l.recorded_at)
    FROM public.budget_ledger AS l
    LEFT JOIN public.resource_types AS rt ON rt.resource_type = l.resource_type
    LEFT JOIN public.allocation_proposals AS p
        ON l.cause_type = 'proposal_approval'
       AND p.entity_type::text = l.entity_type
       AND p.entity_id::text = l.entity_id
       AND p.id::text = l.cause_id
    WHERE l.entity_type = p_entity_type
      AND l.entity_id = p_entity_id
      AND l.account IN ('entity_budget', 'entity_status')
      AND (include_unchanged IS NOT FALSE OR l.delta <> 0)
    ORDER BY l.ledger_id
$$;
COMMENT ON FUNCTION public.explain_budget(text, text, boolean) IS
  'Why an entity has its budget: every change to its resource_budgets row (and throttle status), '
  'in order, with when it was recorded (recorded_at, clock time) and the economy time it belongs '
  'to (as_of: a review cycle''s as_of, e.g. the demo''s simulated day; else recorded_at), '
  'resource class, balance before -> after, delta and unit (tokens, CPU-seconds, GB-hours, '
  'calls), cause (type and id), actor (as named by the function that made the change), an '
  'explanation (for approvals: the proposal, its proposer and justification, and the reviewer''s '
  'note) and login (session_user that made the change; NULL before migration 0111). A direct edit '
  'reads as direct_write under its login. include_unchanged => false leaves out the rows that '
  'changed no amount (delta 0: throttle and release status changes). The last balance_after per '
  'class is the current budget.';
REVOKE EXECUTE ON FUNCTION public.explain_budget(text, text, boolean) FROM PUBLIC;

-- 5. budget_move_evidence: the as_of of each move (appended) ---------------------------------
CREATE OR REPLACE VIEW public.budget_move_evidence AS
SELECT l.ledger_id,
       l.recorded_at,
       l.entity_type,
       l.entity_id,
       l.resource_type,
       l.model_tier,
       rt.unit,
       l.balance_before,
       l.balance_after,
       l.delta,
       l.cause_type,
       l.cause_id,
       coalesce(c.reason, l.cause_type) AS rule,
       CASE
           WHEN c.run_id IS NOT NULL THEN c.detail
           WHEN p.id IS NOT NULL THEN
               format('proposal %s by %s approved: %s%s', p.id,
                      coalesce(p.proposer_agent::text, p.proposer_id::text, 'unknown'),
                      CASE WHEN length(p.justification) > 160
                           THEN left(p.justification, 159) || '…'
                           ELSE p.justification END,
                      coalesce(' (' || l.note || ')', ''))
           ELSE l.note
       END AS evidence,
       rr.window_start AS rebalance_window_start,
       rr.window_end AS rebalance_window_end,
       l.actor,
       l.session_login AS login,
       coalesce(l.as_of, l.recorded_at) AS as_of
FROM public.budget_ledger AS l
LEFT JOIN public.resource_types AS rt ON rt.resource_type = l.resource_type
LEFT JOIN public.rebalance_changes AS c
       ON l.cause_type = 'rebalance' AND l.account = 'entity_budget'
      AND c.entity_type = l.entity_type AND c.entity_id = l.entity_id
      AND c.resource_type = l.resource_type AND c.run_id::text = l.cause_id
LEFT JOIN public.rebalance_runs AS rr ON rr.run_id = c.run_id
LEFT JOIN public.allocation_proposals AS p
       ON l.cause_type = 'proposal_approval'
      AND p.entity_type::text = l.entity_type AND p.entity_id::text = l.entity_id
      AND p.id::text = l.cause_id
WHERE l.account IN ('entity_budget', 'entity_tier_budget');
COMMENT ON COLUMN public.budget_move_evidence.as_of IS
  'The economy time of the move (budget_ledger.as_of: a rebalance''s as_of, the demo''s simulated '
  'day; recorded_at for rows before migration 0140).';

DO $$
BEGIN
    PERFORM senate.grant_role_privileges();
END;
$$;
