-- Why: a usage row that names an unknown model, provider, entity kind or
-- resource class, or carries a negative or non-finite amount, is silently
-- mis-counted (an unknown model rolls up into tier "unknown", outside every
-- tier budget; a negative amount hands budget back). On a fresh install such
-- rows are refused when written, with a standard SQLSTATE naming the column:
--   unknown entity_type, resource_type, model (llm_tokens) or provider
--   (api_calls): 23503; negative, NaN or infinite amount: 23514.
-- A NULL model on an llm_tokens row stays allowed (it is charged to the
-- entity's token budget, tier "unknown"): the deployed writers and the
-- contract do not require one.
-- Deployed writers may write names the reference tables do not hold yet, so
-- this follows senate.settings.usage_strict_validation (off on a deployment
-- that already had usage rows, see 0050).
--
-- Independently of that setting, correction rows (corrects_usage_id set) can
-- only come from correct_resource_usage() (or the table owner): otherwise any
-- writer could hand itself budget back with a negative "correction" (42501).
--
-- Both checks are statement-level AFTER INSERT triggers over the statement's
-- transition table: a batch of N rows pays one query, not N. Named t10_ so they
-- run before the t80_ rollups; an error rolls the whole statement back.
SET lock_timeout = '5s';

CREATE OR REPLACE FUNCTION senate.validate_usage_inserts()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_bad record;
BEGIN
    IF NOT senate.usage_strict_validation() THEN
        RETURN NULL;
    END IF;

    -- One pass over the statement's rows finds the first bad one (the common case: none).
    SELECT n.amount, n.entity_type, n.resource_type, n.model, n.provider,
           n.corrects_usage_id IS NULL
               AND (n.amount::numeric < 0 OR n.amount::numeric IN ('NaN', 'Infinity')) AS bad_amount,
           et.entity_type IS NULL AS bad_entity_type,
           rt.resource_type IS NULL AS bad_resource_type,
           n.resource_type::text = 'llm_tokens' AND n.model IS NOT NULL
               AND m.model IS NULL AS bad_model,
           n.resource_type::text = 'api_calls' AND n.provider IS NOT NULL
               AND p.provider IS NULL AS bad_provider
    INTO v_bad
    FROM new_rows AS n
    LEFT JOIN public.entity_types AS et ON et.entity_type = n.entity_type::text
    LEFT JOIN public.resource_types AS rt ON rt.resource_type = n.resource_type::text
    LEFT JOIN public.llm_models AS m ON m.model = n.model::text
    LEFT JOIN public.api_providers AS p ON p.provider = n.provider::text
    WHERE (n.corrects_usage_id IS NULL
           AND (n.amount::numeric < 0 OR n.amount::numeric IN ('NaN', 'Infinity')))
       OR et.entity_type IS NULL
       OR rt.resource_type IS NULL
       OR (n.resource_type::text = 'llm_tokens' AND n.model IS NOT NULL AND m.model IS NULL)
       OR (n.resource_type::text = 'api_calls' AND n.provider IS NOT NULL AND p.provider IS NULL)
    LIMIT 1;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;

    IF v_bad.bad_amount THEN
        RAISE EXCEPTION USING ERRCODE = '23514', TABLE = 'resource_usage', COLUMN = 'amount',
            MESSAGE = format('resource_usage.amount %s is invalid: usage is finite and >= 0 '
                             '(only correct_resource_usage() writes negative corrections)',
                             v_bad.amount);
    ELSIF v_bad.bad_entity_type THEN
        RAISE EXCEPTION USING ERRCODE = '23503', TABLE = 'resource_usage', COLUMN = 'entity_type',
            MESSAGE = format('resource_usage.entity_type %L is not in entity_types', v_bad.entity_type),
            HINT = 'Add the kind to entity_types first.';
    ELSIF v_bad.bad_resource_type THEN
        RAISE EXCEPTION USING ERRCODE = '23503', TABLE = 'resource_usage', COLUMN = 'resource_type',
            MESSAGE = format('resource_usage.resource_type %L is not in resource_types',
                             v_bad.resource_type);
    ELSIF v_bad.bad_model THEN
        RAISE EXCEPTION USING ERRCODE = '23503', TABLE = 'resource_usage', COLUMN = 'model',
            MESSAGE = format('resource_usage.model %L is not in llm_models', v_bad.model),
            HINT = 'Add the model with its tier and price to llm_models first '
                   '(or turn off senate.settings.usage_strict_validation).';
    ELSE
        RAISE EXCEPTION USING ERRCODE = '23503', TABLE = 'resource_usage', COLUMN = 'provider',
            MESSAGE = format('resource_usage.provider %L is not in api_providers', v_bad.provider),
            HINT = 'Add the provider to api_providers first (or use provider ''other'').';
    END IF;
END;
$$;
COMMENT ON FUNCTION senate.validate_usage_inserts() IS
  'Statement-level trigger on resource_usage inserts, while senate.settings.usage_strict_validation '
  'is on: refuses negative or non-finite amounts outside corrections (23514) and unknown entity '
  'types, resource classes, models of llm_tokens rows and providers of api_calls rows (23503).';

-- SECURITY INVOKER on purpose: it judges the role that wrote the rows.
CREATE OR REPLACE FUNCTION senate.refuse_forged_corrections()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM new_rows AS n WHERE n.corrects_usage_id IS NOT NULL)
       AND NOT pg_has_role(current_user,
                           (SELECT c.relowner FROM pg_class AS c WHERE c.oid = TG_RELID), 'USAGE')
       -- senate_owner: correct_resource_usage() runs as it
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
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION senate.refuse_forged_corrections() IS
  'Statement-level trigger on resource_usage inserts: only correct_resource_usage() (which runs '
  'as the table owner) may write correction rows; anyone else gets 42501.';

DROP TRIGGER IF EXISTS t10_validate_usage_inserts ON public.resource_usage;
CREATE TRIGGER t10_validate_usage_inserts
    AFTER INSERT ON public.resource_usage
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION senate.validate_usage_inserts();
COMMENT ON TRIGGER t10_validate_usage_inserts ON public.resource_usage IS
  'Strict validation of inserted usage (senate.settings.usage_strict_validation): 23514 / 23503.';

DROP TRIGGER IF EXISTS t10_refuse_forged_corrections ON public.resource_usage;
CREATE TRIGGER t10_refuse_forged_corrections
    AFTER INSERT ON public.resource_usage
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION senate.refuse_forged_corrections();
COMMENT ON TRIGGER t10_refuse_forged_corrections ON public.resource_usage IS
  'Correction rows come only from correct_resource_usage() (42501 otherwise).';

-- Trigger functions on the deployed tables run with the owner's rights from the migration that
-- defines them (issue 14 point 9): a legacy writer holding only its grants on the deployed
-- tables keeps working after every migration, not only once 0099/0126 have run. Their bodies
-- name every object schema-qualified; the path is pinned to the catalog.
ALTER FUNCTION senate.validate_usage_inserts() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION senate.refuse_forged_corrections() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
