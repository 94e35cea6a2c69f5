-- transactional: false
-- Why: every service asks "how much has this entity spent this period?" before
-- it spends, and the answer must not depend on how long the usage history is.
-- Statement-level triggers with transition tables fold each INSERT, UPDATE or
-- DELETE on resource_usage into daily rollups (entity x resource class x
-- model tier or provider x day) in the same transaction, so a batch pays once.
--
-- Hot entities: a per-entity counter updated by every insert serializes all
-- writers on one row (and deadlocks under load). The rollups are sharded by
-- the writer's backend: each connection upserts its own shard row, so
-- concurrent writers charging the same entity do not wait for each other.
-- Readers add up at most (shards x days in period) rows.
--
-- Existing rows of a deployed resource_usage are rolled up once, after the triggers exist,
-- without holding a lock that blocks writers (see "Online fold" below), so nothing is counted
-- twice or lost. Hence "transactional: false": each statement commits on its own, and every
-- statement is safe to run again.
SET lock_timeout = '5s';

-- Nullable, no default: adding it to a deployed table is a catalog-only change.
CALL senate.claim('0009', 'column', 'public.resource_usage', 'provider');
ALTER TABLE public.resource_usage ADD COLUMN IF NOT EXISTS provider text;
COMMENT ON COLUMN public.resource_usage.provider IS 'External API provider for api_calls rows (see api_providers).';

CREATE TABLE IF NOT EXISTS senate.usage_rollups (
    entity_type        text NOT NULL,
    entity_id          text NOT NULL,
    resource_type      text NOT NULL,
    usage_day          date NOT NULL,
    resource_subclass  text NOT NULL,
    shard              smallint NOT NULL CHECK (shard BETWEEN 0 AND 15),
    amount_total       numeric NOT NULL DEFAULT 0,
    cost_total_usd     numeric NOT NULL DEFAULT 0,
    usage_rows         bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (entity_type, entity_id, resource_type, usage_day, resource_subclass, shard)
);
COMMENT ON TABLE senate.usage_rollups IS
  'Daily usage totals per entity, resource class and model tier or provider, kept by triggers on '
  'resource_usage in the same transaction; sharded by writer backend so concurrent writers do not '
  'contend. Sum over shard for the true figure. senate.reconcile_usage_rollups() proves them equal '
  'to resource_usage.';
COMMENT ON COLUMN senate.usage_rollups.entity_type IS 'Kind of entity charged.';
COMMENT ON COLUMN senate.usage_rollups.entity_id IS 'Entity charged (as text).';
COMMENT ON COLUMN senate.usage_rollups.resource_type IS 'Resource class.';
COMMENT ON COLUMN senate.usage_rollups.usage_day IS 'Calendar day of the spend in the policy time zone.';
COMMENT ON COLUMN senate.usage_rollups.resource_subclass IS 'Model tier for llm_tokens (unknown when the model is not in llm_models), provider for api_calls, empty otherwise.';
COMMENT ON COLUMN senate.usage_rollups.shard IS 'Writer shard (backend pid mod 16); readers sum over it.';
COMMENT ON COLUMN senate.usage_rollups.amount_total IS 'Sum of resource_usage.amount, in the unit of the class.';
COMMENT ON COLUMN senate.usage_rollups.cost_total_usd IS 'Sum of cost in USD (priced from llm_models or api_providers where a row has no cost).';
COMMENT ON COLUMN senate.usage_rollups.usage_rows IS 'Number of resource_usage rows folded in.';

CREATE OR REPLACE FUNCTION senate.policy_time_zone()
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT coalesce((SELECT p.time_zone FROM public.economics_policy AS p WHERE p.is_active), 'UTC')
$$;
COMMENT ON FUNCTION senate.policy_time_zone() IS 'Time zone in which usage days begin (active policy; UTC if none).';

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

-- The trigger function runs with the owner's rights (issue 14 point 9): a legacy writer holding
-- only its grants on resource_usage keeps working; its body names every object schema-qualified
-- and the path is pinned to the catalog. Set before the triggers exist.
ALTER FUNCTION senate.roll_up_usage() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

