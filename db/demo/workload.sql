-- The demo workload: a simulated Senate economy, generated in SQL.
--
-- Loaded by `senate-db demo` (tools/senate_db/workload.py) into the demo database only
-- (never a migration: production databases must not carry a generator of fake spend).
-- Everything is set-based and goes through the real contract: usage is a multi-row
-- INSERT ... SELECT into resource_usage (the t20 sync and t80 rollup triggers fire),
-- proposals go through file_allocation_proposal / cast_allocation_vote /
-- decide_allocation_proposal, the reserve through fund_reserve, scores, prices and
-- gains through their input tables (allocation_signals, market_signals, world_model_gains).
--
-- Determinism: every random draw is demo.u(seed, key), a hash of the seed and a key
-- naming what is drawn (entity, day, resource class, row, purpose). Unlike
-- setseed()/random(), the draws do not depend on the order in which the planner
-- happens to visit rows, so a seed gives the same economy whatever the plan
-- (the dates move with the day the demo runs; the figures relative to them do not).
--
-- Time: days first_day .. last_day (last_day = today), simulated one day at a time by
-- demo.advance_day(day), which also runs the review cycles of that day when the
-- database has them (run_daily_check, run_rebalance on Mondays: see demo.cycle_steps()).
-- Rows carry the simulated time: usage, signals and gains by their own timestamps, the
-- ledger, throttles and alerts by their as_of columns (demo.date_changes, and the cycles'
-- own as_of); their recorded_at / throttled_at / fired_at stay the wall-clock time of the run.
--
-- Archetypes (per entity type, fixed shares), shaped so that every review rule acts:
--   winner    high KG yield per token, strong market signals, high priority -> gains budget
--   blocked   like a winner but under a governance block: market weight 0 -> no gain
--   steady    middling yield and prices
--   laggard   spends steadily for very little yield, weak prices -> capped / reduced
--   idle      stops spending part-way -> budget reclaimed to the reserve and reassigned
--   spiker    an ungated backfill job spikes spend past the budget (mid-way and today)
--   near      pushed to 82-95 % of its budget today -> the 80 % alert only
--   newcomer  no envelope at first; gets one through an approved proposal, then spends

CREATE SCHEMA IF NOT EXISTS demo;
COMMENT ON SCHEMA demo IS 'The senate-db demo workload generator (demo database only).';

CREATE TABLE IF NOT EXISTS demo.settings (
    only_row    boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    seed        integer NOT NULL,
    size        text NOT NULL,
    first_day   date NOT NULL,
    last_day    date NOT NULL,
    proposals_per_week integer NOT NULL,
    time_zone   text NOT NULL
);
COMMENT ON TABLE demo.settings IS 'The one demo run this database holds: seed, size and simulated days.';

CREATE TABLE IF NOT EXISTS demo.entities (
    entity_type   text NOT NULL,
    entity_id     text NOT NULL,
    archetype     text NOT NULL,
    usage_rate    numeric NOT NULL,
    edge_yield    numeric NOT NULL,
    market_level  numeric,
    idle_from     date,
    spike_day     date,
    spike_target  numeric,
    PRIMARY KEY (entity_type, entity_id)
);
COMMENT ON TABLE demo.entities IS
  'Simulated entities and how they behave: archetype, share of the weekly effective budget they '
  'spend (usage_rate), KG edges per token (edge_yield), Exchange price level, idle and spike days.';

CREATE TABLE IF NOT EXISTS demo.proposals (
    proposal_id  bigint PRIMARY KEY,
    filed_on     date NOT NULL,
    quality      numeric NOT NULL
);
COMMENT ON TABLE demo.proposals IS 'Proposals the demo filed: the simulated day and the evidence quality in [0, 1].';

CREATE TABLE IF NOT EXISTS demo.day_log (
    day                 date PRIMARY KEY,
    usage_rows          bigint NOT NULL,
    usage_cost_usd      numeric NOT NULL,
    market_signals      integer NOT NULL,
    kg_edges            bigint NOT NULL,
    proposals_filed     integer NOT NULL,
    approved            integer NOT NULL,
    rejected            integer NOT NULL,
    deferred            integer NOT NULL,
    daily_check         jsonb,
    rebalance_changes   integer,
    rebalance_summary   jsonb
);
COMMENT ON TABLE demo.day_log IS
  'What each simulated day did: usage rows and cost (USD), signals, KG edges, governance, and the '
  'review cycles (NULL when the database has no such function).';

-- Uniform draw in [0, 1) from the seed and a key naming the draw (53 bits of a 64-bit hash).
CREATE OR REPLACE FUNCTION demo.u(p_seed integer, p_key text)
RETURNS double precision
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT ((hashtextextended(p_key, p_seed) >> 11) & 9007199254740991)::double precision
           / 9007199254740992.0
$$;
COMMENT ON FUNCTION demo.u(integer, text) IS
  'Deterministic uniform draw in [0, 1) for (seed, key): the same key gives the same value in any plan.';

-- Uniform draw in [lo, hi).
CREATE OR REPLACE FUNCTION demo.between(p_seed integer, p_key text, p_lo numeric, p_hi numeric)
RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT p_lo + (p_hi - p_lo) * demo.u(p_seed, p_key)::numeric
$$;
COMMENT ON FUNCTION demo.between(integer, text, numeric, numeric) IS 'Deterministic uniform draw in [lo, hi).';

-- The instant that ends a simulated day (never later than now: today is still going on).
CREATE OR REPLACE FUNCTION demo.end_of_day(p_day date)
RETURNS timestamptz
LANGUAGE sql STABLE
AS $$
    SELECT least(now(), ((p_day + 1)::timestamp AT TIME ZONE s.time_zone) - interval '1 microsecond')
    FROM demo.settings AS s
$$;
COMMENT ON FUNCTION demo.end_of_day(date) IS 'Last instant of a simulated day, capped at now().';

-- A moment within a simulated day, at fraction p_frac of the part of it that has happened.
CREATE OR REPLACE FUNCTION demo.moment(p_day date, p_frac double precision)
RETURNS timestamptz
LANGUAGE sql STABLE
AS $$
    SELECT d.starts_at + (least(now(), d.starts_at + interval '1 day') - d.starts_at) * p_frac
    FROM (SELECT p_day::timestamp AT TIME ZONE s.time_zone AS starts_at FROM demo.settings AS s) AS d
$$;
COMMENT ON FUNCTION demo.moment(date, double precision) IS
  'The instant at fraction p_frac of a simulated day (of the elapsed part, for today).';

-- The simulated time of what the session writes next: budget_ledger.as_of and the throttles'
-- throttled_as_of / released_as_of (senate.set_change_as_of, migration 0140; the review cycles
-- declare their own as_of over it). Without that function the rows carry the clock only.
CREATE OR REPLACE FUNCTION demo.date_changes(p_as_of timestamptz)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    IF to_regprocedure('senate.set_change_as_of(timestamp with time zone)') IS NOT NULL THEN
        EXECUTE 'SELECT senate.set_change_as_of($1)' USING p_as_of;
    END IF;
END;
$$;
COMMENT ON FUNCTION demo.date_changes(timestamptz) IS
  'Declares the simulated instant of the changes that follow in this transaction (ledger, '
  'throttles); NULL forgets it. Does nothing on a database without senate.set_change_as_of.';

-- Which review-cycle functions this database has (they come from migrations 0030-0039).
CREATE OR REPLACE FUNCTION demo.cycle_steps(
    OUT daily_check boolean, OUT rebalance boolean)
LANGUAGE sql STABLE
AS $$
    SELECT to_regprocedure('public.run_daily_check(date)') IS NOT NULL,
           EXISTS (SELECT 1 FROM pg_proc AS f
                   WHERE f.pronamespace = 'public'::regnamespace AND f.proname = 'run_rebalance'
                     AND f.proargnames[1:2] = ARRAY['as_of', 'dry_run'])
$$;
COMMENT ON FUNCTION demo.cycle_steps() IS
  'Whether run_daily_check(date) and run_rebalance(as_of, dry_run, ...) exist here; the demo '
  'skips the steps it cannot run.';

-- Throttles that hold on a simulated day: placed by the daily check of an earlier day, whose
-- window covers the day, not released yet. Gated services (the agent runtime) ask the spend
-- gate first and are refused, so they do not spend. (throttled_at / released_at are wall-clock
-- time, throttled_as_of / released_as_of simulated time; days are simulated in order, so
-- "placed and not released yet" means "in the simulated past".) Without the review cycles'
-- spend_throttles table there are none.
DO $body$
BEGIN
    IF to_regclass('public.spend_throttles') IS NOT NULL THEN
        CREATE OR REPLACE FUNCTION demo.throttled_on(p_day date)
        RETURNS TABLE (entity_type text, entity_id text, resource_type text)
        LANGUAGE sql STABLE
        AS $f$
            SELECT DISTINCT t.entity_type, t.entity_id, t.resource_type
            FROM public.spend_throttles AS t
            WHERE t.released_at IS NULL AND t.window_start <= p_day AND t.window_end > p_day
        $f$;
    ELSE
        CREATE OR REPLACE FUNCTION demo.throttled_on(p_day date)
        RETURNS TABLE (entity_type text, entity_id text, resource_type text)
        LANGUAGE sql STABLE
        AS $f$ SELECT NULL::text, NULL::text, NULL::text WHERE false $f$;
    END IF;
