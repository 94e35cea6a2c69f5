-- Why: every INSERT into resource_usage paid for five statement-level AFTER triggers, each a
-- PL/pgSQL call with its own pass over the statement's transition table: reference check
-- (0043), forged-correction check and strict validation (0054), reservation settlement (0033)
-- and the rollup (0009/0042). `senate-db bench` measured the cost, per single-row statement
-- on an idle 2-core machine: ~0.37 ms of trigger time against ~0.15 ms for the insert itself
-- (single rows at 0.25 of the bare table when pipelined; COPY at 0.54). Most of it was fixed
-- cost per trigger and per helper call (a non-inlinable SQL function that read
-- senate.settings was re-planned on every call).
--
-- Same guarantees, fewer passes:
--   * t80_account_usage_inserts: one statement-level trigger. A one-row statement (a service
--     recording its usage) costs one read of the row with everything it needs (its kind and
--     class looked up and locked FOR KEY SHARE, as a foreign key would; prices; settings;
--     whether the statement holds more rows) and one upsert. Where 0043 replaced the foreign keys
--     (trigger argument 'check_references') an unknown kind or class is refused (23503) even
--     with strict validation off, as the foreign keys did. A
--     batch costs one SQL statement: the rows summed by rollup key in one hashed pass, each
--     kind and class checked and locked once per distinct pair, the rollups upserted in key
--     order, the first invalid group returned. An invalid row raises the same SQLSTATE naming
--     the same column as before (senate.raise_usage_insert_error), and the statement,
--     rollups included, is rolled back.
--   * t10_refuse_forged_corrections becomes a BEFORE ROW trigger with
--     WHEN (NEW.corrects_usage_id IS NOT NULL): ordinary rows pay one expression, not a
--     trigger call. It still judges the role that wrote the row (SECURITY INVOKER).
--   * t70_settle_spend_reservations becomes an AFTER ROW trigger with
--     WHEN (NEW.reservation_id IS NOT NULL): only rows that name a reservation queue an event.
-- senate.roll_up_usage() keeps the UPDATE and DELETE paths; reconcile_usage_rollups()
-- (unchanged) still proves the rollups equal resource_usage. The replaced functions stay
-- defined: the rollback puts their triggers back.
SET lock_timeout = '5s';

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
            MESSAGE = format('resource_usage.entity_type %L is not a kind in entity_types',
                             p_value),
            DETAIL = 'Every usage row names an entity kind listed in entity_types.',
            HINT = 'Add the kind to entity_types first, or fix the writer.';
    WHEN 'missing_resource_type' THEN
        RAISE EXCEPTION USING
            ERRCODE = '23503', TABLE = 'resource_usage', COLUMN = 'resource_type',
            MESSAGE = format('resource_usage.resource_type %L is not a class in resource_types',
                             p_value),
            DETAIL = 'Every usage row names a resource class listed in resource_types.',
            HINT = 'Use one of the classes in resource_types (llm_tokens, cpu_seconds, '
                   'storage_gb_hours, api_calls).';
    WHEN 'bad_amount' THEN
        RAISE EXCEPTION USING ERRCODE = '23514', TABLE = 'resource_usage', COLUMN = 'amount',
            MESSAGE = format('resource_usage.amount %s is invalid: usage is finite and >= 0 '
                             '(only correct_resource_usage() writes negative corrections)',
                             p_value),
            HINT = 'Record the amount actually used; fix a recorded row with '
                   'correct_resource_usage().';
    WHEN 'bad_entity_type' THEN
        RAISE EXCEPTION USING ERRCODE = '23503', TABLE = 'resource_usage', COLUMN = 'entity_type',
            MESSAGE = format('resource_usage.entity_type %L is not in entity_types', p_value),
            HINT = 'Add the kind to entity_types first.';
    WHEN 'bad_resource_type' THEN
        RAISE EXCEPTION USING ERRCODE = '23503', TABLE = 'resource_usage', COLUMN = 'resource_type',
            MESSAGE = format('resource_usage.resource_type %L is not in resource_types', p_value),
            HINT = 'Use one of the classes in resource_types.';
    WHEN 'bad_model' THEN
        RAISE EXCEPTION USING ERRCODE = '23503', TABLE = 'resource_usage', COLUMN = 'model',
            MESSAGE = format('resource_usage.model %L is not in llm_models', p_value),
            HINT = 'Add the model with its tier and price to llm_models first '
                   '(or turn off senate.settings.usage_strict_validation).';
    ELSE
        RAISE EXCEPTION USING ERRCODE = '23503', TABLE = 'resource_usage', COLUMN = 'provider',
            MESSAGE = format('resource_usage.provider %L is not in api_providers', p_value),
            HINT = 'Add the provider to api_providers first (or use provider ''other'').';
    END CASE;
