-- Why (issue 15, "Poison rows" and "Smaller"): resource_usage is append-only, so a poison row
-- stays forever. Its ingest trigger (0058) now also refuses, on every insert path (single
-- row, multi-row, INSERT ... SELECT, COPY, record_resource_usage, correct_resource_usage) and
-- whatever senate.settings.usage_strict_validation says:
--   * an amount beyond 1e15 in absolute value or with more than 18 decimal places (22003,
--     column amount), a cost beyond 1e9 USD or with more than 18 decimal places (22003, cost);
--   * a created_at that is infinite, more than economics_policy.usage_max_clock_skew ahead of
--     the clock or more than usage_max_age in the past (S5031): such usage counts in no
--     current period. Correction rows keep their original's time and are exempt;
--   * metadata over 16384 bytes (as text), provider and the other names over 200 characters,
--     correction_reason over 2000 (22001, naming the column and size): a 26 MB row was
--     accepted.
-- The bounds are the usage_ingest rows of senate.value_bounds (0120). Performance: the tests
-- are expressions in the single read a one-row insert already made (policy read once with
-- the time zone), and aggregates in the batch statement's one hashed pass; no new query.
--
-- Legacy rows already beyond a bound (written before this migration) stay in resource_usage
-- (append-only), but their rollup rows are clamped here, once: a rollup's amount_total to
-- +-1e15 x usage_rows and cost_total_usd to +-1e9 x usage_rows, both rounded to 18 places.
-- Every view, cycle and report reads the rollups only, so none of them can overflow or
-- overflow again (an 8000-digit legacy figure no longer reaches a NOTIFY
-- payload: 0122); reconcile_usage_rollups() reports the clamped keys (the
-- rollups differ from the rows by what was clamped), which is how an operator finds them.
-- New rows are within the bounds, so the clamp changes nothing else.
SET lock_timeout = '5s';

-- The deployed table always had metadata (0003 describes it); make sure the trigger can
-- name it (catalog-only: nullable, no default).
ALTER TABLE public.resource_usage ADD COLUMN IF NOT EXISTS metadata jsonb;

CREATE OR REPLACE FUNCTION senate.shorten_value(p_value text)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN pg_catalog.length(p_value) > 40
                THEN pg_catalog.left(p_value, 20) || '...(' || pg_catalog.length(p_value)
                     || ' characters)'
                ELSE p_value END
$$;
COMMENT ON FUNCTION senate.shorten_value(text) IS
  'A value for an error message: as is up to 40 characters, else its first 20 and its length.';

CREATE OR REPLACE FUNCTION senate.raise_usage_insert_error(p_problem text, p_value text)
RETURNS void
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
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
    ELSE
        RAISE EXCEPTION USING ERRCODE = '23503', TABLE = 'resource_usage', COLUMN = 'provider',
            MESSAGE = pg_catalog.format('resource_usage.provider %L is not in api_providers', p_value),
            HINT = 'Add the provider to api_providers first (or use provider ''other'').';
    END CASE;
END;
$$;
COMMENT ON FUNCTION senate.raise_usage_insert_error(text, text) IS
  'Raises the error for an invalid inserted usage row, naming the column and value: '
  'missing_entity_type / missing_resource_type (reference check, 23503), bad_amount (23514), '
  'bad_entity_type / bad_resource_type / bad_model / bad_provider (strict validation, 23503); '
  'always: amount_out_of_range / cost_out_of_range (22003), created_at_out_of_window (S5031), '
  'too_large (22001; value column:size:bound). Called by senate.account_usage_inserts().';

CREATE OR REPLACE FUNCTION senate.account_usage_inserts()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public, senate, pg_temp
AS $$
DECLARE
    v_check_references boolean := TG_NARGS > 0 AND TG_ARGV[0] = 'check_references';
    v record;
    v_bad record;
    v_shard smallint;