END;
$body$;
COMMENT ON FUNCTION demo.throttled_on(date) IS
  'Entity and class pairs under a throttle on a simulated day (none without spend_throttles).';

---------------------------------------------------------------------------------------------
-- Setup: entities, envelopes, assessments, governance blocks, the reserve.
---------------------------------------------------------------------------------------------
-- Senators are logins (migration 0110): the demo's five senators and its chair are LOGIN
-- roles (cluster-global, so created only when absent, tolerating a concurrent creator),
-- members of senate_reviewer, mapped to their senator ids in this database by
-- demo.map_senators() (called by demo.generate_workload). They vote and decide in sessions of
-- their own (SET LOCAL SESSION AUTHORIZATION from the superuser that runs the demo).
CREATE OR REPLACE FUNCTION demo.senator_login(p_senator text)
RETURNS text
LANGUAGE sql IMMUTABLE
AS $$
    SELECT 'senate_demo_' || replace(p_senator, '-', '_')
$$;
COMMENT ON FUNCTION demo.senator_login(text) IS 'The demo LOGIN role of a senator id.';

CREATE OR REPLACE FUNCTION demo.map_senators()
RETURNS void
LANGUAGE plpgsql
AS $$
DECLARE
    v_senator text;
    v_role text;
BEGIN
    FOREACH v_senator IN ARRAY ARRAY['senator-ada', 'senator-bo', 'senator-cy', 'senator-dee',
                                     'senator-eli', 'senate-chair'] LOOP
        v_role := demo.senator_login(v_senator);
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = v_role) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I LOGIN', v_role);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;  -- created meanwhile by the demo of another database
            END;
        END IF;
        IF NOT pg_has_role(v_role, 'senate_reviewer', 'MEMBER') THEN
            BEGIN
                EXECUTE format('GRANT senate_reviewer TO %I', v_role);
            EXCEPTION WHEN unique_violation OR internal_error OR duplicate_object THEN
                NULL;
            END;
        END IF;
        IF NOT EXISTS (SELECT 1 FROM senate.senate_members AS m
                       WHERE m.senator_id = v_senator AND m.removed_at IS NULL) THEN
            PERFORM public.add_senator(v_role, v_senator);
        END IF;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION demo.map_senators() IS
  'Creates the demo senators'' LOGIN roles where absent and maps them in this database.';

CREATE OR REPLACE FUNCTION demo.generate_workload(
    p_seed integer, p_size text, p_last_day date DEFAULT NULL)
RETURNS TABLE (first_day date, last_day date, entities bigint, envelopes bigint,
               families bigint, family_members bigint)
LANGUAGE plpgsql
AS $$
DECLARE
    v_counts integer[];      -- hypothesis, knowledge_gap, analysis, entity
    v_days integer;
    v_weeks_days integer;    -- days in the whole weeks before the current one
    v_per_week integer;
    v_last date;
    v_tz text := senate.policy_time_zone();
