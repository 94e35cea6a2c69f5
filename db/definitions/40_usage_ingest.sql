-- db/definitions/40_usage_ingest.sql -- Usage ingest: recording and correcting usage, the insert/update/delete triggers of resource_usage, the rollups and their reconciliation.
--
-- The current definition of each function and view below; the post-apply hook
-- (db/migrations/post-apply_definitions.py) applies an object whenever its text here
-- changes. Each object starts at its '-- define' line. See README, "Adding a migration".

-- define function senate.roll_up_usage()
CREATE OR REPLACE FUNCTION senate.roll_up_usage()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
                            WHEN 'llm_tokens' THEN u.amount::numeric
                                * CASE WHEN m.model IS NULL THEN NULL
                                      WHEN u.created_at::timestamptz >= m.price_effective_from THEN m.usd_per_token
                                      ELSE coalesce(senate.usage_price_at('llm_tokens', m.model, u.created_at::timestamptz),
                                                    m.usd_per_token) END
                            WHEN 'api_calls' THEN u.amount::numeric
                                * CASE WHEN p.provider IS NULL THEN NULL
                                      WHEN u.created_at::timestamptz >= p.price_effective_from THEN p.usd_per_call
                                      ELSE coalesce(senate.usage_price_at('api_calls', p.provider, u.created_at::timestamptz),
                                                    p.usd_per_call) END END,
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
               sum(coalesce(g.cost_usd, 0) + coalesce(g.unpriced_cost, 0)),
               sum(g.usage_rows)
        FROM (
            SELECT u.entity_type::text AS entity_type, u.entity_id::text AS entity_id,
                   u.resource_type::text AS resource_type,
                   (u.created_at::timestamptz AT TIME ZONE v_time_zone)::date AS usage_day,
                   u.model::text AS model, u.provider::text AS provider,
                   sum(u.amount::numeric) AS amount,
                   sum(u.cost::numeric) AS cost_usd,
                   sum(u.amount::numeric
                       * CASE u.resource_type::text
                             WHEN 'llm_tokens' THEN CASE WHEN pm.model IS NULL THEN NULL
                                 WHEN u.created_at::timestamptz >= pm.price_effective_from THEN pm.usd_per_token
                                 ELSE coalesce(senate.usage_price_at('llm_tokens', pm.model, u.created_at::timestamptz),
                                               pm.usd_per_token) END
                             WHEN 'api_calls' THEN CASE WHEN pp.provider IS NULL THEN NULL
                                 WHEN u.created_at::timestamptz >= pp.price_effective_from THEN pp.usd_per_call
                                 ELSE coalesce(senate.usage_price_at('api_calls', pp.provider, u.created_at::timestamptz),
                                               pp.usd_per_call) END END)
                       FILTER (WHERE u.cost IS NULL) AS unpriced_cost,
                   count(*) AS usage_rows
            FROM new_rows AS u
            LEFT JOIN public.llm_models AS pm
              ON u.resource_type::text = 'llm_tokens' AND pm.model = u.model::text
            LEFT JOIN public.api_providers AS pp
              ON u.resource_type::text = 'api_calls' AND pp.provider = u.provider::text
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
               + coalesce(g.unpriced_cost, 0)) AS cost_usd,
           sum(g.usage_rows) AS usage_rows
    FROM (
        SELECT u.entity_type::text AS entity_type, u.entity_id::text AS entity_id,
               u.resource_type::text AS resource_type,
               (u.created_at::timestamptz AT TIME ZONE $1)::date AS usage_day,
               u.model::text AS model, u.provider::text AS provider,
               sum(u.sign * u.amount::numeric) AS amount,
               sum(u.sign * u.cost::numeric) AS cost_usd,
               sum(u.sign * u.amount::numeric
                   * CASE u.resource_type::text
                         WHEN 'llm_tokens' THEN CASE WHEN pm.model IS NULL THEN NULL
                             WHEN u.created_at::timestamptz >= pm.price_effective_from THEN pm.usd_per_token
                             ELSE coalesce(senate.usage_price_at('llm_tokens', pm.model, u.created_at::timestamptz),
                                           pm.usd_per_token) END
                         WHEN 'api_calls' THEN CASE WHEN pp.provider IS NULL THEN NULL
                             WHEN u.created_at::timestamptz >= pp.price_effective_from THEN pp.usd_per_call
                             ELSE coalesce(senate.usage_price_at('api_calls', pp.provider, u.created_at::timestamptz),
                                           pp.usd_per_call) END END)
                   FILTER (WHERE u.cost IS NULL) AS unpriced_cost,
               sum(u.sign) AS usage_rows
        FROM (%s) AS u
        LEFT JOIN public.llm_models AS pm
          ON u.resource_type::text = 'llm_tokens' AND pm.model = u.model::text
        LEFT JOIN public.api_providers AS pp
          ON u.resource_type::text = 'api_calls' AND pp.provider = u.provider::text
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
               + coalesce(g.unpriced_cost, 0)) <> 0
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
$function$;
COMMENT ON FUNCTION senate.roll_up_usage() IS 'Statement-level trigger on resource_usage: folds the statement''s inserted, updated or deleted rows into senate.usage_rollups (rows summed by hashing first, then upserted once per rollup key, in key order, into the shard this transaction claimed); rows without a cost are priced at the price in force at their created_at (0162). An UPDATE that leaves every rolled-up column as it was costs one hashed comparison and writes nothing.';

-- define function public.reconcile_usage_rollups()
CREATE OR REPLACE FUNCTION public.reconcile_usage_rollups()
 RETURNS TABLE(entity_type text, entity_id text, resource_type text, usage_day date, resource_subclass text, usage_amount numeric, rollup_amount numeric, usage_cost_usd numeric, rollup_cost_usd numeric, usage_row_count bigint, rollup_row_count bigint)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
    WITH periods AS (
        SELECT q.resource_type, q.priced_name, q.usd_per_unit, q.effective_from AS valid_from,
               coalesce(lead(q.effective_from) OVER (PARTITION BY q.resource_type, q.priced_name
                                                     ORDER BY q.effective_from),
                        'infinity') AS valid_until
        FROM senate.price_periods AS q
    ), from_usage AS (
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
                                WHEN 'llm_tokens' THEN u.amount::numeric
                                    * CASE WHEN m.model IS NOT NULL
                                           THEN coalesce(pr.usd_per_unit, m.usd_per_token) END
                                WHEN 'api_calls' THEN u.amount::numeric
                                    * CASE WHEN p.provider IS NOT NULL
                                           THEN coalesce(pr.usd_per_unit, p.usd_per_call) END END,
                            0)) AS cost,
               count(*) AS row_count
        FROM public.resource_usage AS u
        LEFT JOIN public.llm_models AS m ON m.model = u.model::text
        LEFT JOIN public.api_providers AS p ON p.provider = u.provider::text
        -- The price in force at created_at (0162): the period of the price's history that
        -- contains it (a hash join on the priced name, then the few periods of that name).
        LEFT JOIN periods AS pr
          ON pr.resource_type = u.resource_type::text
         AND pr.priced_name = CASE u.resource_type::text WHEN 'llm_tokens' THEN u.model::text
                                                         WHEN 'api_calls' THEN u.provider::text END
         AND u.created_at::timestamptz >= pr.valid_from
         AND u.created_at::timestamptz < pr.valid_until
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
$function$;
COMMENT ON FUNCTION public.reconcile_usage_rollups() IS 'Proves the usage rollups equal resource_usage: returns every (entity, class, day, tier or provider) whose rolled-up amount, cost or row count differs, pricing usage without a cost at the price in force at its created_at (usage_price_periods, 0162). No rows means reconciled. Reads the whole usage table: an audit, not a hot-path call.';

-- define view public.daily_spend
CREATE OR REPLACE VIEW public.daily_spend AS
SELECT r.usage_day,
       r.entity_type,
       r.entity_id,
       r.resource_type,
       r.resource_subclass,
       CASE WHEN r.resource_type = 'llm_tokens' THEN r.resource_subclass END AS model_tier,
       CASE WHEN r.resource_type = 'api_calls' THEN r.resource_subclass END AS provider,
       sum(r.amount_total) AS amount,
       sum(r.cost_total_usd) AS cost_usd,
       sum(r.usage_rows)::bigint AS usage_rows
FROM senate.usage_rollups AS r
GROUP BY r.usage_day, r.entity_type, r.entity_id, r.resource_type, r.resource_subclass
HAVING sum(r.usage_rows) <> 0 OR sum(r.amount_total) <> 0 OR sum(r.cost_total_usd) <> 0;
COMMENT ON VIEW public.daily_spend IS 'Spend per day (policy time zone) x entity x resource class x model tier or provider: amount and cost in USD. What the daily budget check reads. From senate.usage_rollups (summed over shard).';
COMMENT ON COLUMN public.daily_spend.usage_day IS 'Calendar day of the spend in the policy time zone.';
COMMENT ON COLUMN public.daily_spend.entity_type IS 'Kind of entity charged.';
COMMENT ON COLUMN public.daily_spend.entity_id IS 'Entity charged.';
COMMENT ON COLUMN public.daily_spend.resource_type IS 'Resource class.';
COMMENT ON COLUMN public.daily_spend.resource_subclass IS 'Model tier (llm_tokens; unknown for unmapped models), provider (api_calls) or empty.';
COMMENT ON COLUMN public.daily_spend.model_tier IS 'Model tier for llm_tokens rows, else NULL.';
COMMENT ON COLUMN public.daily_spend.provider IS 'API provider for api_calls rows, else NULL.';
COMMENT ON COLUMN public.daily_spend.amount IS 'Amount used, in the unit of the class (tokens, CPU-seconds, GB-hours, calls).';
COMMENT ON COLUMN public.daily_spend.cost_usd IS 'Cost in USD (row cost, else priced from llm_models / api_providers).';
COMMENT ON COLUMN public.daily_spend.usage_rows IS 'Number of resource_usage rows, in rows.';

