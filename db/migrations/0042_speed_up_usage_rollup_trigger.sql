-- Why: senate.roll_up_usage() (0009) is on the write path of every usage row. Measured
-- with `senate-db bench` on the 2-core bench machine it cost, per INSERT statement, more
-- than the insert itself (a single-row INSERT ran at 0.30 of the bare table, server CPU),
-- and per row of a batch it sorted every row on five text keys before grouping. Same
-- rollups, same reconciliation, cheaper path:
--   * the time zone comes from senate.policy_time_zone(), now PL/pgSQL with a cached plan
--     (0040), evaluated once per statement;
--   * the shard is claimed per transaction by senate.usage_rollup_shard() (0041) instead
--     of pg_backend_pid() % 16, so concurrent writers never share a rollup row;
--   * a single-row statement (the common case) upserts its one key with a plan that has
--     no aggregation; counting the statement's rows first costs about 3 us;
--   * rows of a larger statement are first summed by hashing on their raw columns (entity, class, model,
--     provider, day), and only those groups are joined to llm_models / api_providers,
--     priced and summed again per rollup key (price x summed amount is exact in numeric,
--     so every total is the same as pricing row by row); the upsert still runs in key
--     order, so concurrent statements lock rollup rows in one order;
--   * an UPDATE that changes none of the columns the rollups depend on (a compatibility
--     backfill, a metadata fix) returns after one hashed comparison of old and new rows.
-- reconcile_usage_rollups() (unchanged) still proves the rollups equal resource_usage.
SET lock_timeout = '5s';

CREATE OR REPLACE FUNCTION senate.roll_up_usage()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    v_time_zone text := senate.policy_time_zone();
    v_shard smallint := senate.usage_rollup_shard();
