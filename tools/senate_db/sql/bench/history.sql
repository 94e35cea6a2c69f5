-- senate-db bench: the generated history, budget checks, daily spend, the rebalance
-- (format: setup.sql).

-- name: generate_usage
-- Generated usage rows lo..hi (through every trigger on resource_usage). Deterministic in i:
-- row i charges entity floor(active * u^2) for a hash u of i (a skewed population of active
-- entities; the other budgeted entities stay idle), every 1000th row the hot entity;
-- 70 in 100 rows llm_tokens over 6 models, 15 CPU, 5 storage, 10 API calls over 5 providers;
-- cost NULL, so the rollup trigger prices every row from llm_models / api_providers.
-- created_at: a load phase (rows phase_lo .. phase_lo + phase_rows - 1) covers the last days
-- in time order, the way usage arrives, so each batch of a phase falls within a day or two;
-- every phase covers every day, so each history size has usage in every period.
INSERT INTO {table}
    (entity_type, entity_id, resource_type, amount, model, provider, created_at)
SELECT CASE WHEN g.i %% 1000 = 0 THEN %(hot_type)s ELSE bench.entity_type_of(e.n) END,
       CASE WHEN g.i %% 1000 = 0 THEN %(hot_id)s ELSE bench.entity_id_of(e.n) END,
       r.resource_type,
       CASE r.resource_type
           WHEN 'llm_tokens' THEN 100 + (g.i * 31) %% 4000
           WHEN 'cpu_seconds' THEN 1 + g.i %% 600
           ELSE 1 END,
       CASE r.resource_type WHEN 'llm_tokens'
           THEN (ARRAY['claude-opus', 'gpt-reasoning', 'claude-sonnet', 'gpt-standard',
                       'claude-haiku', 'open-batch'])[1 + (g.i / 20) %% 6] END,
       CASE r.resource_type WHEN 'api_calls'
           THEN (ARRAY['pubmed', 'semantic_scholar', 'openalex', 'crossref', 'other'])
                [1 + (g.i / 20) %% 5] END,
       now() - make_interval(
                   days => (%(days)s - 1
                            - least(%(days)s - 1,
                                    ((g.i - %(phase_lo)s) * %(days)s) / %(phase_rows)s))::int,
                   secs => ((g.i * 7919) %% 86400)::float8)
FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS g (i)
CROSS JOIN LATERAL (
    SELECT floor(%(active)s
                 * (((g.i * 2654435761) %% 4294967296) / 4294967296.0::float8) ^ 2)::bigint
) AS e (n)
CROSS JOIN LATERAL (
    SELECT CASE WHEN g.i %% 20 < 14 THEN 'llm_tokens'
                WHEN g.i %% 20 < 17 THEN 'cpu_seconds'
                WHEN g.i %% 20 < 18 THEN 'storage_gb_hours'
                ELSE 'api_calls' END
) AS r (resource_type)

-- name: generate_budgets
-- Budget envelopes for generated entities lo..hi (and the hot entity), sized so that the busy
-- ones come close to their envelope and the idle ones do not: every rebalance rule has work.
INSERT INTO public.resource_budgets
    (entity_type, entity_id, token_budget, cpu_budget, storage_budget_gb, api_call_budget,
     priority_score, market_weight, roi_score)
SELECT bench.entity_type_of(n), bench.entity_id_of(n),
       200000 + (n * 37) %% 800000, 10000 + (n * 13) %% 50000, 100, 5000,
       ((n * 7) %% 100) / 100.0, ((n * 11) %% 41 - 20) / 100.0, ((n * 17) %% 1000) / 1000.0
FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS n
UNION ALL
SELECT %(hot_type)s, %(hot_id)s, 5000000, 100000, 100, 5000, 0.9, 0.1, 0.5
WHERE %(with_hot)s
ON CONFLICT (entity_type, entity_id) DO NOTHING

-- name: link_family
-- A family five levels deep (issue 19): generated entities 2..5 each under the one before, so
-- can_spend on bench-5 checks its envelope and four ancestors', each over its subtree's spend.
SELECT count(public.set_entity_parent(bench.entity_type_of(n), bench.entity_id_of(n),
                                      bench.entity_type_of(n - 1), bench.entity_id_of(n - 1),
                                      'bench: a family five levels deep'))
FROM generate_series(2, 5) AS n

-- name: analyze_budgets
ANALYZE public.resource_budgets

-- name: analyze_usage
ANALYZE public.resource_usage;
ANALYZE senate.usage_rollups

-- name: analyze_rollups
ANALYZE senate.usage_rollups

-- name: set_loader_memory
-- Loaders sort and aggregate large statements: enough memory that they do not spill.
SET work_mem = '64MB'

-- name: reset_loader_memory
RESET work_mem

-- name: compact_history
-- What the daily cycle does to past days, for the whole generated history at once: (rows
-- kept, shard rows merged).
SELECT * FROM public.compact_usage_rollups(
    (now() AT TIME ZONE senate.policy_time_zone())::date - %s, NULL)

-- name: probe_can_spend
-- The budget checks, timed in the server (bench.time_statement), so the entity is composed in
-- as literals.
SELECT * FROM public.can_spend({entity_type}, {entity_id}, 'llm_tokens', 1000)

-- name: probe_budget_status
SELECT * FROM public.budget_status WHERE entity_type = {entity_type} AND entity_id = {entity_id}

-- name: probe_budget_forecast
-- The runway of one entity (every class): the rollups of its window and period only.
SELECT * FROM public.budget_forecast WHERE entity_type = {entity_type} AND entity_id = {entity_id}

-- name: probe_daily_spend
-- One day of daily_spend: yesterday in the policy's time zone.
SELECT * FROM public.daily_spend
WHERE usage_day = (now() AT TIME ZONE senate.policy_time_zone())::date - 1

-- name: rollup_rows_yesterday
-- Rollup rows that day (what daily_spend reads), and all rollup rows.
SELECT count(*), (SELECT count(*) FROM senate.usage_rollups)
FROM senate.usage_rollups
WHERE usage_day = (now() AT TIME ZONE senate.policy_time_zone())::date - 1

-- name: rebalance_dry_run
SELECT count(*) FROM public.run_rebalance(now(), true)

-- name: rebalance_apply
-- Run in a transaction the driver rolls back, so both entity counts start from the same
-- budgets.
SELECT count(*) FROM public.run_rebalance(now(), false)

-- name: hot_shards_today
-- The rollup shards of the hot entity written today (one per writing transaction's shard).
SELECT count(DISTINCT shard) FROM senate.usage_rollups
WHERE (entity_type, entity_id) = (%s, %s)
  AND usage_day = (now() AT TIME ZONE senate.policy_time_zone())::date