-- define function senate.usage_rollup_shard()
CREATE OR REPLACE FUNCTION senate.usage_rollup_shard()
 RETURNS smallint
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_claimed text := pg_catalog.current_setting('senate.usage_rollup_shard', true);
    v_first integer := pg_catalog.pg_backend_pid() % 16;
BEGIN
    -- The shard this transaction claimed before (taking it again is a no-op for its holder;
    -- a value set by hand is only used if its lock can be taken).
    IF v_claimed ~ '^([0-9]|1[0-5])$'
       AND pg_catalog.pg_try_advisory_xact_lock(1397050945, v_claimed::integer) THEN
        RETURN v_claimed::smallint;
    END IF;
    FOR i IN 0 .. 15 LOOP
        IF pg_catalog.pg_try_advisory_xact_lock(1397050945, (v_first + i) % 16) THEN
            PERFORM pg_catalog.set_config('senate.usage_rollup_shard', ((v_first + i) % 16)::text, true);
            RETURN (v_first + i) % 16;
        END IF;
    END LOOP;
    RETURN v_first;
END;
$function$;
COMMENT ON FUNCTION senate.usage_rollup_shard() IS 'Shard (0-15) of senate.usage_rollups the current transaction writes: held with a transaction-scoped advisory lock (key 1397050945, shard), trying pg_backend_pid() % 16 first, and remembered for the rest of the transaction (setting senate.usage_rollup_shard, transaction-local) so a transaction holds one shard; at most 16 concurrent writing transactions never share one; with more, the extra writers share pid % 16 unlocked.';

-- define function senate.check_usage_references()
CREATE OR REPLACE FUNCTION senate.check_usage_references()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    v_bad record;
BEGIN
    SELECT w.entity_type, w.resource_type,
           le.found IS NOT NULL AS entity_type_found, lr.found IS NOT NULL AS resource_type_found
    INTO v_bad
    FROM (SELECT DISTINCT n.entity_type::text AS entity_type, n.resource_type::text AS resource_type
          FROM new_rows AS n) AS w
    LEFT JOIN LATERAL (SELECT true AS found FROM public.entity_types AS e
                       WHERE e.entity_type = w.entity_type FOR KEY SHARE) AS le ON true
    LEFT JOIN LATERAL (SELECT true AS found FROM public.resource_types AS t
                       WHERE t.resource_type = w.resource_type FOR KEY SHARE) AS lr ON true
    WHERE (w.entity_type IS NOT NULL AND le.found IS NULL)
       OR (w.resource_type IS NOT NULL AND lr.found IS NULL)
    LIMIT 1;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF v_bad.entity_type IS NOT NULL AND NOT v_bad.entity_type_found THEN
        RAISE EXCEPTION USING
            ERRCODE = '23503', TABLE = 'resource_usage', COLUMN = 'entity_type',
            MESSAGE = format('resource_usage.entity_type %L is not a kind in entity_types',
                             v_bad.entity_type),
            DETAIL = 'Every usage row names an entity kind listed in entity_types.',
            HINT = 'Add the kind to entity_types first, or fix the writer.';
    END IF;
    RAISE EXCEPTION USING
        ERRCODE = '23503', TABLE = 'resource_usage', COLUMN = 'resource_type',
        MESSAGE = format('resource_usage.resource_type %L is not a class in resource_types',
                         v_bad.resource_type),
        DETAIL = 'Every usage row names a resource class listed in resource_types.',
        HINT = 'Use one of the classes in resource_types (llm_tokens, cpu_seconds, '
               'storage_gb_hours, api_calls).';
END;
$function$;
COMMENT ON FUNCTION senate.check_usage_references() IS 'Statement-level trigger on resource_usage, in place of per-row foreign keys (one lock per distinct value, not per row): locks the entity_types and resource_types rows the statement''s rows name FOR KEY SHARE, once per distinct value, and raises 23503 naming the column and value when one does not exist.';

-- define function senate.refuse_referenced_key_change()
CREATE OR REPLACE FUNCTION senate.refuse_referenced_key_change()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_column text := TG_ARGV[0];
    v_old text := to_jsonb(OLD) ->> v_column;
    v_used boolean;
BEGIN
    IF TG_OP = 'UPDATE' AND v_old IS NOT DISTINCT FROM (to_jsonb(NEW) ->> v_column) THEN
        RETURN NEW;
    END IF;
    IF current_setting('transaction_isolation') <> 'read committed' THEN
        RAISE EXCEPTION USING
            ERRCODE = '0A000', TABLE = TG_TABLE_NAME, COLUMN = v_column,
            MESSAGE = format('%s of %s %L in %s must run in READ COMMITTED, not %s',
                             TG_OP, v_column, v_old, TG_TABLE_NAME,
                             upper(current_setting('transaction_isolation'))),
            HINT = 'Run it in its own READ COMMITTED transaction: the check for usage rows '
                   'that still name the value needs to see rows committed while it waited.';
    END IF;
    EXECUTE format('SELECT EXISTS (SELECT 1 FROM public.resource_usage WHERE %I = $1)', v_column)
        INTO v_used USING v_old;
    IF v_used THEN
        RAISE EXCEPTION USING
            ERRCODE = '23503', TABLE = TG_TABLE_NAME, COLUMN = v_column,
            MESSAGE = format('%s of %s %L in %s refused: resource_usage rows still name it',
                             TG_OP, v_column, v_old, TG_TABLE_NAME),
            HINT = 'Usage history is kept; a kind or class that was used cannot be removed.';
    END IF;
    RETURN CASE TG_OP WHEN 'DELETE' THEN OLD ELSE NEW END;
END;
$function$;
COMMENT ON FUNCTION senate.refuse_referenced_key_change() IS 'Row-level BEFORE DELETE / UPDATE trigger on entity_types and resource_types (argument: the key column): refuses (23503) to delete or re-key a value that resource_usage rows still name; requires READ COMMITTED (0A000 otherwise).';

-- define function senate.refuse_referenced_truncate()
CREATE OR REPLACE FUNCTION senate.refuse_referenced_truncate()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    IF EXISTS (SELECT 1 FROM public.resource_usage) THEN
        RAISE EXCEPTION USING
            ERRCODE = '0A000', TABLE = TG_TABLE_NAME,
            MESSAGE = format('cannot truncate %s: resource_usage rows name its values',
                             TG_TABLE_NAME);
    END IF;
    RETURN NULL;
END;
$function$;
COMMENT ON FUNCTION senate.refuse_referenced_truncate() IS 'Statement-level BEFORE TRUNCATE trigger on entity_types and resource_types: refuses (0A000) while resource_usage holds rows, as PostgreSQL does for a table a foreign key references.';

-- define function senate.usage_append_only()
CREATE OR REPLACE FUNCTION senate.usage_append_only()
 RETURNS boolean
 LANGUAGE sql
 STABLE PARALLEL SAFE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
    SELECT coalesce((SELECT s.usage_append_only FROM senate.settings AS s), true)
$function$;
COMMENT ON FUNCTION senate.usage_append_only() IS 'Whether resource_usage is append-only now (senate.settings; on when the row is missing).';

-- define function senate.usage_strict_validation()
CREATE OR REPLACE FUNCTION senate.usage_strict_validation()
 RETURNS boolean
 LANGUAGE sql
 STABLE PARALLEL SAFE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
    SELECT coalesce((SELECT s.usage_strict_validation FROM senate.settings AS s), true)
$function$;
COMMENT ON FUNCTION senate.usage_strict_validation() IS 'Whether inserted usage rows are strictly validated now (senate.settings; on when the row is missing).';

-- define function senate.refuse_usage_change()
CREATE OR REPLACE FUNCTION senate.refuse_usage_change()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
BEGIN
    IF senate.usage_append_only() THEN
        RAISE EXCEPTION USING
            ERRCODE = 'S4002',
            TABLE = TG_TABLE_NAME,
            MESSAGE = format('%s on %I.%I refused: resource_usage is append-only '
                             '(senate.settings.usage_append_only is on)',
                             TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME),
            HINT = 'Correct a usage row with correct_resource_usage(usage_id, corrected_amount, '
                   'reason, actor), which writes a reversal row with the reason.';
    END IF;
    RETURN NULL;
END;
$function$;
COMMENT ON FUNCTION senate.refuse_usage_change() IS 'Statement-level trigger on resource_usage: refuses DELETE and TRUNCATE (S4002) while senate.settings.usage_append_only is on; does nothing when it is off.';

