"""SQL used by ``senate-db bench`` (kept apart from the driver code so it reads as SQL).

Everything here runs in the bench's own scratch database, which is dropped at the end: the
``bench`` schema (baseline tables, the server-side timer, the data generator) never reaches a
real database and is not a migration.
"""

from __future__ import annotations

#: Columns every ingest path writes (created_at, metadata and id come from their defaults).
INGEST_COLUMNS = ("entity_type", "entity_id", "resource_type", "amount", "model", "provider")

ENTITY_TYPES = ("hypothesis", "knowledge_gap", "analysis", "entity")
MODELS = ("claude-opus", "gpt-reasoning", "claude-sonnet", "gpt-standard", "claude-haiku")
PROVIDERS = ("pubmed", "semantic_scholar", "openalex", "crossref", "other")

#: The entity every budget check, hot-writer run and daily-spend query is about.
HOT_ENTITY = ("hypothesis", "bench-hot")

SETUP = """
CREATE SCHEMA bench;
COMMENT ON SCHEMA bench IS 'senate-db bench scratch objects (dropped with the scratch database).';

-- Entity n of the generated population (skewed: low n are the busy ones).
CREATE FUNCTION bench.entity_type_of(n bigint) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT (ARRAY['hypothesis', 'knowledge_gap', 'analysis', 'entity'])[1 + n % 4] $$;
COMMENT ON FUNCTION bench.entity_type_of(bigint) IS 'Entity kind of generated entity n.';
CREATE FUNCTION bench.entity_id_of(n bigint) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT 'bench-' || n $$;
COMMENT ON FUNCTION bench.entity_id_of(bigint) IS 'Entity id of generated entity n.';
"""

#: Generated usage rows lo..hi (through every trigger on resource_usage). Deterministic in i:
#: row i charges entity floor(active * u^2) for a hash u of i (a skewed population of active
#: entities; the other budgeted entities stay idle), every 1000th row the hot entity;
#: 70 % llm_tokens over 6 models, 15 % CPU, 5 % storage, 10 % API calls over 5 providers;
#: cost NULL, so the rollup trigger prices every row from llm_models / api_providers.
#: created_at: a load phase (rows phase_lo .. phase_lo + phase_rows - 1) covers the last ``days``
#: days in time order, the way usage arrives, so each batch of a phase falls within a day or
#: two; every phase covers every day, so each history size has usage in every period.
GENERATE_USAGE = """
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
"""

#: Budget envelopes for generated entities lo..hi (and the hot entity), sized so that the busy
#: ones come close to their envelope and the idle ones do not: every rebalance rule has work.
GENERATE_BUDGETS = """
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
"""

#: Settings that decide ingest and query speed, printed in the header.
SETTINGS = (
    "shared_buffers",
    "work_mem",
    "maintenance_work_mem",
    "effective_cache_size",
    "synchronous_commit",
    "fsync",
    "wal_level",
    "max_wal_size",
    "checkpoint_timeout",
    "jit",
    "max_parallel_workers_per_gather",
    "random_page_cost",
    "autovacuum",
    "max_connections",
)