-- Online fold of the rows a deployment already holds (issue 14 point 10): the triggers are
-- created first, each under a lock held only for its own short statement (it waits for the
-- writers in flight, which then commit without the trigger). From then on every change is
-- folded by the transaction that makes it. The rows written before are folded afterwards by
-- ONE statement that reads the table and the rollups under one snapshot and adds the
-- difference (table minus rollups, per key): every change committed after the triggers exist
-- is in both, so the difference is exactly what no trigger saw, however many writes happen
-- meanwhile. The read holds no lock that blocks a writer, and running it again adds nothing.
CREATE OR REPLACE TRIGGER t80_roll_up_usage_inserts
    AFTER INSERT ON public.resource_usage
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION senate.roll_up_usage();
CREATE OR REPLACE TRIGGER t80_roll_up_usage_updates
    AFTER UPDATE ON public.resource_usage
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION senate.roll_up_usage();
CREATE OR REPLACE TRIGGER t80_roll_up_usage_deletes
    AFTER DELETE ON public.resource_usage
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION senate.roll_up_usage();
COMMENT ON TRIGGER t80_roll_up_usage_inserts ON public.resource_usage IS 'Folds inserted usage into senate.usage_rollups.';
COMMENT ON TRIGGER t80_roll_up_usage_updates ON public.resource_usage IS 'Moves updated usage between senate.usage_rollups keys.';
COMMENT ON TRIGGER t80_roll_up_usage_deletes ON public.resource_usage IS 'Removes deleted usage from senate.usage_rollups.';

CREATE UNLOGGED TABLE IF NOT EXISTS senate.usage_rollup_fold (
    entity_type        text NOT NULL,
    entity_id          text NOT NULL,
    resource_type      text NOT NULL,
    usage_day          date NOT NULL,
    resource_subclass  text NOT NULL,
    amount_total       numeric NOT NULL,
    cost_total_usd     numeric NOT NULL,
    usage_rows         bigint NOT NULL
);
TRUNCATE senate.usage_rollup_fold;
COMMENT ON TABLE senate.usage_rollup_fold IS
  'Scratch of migration 0009 (dropped at its end): per rollup key, what resource_usage holds '
  'minus what senate.usage_rollups holds, read under one snapshot: the deployed rows no '
  'trigger folded. Same units as senate.usage_rollups.';

-- One statement, one snapshot: the table and the rollups agree on every committed change.
INSERT INTO senate.usage_rollup_fold
    (entity_type, entity_id, resource_type, usage_day, resource_subclass,
     amount_total, cost_total_usd, usage_rows)
SELECT entity_type, entity_id, resource_type, usage_day, resource_subclass,
       coalesce(u.amount, 0) - coalesce(r.amount, 0),
       coalesce(u.cost, 0) - coalesce(r.cost, 0),
       coalesce(u.row_count, 0) - coalesce(r.row_count, 0)
FROM (
    SELECT u.entity_type::text AS entity_type, u.entity_id::text AS entity_id,
           u.resource_type::text AS resource_type,
           (u.created_at::timestamptz AT TIME ZONE senate.policy_time_zone())::date AS usage_day,
           CASE u.resource_type::text
               WHEN 'llm_tokens' THEN coalesce(m.model_tier, 'unknown')
               WHEN 'api_calls' THEN coalesce(u.provider::text, 'other')
               ELSE '' END AS resource_subclass,
           sum(u.amount::numeric) AS amount,
           sum(coalesce(u.cost::numeric,
                        CASE u.resource_type::text
                            WHEN 'llm_tokens' THEN u.amount::numeric * m.usd_per_token
                            WHEN 'api_calls' THEN u.amount::numeric * p.usd_per_call END,
                        0)) AS cost,
           count(*) AS row_count
    FROM public.resource_usage AS u
    LEFT JOIN public.llm_models AS m ON m.model = u.model::text
    LEFT JOIN public.api_providers AS p ON p.provider = u.provider::text
    WHERE u.entity_type IS NOT NULL AND u.entity_id IS NOT NULL AND u.resource_type IS NOT NULL
      AND u.created_at IS NOT NULL AND u.amount IS NOT NULL
    GROUP BY 1, 2, 3, 4, 5
) AS u
FULL JOIN (
    SELECT r.entity_type, r.entity_id, r.resource_type, r.usage_day, r.resource_subclass,
           sum(r.amount_total) AS amount, sum(r.cost_total_usd) AS cost,
           sum(r.usage_rows)::bigint AS row_count
    FROM senate.usage_rollups AS r
    GROUP BY 1, 2, 3, 4, 5
) AS r USING (entity_type, entity_id, resource_type, usage_day, resource_subclass)
WHERE coalesce(u.amount, 0) <> coalesce(r.amount, 0)
   OR coalesce(u.cost, 0) <> coalesce(r.cost, 0)
   OR coalesce(u.row_count, 0) <> coalesce(r.row_count, 0);