BEGIN
    -- v_days: whole weeks before the current one (the current week runs up to today).
    CASE p_size
        WHEN 'small' THEN v_counts := ARRAY[24, 16, 12, 20]; v_days := 21; v_per_week := 6;
        WHEN 'default' THEN v_counts := ARRAY[170, 110, 90, 150]; v_days := 35; v_per_week := 20;
        WHEN 'large' THEN v_counts := ARRAY[1200, 800, 600, 1400]; v_days := 84; v_per_week := 80;
        ELSE
            RAISE EXCEPTION USING ERRCODE = '22023',
                MESSAGE = format('size %s is not one of small, default, large',
                                 coalesce(quote_literal(p_size), 'NULL'));
    END CASE;
    IF EXISTS (SELECT 1 FROM demo.settings) THEN
        RAISE EXCEPTION USING ERRCODE = '55000',
            MESSAGE = 'this database already holds a demo workload',
            HINT = 'The demo recreates its own database on every run.';
    END IF;
    PERFORM demo.map_senators();
    v_last := coalesce(p_last_day, (now() AT TIME ZONE v_tz)::date);
    -- Start on the Monday v_days before the Monday of the last day's week: whole weeks,
    -- then the current week so far.
    v_weeks_days := v_days;
    v_days := v_days + extract(isodow FROM v_last)::integer;

    INSERT INTO demo.settings (seed, size, first_day, last_day, proposals_per_week, time_zone)
    VALUES (p_seed, p_size, v_last - (v_days - 1), v_last, v_per_week, v_tz);
    -- The funding and the opening envelopes are as of the start of the first day.
    PERFORM demo.date_changes(demo.moment(v_last - (v_days - 1), 0));

    -- Entities: readable ids, archetype by position in a seeded shuffle (fixed shares per type).
    INSERT INTO demo.entities
        (entity_type, entity_id, archetype, usage_rate, edge_yield, market_level, idle_from,
         spike_day, spike_target)
    WITH kinds (entity_type, prefix, words_a, words_b, n) AS (
        VALUES
        ('hypothesis', 'hyp',
         ARRAY['apoe4', 'trem2', 'app', 'mapt', 'snca', 'lrrk2', 'gba', 'c9orf72', 'sod1',
               'tardbp', 'grn', 'pink1', 'bin1', 'cd33', 'abca7', 'sorl1', 'picalm', 'clu'],
         ARRAY['lipid-handling', 'microglia', 'autophagy', 'mitophagy', 'synaptic-loss',
               'tau-spread', 'amyloid-clearance', 'neuroinflammation', 'proteostasis',
               'myelination'], v_counts[1]),
        ('knowledge_gap', 'gap',
         ARRAY['tau-propagation', 'bbb-transport', 'glymphatic-flow', 'sex-differences',
               'prodromal-markers', 'gut-brain-axis', 'sleep-clearance', 'vascular-risk',
               'astrocyte-states', 'aging-clocks'],
         ARRAY['mechanism', 'cohort-data', 'causal-link', 'biomarker', 'model-system'],
         v_counts[2]),
        ('analysis', 'ana',
         ARRAY['gwas-meta', 'scrna-atlas', 'cohort-survival', 'pathway-enrichment',
               'docking-screen', 'mendelian-randomization', 'imaging-qc', 'literature-triage'],
         ARRAY['run'], v_counts[3]),
        ('entity', 'ent',
         ARRAY['gene', 'protein', 'disease', 'compound', 'cell-type', 'pathway'],
         ARRAY['apoe', 'trem2', 'mapt', 'lrrk2', 'snca', 'alzheimers', 'parkinsons', 'als',
               'lecanemab', 'metformin', 'microglia', 'astrocyte', 'mtor', 'nfkb', 'wnt'],
         v_counts[4])
    ), numbered AS (
        SELECT k.entity_type,
               format('%s-%s-%s-%s', k.prefix,
                      k.words_a[1 + floor(demo.u(p_seed, k.entity_type || i || 'a')
                                          * cardinality(k.words_a))::integer],
                      k.words_b[1 + floor(demo.u(p_seed, k.entity_type || i || 'b')
                                          * cardinality(k.words_b))::integer],
                      lpad(i::text, 4, '0')) AS entity_id,
               (row_number() OVER (PARTITION BY k.entity_type
                                   ORDER BY demo.u(p_seed, k.entity_type || i || 'shuffle'), i)
                - 0.5) / k.n AS position
        FROM kinds AS k
        CROSS JOIN LATERAL generate_series(1, k.n) AS i
    ), typed AS (
        SELECT n.entity_type, n.entity_id,
               CASE WHEN n.position < 0.10 THEN 'winner'
                    WHEN n.position < 0.14 THEN 'blocked'
                    WHEN n.position < 0.26 THEN 'laggard'
                    WHEN n.position < 0.36 THEN 'idle'
                    WHEN n.position < 0.42 THEN 'spiker'
                    WHEN n.position < 0.48 THEN 'near'
                    WHEN n.position < 0.56 THEN 'newcomer'
                    ELSE 'steady' END AS archetype
        FROM numbered AS n
    )
    SELECT t.entity_type, t.entity_id, t.archetype,
           round(CASE t.archetype
                     WHEN 'winner' THEN demo.between(p_seed, t.entity_id || 'rate', 0.66, 0.82)
                     WHEN 'blocked' THEN demo.between(p_seed, t.entity_id || 'rate', 0.62, 0.78)
                     WHEN 'laggard' THEN demo.between(p_seed, t.entity_id || 'rate', 0.58, 0.76)
                     WHEN 'newcomer' THEN demo.between(p_seed, t.entity_id || 'rate', 0.58, 0.76)
                     ELSE demo.between(p_seed, t.entity_id || 'rate', 0.45, 0.72) END, 3),
           round(CASE t.archetype
                     WHEN 'winner' THEN demo.between(p_seed, t.entity_id || 'yield', 0.0015, 0.0035)
                     WHEN 'blocked' THEN demo.between(p_seed, t.entity_id || 'yield', 0.0015, 0.0030)
                     WHEN 'laggard' THEN demo.between(p_seed, t.entity_id || 'yield', 0.00001, 0.00006)
                     WHEN 'newcomer' THEN demo.between(p_seed, t.entity_id || 'yield', 0.0005, 0.0015)
                     ELSE demo.between(p_seed, t.entity_id || 'yield', 0.0002, 0.0009) END, 7),
           CASE WHEN t.archetype = 'steady' AND demo.u(p_seed, t.entity_id || 'listed') < 0.2
                THEN NULL  -- not traded on the Exchange
                ELSE round(CASE t.archetype
                     WHEN 'winner' THEN demo.between(p_seed, t.entity_id || 'price', 0.78, 0.92)
                     WHEN 'blocked' THEN demo.between(p_seed, t.entity_id || 'price', 0.80, 0.92)
                     WHEN 'laggard' THEN demo.between(p_seed, t.entity_id || 'price', 0.22, 0.40)
                     WHEN 'newcomer' THEN demo.between(p_seed, t.entity_id || 'price', 0.55, 0.75)
                     ELSE demo.between(p_seed, t.entity_id || 'price', 0.40, 0.62) END, 3)
           END,
           CASE WHEN t.archetype = 'idle'
                THEN v_last - (v_days - 1)
                     + 7 + floor(demo.u(p_seed, t.entity_id || 'idle') * (v_weeks_days / 2 - 6))::integer
           END,
           CASE t.archetype
               WHEN 'spiker' THEN v_last - (v_days - 1) + v_weeks_days / 2 + 2
               WHEN 'near' THEN v_last
           END,
           CASE t.archetype
               WHEN 'spiker' THEN round(demo.between(p_seed, t.entity_id || 'spike', 1.15, 1.45), 3)
               WHEN 'near' THEN round(demo.between(p_seed, t.entity_id || 'spike', 0.82, 0.95), 3)
           END
    FROM typed AS t;

    -- Assessments (dated on the first day): the priority_score trigger follows them.
    INSERT INTO public.allocation_signals
        (entity_type, entity_id, evidence_strength, novelty, strategic_alignment,
         community_interest, assessed_by, assessed_at, rationale)
    SELECT e.entity_type, e.entity_id,
           round(demo.between(p_seed, e.entity_id || 'ev', r.lo, r.hi), 2),
           round(demo.between(p_seed, e.entity_id || 'nov', r.lo - 0.1, r.hi), 2),
           round(demo.between(p_seed, e.entity_id || 'strat', r.lo, r.hi), 2),
           round(demo.between(p_seed, e.entity_id || 'comm', r.lo - 0.1, r.hi), 2),
           'senate-reviewer-' || (1 + floor(demo.u(p_seed, e.entity_id || 'who') * 3))::integer,
           demo.moment(s.first_day, 0.3),
           'Initial assessment for the demo economy.'
    FROM demo.entities AS e
    CROSS JOIN demo.settings AS s
    CROSS JOIN LATERAL (SELECT CASE e.archetype
                                   WHEN 'winner' THEN 0.72 WHEN 'blocked' THEN 0.72
                                   WHEN 'newcomer' THEN 0.6 WHEN 'laggard' THEN 0.3
                                   ELSE 0.4 END AS lo,
                               CASE e.archetype
                                   WHEN 'winner' THEN 0.95 WHEN 'blocked' THEN 0.95
                                   WHEN 'newcomer' THEN 0.88 WHEN 'laggard' THEN 0.6
                                   ELSE 0.85 END AS hi) AS r
    ORDER BY e.entity_type, e.entity_id;

    -- Weekly envelopes (every class), jittered around a size per kind of entity.
    CREATE TEMP TABLE demo_initial_budgets ON COMMIT DROP AS
    SELECT e.entity_type, e.entity_id,
           round(k.tokens * demo.between(p_seed, e.entity_id || 'bt', 0.5, 1.5), -3) AS token_budget,
           round(k.cpu * demo.between(p_seed, e.entity_id || 'bc', 0.5, 1.5), -1) AS cpu_budget,
           round(k.storage * demo.between(p_seed, e.entity_id || 'bs', 0.5, 1.5)) AS storage_budget_gb,
           round(k.api * demo.between(p_seed, e.entity_id || 'ba', 0.5, 1.5), -1) AS api_call_budget
    FROM demo.entities AS e
    JOIN (VALUES ('hypothesis', 400000, 20000, 120, 1200),
                 ('knowledge_gap', 250000, 10000, 60, 1800),
                 ('analysis', 500000, 120000, 600, 600),
                 ('entity', 120000, 3000, 0, 500)) AS k (entity_type, tokens, cpu, storage, api)
      ON k.entity_type = e.entity_type
    WHERE e.archetype <> 'newcomer';

    -- Families (issue 19): a knowledge gap over two hypotheses, each over its analyses. Half
    -- the hypotheses (a seeded half) sit under the steady, winning or near gaps, two per gap;
    -- every analysis under one of those hypotheses; the other hypotheses and gaps and every
    -- 'entity' stand alone (checked as they always were).
    CREATE TEMP TABLE demo_families ON COMMIT DROP AS
    WITH roots AS (
        SELECT e.entity_id, row_number() OVER (ORDER BY demo.u(p_seed, e.entity_id || 'root'),
                                                        e.entity_id) AS i
        FROM demo.entities AS e
        WHERE e.entity_type = 'knowledge_gap' AND e.archetype IN ('steady', 'winner', 'near')
    ), hyps AS (
        SELECT e.entity_id, row_number() OVER (ORDER BY demo.u(p_seed, e.entity_id || 'family'),
                                                        e.entity_id) AS i
        FROM demo.entities AS e
        WHERE e.entity_type = 'hypothesis' AND e.archetype <> 'newcomer'
    ), placed AS (
        SELECT h.entity_id, h.i
        FROM hyps AS h
        WHERE h.i <= least((SELECT count(*) FROM hyps) / 2, 2 * (SELECT count(*) FROM roots))
    ), anas AS (
        SELECT e.entity_id, row_number() OVER (ORDER BY demo.u(p_seed, e.entity_id || 'family'),
                                                        e.entity_id) AS i
        FROM demo.entities AS e
        WHERE e.entity_type = 'analysis'
    )
    SELECT 'hypothesis' AS entity_type, p.entity_id, 'knowledge_gap' AS parent_type,
           r.entity_id AS parent_id
    FROM placed AS p
    JOIN roots AS r ON r.i = (p.i + 1) / 2
    UNION ALL
    SELECT 'analysis', a.entity_id, 'hypothesis', p.entity_id
    FROM anas AS a
    JOIN placed AS p ON p.i = 1 + (a.i - 1) % (SELECT count(*) FROM placed);
    -- A gap's envelope bounds its family: its own size plus 0.7 of its descendants' opening
    -- envelopes, so a family that spends at its usual rate fits, and one whose members spike
    -- meets the gap's cap. The gap itself keeps spending at its own size (usage_rate scaled).
    CREATE TEMP TABLE demo_family_sums ON COMMIT DROP AS
    SELECT g.parent_id AS gap_id, sum(b.token_budget) AS tokens, sum(b.cpu_budget) AS cpu,
           sum(b.storage_budget_gb) AS storage, sum(b.api_call_budget) AS api
    FROM (SELECT f.parent_id, f.entity_type, f.entity_id FROM demo_families AS f
          WHERE f.parent_type = 'knowledge_gap'
          UNION ALL
          SELECT h.parent_id, a.entity_type, a.entity_id
          FROM demo_families AS a
          JOIN demo_families AS h ON h.entity_type = a.parent_type AND h.entity_id = a.parent_id
          WHERE h.parent_type = 'knowledge_gap') AS g
    JOIN demo_initial_budgets AS b ON b.entity_type = g.entity_type AND b.entity_id = g.entity_id
    GROUP BY g.parent_id;
    UPDATE demo.entities AS e
    SET usage_rate = round(e.usage_rate * b.token_budget / (b.token_budget + round(0.7 * f.tokens, -3)), 3)
    FROM demo_family_sums AS f
    JOIN demo_initial_budgets AS b ON b.entity_type = 'knowledge_gap' AND b.entity_id = f.gap_id
    WHERE e.entity_type = 'knowledge_gap' AND e.entity_id = f.gap_id;
    UPDATE demo_initial_budgets AS b
    SET token_budget = b.token_budget + round(0.7 * f.tokens, -3),
        cpu_budget = b.cpu_budget + round(0.7 * f.cpu, -1),
        storage_budget_gb = b.storage_budget_gb + round(0.7 * f.storage),
        api_call_budget = b.api_call_budget + round(0.7 * f.api, -1)
    FROM demo_family_sums AS f
    WHERE b.entity_type = 'knowledge_gap' AND b.entity_id = f.gap_id;

    -- The treasury funds the reserve (the only door for new resources) ...
    PERFORM public.fund_reserve(x.resource_type, x.amount, 'treasurer',
                                'initial funding of the demo economy')
    FROM (SELECT 'llm_tokens' AS resource_type, sum(token_budget) * 1.25 AS amount
          FROM demo_initial_budgets
          UNION ALL SELECT 'cpu_seconds', sum(cpu_budget) * 1.25 FROM demo_initial_budgets
          UNION ALL SELECT 'storage_gb_hours', sum(storage_budget_gb) * 1.25 FROM demo_initial_budgets
          UNION ALL SELECT 'api_calls', sum(api_call_budget) * 1.25 FROM demo_initial_budgets
          ORDER BY 1) AS x;

    -- ... and the Senate allocates the opening envelopes out of it, in one transaction,
    -- so budgets + reserve stay equal to what was funded (locks: budgets, then reserve).
    PERFORM senate.set_change_cause('initial_allocation', NULL, 'senate-chair',
                                    'opening envelopes of the demo economy');
    -- created_at: the start of the simulated economy (the rebalance's idle rule only reclaims
    -- envelopes older than its idle window).
    INSERT INTO public.resource_budgets
        (entity_type, entity_id, token_budget, cpu_budget, storage_budget_gb, api_call_budget,
         created_at, updated_at)
    SELECT b.entity_type, b.entity_id, b.token_budget, b.cpu_budget, b.storage_budget_gb,
           b.api_call_budget, demo.moment(v_last - (v_days - 1), 0),
           demo.moment(v_last - (v_days - 1), 0)
    FROM demo_initial_budgets AS b
    ORDER BY b.entity_type, b.entity_id;
    UPDATE public.senate_reserve AS r
    SET balance = r.balance - a.amount, updated_at = now()
    FROM (SELECT 'llm_tokens' AS resource_type, sum(token_budget) AS amount FROM demo_initial_budgets
          UNION ALL SELECT 'cpu_seconds', sum(cpu_budget) FROM demo_initial_budgets
          UNION ALL SELECT 'storage_gb_hours', sum(storage_budget_gb) FROM demo_initial_budgets
          UNION ALL SELECT 'api_calls', sum(api_call_budget) FROM demo_initial_budgets) AS a
    WHERE r.resource_type = a.resource_type;
    PERFORM senate.clear_change_cause();

    -- The family tree, ledgered (entity_parent_changes) with the demo's login and the reason.
    PERFORM public.set_entity_parent(f.entity_type, f.entity_id, f.parent_type, f.parent_id,
                                     format('demo: %s %s serves %s %s', f.entity_type,
                                            f.entity_id, f.parent_type, f.parent_id))
    FROM demo_families AS f
    ORDER BY f.entity_type DESC, f.entity_id;

    -- Money (issue 18): each knowledge gap at the head of a family also gets a cost budget,
    -- 30 USD per million tokens of its token envelope a week, funded into the usd reserve and
    -- allocated out of it like the unit budgets; the family's spend in USD counts against it
    -- (can_spend, budget_status, alerts, the rebalance). Every other envelope has none (NULL:
    -- no money gate). Skipped on a database without USD envelopes.
    IF EXISTS (SELECT 1 FROM pg_attribute AS a
               WHERE a.attrelid = 'public.resource_budgets'::regclass
                 AND a.attname = 'cost_budget_usd' AND NOT a.attisdropped) THEN
        CREATE TEMP TABLE demo_cost_budgets ON COMMIT DROP AS
        SELECT b.entity_type, b.entity_id, round(b.token_budget * 0.00003, 2) AS usd
        FROM demo_initial_budgets AS b
        WHERE b.entity_type = 'knowledge_gap'
          AND b.entity_id IN (SELECT f.parent_id FROM demo_families AS f
                              WHERE f.parent_type = 'knowledge_gap');
        PERFORM public.fund_reserve('usd', round(sum(c.usd) * 1.25, 2), 'treasurer',
                                    'initial funding of the demo economy (money)')
        FROM demo_cost_budgets AS c
        HAVING sum(c.usd) > 0;
        PERFORM senate.set_change_cause('initial_allocation', NULL, 'senate-chair',
                                        'cost budgets of the demo families, USD per week');
        EXECUTE 'UPDATE public.resource_budgets AS b SET cost_budget_usd = c.usd
                 FROM demo_cost_budgets AS c
                 WHERE b.entity_type = c.entity_type AND b.entity_id = c.entity_id';
        UPDATE public.senate_reserve AS r
        SET balance = r.balance - (SELECT sum(c.usd) FROM demo_cost_budgets AS c),
            updated_at = now()
        WHERE r.resource_type = 'usd';
        PERFORM senate.clear_change_cause();
    END IF;

    -- Entities under review: their Exchange prices are held off (market weight 0).
    PERFORM public.place_governance_block(e.entity_type, e.entity_id,
                                          'Replication of the headline result under review',
                                          'senate-chair')
    FROM demo.entities AS e
    WHERE e.archetype = 'blocked'
    ORDER BY e.entity_type, e.entity_id;
    PERFORM demo.date_changes(NULL);

    RETURN QUERY
    SELECT s.first_day, s.last_day, (SELECT count(*) FROM demo.entities),
           (SELECT count(*) FROM public.resource_budgets),
           (SELECT count(DISTINCT (p.parent_type, p.parent_id)) FROM public.entity_parents AS p
            WHERE NOT EXISTS (SELECT 1 FROM public.entity_parents AS c
                              WHERE c.entity_type = p.parent_type AND c.entity_id = p.parent_id)),
           (SELECT count(*) FROM public.entity_parents)
           + (SELECT count(DISTINCT (p.parent_type, p.parent_id)) FROM public.entity_parents AS p
              WHERE NOT EXISTS (SELECT 1 FROM public.entity_parents AS c
                                WHERE c.entity_type = p.parent_type AND c.entity_id = p.parent_id))
    FROM demo.settings AS s;