-- define function senate.refuse_usage_rewrites()
CREATE OR REPLACE FUNCTION senate.refuse_usage_rewrites()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    v_rewritten bigint;
BEGIN
    IF NOT senate.usage_append_only() THEN
        RETURN NULL;
    END IF;
    SELECT count(*) INTO v_rewritten
    FROM (SELECT to_jsonb(o) - 'amount_used' - 'timestamp' FROM old_rows AS o
          EXCEPT ALL
          SELECT to_jsonb(n) - 'amount_used' - 'timestamp' FROM new_rows AS n) AS changed;
    IF v_rewritten > 0 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'S4002',
            TABLE = TG_TABLE_NAME,
            MESSAGE = format('UPDATE on %I.%I refused: it rewrites %s usage row(s) and '
                             'resource_usage is append-only (senate.settings.usage_append_only is on)',
                             TG_TABLE_SCHEMA, TG_TABLE_NAME, v_rewritten),
            HINT = 'Correct a usage row with correct_resource_usage(usage_id, corrected_amount, '
                   'reason, actor), which writes a reversal row with the reason.';
    END IF;
    RETURN NULL;
END;
$function$;
COMMENT ON FUNCTION senate.refuse_usage_rewrites() IS 'Statement-level AFTER UPDATE trigger on resource_usage: while senate.settings.usage_append_only is on, refuses (S4002) an UPDATE that changes any column of any row other than the trigger-kept compatibility columns (amount_used, "timestamp"); no-op updates and compatibility backfills pass.';

-- define function public.correct_resource_usage(public.resource_usage.id%TYPE,numeric,text,text)
CREATE OR REPLACE FUNCTION public.correct_resource_usage(
    p_usage_id public.resource_usage.id%TYPE,
    p_corrected_amount numeric,
    p_reason text,
    p_actor text)
 RETURNS public.resource_usage.id%TYPE
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    v_original public.resource_usage%ROWTYPE;
    v_current numeric;
    v_delta numeric;
    v_probe public.resource_usage.amount%TYPE;
    v_id public.resource_usage.id%TYPE;
BEGIN
    IF p_usage_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', COLUMN = 'usage_id',
            MESSAGE = 'usage_id must name the usage row to correct, not NULL';
    END IF;
    IF p_corrected_amount IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', COLUMN = 'corrected_amount',
            MESSAGE = 'corrected_amount must be the right amount of the usage row, not NULL';
    END IF;
    IF p_corrected_amount < 0 OR p_corrected_amount IN ('NaN', 'Infinity') THEN
        RAISE EXCEPTION USING ERRCODE = '22023', COLUMN = 'corrected_amount',
            MESSAGE = format('corrected_amount %s is invalid: a usage amount is finite and >= 0',
                             p_corrected_amount);
    END IF;
    BEGIN
        v_probe := p_corrected_amount;
    EXCEPTION WHEN numeric_value_out_of_range THEN
        v_probe := NULL;
    END;
    IF v_probe IS NULL OR v_probe::numeric <> p_corrected_amount THEN
        RAISE EXCEPTION USING ERRCODE = '22023', COLUMN = 'corrected_amount',
            MESSAGE = format('corrected_amount %s does not fit resource_usage.amount (%s)',
                             p_corrected_amount, pg_typeof(v_probe));
    END IF;
    IF p_reason IS NULL OR length(btrim(p_reason)) NOT BETWEEN 1 AND 2000 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', COLUMN = 'reason',
            MESSAGE = 'reason must say why the usage row is wrong (1 to 2000 characters)';
    END IF;
    IF p_actor IS NULL OR length(btrim(p_actor)) NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', COLUMN = 'actor',
            MESSAGE = 'actor must name who corrects the usage row (1 to 200 characters)';
    END IF;

    -- Lock the original: concurrent corrections of one row are applied one after the other,
    -- each against the total the previous one left.
    SELECT * INTO v_original FROM public.resource_usage AS u WHERE u.id = p_usage_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'S4003', COLUMN = 'usage_id',
            MESSAGE = format('usage_id %s names no resource_usage row', p_usage_id);
    END IF;
    IF v_original.corrects_usage_id IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'S4004', COLUMN = 'usage_id',
            MESSAGE = format('usage_id %s is a correction of row %s; correct the original',
                             p_usage_id, v_original.corrects_usage_id);
    END IF;

    SELECT v_original.amount::numeric + coalesce(sum(c.amount::numeric), 0) INTO v_current
    FROM public.resource_usage AS c
    WHERE c.corrects_usage_id = p_usage_id;
    v_delta := p_corrected_amount - v_current;
    IF v_delta = 0 THEN
        RETURN NULL;  -- already right: nothing to record
    END IF;

    -- Cost: a row priced from the reference tables (cost NULL) gets a correction priced the
    -- same way, so the cost rollup moves exactly with the amount. A row with an explicit cost
    -- keeps it (cost 0 on the correction): resource_usage.cost is never negative.
    INSERT INTO public.resource_usage
        (entity_type, entity_id, resource_type, amount, cost, model, provider,
         artifact_type, artifact_id, analysis_id, task_id, created_at,
         corrects_usage_id, correction_reason, correction_actor, corrected_at)
    VALUES
        (v_original.entity_type, v_original.entity_id, v_original.resource_type, v_delta,
         CASE WHEN v_original.cost IS NULL THEN NULL ELSE 0 END,
         v_original.model, v_original.provider,
         v_original.artifact_type, v_original.artifact_id, v_original.analysis_id,
         v_original.task_id, v_original.created_at,
         p_usage_id, btrim(p_reason), btrim(p_actor), now())
    RETURNING id INTO v_id;
    RETURN v_id;
END;
$function$;
COMMENT ON FUNCTION public.correct_resource_usage(public.resource_usage.id%TYPE,numeric,text,text) IS 'The documented way to correct usage while resource_usage is append-only: sets the amount of usage row usage_id to corrected_amount (in the unit of its class) by writing one correction row with the difference (negative when the original overstated), the reason and the actor, dated at the original spend so it counts in the same day and period. Returns the correction row id, or NULL when the row already has that amount. Corrections of one row are serialized. A row with an explicit cost keeps its cost (costs are never negative); a row priced from llm_models or api_providers is repriced exactly.';

-- define function public.record_resource_usage(public.resource_usage.entity_type%TYPE,public.resource_usage.entity_id%TYPE,public.resource_usage.resource_type%TYPE,numeric,text,public.resource_usage.model%TYPE,numeric,public.resource_usage.provider%TYPE,public.resource_usage.artifact_type%TYPE,public.resource_usage.artifact_id%TYPE,public.resource_usage.analysis_id%TYPE,public.resource_usage.task_id%TYPE,public.resource_usage.created_at%TYPE,jsonb)
CREATE OR REPLACE FUNCTION public.record_resource_usage(
    p_entity_type      public.resource_usage.entity_type%TYPE,
    p_entity_id        public.resource_usage.entity_id%TYPE,
    p_resource_type    public.resource_usage.resource_type%TYPE,
    p_amount           numeric,
    p_idempotency_key  text,
    p_model            public.resource_usage.model%TYPE DEFAULT NULL,
    p_cost             numeric DEFAULT NULL,
    p_provider         public.resource_usage.provider%TYPE DEFAULT NULL,
    p_artifact_type    public.resource_usage.artifact_type%TYPE DEFAULT NULL,
    p_artifact_id      public.resource_usage.artifact_id%TYPE DEFAULT NULL,
    p_analysis_id      public.resource_usage.analysis_id%TYPE DEFAULT NULL,
    p_task_id          public.resource_usage.task_id%TYPE DEFAULT NULL,
    p_created_at       public.resource_usage.created_at%TYPE DEFAULT NULL,
    p_metadata         jsonb DEFAULT NULL)
 RETURNS TABLE (usage_id public.resource_usage.id%TYPE, recorded boolean)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    v_id public.resource_usage.id%TYPE;
    v_existing record;