-- Added into shard 0; a writer of that shard waits at most for this one upsert's row locks.
INSERT INTO senate.usage_rollups AS r
    (entity_type, entity_id, resource_type, usage_day, resource_subclass, shard,
     amount_total, cost_total_usd, usage_rows)
SELECT f.entity_type, f.entity_id, f.resource_type, f.usage_day, f.resource_subclass, 0,
       f.amount_total, f.cost_total_usd, f.usage_rows
FROM senate.usage_rollup_fold AS f
ORDER BY 1, 2, 3, 4, 5
ON CONFLICT (entity_type, entity_id, resource_type, usage_day, resource_subclass, shard)
DO UPDATE SET amount_total = r.amount_total + excluded.amount_total,
              cost_total_usd = r.cost_total_usd + excluded.cost_total_usd,
              usage_rows = r.usage_rows + excluded.usage_rows;
-- The scratch table of this migration, never read by anyone else.
-- squawk-ignore ban-drop-table
DROP TABLE senate.usage_rollup_fold;

CREATE OR REPLACE FUNCTION public.reconcile_usage_rollups()
RETURNS TABLE (entity_type text, entity_id text, resource_type text, usage_day date,
               resource_subclass text, usage_amount numeric, rollup_amount numeric,
               usage_cost_usd numeric, rollup_cost_usd numeric,
               usage_row_count bigint, rollup_row_count bigint)
LANGUAGE sql STABLE
AS $$
    WITH from_usage AS (
        SELECT u.entity_type::text AS entity_type, u.entity_id::text AS entity_id,
               u.resource_type::text AS resource_type,
               (u.created_at::timestamptz AT TIME ZONE senate.policy_time_zone())::date AS usage_day,
               CASE u.resource_type::text
                   WHEN 'llm_tokens' THEN coalesce(m.model_tier, 'unknown')
                   WHEN 'api_calls' THEN coalesce(u.provider::text, 'other')
                   ELSE '' END AS resource_subclass,
               sum(u.amount::numeric) AS amount,
               sum(coalesce(u.cost::numeric,
                            CASE u.resource_type::text
                                WHEN 'llm_tokens' THEN u.amount::numeric * m.usd_per_token
                                WHEN 'api_calls' THEN u.amount::numeric * p.usd_per_call END,
                            0)) AS cost,
               count(*) AS row_count
        FROM public.resource_usage AS u
        LEFT JOIN public.llm_models AS m ON m.model = u.model::text
        LEFT JOIN public.api_providers AS p ON p.provider = u.provider::text
        WHERE u.entity_type IS NOT NULL AND u.entity_id IS NOT NULL AND u.resource_type IS NOT NULL
          AND u.created_at IS NOT NULL AND u.amount IS NOT NULL
        GROUP BY 1, 2, 3, 4, 5
    ), from_rollups AS (
        SELECT r.entity_type, r.entity_id, r.resource_type, r.usage_day, r.resource_subclass,
               sum(r.amount_total) AS amount, sum(r.cost_total_usd) AS cost,
               sum(r.usage_rows)::bigint AS row_count
        FROM senate.usage_rollups AS r
        GROUP BY 1, 2, 3, 4, 5
        HAVING sum(r.usage_rows) <> 0 OR sum(r.amount_total) <> 0
    )
    SELECT entity_type, entity_id, resource_type, usage_day, resource_subclass,
           coalesce(u.amount, 0), coalesce(r.amount, 0), coalesce(u.cost, 0), coalesce(r.cost, 0),
           coalesce(u.row_count, 0), coalesce(r.row_count, 0)
    FROM from_usage AS u
    FULL JOIN from_rollups AS r
        USING (entity_type, entity_id, resource_type, usage_day, resource_subclass)
    WHERE coalesce(u.amount, 0) <> coalesce(r.amount, 0)
       OR coalesce(u.cost, 0) <> coalesce(r.cost, 0)
       OR coalesce(u.row_count, 0) <> coalesce(r.row_count, 0)
    ORDER BY 1, 2, 3, 4, 5
$$;
COMMENT ON FUNCTION public.reconcile_usage_rollups() IS
  'Proves the usage rollups equal resource_usage: returns every (entity, class, day, tier or '
  'provider) whose rolled-up amount, cost or row count differs. No rows means reconciled. '
  'Reads the whole usage table: an audit, not a hot-path call.';

CALL senate.settle_comments('0009');
