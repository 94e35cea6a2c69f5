-- senate-db bench: a deployed resource_usage migrated under live writers (bench_live; format:
-- setup.sql). These run in a scratch database of their own, before any migration.

-- name: create_deployed_usage
-- The shape SciDEX's own table has: integer amounts, a timestamp without time zone, a column
-- of its own.
CREATE TABLE public.resource_usage (
    id             bigserial PRIMARY KEY,
    entity_type    text NOT NULL,
    entity_id      text NOT NULL,
    resource_type  text NOT NULL,
    amount         integer NOT NULL,
    cost           numeric(14, 6),
    model          text,
    created_at     timestamp without time zone NOT NULL DEFAULT now(),
    metadata       jsonb DEFAULT '{}'::jsonb,
    legacy_source  text DEFAULT 'scidex-core'
)

-- name: fill_deployed_usage
-- Deployed rows 1 .. rows, one second apart going back from now.
INSERT INTO public.resource_usage (entity_type, entity_id, resource_type, amount, model, created_at)
SELECT (ARRAY['hypothesis', 'analysis'])[1 + i %% 2], 'legacy-' || (i %% 997),
       (ARRAY['llm_tokens', 'cpu_seconds'])[1 + i %% 2], 10 + i %% 5000,
       CASE WHEN i %% 2 = 0 THEN (ARRAY['claude-sonnet', 'gpt-4-legacy'])[1 + i %% 4 / 2] END,
       now() - make_interval(secs => i)
FROM generate_series(1, %(rows)s) AS i

-- name: analyze_deployed_usage
ANALYZE public.resource_usage

-- name: legacy_insert
-- What the deployed services run (unqualified, as they do): one usage row.
INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount, model, created_at)
VALUES (%s, %s, 'llm_tokens', %s, %s, now())
RETURNING id

-- name: legacy_update
UPDATE resource_usage SET amount = amount + 1 WHERE id = %s

-- name: legacy_delete
DELETE FROM resource_usage WHERE id = %s

-- name: acknowledged_present
-- How many of the acknowledged insert ids are still there.
SELECT count(*) FROM resource_usage WHERE id = ANY(%s)

-- name: deployed_row_count
SELECT count(*) FROM resource_usage

-- name: live_reconcile
SELECT count(*) FROM reconcile_usage_rollups()