BEGIN
    IF p_entity_type IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', COLUMN = 'entity_type',
            MESSAGE = 'entity_type must name the kind of entity charged, not NULL';
    END IF;
    IF p_entity_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', COLUMN = 'entity_id',
            MESSAGE = 'entity_id must name the entity charged, not NULL';
    END IF;
    IF p_resource_type IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', COLUMN = 'resource_type',
            MESSAGE = 'resource_type must name the resource class used, not NULL';
    END IF;
    IF p_amount IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', COLUMN = 'amount',
            MESSAGE = 'amount must be the amount used, not NULL';
    END IF;
    IF p_amount < 0 OR p_amount IN ('NaN', 'Infinity') THEN
        RAISE EXCEPTION USING ERRCODE = '22023', COLUMN = 'amount',
            MESSAGE = format('amount %s is invalid: usage is finite and >= 0', p_amount);
    END IF;
    IF p_cost < 0 OR p_cost IN ('NaN', 'Infinity') THEN
        RAISE EXCEPTION USING ERRCODE = '22023', COLUMN = 'cost',
            MESSAGE = format('cost %s USD is invalid: a cost is finite and >= 0', p_cost);
    END IF;
    IF length(p_idempotency_key) NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', COLUMN = 'idempotency_key',
            MESSAGE = format('idempotency_key must have 1 to 200 characters, not %s',
                             length(p_idempotency_key));
    END IF;

    INSERT INTO public.resource_usage AS u
        (entity_type, entity_id, resource_type, amount, cost, model, provider,
         artifact_type, artifact_id, analysis_id, task_id, created_at, metadata, idempotency_key)
    VALUES
        (p_entity_type, p_entity_id, p_resource_type, p_amount, p_cost, p_model, p_provider,
         p_artifact_type, p_artifact_id, p_analysis_id, p_task_id, coalesce(p_created_at, now()),
         coalesce(p_metadata, '{}'::jsonb), p_idempotency_key)
    ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING u.id INTO v_id;

    IF v_id IS NOT NULL THEN
        RETURN QUERY SELECT v_id, true;
        RETURN;
    END IF;

    -- A row with this key exists (committed before the INSERT above, which waited for it).
    SELECT u.id, u.entity_type, u.entity_id, u.resource_type, u.amount, u.model
    INTO v_existing
    FROM public.resource_usage AS u
    WHERE u.idempotency_key = p_idempotency_key;
    IF v_existing.entity_type IS DISTINCT FROM p_entity_type
       OR v_existing.entity_id IS DISTINCT FROM p_entity_id
       OR v_existing.resource_type IS DISTINCT FROM p_resource_type
       OR v_existing.amount::numeric IS DISTINCT FROM p_amount
       OR v_existing.model IS DISTINCT FROM p_model THEN
        RAISE EXCEPTION USING ERRCODE = 'S4005', COLUMN = 'idempotency_key',
            MESSAGE = format('idempotency_key %L is already recorded for a different usage (row %s)',
                             p_idempotency_key, v_existing.id);
    END IF;
    RETURN QUERY SELECT v_existing.id, false;
END;
$function$;
COMMENT ON FUNCTION public.record_resource_usage(public.resource_usage.entity_type%TYPE,public.resource_usage.entity_id%TYPE,public.resource_usage.resource_type%TYPE,numeric,text,public.resource_usage.model%TYPE,numeric,public.resource_usage.provider%TYPE,public.resource_usage.artifact_type%TYPE,public.resource_usage.artifact_id%TYPE,public.resource_usage.analysis_id%TYPE,public.resource_usage.task_id%TYPE,public.resource_usage.created_at%TYPE,jsonb) IS 'Idempotent ingest of one usage event: (entity_type, entity_id, resource_type, amount in the unit of the class: tokens, CPU-seconds, GB-hours or calls, idempotency_key, model, cost in USD, provider, artifact_type, artifact_id, analysis_id, task_id, created_at default now(), metadata). Returns (usage_id, recorded): recorded is false when a row with this key was already recorded, and usage_id is then that row. NULL key: always records. Same key for a different event: S4005. Call with named arguments.';

-- define function senate.raise_usage_insert_error(text,text)
CREATE OR REPLACE FUNCTION senate.raise_usage_insert_error(p_problem text, p_value text)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
BEGIN
    CASE p_problem
    WHEN 'missing_entity_type' THEN
        RAISE EXCEPTION USING
            ERRCODE = '23503', TABLE = 'resource_usage', COLUMN = 'entity_type',
            MESSAGE = pg_catalog.format('resource_usage.entity_type %L is not a kind in entity_types',
                             p_value),
            DETAIL = 'Every usage row names an entity kind listed in entity_types.',
            HINT = 'Add the kind to entity_types first, or fix the writer.';
    WHEN 'missing_resource_type' THEN
        RAISE EXCEPTION USING
            ERRCODE = '23503', TABLE = 'resource_usage', COLUMN = 'resource_type',
            MESSAGE = pg_catalog.format('resource_usage.resource_type %L is not a class in resource_types',
                             p_value),
            DETAIL = 'Every usage row names a resource class listed in resource_types.',
            HINT = 'Use one of the classes in resource_types (llm_tokens, cpu_seconds, '
                   'storage_gb_hours, api_calls).';
    WHEN 'bad_amount' THEN
        RAISE EXCEPTION USING ERRCODE = '23514', TABLE = 'resource_usage', COLUMN = 'amount',
            MESSAGE = pg_catalog.format('resource_usage.amount %s is invalid: usage is finite and >= 0 '
                             '(only correct_resource_usage() writes negative corrections)',
                             p_value),
            HINT = 'Record the amount actually used; fix a recorded row with '
                   'correct_resource_usage().';
    WHEN 'bad_entity_type' THEN
        RAISE EXCEPTION USING ERRCODE = '23503', TABLE = 'resource_usage', COLUMN = 'entity_type',
            MESSAGE = pg_catalog.format('resource_usage.entity_type %L is not in entity_types', p_value),
            HINT = 'Add the kind to entity_types first.';
    WHEN 'bad_resource_type' THEN
        RAISE EXCEPTION USING ERRCODE = '23503', TABLE = 'resource_usage', COLUMN = 'resource_type',
            MESSAGE = pg_catalog.format('resource_usage.resource_type %L is not in resource_types', p_value),
            HINT = 'Use one of the classes in resource_types.';
    WHEN 'bad_model' THEN
        RAISE EXCEPTION USING ERRCODE = '23503', TABLE = 'resource_usage', COLUMN = 'model',
            MESSAGE = pg_catalog.format('resource_usage.model %L is not in llm_models', p_value),
            HINT = 'Add the model with its tier and price to llm_models first '
                   '(or turn off senate.settings.usage_strict_validation).';
    WHEN 'amount_out_of_range' THEN
        RAISE EXCEPTION USING ERRCODE = '22003', TABLE = 'resource_usage', COLUMN = 'amount',
            MESSAGE = pg_catalog.format('resource_usage.amount %s is out of range: at most 1e15 '
                                        'in absolute value with at most 18 decimal places',
                                        senate.shorten_value(p_value)),
            DETAIL = 'The bounds are listed in senate.value_bounds.',
            HINT = 'Record the amount actually used, in the unit of the class; no real row is '
                   'this large.';
    WHEN 'cost_out_of_range' THEN
        RAISE EXCEPTION USING ERRCODE = '22003', TABLE = 'resource_usage', COLUMN = 'cost',
            MESSAGE = pg_catalog.format('resource_usage.cost %s is out of range: at most 1e9 USD '
                                        'in absolute value with at most 18 decimal places',
                                        senate.shorten_value(p_value)),
            DETAIL = 'The bounds are listed in senate.value_bounds.',
            HINT = 'Record the cost in USD, or leave it NULL to price from llm_models / '
                   'api_providers.';
    WHEN 'created_at_out_of_window' THEN
        RAISE EXCEPTION USING ERRCODE = 'S5031', TABLE = 'resource_usage', COLUMN = 'created_at',
            MESSAGE = pg_catalog.format('resource_usage.created_at %s is outside the accepted '
                                        'window: not infinite, at most '
                                        'economics_policy.usage_max_clock_skew ahead of now and '
                                        'at most usage_max_age ago', p_value),
            HINT = 'Record the time the spend happened; an operator widens the window with '
                   'adopt_economics_policy when older usage must be imported.';
    WHEN 'too_large' THEN
        RAISE EXCEPTION USING ERRCODE = '22001', TABLE = 'resource_usage',
            COLUMN = pg_catalog.split_part(p_value, ':', 1),
            MESSAGE = pg_catalog.format('resource_usage.%s is too long: %s, at most %s',
                                        pg_catalog.split_part(p_value, ':', 1),
                                        pg_catalog.split_part(p_value, ':', 2),
                                        pg_catalog.split_part(p_value, ':', 3)),
            DETAIL = 'The bounds are listed in senate.value_bounds.',
            HINT = 'Store a reference to large content, not the content.';
    WHEN 'usd_usage' THEN
        RAISE EXCEPTION USING ERRCODE = 'S3018', TABLE = 'resource_usage', COLUMN = 'resource_type',
            MESSAGE = pg_catalog.format('resource_usage.resource_type %L is the money budget class: '
                                        'no usage row is of it', p_value),
            DETAIL = 'The spend of a USD budget is the cost of the usage of the other classes '
                     '(usage_rollups.cost_total_usd).',
            HINT = 'Record the usage in its own class (llm_tokens, cpu_seconds, storage_gb_hours, '
                   'api_calls) with its cost.';
    ELSE
        RAISE EXCEPTION USING ERRCODE = '23503', TABLE = 'resource_usage', COLUMN = 'provider',
            MESSAGE = pg_catalog.format('resource_usage.provider %L is not in api_providers', p_value),
            HINT = 'Add the provider to api_providers first (or use provider ''other'').';
    END CASE;
END;
$function$;
COMMENT ON FUNCTION senate.raise_usage_insert_error(text,text) IS 'Raises the error for an invalid inserted usage row, naming the column and value: missing_entity_type / missing_resource_type (reference check, 23503), bad_amount (23514), bad_entity_type / bad_resource_type / bad_model / bad_provider (strict validation, 23503); always: amount_out_of_range / cost_out_of_range (22003), created_at_out_of_window (S5031), too_large (22001; value column:size:bound); usd_usage (S3018: a row of the money class usd). Called by senate.account_usage_inserts().';