END;
$$;
COMMENT ON FUNCTION demo.generate_workload(integer, text, date) IS
  'Sets up the demo economy for a seed and a size (small | default | large): entities with their '
  'archetypes, assessments, the reserve (fund_reserve) and the opening envelopes allocated from it, '
  'families (knowledge gap -> hypotheses -> analyses, set_entity_parent), governance blocks. Days are then simulated with demo.advance_day(). Deterministic for a seed.';

---------------------------------------------------------------------------------------------
-- One simulated day.
---------------------------------------------------------------------------------------------

-- Exchange prices of the day: one signal per listed entity, around its price level.
CREATE OR REPLACE FUNCTION demo.simulate_market(p_day date)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    v_seed integer := (SELECT s.seed FROM demo.settings AS s);
    v_count integer;
BEGIN
    INSERT INTO public.market_signals (entity_type, entity_id, value, observed_at, source)
    SELECT e.entity_type, e.entity_id,
           round(greatest(0, least(1, e.market_level
                 + demo.between(v_seed, e.entity_id || p_day || 'px', -0.08, 0.08))), 3),
           demo.moment(p_day, demo.u(v_seed, e.entity_id || p_day || 'pxt')),
           CASE WHEN demo.u(v_seed, e.entity_id || p_day || 'src') < 0.7
                THEN 'exchange-clearing-price' ELSE 'exchange-confidence-poll' END
    FROM demo.entities AS e
    WHERE e.market_level IS NOT NULL
    ORDER BY e.entity_type, e.entity_id;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END;
$$;
COMMENT ON FUNCTION demo.simulate_market(date) IS 'Inserts the day''s Exchange signals (market_signals).';

-- The day's usage (one INSERT ... SELECT: the triggers fire once) and the KG gains it buys.
-- Each entity spends about usage_rate of its weekly effective budget per week, in every
-- class it has a budget for; idle entities stop on idle_from.
CREATE OR REPLACE FUNCTION demo.simulate_usage(p_day date, OUT usage_rows bigint,
                                               OUT usage_cost_usd numeric, OUT kg_edges bigint)
LANGUAGE plpgsql
AS $$
DECLARE
    v_seed integer := (SELECT s.seed FROM demo.settings AS s);
    v_as_of timestamptz := demo.end_of_day(p_day);
    -- weekdays 1.05, weekends 0.875: a week averages 1.0
    v_weekday numeric := CASE WHEN extract(isodow FROM p_day) >= 6 THEN 0.875 ELSE 1.05 END;
    v_start timestamptz := demo.moment(p_day, 0);
    v_span interval := demo.moment(p_day, 1) - demo.moment(p_day, 0);
    d text := p_day::text;   -- the day in draw keys