END;
$$;
COMMENT ON FUNCTION senate.raise_usage_insert_error(text, text) IS
  'Raises the error for an invalid inserted usage row, naming the column and value: '
  'missing_entity_type / missing_resource_type (reference check, 23503), bad_amount (23514), '
  'bad_entity_type / bad_resource_type / bad_model / bad_provider (strict validation, 23503). '
  'Called by senate.account_usage_inserts().';

CREATE OR REPLACE FUNCTION senate.account_usage_inserts()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
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
           (u.created_at::timestamptz AT TIME ZONE
               coalesce((SELECT e.time_zone FROM public.economics_policy AS e WHERE e.is_active),
                        'UTC'))::date AS usage_day,
           u.corrects_usage_id IS NULL
               AND (u.amount::numeric < 0 OR u.amount::numeric IN ('NaN', 'Infinity'))
               AS bad_amount,
           m.model IS NOT NULL AS model_known, m.model_tier, m.usd_per_token,
           p.provider IS NOT NULL AS provider_known, p.usd_per_call,
           et.known IS NOT NULL AS entity_type_known,
           rt.known IS NOT NULL AS resource_type_known,
           coalesce((SELECT s.usage_strict_validation FROM senate.settings AS s), true)
               AS strict_validation,
           -- one row or more: stops reading after two, so a batch is not counted in full
           (SELECT count(*) FROM (SELECT FROM new_rows LIMIT 2) AS n) AS statement_rows
    INTO v
    FROM new_rows AS u
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
        ELSIF v.strict_validation THEN
            IF v.bad_amount THEN
                PERFORM senate.raise_usage_insert_error('bad_amount', v.amount::text);
            ELSIF NOT v.entity_type_known THEN
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
               (u.created_at::timestamptz AT TIME ZONE
                   coalesce((SELECT e.time_zone FROM public.economics_policy AS e
                             WHERE e.is_active), 'UTC'))::date AS usage_day,
               u.model::text AS model, u.provider::text AS provider,
               sum(u.amount::numeric) AS amount,
               sum(u.cost::numeric) FILTER (WHERE u.amount IS NOT NULL) AS cost_usd,
               sum(u.amount::numeric) FILTER (WHERE u.cost IS NULL) AS unpriced_amount,
               count(u.amount) AS usage_rows,
               min(u.amount::numeric) FILTER (
                   WHERE u.corrects_usage_id IS NULL
                     AND (u.amount::numeric < 0 OR u.amount::numeric IN ('NaN', 'Infinity'))
               ) AS bad_amount
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
               WHEN g.bad_amount IS NOT NULL THEN 3
               WHEN NOT k.entity_type_known THEN 4
               WHEN NOT k.resource_type_known THEN 5
               WHEN g.resource_type = 'llm_tokens' AND g.model IS NOT NULL
                    AND m.model IS NULL THEN 6
               ELSE 7 END AS problem_rank,
           g.entity_type, g.resource_type, g.model, g.provider, g.bad_amount
    INTO v_bad
    FROM g
    JOIN k ON k.entity_type IS NOT DISTINCT FROM g.entity_type
          AND k.resource_type IS NOT DISTINCT FROM g.resource_type
    LEFT JOIN public.llm_models AS m ON m.model = g.model
    LEFT JOIN public.api_providers AS p ON p.provider = g.provider
    WHERE (v_check_references AND g.entity_type IS NOT NULL AND NOT k.entity_type_known)
       OR (v_check_references AND g.resource_type IS NOT NULL AND NOT k.resource_type_known)
       OR (v.strict_validation AND (g.bad_amount IS NOT NULL
                         OR NOT k.entity_type_known
                         OR NOT k.resource_type_known
                         OR (g.resource_type = 'llm_tokens' AND g.model IS NOT NULL
                             AND m.model IS NULL)
                         OR (g.resource_type = 'api_calls' AND g.provider IS NOT NULL
                             AND p.provider IS NULL)))
    -- Report in the order the one-row path checks: references, then amount, then names.
    ORDER BY 1
    LIMIT 1;
    IF FOUND THEN
        PERFORM senate.raise_usage_insert_error(
            (ARRAY['missing_entity_type', 'missing_resource_type', 'bad_amount',
                   'bad_entity_type', 'bad_resource_type', 'bad_model',
                   'bad_provider'])[v_bad.problem_rank],
            CASE v_bad.problem_rank
                WHEN 1 THEN v_bad.entity_type
                WHEN 2 THEN v_bad.resource_type
                WHEN 3 THEN v_bad.bad_amount::text
                WHEN 4 THEN v_bad.entity_type
                WHEN 5 THEN v_bad.resource_type
                WHEN 6 THEN v_bad.model
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
  'resource_type / model / provider) and upserts senate.usage_rollups into the shard this '
  'transaction claimed. A one-row statement costs one read and one upsert; a batch, one '
  'statement that sums the rows by rollup key first and upserts in key order.';

-- SECURITY INVOKER on purpose: it judges the role that wrote the row.
CREATE OR REPLACE FUNCTION senate.refuse_forged_correction_row()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
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
$$;
COMMENT ON FUNCTION senate.refuse_forged_correction_row() IS
  'BEFORE INSERT row trigger on resource_usage, fired only for rows with corrects_usage_id: only '
  'correct_resource_usage() (which runs as senate_owner) or the table owner may write correction rows; anyone '
  'else gets 42501.';

CREATE OR REPLACE FUNCTION senate.settle_spend_reservation()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE public.spend_reservations AS r
    SET settled_at = coalesce(r.settled_at, clock_timestamp()),
        settled_amount = coalesce(r.settled_amount, 0) + NEW.amount::numeric
    WHERE r.reservation_id = NEW.reservation_id
      AND r.entity_type = NEW.entity_type::text
      AND r.entity_id = NEW.entity_id::text
      AND r.resource_type = NEW.resource_type::text;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION senate.settle_spend_reservation() IS
  'AFTER INSERT row trigger on resource_usage, fired only for rows naming a reservation: settles '
  'it (same entity and class): the hold ends, settled_amount adds up the rows'' amounts.';

DO $$
DECLARE
    v_check_references boolean := EXISTS (
        SELECT 1 FROM pg_trigger
        WHERE tgrelid = 'public.resource_usage'::regclass
          AND tgname = 't10_check_usage_reference_inserts');
BEGIN
    IF EXISTS (SELECT 1 FROM pg_trigger
               WHERE tgrelid = 'public.resource_usage'::regclass
                 AND tgname = 't80_account_usage_inserts') THEN
        RETURN;  -- applied already
    END IF;
    DROP TRIGGER IF EXISTS t10_check_usage_reference_inserts ON public.resource_usage;
    DROP TRIGGER IF EXISTS t10_validate_usage_inserts ON public.resource_usage;
    DROP TRIGGER IF EXISTS t10_refuse_forged_corrections ON public.resource_usage;
    DROP TRIGGER IF EXISTS t70_settle_spend_reservations ON public.resource_usage;
    DROP TRIGGER IF EXISTS t80_roll_up_usage_inserts ON public.resource_usage;

    IF v_check_references THEN
        CREATE TRIGGER t80_account_usage_inserts
            AFTER INSERT ON public.resource_usage
            REFERENCING NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION senate.account_usage_inserts('check_references');
    ELSE
        CREATE TRIGGER t80_account_usage_inserts
            AFTER INSERT ON public.resource_usage
            REFERENCING NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION senate.account_usage_inserts();
    END IF;
    COMMENT ON TRIGGER t80_account_usage_inserts ON public.resource_usage IS
      'One pass per INSERT / COPY statement: reference locks and checks (23503), strict '
      'validation (23514 / 23503) and the rollups in senate.usage_rollups.';

    CREATE TRIGGER t10_refuse_forged_corrections
        BEFORE INSERT ON public.resource_usage
        FOR EACH ROW WHEN (NEW.corrects_usage_id IS NOT NULL)
        EXECUTE FUNCTION senate.refuse_forged_correction_row();
    COMMENT ON TRIGGER t10_refuse_forged_corrections ON public.resource_usage IS
      'Correction rows come only from correct_resource_usage() (42501 otherwise).';

    CREATE TRIGGER t70_settle_spend_reservations
        AFTER INSERT ON public.resource_usage
        FOR EACH ROW WHEN (NEW.reservation_id IS NOT NULL AND NEW.amount IS NOT NULL)
        EXECUTE FUNCTION senate.settle_spend_reservation();
    COMMENT ON TRIGGER t70_settle_spend_reservations ON public.resource_usage IS
      'Usage rows naming a spend reservation settle it, in the same transaction.';
END;
$$;

-- The functions whose insert triggers were folded stay defined for the rollback; say so where
-- \df+ shows them.
COMMENT ON FUNCTION senate.validate_usage_inserts() IS
  'Not attached since 0058 (strict validation of inserted usage is done by '
  'senate.account_usage_inserts()); kept so that rolling 0058 back restores its trigger.';
COMMENT ON FUNCTION senate.refuse_forged_corrections() IS
  'Not attached since 0058 (replaced by the row trigger senate.refuse_forged_correction_row()); '
  'kept so that rolling 0058 back restores its trigger.';
COMMENT ON FUNCTION senate.settle_spend_reservations() IS
  'Not attached since 0058 (replaced by the row trigger senate.settle_spend_reservation()); '
  'kept so that rolling 0058 back restores its trigger.';
