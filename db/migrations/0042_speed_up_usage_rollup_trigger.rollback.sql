-- Restores the 0009 definition of senate.roll_up_usage() (this migration only replaced its body).
-- Roll this back before 0041: the 0009 body does not call senate.usage_rollup_shard().
CREATE OR REPLACE FUNCTION senate.roll_up_usage()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    v_time_zone text := senate.policy_time_zone();
    v_shard smallint := (pg_backend_pid() % 16)::smallint;
BEGIN
    -- changes(sign, row): +1 for new rows, -1 for old rows.
    IF TG_OP = 'INSERT' THEN
        INSERT INTO senate.usage_rollups AS r
            (entity_type, entity_id, resource_type, usage_day, resource_subclass, shard,
             amount_total, cost_total_usd, usage_rows)
        SELECT c.entity_type, c.entity_id, c.resource_type, c.usage_day, c.resource_subclass, v_shard,
               sum(c.amount), sum(c.cost_usd), count(*)
        FROM (
            SELECT u.entity_type::text AS entity_type, u.entity_id::text AS entity_id,
                   u.resource_type::text AS resource_type,
                   (u.created_at::timestamptz AT TIME ZONE v_time_zone)::date AS usage_day,
                   CASE u.resource_type::text
                       WHEN 'llm_tokens' THEN coalesce(m.model_tier, 'unknown')
                       WHEN 'api_calls' THEN coalesce(u.provider::text, 'other')
                       ELSE '' END AS resource_subclass,
                   u.amount::numeric AS amount,
                   coalesce(u.cost::numeric,
                            CASE u.resource_type::text
                                WHEN 'llm_tokens' THEN u.amount::numeric * m.usd_per_token
                                WHEN 'api_calls' THEN u.amount::numeric * p.usd_per_call END,
                            0) AS cost_usd
            FROM new_rows AS u
            LEFT JOIN public.llm_models AS m ON m.model = u.model::text
            LEFT JOIN public.api_providers AS p ON p.provider = u.provider::text
        ) AS c
        WHERE c.entity_type IS NOT NULL AND c.entity_id IS NOT NULL
          AND c.resource_type IS NOT NULL AND c.usage_day IS NOT NULL AND c.amount IS NOT NULL
        GROUP BY 1, 2, 3, 4, 5
        ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (entity_type, entity_id, resource_type, usage_day, resource_subclass, shard)
        DO UPDATE SET amount_total = r.amount_total + excluded.amount_total,
                      cost_total_usd = r.cost_total_usd + excluded.cost_total_usd,
                      usage_rows = r.usage_rows + excluded.usage_rows;
        RETURN NULL;
    END IF;

    -- UPDATE and DELETE are rare (corrections, legacy consumers): dynamic SQL lets one
    -- query serve both, since a DELETE trigger has no new_rows to name statically.
    EXECUTE format($q$
    INSERT INTO senate.usage_rollups AS r
        (entity_type, entity_id, resource_type, usage_day, resource_subclass, shard,
         amount_total, cost_total_usd, usage_rows)
    SELECT c.entity_type, c.entity_id, c.resource_type, c.usage_day, c.resource_subclass, $2,
           sum(c.sign * c.amount), sum(c.sign * c.cost_usd), sum(c.sign)
    FROM (
        SELECT u.sign, u.entity_type::text AS entity_type, u.entity_id::text AS entity_id,
               u.resource_type::text AS resource_type,
               (u.created_at::timestamptz AT TIME ZONE $1)::date AS usage_day,
               CASE u.resource_type::text
                   WHEN 'llm_tokens' THEN coalesce(m.model_tier, 'unknown')
                   WHEN 'api_calls' THEN coalesce(u.provider::text, 'other')
                   ELSE '' END AS resource_subclass,
               u.amount::numeric AS amount,
               coalesce(u.cost::numeric,
                        CASE u.resource_type::text
                            WHEN 'llm_tokens' THEN u.amount::numeric * m.usd_per_token
                            WHEN 'api_calls' THEN u.amount::numeric * p.usd_per_call END,
                        0) AS cost_usd
        FROM (%s) AS u
        LEFT JOIN public.llm_models AS m ON m.model = u.model::text
        LEFT JOIN public.api_providers AS p ON p.provider = u.provider::text
    ) AS c
    WHERE c.entity_type IS NOT NULL AND c.entity_id IS NOT NULL
      AND c.resource_type IS NOT NULL AND c.usage_day IS NOT NULL AND c.amount IS NOT NULL
    GROUP BY 1, 2, 3, 4, 5
    HAVING sum(c.sign) <> 0 OR sum(c.sign * c.amount) <> 0 OR sum(c.sign * c.cost_usd) <> 0
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
  'rows into senate.usage_rollups (one upsert per key, in key order, into this backend''s shard).';

-- Trigger functions on the deployed tables run with the owner's rights from the migration that
-- defines them (issue 14 point 9): a legacy writer holding only its grants on the deployed
-- tables keeps working after every migration, not only once 0099/0126 have run. Their bodies
-- name every object schema-qualified; the path is pinned to the catalog.
ALTER FUNCTION senate.roll_up_usage() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