BEGIN
    IF TG_OP = 'INSERT' THEN
      IF (SELECT count(*) FROM new_rows) = 1 THEN
        -- One row (the common single-row INSERT of a service): no grouping needed, and a
        -- plan without aggregation nodes starts up in about half the time.
        INSERT INTO senate.usage_rollups AS r
            (entity_type, entity_id, resource_type, usage_day, resource_subclass, shard,
             amount_total, cost_total_usd, usage_rows)
        SELECT u.entity_type::text, u.entity_id::text, u.resource_type::text,
               (u.created_at::timestamptz AT TIME ZONE v_time_zone)::date,
               CASE u.resource_type::text
                   WHEN 'llm_tokens' THEN coalesce(m.model_tier, 'unknown')
                   WHEN 'api_calls' THEN coalesce(u.provider::text, 'other')
                   ELSE '' END,
               v_shard,
               u.amount::numeric,
               coalesce(u.cost::numeric,
                        CASE u.resource_type::text
                            WHEN 'llm_tokens' THEN u.amount::numeric * m.usd_per_token
                            WHEN 'api_calls' THEN u.amount::numeric * p.usd_per_call END,
                        0),
               1
        FROM new_rows AS u
        LEFT JOIN public.llm_models AS m ON m.model = u.model::text
        LEFT JOIN public.api_providers AS p ON p.provider = u.provider::text
        WHERE u.entity_type IS NOT NULL AND u.entity_id IS NOT NULL
          AND u.resource_type IS NOT NULL AND u.created_at IS NOT NULL
          AND u.amount IS NOT NULL
        ON CONFLICT (entity_type, entity_id, resource_type, usage_day, resource_subclass, shard)
        DO UPDATE SET amount_total = r.amount_total + excluded.amount_total,
                      cost_total_usd = r.cost_total_usd + excluded.cost_total_usd,
                      usage_rows = r.usage_rows + excluded.usage_rows;
      ELSE
        INSERT INTO senate.usage_rollups AS r
            (entity_type, entity_id, resource_type, usage_day, resource_subclass, shard,
             amount_total, cost_total_usd, usage_rows)
        SELECT g.entity_type, g.entity_id, g.resource_type, g.usage_day,
               CASE g.resource_type
                   WHEN 'llm_tokens' THEN coalesce(m.model_tier, 'unknown')
                   WHEN 'api_calls' THEN coalesce(g.provider, 'other')
                   ELSE '' END,
               v_shard,
               sum(g.amount),
               sum(coalesce(g.cost_usd, 0)
                   + coalesce(CASE g.resource_type
                                  WHEN 'llm_tokens' THEN g.unpriced_amount * m.usd_per_token
                                  WHEN 'api_calls' THEN g.unpriced_amount * p.usd_per_call END,
                              0)),
               sum(g.usage_rows)
        FROM (
            SELECT u.entity_type::text AS entity_type, u.entity_id::text AS entity_id,
                   u.resource_type::text AS resource_type,
                   (u.created_at::timestamptz AT TIME ZONE v_time_zone)::date AS usage_day,
                   u.model::text AS model, u.provider::text AS provider,
                   sum(u.amount::numeric) AS amount,
                   sum(u.cost::numeric) AS cost_usd,
                   sum(u.amount::numeric) FILTER (WHERE u.cost IS NULL) AS unpriced_amount,
                   count(*) AS usage_rows
            FROM new_rows AS u
            WHERE u.entity_type IS NOT NULL AND u.entity_id IS NOT NULL
              AND u.resource_type IS NOT NULL AND u.created_at IS NOT NULL
              AND u.amount IS NOT NULL
            GROUP BY 1, 2, 3, 4, 5, 6
        ) AS g
        LEFT JOIN public.llm_models AS m ON m.model = g.model
        LEFT JOIN public.api_providers AS p ON p.provider = g.provider
        GROUP BY 1, 2, 3, 4, 5
        ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (entity_type, entity_id, resource_type, usage_day, resource_subclass, shard)
        DO UPDATE SET amount_total = r.amount_total + excluded.amount_total,
                      cost_total_usd = r.cost_total_usd + excluded.cost_total_usd,
                      usage_rows = r.usage_rows + excluded.usage_rows;
      END IF;
      RETURN NULL;
    END IF;

    IF TG_OP = 'UPDATE' THEN
      IF NOT EXISTS (
        SELECT o.entity_type::text, o.entity_id::text, o.resource_type::text,
               o.created_at::timestamptz, o.model::text, o.provider::text,
               o.amount::numeric, o.cost::numeric
        FROM old_rows AS o
        EXCEPT ALL
        SELECT n.entity_type::text, n.entity_id::text, n.resource_type::text,
               n.created_at::timestamptz, n.model::text, n.provider::text,
               n.amount::numeric, n.cost::numeric
        FROM new_rows AS n
      ) THEN
        -- Same multiset of rolled-up columns before and after: every rollup delta is zero.
        RETURN NULL;
      END IF;
    END IF;

    -- UPDATE and DELETE are rare (corrections, legacy consumers): dynamic SQL lets one
    -- query serve both, since a DELETE trigger has no new_rows to name statically.
    EXECUTE format($q$
    INSERT INTO senate.usage_rollups AS r
        (entity_type, entity_id, resource_type, usage_day, resource_subclass, shard,
         amount_total, cost_total_usd, usage_rows)
    SELECT g.entity_type, g.entity_id, g.resource_type, g.usage_day,
           CASE g.resource_type
               WHEN 'llm_tokens' THEN coalesce(m.model_tier, 'unknown')
               WHEN 'api_calls' THEN coalesce(g.provider, 'other')
               ELSE '' END AS resource_subclass,
           $2,
           sum(g.amount) AS amount,
           sum(coalesce(g.cost_usd, 0)
               + coalesce(CASE g.resource_type
                              WHEN 'llm_tokens' THEN g.unpriced_amount * m.usd_per_token
                              WHEN 'api_calls' THEN g.unpriced_amount * p.usd_per_call END,
                          0)) AS cost_usd,
           sum(g.usage_rows) AS usage_rows
    FROM (
        SELECT u.entity_type::text AS entity_type, u.entity_id::text AS entity_id,
               u.resource_type::text AS resource_type,
               (u.created_at::timestamptz AT TIME ZONE $1)::date AS usage_day,
               u.model::text AS model, u.provider::text AS provider,
               sum(u.sign * u.amount::numeric) AS amount,
               sum(u.sign * u.cost::numeric) AS cost_usd,
               sum(u.sign * u.amount::numeric) FILTER (WHERE u.cost IS NULL) AS unpriced_amount,
               sum(u.sign) AS usage_rows
        FROM (%s) AS u
        WHERE u.entity_type IS NOT NULL AND u.entity_id IS NOT NULL
          AND u.resource_type IS NOT NULL AND u.created_at IS NOT NULL
          AND u.amount IS NOT NULL
        GROUP BY 1, 2, 3, 4, 5, 6
    ) AS g
    LEFT JOIN public.llm_models AS m ON m.model = g.model
    LEFT JOIN public.api_providers AS p ON p.provider = g.provider
    GROUP BY 1, 2, 3, 4, 5
    HAVING sum(g.usage_rows) <> 0 OR sum(g.amount) <> 0
        OR sum(coalesce(g.cost_usd, 0)
               + coalesce(CASE g.resource_type
                              WHEN 'llm_tokens' THEN g.unpriced_amount * m.usd_per_token
                              WHEN 'api_calls' THEN g.unpriced_amount * p.usd_per_call END,
                          0)) <> 0
    ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (entity_type, entity_id, resource_type, usage_day, resource_subclass, shard)
    DO UPDATE SET amount_total = r.amount_total + excluded.amount_total,
                  cost_total_usd = r.cost_total_usd + excluded.cost_total_usd,
                  usage_rows = r.usage_rows + excluded.usage_rows
    $q$,
    CASE TG_OP
        WHEN 'DELETE' THEN
            'SELECT -1 AS sign, entity_type, entity_id, resource_type, created_at, model, provider, amount, cost FROM old_rows'
        ELSE
            'SELECT -1 AS sign, entity_type, entity_id, resource_type, created_at, model, provider, amount, cost FROM old_rows '
            'UNION ALL SELECT 1, entity_type, entity_id, resource_type, created_at, model, provider, amount, cost FROM new_rows'
    END)
    USING v_time_zone, v_shard;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION senate.roll_up_usage() IS
  'Statement-level trigger on resource_usage: folds the statement''s inserted, updated or deleted '
  'rows into senate.usage_rollups (rows summed by hashing first, then priced and upserted once '
  'per rollup key, in key order, into the shard this transaction claimed). An UPDATE that leaves '
  'every rolled-up column as it was costs one hashed comparison and writes nothing.';

-- Trigger functions on the deployed tables run with the owner's rights from the migration that
-- defines them (issue 14 point 9): a legacy writer holding only its grants on the deployed
-- tables keeps working after every migration, not only once 0099/0126 have run. Their bodies
-- name every object schema-qualified; the path is pinned to the catalog.
ALTER FUNCTION senate.roll_up_usage() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
