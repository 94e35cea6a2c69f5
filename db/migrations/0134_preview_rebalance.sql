-- Why (issue 16, point 4 "Preview"): the weekly dry run could not answer "what will the next
-- rebalance do". run_rebalance(now()) plans the window a run now reviews, which the Monday run
-- has usually applied already (it replanned it silently, with no notice), and the window that
-- will be reviewed next, the current week so far, could not be planned at all: a future as_of
-- is S3008. Readers could neither run the dry run (run_rebalance is the scheduler's) nor read
-- rebalance_runs / rebalance_changes, the tables behind senate_report_last_rebalance.
--
-- 1. The engine moves, unchanged, from run_rebalance into senate.plan_rebalance(as_of, apply,
--    actor) (SECURITY INVOKER, EXECUTE revoked from PUBLIC: only the definer functions below,
--    running as senate_owner, call it). run_rebalance keeps its signature, checks and
--    behaviour; a dry run of a window that was already applied now says so in a NOTICE (run
--    id included) before it shows what the rules would do now.
-- 2. preview_rebalance(review_window text DEFAULT 'next') and preview_rebalance(as_of
--    timestamptz): a dry run for analysts (granted to senate_reader), labelled with its window.
--    It writes nothing: no rebalance_runs row, no ledger row (the engine's dry run uses
--    temporary tables only, dropped at commit). A future as_of is allowed as long as its window
--    has begun (the current week so far); a window that was already applied is not planned
--    again: a NOTICE names the run, and the rows are the ones that run applied.
-- 3. senate_reader may SELECT rebalance_runs and rebalance_changes (README: readers read the
--    tables behind the views).
SET lock_timeout = '5s';

DO $$
BEGIN
    PERFORM senate.save_definition('0134', 'public.run_rebalance(timestamptz, boolean, text)');
END;
$$;

CREATE OR REPLACE FUNCTION senate.rebalance_window(p_as_of timestamptz)
RETURNS TABLE (window_start date, window_end date)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT b.period_start - greatest(1, ceil(extract(epoch FROM p.roi_window) / 86400))::integer,
           b.period_start
    FROM public.economics_policy AS p
    CROSS JOIN LATERAL senate.period_bounds(p_as_of, p.budget_period, p.time_zone) AS b
    WHERE p.is_active
$$;
COMMENT ON FUNCTION senate.rebalance_window(timestamptz) IS
  'The review window of a rebalance run at p_as_of under the active policy: [window_start, '
  'window_end) as local dates, window_end = the start of p_as_of''s budget period, window_start = '
  'window_end - roi_window in whole days. No row without an active policy.';
REVOKE EXECUTE ON FUNCTION senate.rebalance_window(timestamptz) FROM PUBLIC;

CREATE OR REPLACE FUNCTION senate.plan_rebalance(
    p_as_of timestamptz, p_apply boolean, p_actor text)
RETURNS TABLE (
    entity_type text, entity_id text, resource_type text, old_budget numeric,
    new_budget numeric, delta numeric, reason text, detail text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
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
        WHERE CASE rt.resource_type
                  WHEN 'llm_tokens' THEN b.token_budget
                  WHEN 'cpu_seconds' THEN b.cpu_budget
                  WHEN 'storage_gb_hours' THEN b.storage_budget_gb
                  WHEN 'api_calls' THEN b.api_call_budget
              END > 0
    ), usage AS MATERIALIZED (
        -- One pass over the rollups of the days that matter, for both the idle test and
        -- the ROI windows (k = window index, NULL outside the ROI windows).
        SELECT r.entity_type, r.entity_id, r.resource_type,
               CASE WHEN r.usage_day >= v_history_start AND r.usage_day < v_window_end
                    THEN (v_window_end - 1 - r.usage_day) / v_days END AS k,
               sum(r.amount_total) FILTER (WHERE r.usage_day >= v_idle_start) AS recent_amount,
               sum(r.amount_total) AS amount
        FROM senate.usage_rollups AS r
        WHERE r.usage_day >= least(v_history_start, v_idle_start) AND r.usage_day <= v_as_of_day
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
                   floor(p.max_rebalance_step * x.old_budget) AS step_amount
            FROM pg_temp.rebalance_candidates AS c
            JOIN public.resource_budgets AS b
              ON b.entity_type = c.entity_type AND b.entity_id = c.entity_id
            CROSS JOIN LATERAL (SELECT senate.budget_amount(b, c.resource_type) AS old_budget) AS x
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
        ), ranked AS (
            SELECT s.*, sum(s.step_amount) OVER (PARTITION BY s.resource_type
                                                 ORDER BY s.priority_rank
                                                 ROWS UNBOUNDED PRECEDING) AS cum
            FROM cur AS s
            WHERE s.rule = 'ranked' AND s.step_amount > 0
        ), ranked_gain AS (
            SELECT s.*, greatest(least(s.step_amount, pb.pool_b - (s.cum - s.step_amount)), 0)
                            AS gain
            FROM ranked AS s
            JOIN pool_b AS pb ON pb.resource_type = s.resource_type
            WHERE pb.pool_b > 0
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
         reassignments)
    SELECT v_window_start, v_window_end, v_as_of, p.policy_version, v_actor,
           count(*) FILTER (WHERE x.reason = 'strong_roi_market_support'),
           count(*) FILTER (WHERE x.reason = 'sustained_low_roi'),
           count(*) FILTER (WHERE x.reason = 'idle_reclaim'),
           count(*) FILTER (WHERE x.reason = 'reassigned_idle_budget')
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
            (4, 'reassigned_idle_budget', 'reclaimed idle budget reassigned to the top of '
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
            updated_at = now()
        FROM (SELECT x.entity_type, x.entity_id,
                     coalesce(sum(x.delta) FILTER (WHERE x.resource_type = 'llm_tokens'), 0) AS llm_tokens,
                     coalesce(sum(x.delta) FILTER (WHERE x.resource_type = 'cpu_seconds'), 0) AS cpu_seconds,
                     coalesce(sum(x.delta) FILTER (WHERE x.resource_type = 'storage_gb_hours'), 0)
                         AS storage_gb_hours,
                     coalesce(sum(x.delta) FILTER (WHERE x.resource_type = 'api_calls'), 0) AS api_calls
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
$$;

COMMENT ON FUNCTION senate.plan_rebalance(timestamptz, boolean, text) IS
  'The weekly rebalance engine (moved unchanged from run_rebalance by 0134): plans the rules for '
  'the review window of p_as_of and, with p_apply, applies them (cycle lock, once per window, '
  'budgets, reserve, ledger, rebalance_runs, rebalance_changes) under p_actor. Without p_apply it '
  'writes nothing (temporary tables only). Validates nothing but the active policy: callers '
  '(run_rebalance, preview_rebalance) check their arguments. SECURITY INVOKER, EXECUTE revoked '
  'from PUBLIC: only those definer functions, running as senate_owner, call it.';
REVOKE EXECUTE ON FUNCTION senate.plan_rebalance(timestamptz, boolean, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION public.run_rebalance(
    as_of timestamptz DEFAULT now(), dry_run boolean DEFAULT true, actor text DEFAULT NULL)
RETURNS TABLE (
    entity_type text, entity_id text, resource_type text, old_budget numeric,
    new_budget numeric, delta numeric, reason text, detail text)
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s'
AS $$
#variable_conflict use_column
DECLARE
    v_as_of timestamptz := $1;
    v_dry_run boolean := $2;
    v_actor text;
    v_run bigint;
    v_window_start date;
    v_window_end date;
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
    END IF;
    RETURN QUERY
    SELECT x.entity_type, x.entity_id, x.resource_type, x.old_budget, x.new_budget, x.delta,
           x.reason, x.detail
    FROM senate.plan_rebalance(v_as_of, NOT v_dry_run, v_actor) AS x;
END;
$$;
COMMENT ON FUNCTION public.run_rebalance(timestamptz, boolean, text) IS
  'Weekly strategic rebalance for the review window of as_of (default now; the policy roi_window in '
  'days ending where as_of''s budget period begins). Rules (each change at most floor('
  'max_rebalance_step x budget)): idle_reclaim (no spend of a class since as_of''s day - idle_window '
  '-> into the reserve), sustained_low_roi (llm_tokens ROI < roi_low_threshold in the last '
  'low_roi_windows windows -> into the reserve), strong_roi_market_support (ROI >= '
  'roi_high_threshold and applied market weight >= market_support_threshold -> gain from the '
  'reserve, in allocation_ranking order), reassigned_idle_budget (the reclaimed idle budget -> the '
  'top of allocation_ranking). Budgets + reserve are conserved per class. Returns one row per '
  'changed envelope and class and one reserve row per class (entity NULL): old, new, delta (unit '
  'of the class), reason (rule) and detail (evidence). dry_run (default true) writes nothing; for '
  'a window already applied it raises a NOTICE naming the run and shows what the rules would do '
  'now. Applying writes budgets, reserve, budget_ledger (cause rebalance, cause_id = run id, note = '
  'rule), rebalance_runs and rebalance_changes in one transaction; a window already applied '
  'changes nothing (no rows, a NOTICE). actor defaults to the session user. The engine is '
  'senate.plan_rebalance; preview_rebalance() is the analysts'' labelled dry run. Errors: S3008 '
  'as_of in the future (or NULL), 22023 dry_run NULL, S2010 bad actor, S5030 another apply holds '
  'the cycle lock (after 5 s).';
REVOKE EXECUTE ON FUNCTION public.run_rebalance(timestamptz, boolean, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION public.preview_rebalance(as_of timestamptz)
RETURNS TABLE (
    window_start date, window_end date, label text, run_id bigint, run_as_of timestamptz,
    entity_type text, entity_id text, resource_type text, unit text, old_budget numeric,
    new_budget numeric, delta numeric, reason text, detail text)
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s'
AS $$
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
$$;
COMMENT ON FUNCTION public.preview_rebalance(timestamptz) IS
  'The rebalance a run at as_of would apply, as a dry run that writes nothing (no run, no ledger '
  'row), for analysts (senate_reader). as_of may be in the future as long as its review window has '
  'begun: the current week so far is planned on the data recorded so far. Each row carries its '
  'window (window_start .. window_end, exclusive end, local dates), a label (current week so far; '
  'previous week, not applied yet; earlier window, not applied yet; already applied by run N), '
  'run_id (the applied run, else NULL), run_as_of (the as_of planned for, or the applied run''s), '
  'then the plan as run_rebalance returns it with the unit of the class (tokens, CPU-seconds, '
  'GB-hours, calls). A window already applied is not planned again: a NOTICE names the run and '
  'the rows are what it changed (rebalance_changes). Every preview raises a NOTICE naming its '
  'window. Planning needs a read-write transaction (temporary tables): 25006 in a read-only one. Errors: '
  'S3008 as_of NULL or a window that has not begun, S1002 no active policy, 25006 read-only.';

CREATE OR REPLACE FUNCTION public.preview_rebalance(review_window text DEFAULT 'next')
RETURNS TABLE (
    window_start date, window_end date, label text, run_id bigint, run_as_of timestamptz,
    entity_type text, entity_id text, resource_type text, unit text, old_budget numeric,
    new_budget numeric, delta numeric, reason text, detail text)
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s'
AS $$
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
$$;
COMMENT ON FUNCTION public.preview_rebalance(text) IS
  'Labelled dry run of a rebalance window for analysts (senate_reader); writes nothing. '
  'review_window: next (default) = the window the next apply reviews: the previous week while it '
  'is not applied yet, else the current week so far (labels prefixed "next window: "); previous = '
  'the window a run now reviews (run_rebalance(now())); current = the current week so far, as the '
  'run at the start of the next period will review it (as_of = that start, on the data recorded '
  'so far). Rows and NOTICEs as preview_rebalance(as_of); a window already applied is not planned '
  'again (NOTICE with the run id; the rows are what it changed). Errors: 22023 unknown '
  'review_window, S1002 no active policy.';

INSERT INTO senate.function_access
    (function_name, granted_to, security_definer, revoke_from_public, description) VALUES
  ('public.preview_rebalance', '{senate_reader}', true, true,
   'Analysts preview the rebalance (a dry run, labelled with its window); writes nothing.'),
  ('senate.plan_rebalance', '{}', false, true,
   'The rebalance engine: only run_rebalance and preview_rebalance (as senate_owner) call it.'),
  ('senate.rebalance_window', '{}', false, true, 'Calendar of the rebalance, for its functions.')
ON CONFLICT (function_name) DO NOTHING;

INSERT INTO senate.table_access (relation_name, role_name, privilege) VALUES
  ('public.rebalance_runs', 'senate_reader', 'SELECT'),
  ('public.rebalance_changes', 'senate_reader', 'SELECT')
ON CONFLICT DO NOTHING;

DO $$
BEGIN
    PERFORM senate.grant_role_privileges();
END;
$$;