BEGIN
    WITH plan AS (
        SELECT e.entity_type, e.entity_id, e.archetype, e.edge_yield, b.resource_type,
               b.effective_budget * e.usage_rate / 7 * v_weekday
                   * demo.between(v_seed, e.entity_id || d || b.resource_type, 0.75, 1.25)
                   AS day_amount,
               -- rows: 1-3 LLM calls, 1-2 API batches, one CPU job, one storage meter reading
               CASE b.resource_type
                   WHEN 'llm_tokens' THEN 1 + floor(demo.u(v_seed, e.entity_id || d || 'n') * 3)
                   WHEN 'api_calls' THEN 1 + floor(demo.u(v_seed, e.entity_id || d || 'na') * 1.3)
                   ELSE 1 END::integer AS n
        FROM demo.entities AS e
        JOIN public.budget_status_as_of(v_as_of) AS b
          ON b.entity_type = e.entity_type AND b.entity_id = e.entity_id
        WHERE b.effective_budget > 0
          AND b.resource_type <> 'usd'  -- money is spent through the unit classes
          AND (e.idle_from IS NULL OR p_day < e.idle_from)
          AND NOT EXISTS (SELECT 1 FROM demo.throttled_on(p_day) AS t
                          WHERE t.entity_type = e.entity_type AND t.entity_id = e.entity_id
                            AND t.resource_type = b.resource_type)
    ), plan_rows AS (
        -- The n rows of an entity, class and day share its day_amount: row i gets
        -- (1 + (2i - n - 1) / n * spread) / n of it, so the shares always add up to 1.
        SELECT p.*, i,
               (1 + (2 * i - p.n - 1)::numeric / p.n
                    * demo.between(v_seed, p.entity_id || d || p.resource_type || 'spread', 0, 0.8))
               / p.n AS share,
               demo.u(v_seed, p.entity_id || d || p.resource_type || i) AS r1,
               demo.u(v_seed, p.entity_id || d || p.resource_type || i || 'x') AS r2
        FROM plan AS p
        CROSS JOIN LATERAL generate_series(1, p.n) AS i
    ), ins AS (
        INSERT INTO public.resource_usage
            (entity_type, entity_id, resource_type, amount, cost, model, provider, artifact_type,
             artifact_id, analysis_id, task_id, created_at, metadata)
        SELECT r.entity_type, r.entity_id, r.resource_type,
               CASE r.resource_type
                   WHEN 'llm_tokens' THEN round(r.day_amount * r.share)
                   WHEN 'api_calls' THEN round(r.day_amount * r.share)
                   ELSE round(r.day_amount * r.share, 1) END,
               CASE r.resource_type   -- USD; NULL: priced from llm_models / api_providers
                   WHEN 'cpu_seconds' THEN round(r.day_amount * r.share * 0.000012, 6)
                   WHEN 'storage_gb_hours' THEN round(r.day_amount * r.share * 0.00004, 6)
               END,
               CASE WHEN r.resource_type = 'llm_tokens' THEN
                   CASE WHEN r.r2 < CASE WHEN r.archetype IN ('winner', 'blocked') THEN 0.30 ELSE 0.12 END
                        THEN CASE WHEN r.r1 < 0.6 THEN 'claude-opus' ELSE 'gpt-reasoning' END
                        WHEN r.r2 < 0.6
                        THEN CASE WHEN r.r1 < 0.55 THEN 'claude-sonnet' ELSE 'gpt-standard' END
                        ELSE CASE WHEN r.r1 < 0.5 THEN 'claude-haiku' ELSE 'open-batch' END END
               END,
               CASE WHEN r.resource_type = 'api_calls' THEN
                   CASE WHEN r.r2 < 0.35 THEN 'pubmed' WHEN r.r2 < 0.60 THEN 'semantic_scholar'
                        WHEN r.r2 < 0.80 THEN 'openalex' WHEN r.r2 < 0.92 THEN 'crossref'
                        ELSE 'other' END
               END,
               CASE WHEN r.resource_type = 'storage_gb_hours' THEN
                   (ARRAY['notebook', 'figure', 'dataset', 'cache'])[1 + floor(r.r2 * 4)::integer]
               END,
               CASE WHEN r.resource_type = 'storage_gb_hours' THEN
                   format('art-%s', substr(md5(r.entity_id || d), 1, 10))
               END,
               CASE WHEN r.entity_type = 'analysis' THEN r.entity_id END,
               format('task-%s', substr(md5(r.entity_id || d || r.resource_type || r.i), 1, 12)),
               v_start + v_span * (r.r1 * 0.98),
               jsonb_build_object('pipeline', 'agent-runtime', 'demo', true)
        FROM plan_rows AS r
        ORDER BY r.entity_type, r.entity_id, r.resource_type, r.i
        RETURNING entity_type, entity_id, resource_type, amount, cost, model, provider,
                  created_at
    ), gains AS (
        INSERT INTO public.world_model_gains
            (entity_type, entity_id, kg_edges_gained, papers_added, hypotheses_improved,
             artifact_quality_delta, observed_at, source)
        SELECT t.entity_type, t.entity_id, t.edges,
               floor(t.edges / 8.0 * demo.u(v_seed, t.entity_id || d || 'papers'))::integer,
               CASE WHEN t.entity_type = 'hypothesis'
                         AND demo.u(v_seed, t.entity_id || d || 'hyp') < 0.15 THEN 1 ELSE 0 END,
               round(demo.between(v_seed, t.entity_id || d || 'q', -0.5, 1.5), 2),
               v_start + v_span * 0.99,
               'atlas-kg-builder'
        FROM (SELECT i.entity_type, i.entity_id,
                     round(sum(i.amount) * min(e.edge_yield)
                           * demo.between(v_seed, i.entity_id || d || 'edges', 0.6, 1.4))::bigint
                         AS edges
              FROM ins AS i
              JOIN demo.entities AS e USING (entity_type, entity_id)
              WHERE i.resource_type = 'llm_tokens'
              GROUP BY i.entity_type, i.entity_id) AS t
        WHERE t.edges > 0
        ORDER BY t.entity_type, t.entity_id
        RETURNING kg_edges_gained
    )
    SELECT (SELECT count(*) FROM ins),
           -- at the price in force at each row's time, as the rollups price it
           (SELECT coalesce(sum(coalesce(
                       i.cost,
                       i.amount * senate.usage_price_at('llm_tokens', i.model, i.created_at),
                       i.amount * senate.usage_price_at('api_calls', i.provider, i.created_at),
                       0)), 0)
            FROM ins AS i),
           (SELECT coalesce(sum(kg_edges_gained), 0) FROM gains)
    INTO usage_rows, usage_cost_usd, kg_edges;
END;
$$;
COMMENT ON FUNCTION demo.simulate_usage(date) IS
  'Inserts the day''s resource_usage (all four classes, model tiers, providers; one statement) and '
  'the KG gains it buys (world_model_gains). Returns rows, their cost (USD, priced like the '
  'rollups price them) and edges.';

-- Spikes: an ungated backfill job (it never asks the spend gate) pushes an entity to a target
-- share of its effective token budget for the period.
CREATE OR REPLACE FUNCTION demo.simulate_spikes(p_day date, OUT usage_rows bigint,
                                                OUT usage_cost_usd numeric)
LANGUAGE plpgsql
AS $$
DECLARE
    v_as_of timestamptz := demo.end_of_day(p_day);
    v_last date := (SELECT s.last_day FROM demo.settings AS s);
BEGIN
    WITH ins AS (
        INSERT INTO public.resource_usage
            (entity_type, entity_id, resource_type, amount, model, task_id, created_at, metadata)
        SELECT e.entity_type, e.entity_id, 'llm_tokens',
               ceil(e.spike_target * b.effective_budget - b.spent),
               CASE WHEN e.archetype = 'spiker' THEN 'claude-opus' ELSE 'claude-sonnet' END,
               format('task-backfill-%s', substr(md5(e.entity_id || p_day), 1, 8)),
               demo.moment(p_day, 0.99),
               jsonb_build_object('pipeline', 'legacy-batch-backfill', 'demo', true)
        FROM demo.entities AS e
        JOIN public.budget_status_as_of(v_as_of) AS b
          ON b.entity_type = e.entity_type AND b.entity_id = e.entity_id
         AND b.resource_type = 'llm_tokens'
        WHERE (e.spike_day = p_day OR (e.archetype = 'spiker' AND p_day = v_last))
          AND e.spike_target * b.effective_budget > b.spent
        ORDER BY e.entity_type, e.entity_id
        RETURNING amount, model, created_at
    )
    SELECT count(*),
           coalesce(sum(i.amount * senate.usage_price_at('llm_tokens', i.model, i.created_at)), 0)
    INTO usage_rows, usage_cost_usd
    FROM ins AS i;
END;
$$;
COMMENT ON FUNCTION demo.simulate_spikes(date) IS
  'Inserts the spikes of the day: spikers mid-way and today, near-budget entities today.';

-- Weekly reassessment of a few entities: priorities drift with results.
CREATE OR REPLACE FUNCTION demo.simulate_assessments(p_day date)
RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    v_seed integer := (SELECT s.seed FROM demo.settings AS s);
    v_count integer;