-- define function senate.account_usage_inserts()
CREATE OR REPLACE FUNCTION senate.account_usage_inserts()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    v_check_references boolean := TG_NARGS > 0 AND TG_ARGV[0] = 'check_references';
    v record;
    v_bad record;
    v_unknown_kind boolean;
    v_suspect boolean;
    v_backdated boolean;
    v_strict boolean;
    v_time_zone text;
    v_latest timestamptz;
    v_earliest timestamptz;
    v_shard smallint;
BEGIN
    -- The common case, a service recording one row, costs three short statements: this one
    -- reads the statement's first row with its model's or provider's price row, the active
    -- policy and the settings (each a one-row lookup) and counts the statement's rows (it
    -- stops at 20001); the next locks the row's kind and class FOR KEY SHARE, as a foreign
    -- key would (they cannot be removed under a writer that names them); the last upserts the
    -- rollup. The checks between them are PL/pgSQL expressions, compiled once per
    -- transaction. A row that may be invalid, or whose kind or class is missing, takes the
    -- batch path below, which finds the exact error.
    SELECT n.entity_type::text AS entity_type, n.entity_id::text AS entity_id,
           n.resource_type::text AS resource_type, n.model::text AS model,
           n.provider::text AS provider, n.amount::numeric AS amount,
           n.cost::numeric AS cost_usd, n.created_at::timestamptz AS created_at,
           n.corrects_usage_id IS NULL AS not_correction,
           n.artifact_type::text AS artifact_type, n.artifact_id::text AS artifact_id,
           n.analysis_id::text AS analysis_id, n.task_id::text AS task_id,
           n.idempotency_key::text AS idempotency_key,
           n.correction_reason::text AS correction_reason, n.metadata,
           (SELECT m FROM public.llm_models AS m WHERE m.model = n.model::text) AS m,
           (SELECT p FROM public.api_providers AS p WHERE p.provider = n.provider::text) AS p,
           (SELECT e FROM public.economics_policy AS e WHERE e.is_active) AS pol,
           coalesce((SELECT s.usage_strict_validation FROM senate.settings AS s), true)
               AS strict_validation,
           (SELECT pg_catalog.count(*) FROM (SELECT FROM new_rows LIMIT 20001) AS x)
               AS statement_rows
    INTO v
    FROM new_rows AS n
    LIMIT 1;
    IF NOT FOUND THEN
        RETURN NULL;  -- an INSERT of no rows
    END IF;
    IF v.statement_rows = 1 THEN
        PERFORM FROM public.entity_types AS e, public.resource_types AS t
        WHERE e.entity_type = v.entity_type AND t.resource_type = v.resource_type
        FOR KEY SHARE;
        IF FOUND AND NOT coalesce(
               -- Whether the row may be invalid: every check of the batch path or more
               -- (a text no longer than its bound in bytes is no longer in characters; a
               -- value of at most 8 bytes prints in far fewer than 16384), then names.
               (v.strict_validation AND v.not_correction
                AND (v.amount < 0 OR v.amount IN ('NaN', 'Infinity')))
               OR pg_catalog.abs(v.amount) > 1e15 OR pg_catalog.scale(v.amount) > 18
               OR pg_catalog.abs(v.cost_usd) > 1e9 OR pg_catalog.scale(v.cost_usd) > 18
               OR (v.not_correction
                   AND (v.created_at > pg_catalog.clock_timestamp()
                                       + coalesce((v.pol).usage_max_clock_skew,
                                                  interval '10 minutes')
                        OR v.created_at < pg_catalog.now()
                                          - coalesce((v.pol).usage_max_age, interval '10 years')))
               OR pg_catalog.octet_length(v.provider) > 200
               OR pg_catalog.octet_length(v.entity_id) > 200
               OR pg_catalog.octet_length(v.model) > 200
               OR pg_catalog.octet_length(v.artifact_type) > 200
               OR pg_catalog.octet_length(v.artifact_id) > 200
               OR pg_catalog.octet_length(v.analysis_id) > 200
               OR pg_catalog.octet_length(v.task_id) > 200
               OR pg_catalog.octet_length(v.idempotency_key) > 200
               OR pg_catalog.octet_length(v.correction_reason) > 2000
               OR (pg_catalog.pg_column_size(v.metadata) > 8
                   AND pg_catalog.octet_length(v.metadata::text) > 16384)
               OR (v.strict_validation AND v.resource_type = 'llm_tokens'
                   AND v.model IS NOT NULL AND (v.m).model IS NULL)
               OR (v.strict_validation AND v.resource_type = 'api_calls'
                   AND v.provider IS NOT NULL AND (v.p).provider IS NULL)
               -- usd is the money budget class: no usage row is of it (S3018).
               OR v.resource_type = 'usd',
               false) THEN
            IF v.entity_id IS NULL OR v.created_at IS NULL OR v.amount IS NULL THEN
                RETURN NULL;  -- not countable (a deployed table without NOT NULLs)
            END IF;
            v_shard := senate.usage_rollup_shard();
            INSERT INTO senate.usage_rollups AS r
                (entity_type, entity_id, resource_type, usage_day, resource_subclass, shard,
                 amount_total, cost_total_usd, usage_rows)
            VALUES (v.entity_type, v.entity_id, v.resource_type,
                    (v.created_at AT TIME ZONE coalesce((v.pol).time_zone, 'UTC'))::date,
                    CASE v.resource_type
                        WHEN 'llm_tokens' THEN coalesce((v.m).model_tier, 'unknown')
                        WHEN 'api_calls' THEN coalesce(v.provider, 'other')
                        ELSE '' END,
                    v_shard,
                    v.amount,
                    -- The price in force at created_at: the current price just read, unless
                    -- the usage is older than the latest price change (one probe of its history).
                    coalesce(v.cost_usd,
                             CASE v.resource_type
                                 WHEN 'llm_tokens' THEN v.amount * CASE
                                     WHEN v.created_at >= (v.m).price_effective_from
                                         THEN (v.m).usd_per_token
                                     ELSE coalesce(senate.usage_price_at('llm_tokens', (v.m).model,
                                                                         v.created_at),
                                                   (v.m).usd_per_token) END
                                 WHEN 'api_calls' THEN v.amount * CASE
                                     WHEN v.created_at >= (v.p).price_effective_from
                                         THEN (v.p).usd_per_call
                                     ELSE coalesce(senate.usage_price_at('api_calls', (v.p).provider,
                                                                         v.created_at),
                                                   (v.p).usd_per_call) END END,
                             0),
                    1)
            ON CONFLICT (entity_type, entity_id, resource_type, usage_day, resource_subclass,
                         shard)
            DO UPDATE SET amount_total = r.amount_total + excluded.amount_total,
                          cost_total_usd = r.cost_total_usd + excluded.cost_total_usd,
                          usage_rows = r.usage_rows + excluded.usage_rows;
            RETURN NULL;
        END IF;
    END IF;

    -- A batch (multi-row INSERT, INSERT ... SELECT, COPY): one statement sums the rows by
    -- rollup key, locks each kind and class FOR KEY SHARE once, upserts the rollups in key
    -- order and tells whether any row may be invalid. Per row that costs the sums and one
    -- cheap test (amounts and costs against their bounds, times against the policy window,
    -- texts by their size in bytes); the largest scale among a group's values is the scale of
    -- their sum. Only when something may be wrong does the exact check at the end run
    -- (raising then rolls it all back, the rollups with the rows).
    v_shard := senate.usage_rollup_shard();
    v_strict := v.strict_validation;
    v_time_zone := coalesce((v.pol).time_zone, 'UTC');
    v_latest := pg_catalog.clock_timestamp()
                + coalesce((v.pol).usage_max_clock_skew, interval '10 minutes');
    v_earliest := pg_catalog.now() - coalesce((v.pol).usage_max_age, interval '10 years');
    IF v.statement_rows <= 20000 THEN
        -- Up to 20000 rows: summed per (kind, entity, class, day, model, provider) by
        -- hashing, then priced per group (a service's batches: many rows, few groups).
        WITH g AS MATERIALIZED (
            SELECT u.entity_type::text AS entity_type, u.entity_id::text AS entity_id,
                   u.resource_type::text AS resource_type,
                   (u.created_at::timestamptz AT TIME ZONE v_time_zone)::date AS usage_day,
                   u.model::text AS model, u.provider::text AS provider,
                   sum(u.amount::numeric) AS amount,
                   -- FILTERs that leave out NULL costs: no sum is started for unpriced rows
                   sum(u.cost::numeric) FILTER (WHERE u.cost IS NOT NULL AND u.amount IS NOT NULL)
                       AS cost_usd,
                   sum(u.amount::numeric) FILTER (WHERE u.cost IS NOT NULL) AS priced_amount,
                   min(u.created_at::timestamptz) FILTER (WHERE u.cost IS NULL) AS oldest_unpriced,
                   count(u.amount) AS usage_rows,
                   bool_or(u.amount IS NULL
                           OR u.amount::numeric < 0 OR u.amount::numeric > 1e15
                           OR u.cost::numeric < 0 OR u.cost::numeric > 1e9
                           OR u.created_at::timestamptz > v_latest
                           OR u.created_at::timestamptz < v_earliest
                           OR pg_catalog.octet_length(u.provider::text) > 200
                           OR pg_catalog.octet_length(u.entity_id::text) > 200
                           OR pg_catalog.octet_length(u.model::text) > 200
                           OR pg_catalog.octet_length(u.artifact_type::text) > 200
                           OR pg_catalog.octet_length(u.artifact_id::text) > 200
                           OR pg_catalog.octet_length(u.analysis_id::text) > 200
                           OR pg_catalog.octet_length(u.task_id::text) > 200
                           OR pg_catalog.octet_length(u.idempotency_key::text) > 200
                           OR pg_catalog.octet_length(u.correction_reason::text) > 2000
                           OR (pg_catalog.pg_column_size(u.metadata) > 8
                               AND pg_catalog.octet_length(u.metadata::text) > 16384))
                       AS suspect
            FROM new_rows AS u
            GROUP BY 1, 2, 3, 4, 5, 6
        ),
        k AS MATERIALIZED (
            -- Each kind and class named, checked and locked FOR KEY SHARE once.
            SELECT et.known IS NOT NULL AS entity_type_known,
                   rt.known IS NOT NULL AS resource_type_known,
                   d.resource_type = 'usd' AS usd_class
            FROM (SELECT DISTINCT g.entity_type, g.resource_type FROM g) AS d
            LEFT JOIN LATERAL (SELECT true AS known FROM public.entity_types AS e
                               WHERE e.entity_type = d.entity_type FOR KEY SHARE) AS et ON true
            LEFT JOIN LATERAL (SELECT true AS known FROM public.resource_types AS t
                               WHERE t.resource_type = d.resource_type FOR KEY SHARE) AS rt
                ON true
        ),
        priced AS MATERIALIZED (
            SELECT g.entity_type, g.entity_id, g.resource_type, g.usage_day,
                   CASE g.resource_type
                       WHEN 'llm_tokens' THEN coalesce(m.model_tier, 'unknown')
                       WHEN 'api_calls' THEN coalesce(g.provider, 'other')
                       ELSE '' END AS resource_subclass,
                   g.amount,
                   coalesce(g.cost_usd, 0)
                   -- Unpriced rows at the current price; rows older than the latest price
                   -- change are put right afterwards, one set-based pass, only when there
                   -- are some (v_backdated).
                   + coalesce(CASE g.resource_type
                                  WHEN 'llm_tokens'
                                      THEN (g.amount - coalesce(g.priced_amount, 0)) * m.usd_per_token
                                  WHEN 'api_calls'
                                      THEN (g.amount - coalesce(g.priced_amount, 0)) * p.usd_per_call
                              END,
                              0) AS cost_usd,
                   g.usage_rows,
                   coalesce(CASE g.resource_type
                                WHEN 'llm_tokens' THEN g.oldest_unpriced < m.price_effective_from
                                WHEN 'api_calls' THEN g.oldest_unpriced < p.price_effective_from
                            END, false) AS backdated,
                   g.suspect
                   OR pg_catalog.scale(g.amount) > 18 OR pg_catalog.scale(g.cost_usd) > 18
                   OR (v_strict
                       AND ((g.resource_type = 'llm_tokens' AND g.model IS NOT NULL
                             AND m.model IS NULL)
                            OR (g.resource_type = 'api_calls' AND g.provider IS NOT NULL
                                AND p.provider IS NULL))) AS suspect
            FROM g
            LEFT JOIN public.llm_models AS m ON m.model = g.model
            LEFT JOIN public.api_providers AS p ON p.provider = g.provider
        ),
        rolled AS (
            INSERT INTO senate.usage_rollups AS r
                (entity_type, entity_id, resource_type, usage_day, resource_subclass, shard,
                 amount_total, cost_total_usd, usage_rows)
            SELECT c.entity_type, c.entity_id, c.resource_type, c.usage_day, c.resource_subclass,
                   v_shard, sum(c.amount), sum(c.cost_usd), sum(c.usage_rows)
            FROM priced AS c
            WHERE c.entity_type IS NOT NULL AND c.entity_id IS NOT NULL
              AND c.resource_type IS NOT NULL AND c.usage_day IS NOT NULL
              AND c.usage_rows > 0
            GROUP BY 1, 2, 3, 4, 5
            ORDER BY 1, 2, 3, 4, 5
            ON CONFLICT (entity_type, entity_id, resource_type, usage_day, resource_subclass,
                         shard)
            DO UPDATE SET amount_total = r.amount_total + excluded.amount_total,
                          cost_total_usd = r.cost_total_usd + excluded.cost_total_usd,
                          usage_rows = r.usage_rows + excluded.usage_rows
        )
        SELECT (SELECT bool_or(NOT k.entity_type_known OR NOT k.resource_type_known) FROM k),
               (SELECT bool_or(c.suspect) FROM priced AS c)
               OR (SELECT bool_or(k.usd_class) FROM k),
               (SELECT bool_or(c.backdated) FROM priced AS c)
        INTO v_unknown_kind, v_suspect, v_backdated;
        IF v_backdated THEN
            -- Usage older than its model's or provider's latest price change (a backfill, or
            -- any usage in the clock-skew window after a price change): each such row adds
            -- amount x (price in force at its created_at - current price) to its rollup, in
            -- one pass over the statement's rows (not one per group: a backfill spread over
            -- many groups stays linear).
            UPDATE senate.usage_rollups AS r
            SET cost_total_usd = r.cost_total_usd + d.difference
            FROM (SELECT u.entity_type::text AS entity_type, u.entity_id::text AS entity_id,
                         u.resource_type::text AS resource_type,
                         (u.created_at::timestamptz AT TIME ZONE v_time_zone)::date AS usage_day,
                         CASE u.resource_type::text
                             WHEN 'llm_tokens' THEN coalesce(m.model_tier, 'unknown')
                             ELSE coalesce(u.provider::text, 'other') END AS resource_subclass,
                         sum(u.amount::numeric
                             * (coalesce(senate.usage_price_at(u.resource_type::text,
                                                               coalesce(m.model, p.provider),
                                                               u.created_at::timestamptz),
                                         coalesce(m.usd_per_token, p.usd_per_call))
                                - coalesce(m.usd_per_token, p.usd_per_call))) AS difference
                  FROM new_rows AS u
                  LEFT JOIN public.llm_models AS m
                    ON u.resource_type::text = 'llm_tokens' AND m.model = u.model::text
                  LEFT JOIN public.api_providers AS p
                    ON u.resource_type::text = 'api_calls' AND p.provider = u.provider::text
                  WHERE u.cost IS NULL AND u.amount IS NOT NULL
                    AND (u.created_at::timestamptz < m.price_effective_from
                         OR u.created_at::timestamptz < p.price_effective_from)
                  GROUP BY 1, 2, 3, 4, 5) AS d
            WHERE r.entity_type = d.entity_type AND r.entity_id = d.entity_id
              AND r.resource_type = d.resource_type AND r.usage_day = d.usage_day
              AND r.resource_subclass = d.resource_subclass AND r.shard = v_shard
              AND d.difference <> 0;
        END IF;
    ELSE
        -- More rows (an import, a backfill): often about as many rollup keys as rows, so the
        -- rows are priced one by one and summed per rollup key in key order, sorted in one
        -- level (hashing them twice costs twice the memory and about twice the time).
        WITH g AS MATERIALIZED (
            SELECT u.entity_type::text AS entity_type, u.entity_id::text AS entity_id,
                   u.resource_type::text AS resource_type,
                   (u.created_at::timestamptz AT TIME ZONE v_time_zone)::date AS usage_day,
                   CASE u.resource_type::text
                       WHEN 'llm_tokens' THEN coalesce(m.model_tier, 'unknown')
                       WHEN 'api_calls' THEN coalesce(u.provider::text, 'other')
                       ELSE '' END AS resource_subclass,
                   sum(u.amount::numeric) AS amount,
                   sum(coalesce(u.cost::numeric,
                                CASE u.resource_type::text
                                    WHEN 'llm_tokens' THEN u.amount::numeric * CASE
                                        WHEN u.created_at::timestamptz >= m.price_effective_from
                                            THEN m.usd_per_token
                                        ELSE coalesce(senate.usage_price_at(
                                                          'llm_tokens', m.model,
                                                          u.created_at::timestamptz),
                                                      m.usd_per_token) END
                                    WHEN 'api_calls' THEN u.amount::numeric * CASE
                                        WHEN u.created_at::timestamptz >= p.price_effective_from
                                            THEN p.usd_per_call
                                        ELSE coalesce(senate.usage_price_at(
                                                          'api_calls', p.provider,
                                                          u.created_at::timestamptz),
                                                      p.usd_per_call) END END,
                                0)) FILTER (WHERE u.amount IS NOT NULL) AS cost_usd,
                   count(u.amount) AS usage_rows,
                   bool_or(u.amount IS NULL
                           OR u.amount::numeric < 0 OR u.amount::numeric > 1e15
                           OR u.cost::numeric < 0 OR u.cost::numeric > 1e9
                           OR pg_catalog.scale(u.cost::numeric) > 18
                           OR u.created_at::timestamptz > v_latest
                           OR u.created_at::timestamptz < v_earliest
                           OR pg_catalog.octet_length(u.provider::text) > 200
                           OR pg_catalog.octet_length(u.entity_id::text) > 200
                           OR pg_catalog.octet_length(u.model::text) > 200
                           OR pg_catalog.octet_length(u.artifact_type::text) > 200
                           OR pg_catalog.octet_length(u.artifact_id::text) > 200
                           OR pg_catalog.octet_length(u.analysis_id::text) > 200
                           OR pg_catalog.octet_length(u.task_id::text) > 200
                           OR pg_catalog.octet_length(u.idempotency_key::text) > 200
                           OR pg_catalog.octet_length(u.correction_reason::text) > 2000
                           OR (pg_catalog.pg_column_size(u.metadata) > 8
                               AND pg_catalog.octet_length(u.metadata::text) > 16384)
                           OR (v_strict
                               AND ((u.resource_type::text = 'llm_tokens'
                                     AND u.model IS NOT NULL AND m.model IS NULL)
                                    OR (u.resource_type::text = 'api_calls'
                                        AND u.provider IS NOT NULL AND p.provider IS NULL))))
                       AS suspect
            FROM new_rows AS u
            LEFT JOIN public.llm_models AS m ON m.model = u.model::text
            LEFT JOIN public.api_providers AS p ON p.provider = u.provider::text
            GROUP BY 1, 2, 3, 4, 5
            ORDER BY 1, 2, 3, 4, 5
        ),
        k AS MATERIALIZED (
            -- Each kind and class named, checked and locked FOR KEY SHARE once.
            SELECT et.known IS NOT NULL AS entity_type_known,
                   rt.known IS NOT NULL AS resource_type_known,
                   d.resource_type = 'usd' AS usd_class
            FROM (SELECT DISTINCT g.entity_type, g.resource_type FROM g) AS d
            LEFT JOIN LATERAL (SELECT true AS known FROM public.entity_types AS e
                               WHERE e.entity_type = d.entity_type FOR KEY SHARE) AS et ON true
            LEFT JOIN LATERAL (SELECT true AS known FROM public.resource_types AS t
                               WHERE t.resource_type = d.resource_type FOR KEY SHARE) AS rt
                ON true
        ),
        rolled AS (
            INSERT INTO senate.usage_rollups AS r
                (entity_type, entity_id, resource_type, usage_day, resource_subclass, shard,
                 amount_total, cost_total_usd, usage_rows)
            SELECT g.entity_type, g.entity_id, g.resource_type, g.usage_day, g.resource_subclass,
                   v_shard, g.amount, g.cost_usd, g.usage_rows
            FROM g
            WHERE g.entity_type IS NOT NULL AND g.entity_id IS NOT NULL
              AND g.resource_type IS NOT NULL AND g.usage_day IS NOT NULL
              AND g.usage_rows > 0
            ORDER BY 1, 2, 3, 4, 5
            ON CONFLICT (entity_type, entity_id, resource_type, usage_day, resource_subclass,
                         shard)
            DO UPDATE SET amount_total = r.amount_total + excluded.amount_total,
                          cost_total_usd = r.cost_total_usd + excluded.cost_total_usd,
                          usage_rows = r.usage_rows + excluded.usage_rows
        )
        SELECT (SELECT bool_or(NOT k.entity_type_known OR NOT k.resource_type_known) FROM k),
               (SELECT bool_or(g.suspect OR pg_catalog.scale(g.amount) > 18) FROM g)
               OR (SELECT bool_or(k.usd_class) FROM k)
        INTO v_unknown_kind, v_suspect;
    END IF;
    IF NOT coalesce(v_suspect, false)
       AND NOT (coalesce(v_unknown_kind, false) AND (v_check_references OR v_strict)) THEN
        RETURN NULL;
    END IF;

    -- Something may be wrong: find the first invalid group exactly, in this order:
    -- references, amount, bounds, then names (a single row is reported the same way).
    WITH g AS MATERIALIZED (
        SELECT u.entity_type::text AS entity_type, u.entity_id::text AS entity_id,
               u.resource_type::text AS resource_type,
               (u.created_at::timestamptz AT TIME ZONE v_time_zone)::date
                   AS usage_day,
               u.model::text AS model, u.provider::text AS provider,
               min(u.amount::numeric) FILTER (
                   WHERE u.corrects_usage_id IS NULL
                     AND (u.amount::numeric < 0 OR u.amount::numeric IN ('NaN', 'Infinity'))
               ) AS bad_amount,
               -- Bounds (senate.value_bounds), tested whatever strict validation says.
               pg_catalog.min(u.amount::numeric) FILTER (
                   WHERE pg_catalog.abs(u.amount::numeric) > 1e15
                      OR pg_catalog.scale(u.amount::numeric) > 18) AS amount_out_of_range,
               pg_catalog.min(u.cost::numeric) FILTER (
                   WHERE pg_catalog.abs(u.cost::numeric) > 1e9
                      OR pg_catalog.scale(u.cost::numeric) > 18) AS cost_out_of_range,
               pg_catalog.min(u.created_at::timestamptz) FILTER (
                   WHERE u.corrects_usage_id IS NULL
                     AND (u.created_at::timestamptz
                              > pg_catalog.clock_timestamp()
                                + coalesce((v.pol).usage_max_clock_skew, interval '10 minutes')
                          OR u.created_at::timestamptz
                              < pg_catalog.now() - coalesce((v.pol).usage_max_age, interval '10 years')))
                   AS created_at_out_of_window,
               pg_catalog.min(CASE
                   WHEN pg_catalog.length(u.provider::text) > 200
                       THEN 'provider:' || pg_catalog.length(u.provider::text) || ' characters:200'
                   WHEN pg_catalog.octet_length(u.metadata::text) > 16384
                       THEN 'metadata:' || pg_catalog.octet_length(u.metadata::text)
                            || ' bytes:16384 bytes'
                   WHEN pg_catalog.length(u.entity_id::text) > 200
                       THEN 'entity_id:' || pg_catalog.length(u.entity_id::text)
                            || ' characters:200'
                   WHEN pg_catalog.length(u.model::text) > 200
                       THEN 'model:' || pg_catalog.length(u.model::text) || ' characters:200'
                   WHEN pg_catalog.length(u.artifact_type::text) > 200
                       THEN 'artifact_type:' || pg_catalog.length(u.artifact_type::text)
                            || ' characters:200'
                   WHEN pg_catalog.length(u.artifact_id::text) > 200
                       THEN 'artifact_id:' || pg_catalog.length(u.artifact_id::text)
                            || ' characters:200'
                   WHEN pg_catalog.length(u.analysis_id::text) > 200
                       THEN 'analysis_id:' || pg_catalog.length(u.analysis_id::text)
                            || ' characters:200'
                   WHEN pg_catalog.length(u.task_id::text) > 200
                       THEN 'task_id:' || pg_catalog.length(u.task_id::text) || ' characters:200'
                   WHEN pg_catalog.length(u.idempotency_key::text) > 200
                       THEN 'idempotency_key:' || pg_catalog.length(u.idempotency_key::text)
                            || ' characters:200'
                   WHEN pg_catalog.length(u.correction_reason::text) > 2000
                       THEN 'correction_reason:' || pg_catalog.length(u.correction_reason::text)
                            || ' characters:2000'
               END) AS too_large
        FROM new_rows AS u
        GROUP BY 1, 2, 3, 4, 5, 6
    ),
    k AS MATERIALIZED (
        -- Each kind and class named, checked and locked FOR KEY SHARE once.
        SELECT d.entity_type, d.resource_type,
               et.known IS NOT NULL AS entity_type_known,
               rt.known IS NOT NULL AS resource_type_known
        FROM (SELECT DISTINCT g.entity_type, g.resource_type FROM g) AS d
        LEFT JOIN LATERAL (SELECT true AS known FROM public.entity_types AS e
                           WHERE e.entity_type = d.entity_type FOR KEY SHARE) AS et ON true
        LEFT JOIN LATERAL (SELECT true AS known FROM public.resource_types AS t
                           WHERE t.resource_type = d.resource_type FOR KEY SHARE) AS rt ON true
    )
    SELECT CASE
               WHEN g.resource_type = 'usd' THEN 12
               WHEN v_check_references AND g.entity_type IS NOT NULL
                    AND NOT k.entity_type_known THEN 1
               WHEN v_check_references AND g.resource_type IS NOT NULL
                    AND NOT k.resource_type_known THEN 2
               WHEN v_strict AND g.bad_amount IS NOT NULL THEN 3
               WHEN g.amount_out_of_range IS NOT NULL THEN 4
               WHEN g.cost_out_of_range IS NOT NULL THEN 5
               WHEN g.created_at_out_of_window IS NOT NULL THEN 6
               WHEN g.too_large IS NOT NULL THEN 7
               WHEN NOT k.entity_type_known THEN 8
               WHEN NOT k.resource_type_known THEN 9
               WHEN g.resource_type = 'llm_tokens' AND g.model IS NOT NULL
                    AND m.model IS NULL THEN 10
               ELSE 11 END AS problem_rank,
           g.entity_type, g.resource_type, g.model, g.provider, g.bad_amount,
           g.amount_out_of_range, g.cost_out_of_range, g.created_at_out_of_window, g.too_large
    INTO v_bad
    FROM g
    JOIN k ON k.entity_type IS NOT DISTINCT FROM g.entity_type
          AND k.resource_type IS NOT DISTINCT FROM g.resource_type
    LEFT JOIN public.llm_models AS m ON m.model = g.model
    LEFT JOIN public.api_providers AS p ON p.provider = g.provider
    WHERE (v_check_references AND g.entity_type IS NOT NULL AND NOT k.entity_type_known)
       OR (v_check_references AND g.resource_type IS NOT NULL AND NOT k.resource_type_known)
       OR g.resource_type = 'usd'
       OR g.amount_out_of_range IS NOT NULL OR g.cost_out_of_range IS NOT NULL
       OR g.created_at_out_of_window IS NOT NULL OR g.too_large IS NOT NULL
       OR (v_strict AND (g.bad_amount IS NOT NULL
                         OR NOT k.entity_type_known
                         OR NOT k.resource_type_known
                         OR (g.resource_type = 'llm_tokens' AND g.model IS NOT NULL
                             AND m.model IS NULL)
                         OR (g.resource_type = 'api_calls' AND g.provider IS NOT NULL
                             AND p.provider IS NULL)))
    ORDER BY 1
    LIMIT 1;
    IF FOUND THEN
        PERFORM senate.raise_usage_insert_error(
            (ARRAY['missing_entity_type', 'missing_resource_type', 'bad_amount',
                   'amount_out_of_range', 'cost_out_of_range', 'created_at_out_of_window',
                   'too_large', 'bad_entity_type', 'bad_resource_type', 'bad_model',
                   'bad_provider', 'usd_usage'])[v_bad.problem_rank],
            CASE v_bad.problem_rank
                WHEN 1 THEN v_bad.entity_type
                WHEN 2 THEN v_bad.resource_type
                WHEN 3 THEN v_bad.bad_amount::text
                WHEN 4 THEN v_bad.amount_out_of_range::text
                WHEN 5 THEN v_bad.cost_out_of_range::text
                WHEN 6 THEN v_bad.created_at_out_of_window::text
                WHEN 7 THEN v_bad.too_large
                WHEN 8 THEN v_bad.entity_type
                WHEN 9 THEN v_bad.resource_type
                WHEN 10 THEN v_bad.model
                WHEN 12 THEN v_bad.resource_type
                ELSE v_bad.provider END);
    END IF;
    RETURN NULL;
