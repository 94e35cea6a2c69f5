-- Why: the spec's weekly strategic rebalance. run_rebalance(as_of, dry_run) moves budget
-- by rule, conserving the total, and says why for every change:
--
-- Review window: the policy roi_window in whole days (N) ending where the budget period
-- containing as_of begins: [window_end - N, window_end), window_end = period_start. With
-- the default policy (week periods, 7-day ROI window) it is the previous ISO week, so every
-- run during a week reviews the same complete week and a window is applied at most once
-- (rebalance_runs is unique per window): the second apply of a window changes nothing.
-- ROI windows k = 0 .. low_roi_windows - 1 are the N-day spans before it,
-- [window_end - (k+1)N, window_end - kN); ROI = roi_score(KG edges gained, llm tokens
-- spent) per window, from world_model_gains and the llm_tokens usage rollups.
--
-- Rules, per entity and resource class with a budget > 0 (step = max_rebalance_step,
-- every change is at most floor(step x current budget), in whole units):
--   idle_reclaim (any class): no spend of the class from idle_start = as_of's day - the
--     idle_window in days, through as_of's day; envelope older than idle_start; no approved
--     proposal for the class decided since idle_start -> minus one step, into the reserve.
--   sustained_low_roi (llm_tokens): token spend with ROI < roi_low_threshold in each of the
--     last low_roi_windows windows -> minus one step, into the reserve.
--   strong_roi_market_support (llm_tokens): ROI >= roi_high_threshold in the review window
--     AND applied market weight (as in budget_status) >= market_support_threshold, and no
--     unresolved governance block -> plus one step, funded from the reserve (which holds
--     this run's reclaims and reductions too), in allocation_ranking order while it lasts.
--   reassigned_idle_budget (any class with reclaims): what this run reclaimed from idle
--     envelopes (and the strong-ROI gains left over) goes to the top of allocation_ranking:
--     entities neither idle, reduced nor strong, not blocked, each plus at most one step,
--     in rank order while the reclaimed amount lasts.
--   Precedence: idle before low ROI before strong (an entity gets one rule per class).
-- ROI rules act on llm_tokens only: ROI is measured in KG edges per token. Entities with
-- no token spend in a window have no ROI there (neither low nor strong).
--
-- Conservation: per class, sum of budget deltas + reserve delta = 0; gains never exceed
-- the reserve plus what the run freed, so the reserve never goes negative; new resources
-- enter only through fund_reserve().
--
-- dry_run (default) writes nothing and returns the plan. Applying writes, in one
-- transaction: the budgets (one UPDATE per rule, so each ledger row's note names its
-- rule; ledger cause rebalance, cause_id the run id), the reserve, a rebalance_runs row
-- and the plan in rebalance_changes. Locking: one apply at a time (the row of
-- senate.cycle_locks for run_rebalance, locked FOR UPDATE: only the owner may take it, unlike
-- an advisory lock, which any login can hold forever; waited for at most 5 s, then S5030,
-- and the next run succeeds); the envelopes that change are locked FOR NO KEY UPDATE in key order, then the
-- reserve rows in class order (the order approvals use), and the amounts are recomputed
-- after the locks from the current budgets and reserve. resource_usage is never locked or
-- read (rollups only): concurrent usage inserts are neither blocked nor lost. Set-based
-- throughout: no per-entity loop.
SET lock_timeout = '5s';

CALL senate.claim('0038', 'table', 'public.rebalance_runs');
CREATE TABLE IF NOT EXISTS public.rebalance_runs (
    run_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    window_start    date NOT NULL,
    window_end      date NOT NULL,
    as_of           timestamptz NOT NULL,
    policy_version  bigint NOT NULL REFERENCES public.economics_policy (policy_version),
    actor           text NOT NULL CHECK (length(actor) BETWEEN 1 AND 200),
    applied_at      timestamptz NOT NULL DEFAULT clock_timestamp(),
    gains           integer NOT NULL CHECK (gains >= 0),
    reductions      integer NOT NULL CHECK (reductions >= 0),
    reclaims        integer NOT NULL CHECK (reclaims >= 0),
    reassignments   integer NOT NULL CHECK (reassignments >= 0),
    CONSTRAINT rebalance_runs_window_ordered CHECK (window_end > window_start),
    CONSTRAINT rebalance_runs_once_per_window UNIQUE (window_start, window_end)
);
COMMENT ON TABLE public.rebalance_runs IS
  'Applied rebalances (run_rebalance with dry_run = false), one per review window: the window, '
  'as_of, policy version, who applied it and when, and how many changes of each rule. The ledger '
  'rows of a run carry cause_type rebalance and cause_id run_id. History: never changed.';
COMMENT ON COLUMN public.rebalance_runs.run_id IS 'Run identifier (budget_ledger.cause_id of its changes).';
COMMENT ON COLUMN public.rebalance_runs.window_start IS 'First day of the review window (policy time zone).';
COMMENT ON COLUMN public.rebalance_runs.window_end IS 'First day after the review window (exclusive): the start of the budget period containing as_of.';
COMMENT ON COLUMN public.rebalance_runs.as_of IS 'The as_of the run was applied for.';
COMMENT ON COLUMN public.rebalance_runs.policy_version IS 'economics_policy version whose thresholds, windows and step were used.';
COMMENT ON COLUMN public.rebalance_runs.actor IS 'Who applied the run.';
COMMENT ON COLUMN public.rebalance_runs.applied_at IS 'When it was applied (clock time).';
COMMENT ON COLUMN public.rebalance_runs.gains IS 'Envelopes raised for strong ROI with market support, in envelopes x classes.';
COMMENT ON COLUMN public.rebalance_runs.reductions IS 'Envelopes reduced for sustained low ROI, in envelopes x classes.';
COMMENT ON COLUMN public.rebalance_runs.reclaims IS 'Idle envelopes reclaimed, in envelopes x classes.';
COMMENT ON COLUMN public.rebalance_runs.reassignments IS 'Envelopes raised by reassigned idle budget, in envelopes x classes.';
COMMENT ON CONSTRAINT rebalance_runs_once_per_window ON public.rebalance_runs IS
  'A review window is applied at most once.';

CALL senate.claim('0038', 'table', 'public.rebalance_changes');
CREATE TABLE IF NOT EXISTS public.rebalance_changes (
    run_id         bigint NOT NULL,
    entity_type    text,
    entity_id      text,
    resource_type  text NOT NULL,
    old_budget     numeric NOT NULL,
    new_budget     numeric NOT NULL,
    delta          numeric NOT NULL,
    reason         text NOT NULL CHECK (reason IN ('idle_reclaim', 'sustained_low_roi',
                                                  'strong_roi_market_support',
                                                  'reassigned_idle_budget', 'reserve')),
    detail         text,
    CONSTRAINT rebalance_changes_reserve_has_no_entity CHECK (
        (entity_type IS NULL) = (entity_id IS NULL) AND (reason = 'reserve') = (entity_type IS NULL)),
    CONSTRAINT rebalance_changes_delta_consistent CHECK (new_budget = old_budget + delta)
);
COMMENT ON TABLE public.rebalance_changes IS
  'The plan each applied rebalance carried out: one row per changed envelope and class (old, new, '
  'delta, rule, evidence) and one reserve row per class (entity NULL). Per run and class the deltas '
  'add up to 0. History: never changed. Rows of run r belong to rebalance_runs.run_id r (written in '
  'the same transaction; no foreign key so that a large plan is written in one pass).';
COMMENT ON COLUMN public.rebalance_changes.run_id IS 'rebalance_runs.run_id.';
COMMENT ON COLUMN public.rebalance_changes.entity_type IS 'Kind of entity (NULL for the reserve row).';
COMMENT ON COLUMN public.rebalance_changes.entity_id IS 'Entity (NULL for the reserve row).';
COMMENT ON COLUMN public.rebalance_changes.resource_type IS 'Resource class.';
COMMENT ON COLUMN public.rebalance_changes.old_budget IS 'Budget (or reserve balance) before, in the unit of the class.';
COMMENT ON COLUMN public.rebalance_changes.new_budget IS 'Budget (or reserve balance) after, in the unit of the class.';
COMMENT ON COLUMN public.rebalance_changes.delta IS 'new_budget - old_budget, in the unit of the class.';
COMMENT ON COLUMN public.rebalance_changes.reason IS 'Rule: idle_reclaim, sustained_low_roi, strong_roi_market_support, reassigned_idle_budget, or reserve (net reserve change).';
COMMENT ON COLUMN public.rebalance_changes.detail IS 'Evidence for the rule (ROI figures, market weight, idle since, priority rank).';

CALL senate.claim('0038', 'index', 'public.rebalance_changes_run_idx');
CREATE INDEX IF NOT EXISTS rebalance_changes_run_idx ON public.rebalance_changes (run_id);
CALL senate.claim('0038', 'index', 'public.rebalance_changes_entity_idx');
CREATE INDEX IF NOT EXISTS rebalance_changes_entity_idx
    ON public.rebalance_changes (entity_type, entity_id, run_id);
COMMENT ON INDEX public.rebalance_changes_run_idx IS 'The plan of one run.';
COMMENT ON INDEX public.rebalance_changes_entity_idx IS 'Rebalance history of an entity.';

DROP TRIGGER IF EXISTS t10_refuse_rebalance_run_changes ON public.rebalance_runs;
CREATE TRIGGER t10_refuse_rebalance_run_changes
    BEFORE UPDATE OR DELETE OR TRUNCATE ON public.rebalance_runs
    FOR EACH STATEMENT EXECUTE FUNCTION senate.refuse_ledger_change();
COMMENT ON TRIGGER t10_refuse_rebalance_run_changes ON public.rebalance_runs IS
  'Runs are history: UPDATE, DELETE and TRUNCATE are refused (S4001).';
DROP TRIGGER IF EXISTS t10_refuse_rebalance_change_changes ON public.rebalance_changes;
CREATE TRIGGER t10_refuse_rebalance_change_changes
    BEFORE UPDATE OR DELETE OR TRUNCATE ON public.rebalance_changes
    FOR EACH STATEMENT EXECUTE FUNCTION senate.refuse_ledger_change();
COMMENT ON TRIGGER t10_refuse_rebalance_change_changes ON public.rebalance_changes IS
  'Plans of applied runs are history: UPDATE, DELETE and TRUNCATE are refused (S4001).';

-- The cycle lock: a row per scheduled cycle in a table nobody but its owner may UPDATE (and
-- so lock FOR UPDATE; issue 15, "Lock hijack"). A function taking it runs as the owner
-- (SECURITY DEFINER); senate.lock_cycle itself stays SECURITY INVOKER, so a login calling it
-- directly is refused (42501).
INSERT INTO senate.error_codes (sqlstate, error_name, meaning, hint) VALUES
  ('S5030', 'cycle_busy',
   'A scheduled cycle (run_rebalance) could not take its cycle lock within the bounded wait: '
   'another run of the same cycle holds it.',
   'Let the running cycle finish; the next scheduled run succeeds. Nothing was written.')
ON CONFLICT (sqlstate) DO NOTHING;

CALL senate.claim('0038', 'table', 'senate.cycle_locks');
CREATE TABLE IF NOT EXISTS senate.cycle_locks (
    cycle        text PRIMARY KEY CHECK (cycle ~ '^[a-z_]+$'),
    description  text NOT NULL
);
COMMENT ON TABLE senate.cycle_locks IS
  'One row per scheduled cycle that must run one at a time; senate.lock_cycle(cycle) locks it '
  'FOR UPDATE until the transaction ends. Nobody but the owner has UPDATE on it, so no other '
  'login can take or hold the lock (an advisory lock anyone can).';
COMMENT ON COLUMN senate.cycle_locks.cycle IS 'Name of the cycle (its function).';
COMMENT ON COLUMN senate.cycle_locks.description IS 'What the lock serialises.';
REVOKE ALL ON senate.cycle_locks FROM PUBLIC;
INSERT INTO senate.cycle_locks (cycle, description) VALUES
  ('run_rebalance', 'Applying runs of run_rebalance (dry runs take no lock).')
ON CONFLICT (cycle) DO NOTHING;

CREATE OR REPLACE FUNCTION senate.lock_cycle(p_cycle text, p_wait interval DEFAULT interval '5 seconds')
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s'
AS $$
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
$$;
COMMENT ON FUNCTION senate.lock_cycle(text, interval) IS
  'Takes the cycle lock of a scheduled cycle (its senate.cycle_locks row, FOR UPDATE, held to the '
  'end of the transaction), waiting at most p_wait (default 5 s); S5030 when another run holds '
  'it. SECURITY INVOKER: only the owner (a SECURITY DEFINER cycle) may lock the row.';
REVOKE EXECUTE ON FUNCTION senate.lock_cycle(text, interval) FROM PUBLIC;

CREATE OR REPLACE FUNCTION public.run_rebalance(
    as_of timestamptz DEFAULT now(), dry_run boolean DEFAULT true, actor text DEFAULT NULL)
RETURNS TABLE (
    entity_type text, entity_id text, resource_type text, old_budget numeric,
    new_budget numeric, delta numeric, reason text, detail text)
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_column
DECLARE
    p public.economics_policy;
    v_as_of timestamptz := $1;
    v_dry_run boolean := $2;
    v_actor text;
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
    IF v_as_of IS NULL OR v_as_of > now() THEN
        PERFORM senate.raise_error('S3008',
            format('run_rebalance: as_of %s is not a time up to now', coalesce(v_as_of::text, 'NULL')));
    END IF;
    IF v_dry_run IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = '22023',
            MESSAGE = 'run_rebalance: dry_run = NULL is not allowed',
            COLUMN = 'dry_run',
            HINT = 'Pass true to see the plan, false to apply it.';
    END IF;
    v_actor := CASE WHEN $3 IS NULL THEN session_user::text ELSE senate.require_actor('actor', $3) END;
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
  'of the class), reason (rule) and detail (evidence). dry_run (default true) writes nothing. '
  'Applying writes budgets, reserve, budget_ledger (cause rebalance, cause_id = run id, note = '
  'rule), rebalance_runs and rebalance_changes in one transaction; a window already applied changes '
  'nothing (no rows, a NOTICE). actor defaults to the session user. Errors: S3008 as_of in the '
  'future, 22023 dry_run NULL, S2010 bad actor, S5030 another apply holds the cycle lock (after '
  '5 s).';
REVOKE EXECUTE ON FUNCTION public.run_rebalance(timestamptz, boolean, text) FROM PUBLIC;

CALL senate.settle_comments('0038');