BEGIN
    INSERT INTO public.allocation_signals
        (entity_type, entity_id, evidence_strength, novelty, strategic_alignment,
         community_interest, assessed_by, assessed_at, rationale)
    SELECT l.entity_type, l.entity_id,
           greatest(0, least(1, l.evidence_strength + d.drift)),
           l.novelty,
           l.strategic_alignment,
           greatest(0, least(1, l.community_interest + d.drift)),
           'senate-reviewer-' || (1 + floor(demo.u(v_seed, l.entity_id || p_day || 'who') * 3))::integer,
           demo.moment(p_day, 0.2),
           'Weekly reassessment after new results.'
    FROM senate.latest_allocation_signals AS l
    JOIN demo.entities AS e USING (entity_type, entity_id)
    CROSS JOIN LATERAL (SELECT round(CASE e.archetype
                                         WHEN 'winner' THEN 0.04 WHEN 'laggard' THEN -0.05
                                         ELSE demo.between(v_seed, e.entity_id || p_day || 'drift', -0.04, 0.04)
                                     END, 2) AS drift) AS d
    WHERE demo.u(v_seed, e.entity_id || p_day || 'reassess') < 0.15
    ORDER BY l.entity_type, l.entity_id;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END;
$$;
COMMENT ON FUNCTION demo.simulate_assessments(date) IS 'Re-assesses about 15 % of the entities (allocation_signals).';

-- A weekly Senate session: decide last week's proposals, top up the reserve, file and vote
-- on new ones. The last session's proposals stay pending.
CREATE OR REPLACE FUNCTION demo.simulate_governance(
    p_day date, OUT filed integer, OUT approved integer, OUT rejected integer, OUT deferred integer)
LANGUAGE plpgsql
AS $$
DECLARE
    v_seed integer := (SELECT s.seed FROM demo.settings AS s);
    v_per_week integer := (SELECT s.proposals_per_week FROM demo.settings AS s);
    v_ids bigint[];
    v_choices text[];
    v_reasons text[];
    v_senator text;
BEGIN
    -- 1. Decisions on earlier proposals. Approve the approvable good ones the reserve covers
    --    (in filing order), reject those without a majority, defer the rest.
    CREATE TEMP TABLE demo_decisions ON COMMIT DROP AS
    SELECT c.proposal_id,
           CASE WHEN c.approvable AND c.quality >= 0.55 AND c.covered THEN 'approved'
                WHEN NOT c.majority_reached THEN 'rejected'
                ELSE 'deferred' END AS decision,
           c.quality
    FROM (SELECT t.proposal_id, t.approvable, t.majority_reached, p.quality,
                 sum(t.requested_amount) FILTER (WHERE t.approvable AND p.quality >= 0.55)
                     OVER (PARTITION BY t.resource_type ORDER BY t.proposal_id)
                     <= r.balance AS covered
          FROM demo.proposals AS p
          JOIN public.allocation_proposal_tallies AS t ON t.proposal_id = p.proposal_id
          JOIN public.senate_reserve AS r ON r.resource_type = t.resource_type
          WHERE t.status = 'pending' AND p.filed_on < p_day) AS c;

    -- The chair decides in a session of its own login (a decision is the session's senator's).
    SELECT array_agg(x.proposal_id ORDER BY x.proposal_id),
           array_agg(x.decision ORDER BY x.proposal_id)
    INTO v_ids, v_choices
    FROM demo_decisions AS x;
    IF v_ids IS NOT NULL THEN
        EXECUTE format('SET LOCAL SESSION AUTHORIZATION %I', demo.senator_login('senate-chair'));
        FOR i IN 1 .. cardinality(v_ids) LOOP
            PERFORM d.status
            FROM public.decide_allocation_proposal(
                v_ids[i], v_choices[i], NULL,
                CASE v_choices[i]
                    WHEN 'approved' THEN 'Evidence is specific and the expected gain is credible.'
                    WHEN 'rejected' THEN 'The Senate was not persuaded by the evidence.'
                    ELSE 'Promising, but wait for the next results before committing resources.' END)
                AS d;
        END LOOP;
        SET LOCAL SESSION AUTHORIZATION DEFAULT;
    END IF;
    SELECT count(*) FILTER (WHERE x.decision = 'approved'),
           count(*) FILTER (WHERE x.decision = 'rejected'),
           count(*) FILTER (WHERE x.decision = 'deferred')
    INTO approved, rejected, deferred
    FROM demo_decisions AS x;
    DROP TABLE demo_decisions;

    -- 2. The treasury's weekly top-up: 3 % of what is allocated.
    PERFORM public.fund_reserve(a.resource_type, a.amount, 'treasurer', 'weekly top-up')
    FROM (SELECT t.resource_type, round(sum(senate.budget_amount(b, t.resource_type)) * 0.03) AS amount
          FROM public.resource_budgets AS b CROSS JOIN public.resource_types AS t
          GROUP BY t.resource_type) AS a
    WHERE a.amount > 0 AND p_day > (SELECT s.first_day FROM demo.settings AS s)
    ORDER BY a.resource_type;

    -- 3. New proposals, with evidence as good as the proposer's case.
    WITH candidates AS (
        SELECT e.*, b.entity_id IS NOT NULL AS has_budget,
               row_number() OVER (ORDER BY demo.u(v_seed, e.entity_id || p_day || 'pick')
                                           / CASE e.archetype WHEN 'winner' THEN 4
                                                              WHEN 'newcomer' THEN 4
                                                              WHEN 'blocked' THEN 2
                                                              WHEN 'laggard' THEN 1.5
                                                              ELSE 1 END) AS pick
        FROM demo.entities AS e
        LEFT JOIN public.resource_budgets AS b USING (entity_type, entity_id)
        WHERE e.archetype <> 'idle'
          AND NOT EXISTS (SELECT 1 FROM public.allocation_proposals AS p
                          WHERE p.entity_type = e.entity_type AND p.entity_id = e.entity_id
                            AND p.status = 'pending')
    ), chosen AS (
        SELECT c.*,
               round(CASE c.archetype
                         WHEN 'winner' THEN demo.between(v_seed, c.entity_id || p_day || 'qual', 0.65, 0.95)
                         WHEN 'newcomer' THEN demo.between(v_seed, c.entity_id || p_day || 'qual', 0.55, 0.90)
                         WHEN 'laggard' THEN demo.between(v_seed, c.entity_id || p_day || 'qual', 0.10, 0.45)
                         ELSE demo.between(v_seed, c.entity_id || p_day || 'qual', 0.30, 0.80) END, 2)
                   AS quality,
               CASE WHEN NOT c.has_budget OR demo.u(v_seed, c.entity_id || p_day || 'class') < 0.75
                    THEN 'llm_tokens'
                    WHEN demo.u(v_seed, c.entity_id || p_day || 'class2') < 0.6 THEN 'cpu_seconds'
                    ELSE 'api_calls' END AS resource_type
        FROM candidates AS c
        WHERE c.pick <= v_per_week
    ), filed_rows AS (
        INSERT INTO demo.proposals (proposal_id, filed_on, quality)
        SELECT public.file_allocation_proposal(
                   c.entity_type, c.entity_id,
                   CASE c.resource_type
                       WHEN 'llm_tokens' THEN round(demo.between(v_seed, c.entity_id || p_day || 'amt', 40000, 160000), -3)
                       WHEN 'cpu_seconds' THEN round(demo.between(v_seed, c.entity_id || p_day || 'amt', 3600, 36000), -2)
                       ELSE round(demo.between(v_seed, c.entity_id || p_day || 'amt', 200, 1500), -1) END,
                   'agent-' || (1 + floor(demo.u(v_seed, c.entity_id || p_day || 'agent') * 12))::integer,
                   CASE c.entity_type
                       WHEN 'hypothesis' THEN format('New papers bear on %s; testing it should add about %s KG edges.', c.entity_id, ev.expected)
                       WHEN 'knowledge_gap' THEN format('%s is %s %% resolved; the next round of analyses should close more of it (about %s edges).', c.entity_id, round(ev.progress * 100), ev.expected)
                       WHEN 'analysis' THEN format('Benchmarks of %s improved; a full run should add about %s edges.', c.entity_id, ev.expected)
                       ELSE format('Exchange confidence in %s moved by %s; curating it should add about %s edges.', c.entity_id, ev.market_delta, ev.expected) END,
                   CASE c.entity_type
                       WHEN 'hypothesis' THEN jsonb_build_object(
                           'pmids', jsonb_build_array(
                               (30000000 + floor(demo.u(v_seed, c.entity_id || p_day || 'pmid1') * 9000000))::bigint::text,
                               (30000000 + floor(demo.u(v_seed, c.entity_id || p_day || 'pmid2') * 9000000))::bigint::text),
                           'kg_edges_gained', ev.edges_so_far, 'expected_kg_edges', ev.expected)
                       WHEN 'knowledge_gap' THEN jsonb_build_object(
                           'gap_resolution_progress', ev.progress, 'expected_kg_edges', ev.expected)
                       WHEN 'analysis' THEN jsonb_build_object(
                           'benchmark_results', jsonb_build_array(jsonb_build_object(
                               'name', 'recall@10', 'value', round(0.5 + 0.45 * c.quality, 2))),
                           'expected_kg_edges', ev.expected)
                       ELSE jsonb_build_object(
                           'market_confidence_delta', ev.market_delta, 'expected_kg_edges', ev.expected)
                   END,
                   c.resource_type),
               p_day, c.quality
        FROM chosen AS c
        CROSS JOIN LATERAL (
            SELECT (5 + round(120 * c.quality))::integer AS expected,
                   (1 + round(40 * c.quality))::integer AS edges_so_far,
                   round(0.1 + 0.8 * c.quality, 2) AS progress,
                   round(-0.1 + 0.3 * c.quality, 2) AS market_delta) AS ev
        ORDER BY c.pick
        RETURNING proposal_id
    )
    SELECT count(*) INTO filed FROM filed_rows;

    -- 4. Five senators vote on the new proposals (abstaining now and then); the better the
    --    evidence, the likelier an approve.
    --    Each senator votes in a session of their own login.
    FOREACH v_senator IN ARRAY ARRAY['senator-ada', 'senator-bo', 'senator-cy', 'senator-dee',
                                     'senator-eli'] LOOP
        SELECT array_agg(p.proposal_id ORDER BY p.proposal_id),
               array_agg(CASE WHEN demo.u(v_seed, p.proposal_id || v_senator || 'abstain') < 0.1 THEN 'abstain'
                              WHEN demo.u(v_seed, p.proposal_id || v_senator || 'vote') < p.quality THEN 'approve'
                              ELSE 'reject' END ORDER BY p.proposal_id),
               array_agg(CASE WHEN demo.u(v_seed, p.proposal_id || v_senator || 'why') < 0.3
                              THEN 'Read the evidence; my vote follows it.' END ORDER BY p.proposal_id)
        INTO v_ids, v_choices, v_reasons
        FROM demo.proposals AS p
        WHERE p.filed_on = p_day;
        CONTINUE WHEN v_ids IS NULL;
        EXECUTE format('SET LOCAL SESSION AUTHORIZATION %I', demo.senator_login(v_senator));
        FOR i IN 1 .. cardinality(v_ids) LOOP
            PERFORM public.cast_allocation_vote(v_ids[i], NULL, v_choices[i], v_reasons[i]);
        END LOOP;
        SET LOCAL SESSION AUTHORIZATION DEFAULT;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION demo.simulate_governance(date) IS
  'A weekly Senate session through the governance functions: decisions on earlier proposals '
  '(approved / rejected / deferred), the treasury top-up (fund_reserve), new proposals with '
  'evidence (file_allocation_proposal) and five senators'' votes (cast_allocation_vote).';