END;
$function$;
COMMENT ON FUNCTION senate.account_usage_inserts() IS 'Statement-level AFTER INSERT trigger on resource_usage: locks the named entity kinds and resource classes FOR KEY SHARE (argument ''check_references'', where the deployment''s foreign keys to entity_types and resource_types were replaced by this check; 23503 for an unknown one), validates the rows while senate.settings.usage_strict_validation is on (23514 amount, 23503 entity_type / resource_type / model / provider), refuses rows of the money class usd (S3018), always tests the bounds of senate.value_bounds (22003 amount / cost, S5031 created_at outside the policy window, 22001 text or metadata too large; correction rows are exempt from the time window only) and upserts senate.usage_rollups into the shard this transaction claimed, pricing rows without a cost at the price in force at their created_at (the current price of llm_models / api_providers from its price_effective_from, else senate.price_periods). A one-row statement costs three short statements (read with prices and policy, lock, upsert); a batch, one statement that sums the rows by rollup key (hashed up to 20000 rows, sorted beyond), upserts in key order and tests each row cheaply for anything that may be invalid; only then does an exact check find and raise the first error (references, amount, bounds, names).';

-- define function senate.refuse_forged_correction_row()
CREATE OR REPLACE FUNCTION senate.refuse_forged_correction_row()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
BEGIN
    -- The table's owner, or senate_owner (as whom correct_resource_usage() runs).
    IF NOT pg_has_role(current_user,
                       (SELECT c.relowner FROM pg_class AS c WHERE c.oid = TG_RELID), 'USAGE')
       AND NOT coalesce(pg_has_role(current_user,
                                    (SELECT r.oid FROM pg_roles AS r WHERE r.rolname = 'senate_owner'),
                                    'USAGE'), false)
    THEN
        RAISE EXCEPTION USING ERRCODE = '42501', TABLE = 'resource_usage',
            COLUMN = 'corrects_usage_id',
            MESSAGE = format('role %I may not write correction rows (corrects_usage_id) directly',
                             current_user),
            HINT = 'Corrections are written by correct_resource_usage(usage_id, corrected_amount, '
                   'reason, actor).';
    END IF;
    RETURN NEW;