BEGIN
    -- One query reads the statement's first row with everything it needs (kind and class
    -- looked up and locked, prices, settings) and whether the statement holds more rows.
    SELECT u.entity_type::text AS entity_type, u.entity_id::text AS entity_id,
           u.resource_type::text AS resource_type, u.model::text AS model,
           u.provider::text AS provider, u.amount::numeric AS amount, u.cost::numeric AS cost_usd,
           (u.created_at::timestamptz AT TIME ZONE coalesce(pol.time_zone, 'UTC'))::date
               AS usage_day,
           u.created_at::timestamptz AS created_at,
           -- Bounds (senate.value_bounds), tested whatever strict validation says.
           coalesce(pg_catalog.abs(u.amount::numeric) > 1e15
                    OR pg_catalog.scale(u.amount::numeric) > 18, false) AS amount_out_of_range,
           coalesce(pg_catalog.abs(u.cost::numeric) > 1e9
                    OR pg_catalog.scale(u.cost::numeric) > 18, false) AS cost_out_of_range,
           u.corrects_usage_id IS NULL
               AND coalesce(u.created_at::timestamptz
                                > pg_catalog.clock_timestamp()
                                  + coalesce(pol.usage_max_clock_skew, interval '10 minutes')
                            OR u.created_at::timestamptz
                                < pg_catalog.now() - coalesce(pol.usage_max_age, interval '10 years'),
                            false) AS created_at_out_of_window,
           CASE WHEN pg_catalog.length(u.provider::text) > 200
                    THEN 'provider:' || pg_catalog.length(u.provider::text) || ' characters:200'
                WHEN pg_catalog.octet_length(u.metadata::text) > 16384
                    THEN 'metadata:' || pg_catalog.octet_length(u.metadata::text)
                         || ' bytes:16384 bytes'
                WHEN pg_catalog.length(u.entity_id::text) > 200
                    THEN 'entity_id:' || pg_catalog.length(u.entity_id::text) || ' characters:200'
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
           END AS too_large,
           u.corrects_usage_id IS NULL
               AND (u.amount::numeric < 0 OR u.amount::numeric IN ('NaN', 'Infinity'))
               AS bad_amount,
           m.model IS NOT NULL AS model_known, m.model_tier, m.usd_per_token,
           p.provider IS NOT NULL AS provider_known, p.usd_per_call,
           et.known IS NOT NULL AS entity_type_known,
           rt.known IS NOT NULL AS resource_type_known,
           coalesce((SELECT s.usage_strict_validation FROM senate.settings AS s), true)
               AS strict_validation,
           pol.time_zone, pol.usage_max_clock_skew, pol.usage_max_age,
           -- one row or more: stops reading after two, so a batch is not counted in full
           (SELECT pg_catalog.count(*) FROM (SELECT FROM new_rows LIMIT 2) AS n) AS statement_rows
    INTO v
    FROM new_rows AS u
    LEFT JOIN LATERAL (SELECT e.time_zone, e.usage_max_clock_skew, e.usage_max_age
                       FROM public.economics_policy AS e WHERE e.is_active) AS pol ON true
    LEFT JOIN public.llm_models AS m ON m.model = u.model::text
    LEFT JOIN public.api_providers AS p ON p.provider = u.provider::text
    -- The kind and class are locked FOR KEY SHARE, as a foreign key would: a kind or class
    -- cannot be removed under a writer that names it.
    LEFT JOIN LATERAL (SELECT true AS known FROM public.entity_types AS e
                       WHERE e.entity_type = u.entity_type::text FOR KEY SHARE) AS et ON true
    LEFT JOIN LATERAL (SELECT true AS known FROM public.resource_types AS t
                       WHERE t.resource_type = u.resource_type::text FOR KEY SHARE) AS rt ON true
    LIMIT 1;
    IF NOT FOUND THEN
        RETURN NULL;  -- an INSERT of no rows
    END IF;

    IF v.statement_rows = 1 THEN
        -- The common case, a service recording one row: checked here, one upsert.
        IF v_check_references AND v.entity_type IS NOT NULL AND NOT v.entity_type_known THEN
            PERFORM senate.raise_usage_insert_error('missing_entity_type', v.entity_type);
        ELSIF v_check_references AND v.resource_type IS NOT NULL
              AND NOT v.resource_type_known THEN
            PERFORM senate.raise_usage_insert_error('missing_resource_type', v.resource_type);
        ELSIF v.strict_validation AND v.bad_amount THEN
            PERFORM senate.raise_usage_insert_error('bad_amount', v.amount::text);
        ELSIF v.amount_out_of_range THEN
            PERFORM senate.raise_usage_insert_error('amount_out_of_range', v.amount::text);
        ELSIF v.cost_out_of_range THEN
            PERFORM senate.raise_usage_insert_error('cost_out_of_range', v.cost_usd::text);
        ELSIF v.created_at_out_of_window THEN
            PERFORM senate.raise_usage_insert_error('created_at_out_of_window', v.created_at::text);
        ELSIF v.too_large IS NOT NULL THEN
            PERFORM senate.raise_usage_insert_error('too_large', v.too_large);
        ELSIF v.strict_validation THEN
            IF NOT v.entity_type_known THEN
                PERFORM senate.raise_usage_insert_error('bad_entity_type', v.entity_type);
            ELSIF NOT v.resource_type_known THEN
                PERFORM senate.raise_usage_insert_error('bad_resource_type', v.resource_type);
            ELSIF v.resource_type = 'llm_tokens' AND v.model IS NOT NULL
                  AND NOT v.model_known THEN
                PERFORM senate.raise_usage_insert_error('bad_model', v.model);
            ELSIF v.resource_type = 'api_calls' AND v.provider IS NOT NULL
                  AND NOT v.provider_known THEN
                PERFORM senate.raise_usage_insert_error('bad_provider', v.provider);
            END IF;
        END IF;
        IF v.entity_type IS NULL OR v.entity_id IS NULL OR v.resource_type IS NULL
           OR v.usage_day IS NULL OR v.amount IS NULL THEN
            RETURN NULL;  -- not countable (a deployed table without NOT NULLs)
        END IF;
        INSERT INTO senate.usage_rollups AS r
            (entity_type, entity_id, resource_type, usage_day, resource_subclass, shard,
             amount_total, cost_total_usd, usage_rows)
        VALUES (v.entity_type, v.entity_id, v.resource_type, v.usage_day,
                CASE v.resource_type
                    WHEN 'llm_tokens' THEN coalesce(v.model_tier, 'unknown')
                    WHEN 'api_calls' THEN coalesce(v.provider, 'other')
                    ELSE '' END,
                senate.usage_rollup_shard(),
                v.amount,
                coalesce(v.cost_usd,
                         CASE v.resource_type
                             WHEN 'llm_tokens' THEN v.amount * v.usd_per_token
                             WHEN 'api_calls' THEN v.amount * v.usd_per_call END,
                         0),
                1)
        ON CONFLICT (entity_type, entity_id, resource_type, usage_day, resource_subclass, shard)
        DO UPDATE SET amount_total = r.amount_total + excluded.amount_total,
                      cost_total_usd = r.cost_total_usd + excluded.cost_total_usd,
                      usage_rows = r.usage_rows + excluded.usage_rows;
        RETURN NULL;
    END IF;

    v_shard := senate.usage_rollup_shard();
    -- A batch (multi-row INSERT, INSERT ... SELECT, COPY): one statement sums the rows by
    -- rollup key, checks and locks each kind and class once, upserts the rollups in key
    -- order and returns the first invalid group, if any (raising then rolls it all back).
    WITH g AS MATERIALIZED (
        SELECT u.entity_type::text AS entity_type, u.entity_id::text AS entity_id,
               u.resource_type::text AS resource_type,
               (u.created_at::timestamptz AT TIME ZONE coalesce(v.time_zone, 'UTC'))::date
                   AS usage_day,
               u.model::text AS model, u.provider::text AS provider,
               sum(u.amount::numeric) AS amount,
               sum(u.cost::numeric) FILTER (WHERE u.amount IS NOT NULL) AS cost_usd,
               sum(u.amount::numeric) FILTER (WHERE u.cost IS NULL) AS unpriced_amount,
               count(u.amount) AS usage_rows,
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
                                + coalesce(v.usage_max_clock_skew, interval '10 minutes')
                          OR u.created_at::timestamptz
                              < pg_catalog.now() - coalesce(v.usage_max_age, interval '10 years')))
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
    ),
    rolled AS (
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
        FROM g
        LEFT JOIN public.llm_models AS m ON m.model = g.model
        LEFT JOIN public.api_providers AS p ON p.provider = g.provider
        WHERE g.entity_type IS NOT NULL AND g.entity_id IS NOT NULL
          AND g.resource_type IS NOT NULL AND g.usage_day IS NOT NULL
          AND g.usage_rows > 0
        GROUP BY 1, 2, 3, 4, 5
        ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (entity_type, entity_id, resource_type, usage_day, resource_subclass, shard)
        DO UPDATE SET amount_total = r.amount_total + excluded.amount_total,
                      cost_total_usd = r.cost_total_usd + excluded.cost_total_usd,
                      usage_rows = r.usage_rows + excluded.usage_rows
    )
    SELECT CASE
               WHEN v_check_references AND g.entity_type IS NOT NULL
                    AND NOT k.entity_type_known THEN 1
               WHEN v_check_references AND g.resource_type IS NOT NULL
                    AND NOT k.resource_type_known THEN 2
               WHEN v.strict_validation AND g.bad_amount IS NOT NULL THEN 3
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
       OR g.amount_out_of_range IS NOT NULL OR g.cost_out_of_range IS NOT NULL
       OR g.created_at_out_of_window IS NOT NULL OR g.too_large IS NOT NULL
       OR (v.strict_validation AND (g.bad_amount IS NOT NULL
                         OR NOT k.entity_type_known
                         OR NOT k.resource_type_known
                         OR (g.resource_type = 'llm_tokens' AND g.model IS NOT NULL
                             AND m.model IS NULL)
                         OR (g.resource_type = 'api_calls' AND g.provider IS NOT NULL
                             AND p.provider IS NULL)))
    -- Report in the order the one-row path checks: references, amount, bounds, then names.
    ORDER BY 1
    LIMIT 1;
    IF FOUND THEN
        PERFORM senate.raise_usage_insert_error(
            (ARRAY['missing_entity_type', 'missing_resource_type', 'bad_amount',
                   'amount_out_of_range', 'cost_out_of_range', 'created_at_out_of_window',
                   'too_large', 'bad_entity_type', 'bad_resource_type', 'bad_model',
                   'bad_provider'])[v_bad.problem_rank],
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
                ELSE v_bad.provider END);
    END IF;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION senate.account_usage_inserts() IS
  'Statement-level AFTER INSERT trigger on resource_usage: locks the named entity kinds and '
  'resource classes FOR KEY SHARE (argument ''check_references'', where 0043 replaced the '
  'foreign keys; 23503 for an unknown one), validates the rows while '
  'senate.settings.usage_strict_validation is on (23514 amount, 23503 entity_type / '
  'resource_type / model / provider), always tests the bounds of senate.value_bounds (22003 '
  'amount / cost, S5031 created_at outside the policy window, 22001 text or metadata too large; '
  'correction rows are exempt from the time window only) and upserts senate.usage_rollups into the shard this '
  'transaction claimed. A one-row statement costs one read and one upsert; a batch, one '
  'statement that sums the rows by rollup key first and upserts in key order.';

-- Legacy rows beyond the bounds: clamp their rollup rows (see above). Only rows beyond the
-- bound are touched; the scan reads the rollups, not resource_usage. The cost bound of a
-- rollup is 1e24 USD a row: rows without a cost are priced (amount x price per unit), so it
-- is looser than the per-row cost bound; it only has to keep sums far from overflow.
UPDATE senate.usage_rollups AS r
SET amount_total = pg_catalog.sign(r.amount_total)
                   * least(pg_catalog.abs(r.amount_total), 1e15 * greatest(r.usage_rows, 1)),
    cost_total_usd = pg_catalog.sign(r.cost_total_usd)
                     * least(pg_catalog.abs(r.cost_total_usd), 1e24 * greatest(r.usage_rows, 1))
WHERE pg_catalog.abs(r.amount_total) > 1e15 * greatest(r.usage_rows, 1)
   OR pg_catalog.abs(r.cost_total_usd) > 1e24 * greatest(r.usage_rows, 1);