-- The review cycles of a day, when this database has them: the weekly rebalance on Mondays
-- (as of the start of the day, reviewing the week before) and the daily check at its end.
CREATE OR REPLACE FUNCTION demo.run_rebalance_step(p_day date, OUT changes integer, OUT summary jsonb)
LANGUAGE plpgsql
AS $$
DECLARE
    v_as_of timestamptz := (SELECT p_day::timestamp AT TIME ZONE s.time_zone FROM demo.settings AS s);
BEGIN
    -- Prices into market weights and yield into ROI scores, on the review cadence.
    PERFORM public.refresh_market_weights(v_as_of);
    PERFORM public.refresh_roi_scores(v_as_of);
    IF NOT (demo.cycle_steps()).rebalance THEN
        RETURN;
    END IF;
    -- summary: budgets changed per rule, and the net change of the token reserve
    EXECUTE $q$
        SELECT coalesce(sum(x.n) FILTER (WHERE x.reason <> 'reserve'), 0)::integer,
               coalesce(jsonb_object_agg(x.reason, x.n) FILTER (WHERE x.reason <> 'reserve'),
                        '{}')
               || jsonb_build_object('reserve_tokens_delta',
                                     coalesce(sum(x.token_delta) FILTER (WHERE x.reason = 'reserve'), 0))
        FROM (SELECT r.reason, count(*) AS n,
                     sum(r.delta) FILTER (WHERE r.resource_type = 'llm_tokens') AS token_delta
              FROM public.run_rebalance(as_of => $1, dry_run => false) AS r
              GROUP BY r.reason) AS x
    $q$ INTO changes, summary USING v_as_of;
END;
$$;
COMMENT ON FUNCTION demo.run_rebalance_step(date) IS
  'Refreshes market weights and ROI scores as of the start of the day, then applies '
  'run_rebalance(start of the day, dry_run => false) when the database has it; returns how many '
  'budgets changed and a summary: changes per rule and reserve_tokens_delta, the net change of '
  'the token reserve (NULL without run_rebalance).';

CREATE OR REPLACE FUNCTION demo.run_daily_check_step(p_day date)
RETURNS jsonb
LANGUAGE plpgsql
AS $$
DECLARE
    v_summary jsonb;
BEGIN
    IF NOT (demo.cycle_steps()).daily_check THEN
        RETURN NULL;
    END IF;
    -- actions: released, throttled (by kind: period_budget, daily_allowance), alert
    EXECUTE $q$
        SELECT coalesce(jsonb_object_agg(k, n), '{}')
        FROM (SELECT CASE WHEN c.action = 'throttled' THEN c.action || ' ' || c.kind
                          ELSE c.action END AS k,
                     count(*) AS n
              FROM public.run_daily_check($1) AS c
              GROUP BY 1) AS x
    $q$ INTO v_summary USING p_day;
    RETURN v_summary;
END;
$$;
COMMENT ON FUNCTION demo.run_daily_check_step(date) IS
  'Runs run_daily_check(day) and counts its actions: released, throttled period_budget, '
  'throttled daily_allowance, alert. NULL without run_daily_check.';

-- A price change mid-history (issue 18): the vendor raises claude-sonnet from 9 to 12 USD per
-- million tokens on the Monday after the middle of the simulated days. The past window (that
-- Monday to now) is a documented correction (correct_usage_price: it reprices that window's
-- rollups and records the price period), and from now on the new price is set
-- (set_usage_price). Usage of the days after it is then priced at 12 on ingest, the days
-- before keep 9: each row at the price in force at its created_at.
CREATE OR REPLACE FUNCTION demo.price_change_day()
RETURNS date
LANGUAGE sql
STABLE
AS $$
    SELECT d::date
    FROM demo.settings AS s
    CROSS JOIN LATERAL generate_series(s.first_day + (s.last_day - s.first_day) / 2,
                                       s.last_day, interval '1 day') AS d
    WHERE extract(isodow FROM d) = 1
    ORDER BY d
    LIMIT 1
$$;
COMMENT ON FUNCTION demo.price_change_day() IS
  'The day claude-sonnet''s price changes in the demo: the first Monday from the middle of the '
  'simulated days on (NULL when there is none).';

CREATE OR REPLACE FUNCTION demo.change_price(p_day date)
RETURNS SETOF public.price_changes
LANGUAGE plpgsql
AS $$
DECLARE
    v_from timestamptz := (SELECT p_day::timestamp AT TIME ZONE s.time_zone FROM demo.settings AS s);
BEGIN
    RETURN QUERY
    SELECT * FROM public.correct_usage_price(
        'llm_tokens', 'claude-sonnet', 0.000012, v_from, now(),
        format('demo: the vendor raised claude-sonnet from 9 to 12 USD per million tokens on %s',
               p_day));
    RETURN QUERY
    SELECT * FROM public.set_usage_price(
        'llm_tokens', 'claude-sonnet', 0.000012,
        format('demo: claude-sonnet at 12 USD per million tokens from now on (raised on %s)',
               p_day));
END;
$$;
COMMENT ON FUNCTION demo.change_price(date) IS
  'The demo''s price change: claude-sonnet 9 -> 12 USD per million tokens from p_day on, as a '
  'correction of the past window (p_day .. now) plus a new price from now on. Returns the two '
  'price_changes entries.';

-- Runway (issue 18): on the last day, one steady hypothesis's token envelope is set so that at
-- its estimated rate it runs out on Thursday of the current week (14:00), or half-way through
-- what is left of the week when Thursday has passed: the daily check's forecast alert fires
-- for it and the report's Runway section lists it first. The difference moves between the
-- envelope and the reserve, so envelopes + reserve still equal what was funded.
CREATE OR REPLACE FUNCTION demo.aim_runway(p_day date)
RETURNS TABLE (entity_type text, entity_id text, token_budget numeric, runs_out_local timestamp)
LANGUAGE plpgsql
AS $$
DECLARE
    v_as_of timestamptz := demo.end_of_day(p_day);
    v_tz text := (SELECT s.time_zone FROM demo.settings AS s);
    f record;
    v_target timestamptz;
    v_base numeric;
    v_delta numeric;