END;
$function$;
COMMENT ON FUNCTION senate.refuse_forged_correction_row() IS 'BEFORE INSERT row trigger on resource_usage, fired only for rows with corrects_usage_id: only correct_resource_usage() (which runs as senate_owner) or the table owner may write correction rows; anyone else gets 42501.';

-- define function public.compact_usage_rollups(date,date)
CREATE OR REPLACE FUNCTION public.compact_usage_rollups(from_day date DEFAULT NULL::date, to_day date DEFAULT NULL::date)
 RETURNS TABLE(rollup_keys bigint, rows_removed bigint, rows_left bigint)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
 SET lock_timeout TO '5s'
AS $function$
DECLARE
    v_to date := coalesce(to_day,
                          (now() AT TIME ZONE senate.policy_time_zone())::date - 1);
    v_from date := coalesce(from_day, v_to - 6);
    v_shard smallint;
BEGIN
    IF v_from > v_to THEN
        RAISE EXCEPTION USING ERRCODE = '22023', COLUMN = 'from_day',
            MESSAGE = format('compact_usage_rollups: from_day %s is after to_day %s',
                             v_from, v_to),
            HINT = 'Give a window of days with from_day <= to_day (both inclusive), or '
                   'neither for the week before today.';
    END IF;
    v_shard := senate.usage_rollup_shard();
    WITH spread AS (
        -- Keys of those days held in more than one shard row.
        SELECT r.entity_type, r.entity_id, r.resource_type, r.usage_day, r.resource_subclass
        FROM senate.usage_rollups AS r
        WHERE r.usage_day BETWEEN v_from AND v_to
        GROUP BY 1, 2, 3, 4, 5
        HAVING count(*) > 1
    ),
    taken AS (
        SELECT r.entity_type, r.entity_id, r.resource_type, r.usage_day,
               r.resource_subclass, r.shard
        FROM senate.usage_rollups AS r
        JOIN spread AS s USING (entity_type, entity_id, resource_type, usage_day,
                                resource_subclass)
        WHERE r.usage_day BETWEEN v_from AND v_to
          AND r.shard <> v_shard
        FOR UPDATE OF r SKIP LOCKED
    ),
    removed AS (
        DELETE FROM senate.usage_rollups AS r
        USING taken AS t
        WHERE (r.entity_type, r.entity_id, r.resource_type, r.usage_day,
               r.resource_subclass, r.shard)
            = (t.entity_type, t.entity_id, t.resource_type, t.usage_day,
               t.resource_subclass, t.shard)
        RETURNING r.entity_type, r.entity_id, r.resource_type, r.usage_day,
                  r.resource_subclass, r.amount_total, r.cost_total_usd, r.usage_rows
    ),
    merged AS (
        INSERT INTO senate.usage_rollups AS r
            (entity_type, entity_id, resource_type, usage_day, resource_subclass, shard,
             amount_total, cost_total_usd, usage_rows)
        SELECT d.entity_type, d.entity_id, d.resource_type, d.usage_day, d.resource_subclass,
               v_shard, sum(d.amount_total), sum(d.cost_total_usd), sum(d.usage_rows)
        FROM removed AS d
        GROUP BY 1, 2, 3, 4, 5
        ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (entity_type, entity_id, resource_type, usage_day, resource_subclass,
                     shard)
        DO UPDATE SET amount_total = r.amount_total + excluded.amount_total,
                      cost_total_usd = r.cost_total_usd + excluded.cost_total_usd,
                      usage_rows = r.usage_rows + excluded.usage_rows
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM merged), (SELECT count(*) FROM removed)
    INTO rollup_keys, rows_removed;
    -- A new statement sees what the one above wrote.
    SELECT count(*) INTO rows_left
    FROM senate.usage_rollups AS r WHERE r.usage_day BETWEEN v_from AND v_to;
    RETURN NEXT;
END;
$function$;
COMMENT ON FUNCTION public.compact_usage_rollups(date,date) IS 'Merges the writer-shard rows of each usage rollup key on the days from_day .. to_day (inclusive; default the 7 days before today in the policy time zone) into one row, so budget checks read one row per class, tier and day. Totals are unchanged; rows held by a writer''s open transaction are skipped (next run), never waited for. Returns rollup_keys (keys merged into one row), rows_removed (shard rows folded in) and rows_left (rollup rows of those days afterwards). 22023 if from_day > to_day. Run daily (senate-db cycle daily does).';
