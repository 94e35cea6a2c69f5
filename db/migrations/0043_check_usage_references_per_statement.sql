-- Why: on a fresh install (0003) resource_usage.entity_type and .resource_type are
-- foreign keys. PostgreSQL checks a foreign key row by row: one query and one row lock
-- per inserted row and per key. Measured with `senate-db bench` on the 2-core bench
-- machine, the two checks cost more than the insert itself on the batch paths (COPY
-- alone: 0.38 of the bare table; multi-row INSERT 0.50), so no batch could come near
-- the 0.85 goal while they were there.
--
-- This replaces them with the same guarantee at statement granularity, in the spirit of
-- the rollup triggers: one AFTER statement trigger per INSERT / UPDATE looks at the
-- statement's DISTINCT (entity_type, resource_type) pairs, locks each referenced row
-- FOR KEY SHARE exactly as a foreign-key check does (so a concurrent DELETE or key
-- change of that reference row waits for the writer, and a REPEATABLE READ writer that
-- races a committed delete gets a serialization failure), and raises 23503
-- (foreign_key_violation, the code the constraint raised) naming the column and value.
-- The referenced side is guarded by triggers on entity_types and resource_types:
-- deleting a row, or changing its key, while usage rows name it raises 23503; TRUNCATE
-- raises 0A000 while resource_usage holds rows (as PostgreSQL does for a referenced
-- table). Those checks need READ COMMITTED (a REPEATABLE READ snapshot could miss usage
-- committed while the change waited for the row lock): other isolation levels get 0A000.
--
-- Only a database whose resource_usage carries exactly the two foreign keys 0003 creates
-- is changed. A deployed table without them keeps its behaviour (no new checks on its
-- writers). The rollback puts the foreign keys back.
SET lock_timeout = '5s';

CREATE OR REPLACE FUNCTION senate.check_usage_references()
RETURNS trigger
LANGUAGE plpgsql
AS $$
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
$$;
COMMENT ON FUNCTION senate.check_usage_references() IS
  'Statement-level trigger on resource_usage (replaces the per-row foreign keys of 0003): locks '
  'the entity_types and resource_types rows the statement''s rows name FOR KEY SHARE, once per '
  'distinct value, and raises 23503 naming the column and value when one does not exist.';

CREATE OR REPLACE FUNCTION senate.refuse_referenced_key_change()
RETURNS trigger
LANGUAGE plpgsql
AS $$
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
$$;
COMMENT ON FUNCTION senate.refuse_referenced_key_change() IS
  'Row-level BEFORE DELETE / UPDATE trigger on entity_types and resource_types (argument: the key '
  'column): refuses (23503) to delete or re-key a value that resource_usage rows still name; '
  'requires READ COMMITTED (0A000 otherwise).';

CREATE OR REPLACE FUNCTION senate.refuse_referenced_truncate()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM public.resource_usage) THEN
        RAISE EXCEPTION USING
            ERRCODE = '0A000', TABLE = TG_TABLE_NAME,
            MESSAGE = format('cannot truncate %s: resource_usage rows name its values',
                             TG_TABLE_NAME);
    END IF;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION senate.refuse_referenced_truncate() IS
  'Statement-level BEFORE TRUNCATE trigger on entity_types and resource_types: refuses (0A000) '
  'while resource_usage holds rows, as PostgreSQL does for a table a foreign key references.';

DO $$
BEGIN
    IF (SELECT count(*) FROM pg_constraint AS c
        WHERE c.conrelid = 'public.resource_usage'::regclass AND c.contype = 'f'
          AND (c.conname, c.confrelid) IN (
              ('resource_usage_entity_type_fkey', 'public.entity_types'::regclass),
              ('resource_usage_resource_type_fkey', 'public.resource_types'::regclass))) <> 2
    THEN
        RAISE NOTICE 'resource_usage does not carry the foreign keys of 0003: left as it is';
        RETURN;
    END IF;
    ALTER TABLE public.resource_usage
        DROP CONSTRAINT resource_usage_entity_type_fkey,
        DROP CONSTRAINT resource_usage_resource_type_fkey;

    CREATE TRIGGER t10_check_usage_reference_inserts
        AFTER INSERT ON public.resource_usage
        REFERENCING NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION senate.check_usage_references();
    CREATE TRIGGER t10_check_usage_reference_updates
        AFTER UPDATE ON public.resource_usage
        REFERENCING NEW TABLE AS new_rows
        FOR EACH STATEMENT EXECUTE FUNCTION senate.check_usage_references();
    COMMENT ON TRIGGER t10_check_usage_reference_inserts ON public.resource_usage IS
      'Inserted rows must name an existing entity kind and resource class (23503); replaces '
      'the per-row foreign keys of 0003.';
    COMMENT ON TRIGGER t10_check_usage_reference_updates ON public.resource_usage IS
      'Updated rows must name an existing entity kind and resource class (23503); replaces '
      'the per-row foreign keys of 0003.';

    CREATE TRIGGER t10_refuse_used_entity_type_change
        BEFORE DELETE OR UPDATE ON public.entity_types
        FOR EACH ROW EXECUTE FUNCTION senate.refuse_referenced_key_change('entity_type');
    CREATE TRIGGER t10_refuse_used_entity_type_truncate
        BEFORE TRUNCATE ON public.entity_types
        FOR EACH STATEMENT EXECUTE FUNCTION senate.refuse_referenced_truncate();
    CREATE TRIGGER t10_refuse_used_resource_type_change
        BEFORE DELETE OR UPDATE ON public.resource_types
        FOR EACH ROW EXECUTE FUNCTION senate.refuse_referenced_key_change('resource_type');
    CREATE TRIGGER t10_refuse_used_resource_type_truncate
        BEFORE TRUNCATE ON public.resource_types
        FOR EACH STATEMENT EXECUTE FUNCTION senate.refuse_referenced_truncate();
    COMMENT ON TRIGGER t10_refuse_used_entity_type_change ON public.entity_types IS
      'An entity kind that usage rows name cannot be deleted or re-keyed (23503).';
    COMMENT ON TRIGGER t10_refuse_used_entity_type_truncate ON public.entity_types IS
      'entity_types cannot be truncated while resource_usage holds rows (0A000).';
    COMMENT ON TRIGGER t10_refuse_used_resource_type_change ON public.resource_types IS
      'A resource class that usage rows name cannot be deleted or re-keyed (23503).';
    COMMENT ON TRIGGER t10_refuse_used_resource_type_truncate ON public.resource_types IS
      'resource_types cannot be truncated while resource_usage holds rows (0A000).';
END;
$$;

-- Trigger functions on the deployed tables run with the owner's rights from the migration that
-- defines them (issue 14 point 9): a legacy writer holding only its grants on the deployed
-- tables keeps working after every migration, not only once 0099/0126 have run. Their bodies
-- name every object schema-qualified; the path is pinned to the catalog.
ALTER FUNCTION senate.check_usage_references() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