BEGIN
    SELECT b.* INTO f
    FROM public.budget_forecast_as_of(v_as_of) AS b
    JOIN demo.entities AS e
      ON e.entity_type = b.entity_type AND e.entity_id = b.entity_id
    JOIN public.resource_budgets AS rb
      ON rb.entity_type = b.entity_type AND rb.entity_id = b.entity_id
    WHERE b.resource_type = 'llm_tokens' AND e.archetype = 'steady'
      AND b.entity_type = 'hypothesis' AND b.daily_rate > 0 AND rb.token_budget > 0
      AND b.spent < b.effective_budget
      AND NOT EXISTS (SELECT 1 FROM public.entity_parents AS ep
                      WHERE (ep.entity_type, ep.entity_id) = (b.entity_type, b.entity_id)
                         OR (ep.parent_type, ep.parent_id) = (b.entity_type, b.entity_id))
    ORDER BY b.entity_id
    LIMIT 1;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    v_target := ((f.period_start + (4 - extract(isodow FROM f.period_start)::integer + 7) % 7)
                 + time '14:00') AT TIME ZONE v_tz;
    IF v_target <= v_as_of + interval '2 hours' OR v_target >= f.period_ends_at THEN
        v_target := v_as_of + (f.period_ends_at - v_as_of) / 2;
    END IF;
    IF v_target <= v_as_of + interval '1 hour' THEN
        RETURN;  -- the week is all but over
    END IF;
    -- The effective budget that runs out at v_target, back to the base budget (the market
    -- weight scales it), rounded up to a whole token.
    SELECT ceil((f.spent + f.daily_rate * extract(epoch FROM v_target - v_as_of) / 86400)
                * rb.token_budget / f.effective_budget)
    INTO v_base
    FROM public.resource_budgets AS rb
    WHERE rb.entity_type = f.entity_type AND rb.entity_id = f.entity_id;
    SELECT v_base - rb.token_budget INTO v_delta
    FROM public.resource_budgets AS rb
    WHERE rb.entity_type = f.entity_type AND rb.entity_id = f.entity_id;
    IF v_delta > (SELECT r.balance FROM public.senate_reserve AS r
                  WHERE r.resource_type = 'llm_tokens') THEN
        RETURN;  -- the reserve cannot pay for it
    END IF;
    PERFORM demo.date_changes(v_as_of);
    -- Locks in the project's order: the envelope, then the reserve.
    PERFORM senate.set_change_cause('senate_adjustment', NULL, 'senate-chair',
        'demo: an envelope set to run out on Thursday at its rate');
    UPDATE public.resource_budgets AS rb
    SET token_budget = v_base, updated_at = now()
    WHERE rb.entity_type = f.entity_type AND rb.entity_id = f.entity_id;
    UPDATE public.senate_reserve AS r
    SET balance = r.balance - v_delta, updated_at = now()
    WHERE r.resource_type = 'llm_tokens';
    PERFORM senate.clear_change_cause();
    RETURN QUERY
    SELECT b.entity_type, b.entity_id, v_base, b.runs_out_local
    FROM public.budget_forecast_as_of(v_as_of) AS b
    WHERE b.entity_type = f.entity_type AND b.entity_id = f.entity_id
      AND b.resource_type = 'llm_tokens';
END;
$$;
COMMENT ON FUNCTION demo.aim_runway(date) IS
  'Sets one steady hypothesis''s token envelope (not in a family) so that it runs out on Thursday '
  '14:00 of the current week at its forecast rate (or half-way through the rest of the week), '
  'moving the difference to or from the reserve; returns it with its new budget and when it runs out.';

CREATE OR REPLACE FUNCTION demo.advance_day(p_day date)
RETURNS demo.day_log
LANGUAGE plpgsql
AS $$
DECLARE
    s demo.settings;
    v_log demo.day_log;
    v_rebalance record;
    v_governance record;
    v_usage record;
BEGIN
    SELECT * INTO s FROM demo.settings;
    IF p_day < s.first_day OR p_day > s.last_day THEN
        RAISE EXCEPTION USING ERRCODE = '22023',
            MESSAGE = format('day %s is outside the simulated days %s .. %s', p_day, s.first_day, s.last_day);
    END IF;
    IF EXISTS (SELECT 1 FROM demo.day_log AS l WHERE l.day >= p_day) THEN
        RAISE EXCEPTION USING ERRCODE = '55000',
            MESSAGE = format('day %s is already simulated: days run once, in order', p_day);
    END IF;

    v_log.day := p_day;
    -- What the day writes is dated within it (ledger and throttle rows carry simulated time;
    -- run_rebalance and run_daily_check declare their own as_of over this).
    PERFORM demo.date_changes(demo.moment(p_day, 0.25));
    -- Monday: the weekly review of the week before (weights, ROI, rebalance), reassessments.
    IF extract(isodow FROM p_day) = 1 AND p_day > s.first_day THEN
        SELECT * INTO v_rebalance FROM demo.run_rebalance_step(p_day);
        v_log.rebalance_changes := v_rebalance.changes;
        v_log.rebalance_summary := v_rebalance.summary;
        PERFORM demo.simulate_assessments(p_day);
    END IF;
    -- The Senate meets on the first day and every Monday.
    v_log.proposals_filed := 0;
    v_log.approved := 0;
    v_log.rejected := 0;
    v_log.deferred := 0;
    IF extract(isodow FROM p_day) = 1 OR p_day = s.first_day THEN
        SELECT * INTO v_governance FROM demo.simulate_governance(p_day);
        v_log.proposals_filed := v_governance.filed;
        v_log.approved := v_governance.approved;
        v_log.rejected := v_governance.rejected;
        v_log.deferred := v_governance.deferred;
    END IF;

    IF p_day = demo.price_change_day() THEN
        PERFORM demo.change_price(p_day);
    END IF;
    v_log.market_signals := demo.simulate_market(p_day);
    SELECT * INTO v_usage FROM demo.simulate_usage(p_day);
    v_log.usage_rows := v_usage.usage_rows;
    v_log.usage_cost_usd := v_usage.usage_cost_usd;
    v_log.kg_edges := v_usage.kg_edges;
    -- The last day: today's prices into market weights before the spikes aim at budgets.
    IF p_day = s.last_day THEN
        PERFORM public.refresh_market_weights(demo.end_of_day(p_day));
    END IF;
    IF EXISTS (SELECT 1 FROM demo.entities AS e WHERE e.spike_day = p_day) OR p_day = s.last_day THEN
        SELECT * INTO v_usage FROM demo.simulate_spikes(p_day);
        v_log.usage_rows := v_log.usage_rows + v_usage.usage_rows;
        v_log.usage_cost_usd := v_log.usage_cost_usd + v_usage.usage_cost_usd;
    END IF;

    -- End of the day: the daily check and a snapshot. Market weights and ROI scores are
    -- refreshed weekly before the rebalance, and once more on the last day for the report.
    IF p_day = s.last_day THEN
        PERFORM public.refresh_roi_scores(demo.end_of_day(p_day));
        PERFORM demo.aim_runway(p_day);
    END IF;
    PERFORM demo.date_changes(demo.end_of_day(p_day));
    v_log.daily_check := demo.run_daily_check_step(p_day);
    -- Snapshots on Mondays (after the weekly review and session), on Sundays (a whole week's
    -- spend) and on the last day: budgets and the reserve move on Mondays in this economy.
    -- (In production record_economy_snapshot() runs daily with the daily check.)
    IF to_regprocedure('public.record_economy_snapshot(timestamp with time zone)') IS NOT NULL
       AND (extract(isodow FROM p_day) IN (1, 7) OR p_day = s.last_day) THEN
        EXECUTE 'SELECT public.record_economy_snapshot($1)' USING demo.end_of_day(p_day);
    END IF;

    PERFORM demo.date_changes(NULL);
    INSERT INTO demo.day_log VALUES (v_log.*);
    RETURN v_log;
END;
$$;
COMMENT ON FUNCTION demo.advance_day(date) IS
  'Simulates one day, in order: on Mondays the weekly review of the week before (market weights, '
  'ROI scores, run_rebalance if present) and reassessments; the Senate session (first day and '
  'Mondays); Exchange signals; usage and the KG gains it buys (throttled pairs do not spend); '
  'spikes; then the daily check (if present) and, on Mondays, Sundays and the last day, an economy '
  'snapshot. Days run once, in order. Returns the day''s log row.';

CREATE OR REPLACE VIEW demo.week_log AS
SELECT b.period_start AS week_start,
       min(l.day) AS first_day,
       max(l.day) AS last_day,
       sum(l.usage_rows)::bigint AS usage_rows,
       sum(l.usage_cost_usd) AS usage_cost_usd,
       sum(l.kg_edges)::bigint AS kg_edges,
       sum(l.proposals_filed)::integer AS proposals_filed,
       sum(l.approved)::integer AS approved,
       sum(l.rejected)::integer AS rejected,
       sum(l.deferred)::integer AS deferred,
       (SELECT jsonb_object_agg(k, n)
        FROM (SELECT c.key AS k, sum(c.value::integer) AS n
              FROM demo.day_log AS l2
              CROSS JOIN LATERAL jsonb_each_text(l2.daily_check) AS c
              WHERE l2.day BETWEEN min(l.day) AND max(l.day)
              GROUP BY c.key) AS x) AS daily_check,
       sum(l.rebalance_changes)::integer AS rebalance_changes,
       jsonb_agg(l.rebalance_summary) FILTER (WHERE l.rebalance_summary IS NOT NULL)
           -> 0 AS rebalance_summary
FROM demo.day_log AS l
CROSS JOIN LATERAL public.budget_period_bounds(demo.moment(l.day, 0.5)) AS b
GROUP BY b.period_start;
COMMENT ON VIEW demo.week_log IS 'demo.day_log summed per budget period (a week by default).';
