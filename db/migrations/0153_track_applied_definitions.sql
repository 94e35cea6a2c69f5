-- Why (issue 17, "one place per definition"): from this migration on, the current definition
-- of every function and view lives in exactly one file of db/definitions/ (one file per
-- concern), applied after the versioned migrations on every `migrate` by the post-apply hook
-- db/migrations/post-apply_definitions.py. Versioned migrations keep what must be versioned:
-- tables, columns, constraints, indexes, backfills, trigger wiring, grants registries and the
-- decisions that depend on the deployment.
--
-- A no-op migrate must take no lock (CREATE OR REPLACE VIEW takes an ACCESS EXCLUSIVE lock on
-- the view even when nothing changes), so each definition is applied only when it changed:
-- senate.applied_definitions remembers, per object, the SHA-256 of the definition text last
-- applied and the catalog's fingerprint of the object right after. senate.apply_definition()
-- skips an object whose text and fingerprint both still match; anything else (a new or edited
-- definition, an object a rollback or a hand edit changed or dropped) is executed again.
SET lock_timeout = '5s';

CREATE TABLE senate.applied_definitions (
    object_identity   text PRIMARY KEY
                      CHECK (object_identity ~ '^(function|view) (public|senate)\.'),
    definition_sha256 text NOT NULL CHECK (definition_sha256 ~ '^[0-9a-f]{64}$'),
    catalog_md5       text NOT NULL CHECK (catalog_md5 ~ '^[0-9a-f]{32}$'),
    definitions_file  text NOT NULL CHECK (definitions_file ~ '^[0-9]{2}_[a-z0-9_]+\.sql$'),
    applied_at        timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    applied_by        name NOT NULL DEFAULT session_user
);
COMMENT ON TABLE senate.applied_definitions IS
  'One row per function or view defined in db/definitions/: what was last applied, so a migrate '
  'whose definitions did not change executes nothing and takes no lock. Written only by '
  'senate.apply_definition() (run by the post-apply hook as the migrating role).';
COMMENT ON COLUMN senate.applied_definitions.object_identity IS
  '''function <schema.name(argument types)>'' or ''view <schema.name>'', as regprocedure / regclass '
  'print them with search_path pg_catalog.';
COMMENT ON COLUMN senate.applied_definitions.definition_sha256 IS
  'SHA-256 (hex) of the definition text last applied: the CREATE OR REPLACE statement and its COMMENT statements.';
COMMENT ON COLUMN senate.applied_definitions.catalog_md5 IS
  'senate.definition_fingerprint() of the object right after it was applied: MD5 (hex) of its '
  'catalog definition and comments. A different value later means something else changed it.';
COMMENT ON COLUMN senate.applied_definitions.definitions_file IS 'The db/definitions/ file that defines it.';
COMMENT ON COLUMN senate.applied_definitions.applied_at IS 'When it was last applied.';
COMMENT ON COLUMN senate.applied_definitions.applied_by IS 'The login (session_user) that applied it.';
REVOKE ALL ON senate.applied_definitions FROM PUBLIC;

CREATE FUNCTION senate.resolve_definition_identity(p_identity text)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_kind text := split_part(p_identity, ' ', 1);
    v_name text := substr(p_identity, length(v_kind) + 2);
    v_match text[];
    v_type text;
    v_function regprocedure;
    v_view regclass;
BEGIN
    IF v_kind = 'function' THEN
        -- An argument type written schema.table.column%TYPE follows the deployment's column.
        LOOP
            v_match := regexp_match(v_name, '([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)\.([a-z_][a-z0-9_]*)%TYPE');
            EXIT WHEN v_match IS NULL;
            SELECT format_type(a.atttypid, a.atttypmod) INTO v_type
            FROM pg_attribute AS a
            WHERE a.attrelid = to_regclass(v_match[1] || '.' || v_match[2])
              AND a.attname = v_match[3] AND a.attnum > 0 AND NOT a.attisdropped;
            IF NOT FOUND THEN
                RETURN NULL;
            END IF;
            v_name := replace(v_name, v_match[1] || '.' || v_match[2] || '.' || v_match[3] || '%TYPE', v_type);
        END LOOP;
        v_function := to_regprocedure(v_name);
        RETURN CASE WHEN v_function IS NOT NULL THEN 'function ' || v_function::text END;
    ELSIF v_kind = 'view' THEN
        v_view := to_regclass(v_name);
        IF v_view IS NULL
           OR (SELECT c.relkind FROM pg_class AS c WHERE c.oid = v_view) <> 'v' THEN
            RETURN NULL;
        END IF;
        RETURN 'view ' || v_view::text;
    END IF;
    RAISE EXCEPTION USING
        ERRCODE = '22023',
        MESSAGE = format('object_identity %L is not ''function <signature>'' or ''view <name>''', p_identity),
        HINT = 'Start each object of a db/definitions file with a line "-- define function schema.name(types)" or "-- define view schema.name".';
END;
$$;
COMMENT ON FUNCTION senate.resolve_definition_identity(text) IS
  'The object a definitions marker names, as ''function <regprocedure>'' or ''view <regclass>'' '
  'printed with search_path pg_catalog (an argument type written table.column%TYPE resolved to '
  'that column''s type in this database); NULL when no such object exists; 22023 when the '
  'identity is malformed.';

CREATE FUNCTION senate.definition_fingerprint(p_identity text)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_object text := senate.resolve_definition_identity(p_identity);
    v_function regprocedure;
    v_view regclass;
BEGIN
    IF v_object IS NULL THEN
        RETURN NULL;
    ELSIF v_object LIKE 'function %' THEN
        v_function := substr(v_object, 10)::regprocedure;
        RETURN md5(pg_get_functiondef(v_function) || E'\n'
                   || coalesce(obj_description(v_function, 'pg_proc'), ''));
    END IF;
    v_view := substr(v_object, 6)::regclass;
    RETURN md5(pg_get_viewdef(v_view) || E'\n'
               || coalesce((SELECT c.reloptions::text FROM pg_class AS c WHERE c.oid = v_view), '')
               || E'\n' || coalesce(obj_description(v_view, 'pg_class'), '')
               || E'\n' || coalesce((
                    SELECT string_agg(a.attname || '=' || coalesce(col_description(v_view, a.attnum), ''),
                                      E'\n' ORDER BY a.attnum)
                    FROM pg_attribute AS a
                    WHERE a.attrelid = v_view AND a.attnum > 0 AND NOT a.attisdropped), ''));
END;
$$;
COMMENT ON FUNCTION senate.definition_fingerprint(text) IS
  'MD5 (hex) of an object''s definition as the catalog holds it (pg_get_functiondef or '
  'pg_get_viewdef, view options, comments, column comments); NULL when the object does not exist.';

CREATE FUNCTION senate.apply_definition(p_file text, p_identity text, p_definition text)
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_sha text := encode(sha256(convert_to(p_definition, 'UTF8')), 'hex');
    v_before text := senate.definition_fingerprint(p_identity);
    v_after text;
    v_seen senate.applied_definitions;
BEGIN
    SELECT d.* INTO v_seen FROM senate.applied_definitions AS d WHERE d.object_identity = p_identity;
    IF FOUND AND v_seen.definition_sha256 = v_sha AND v_seen.catalog_md5 = v_before THEN
        RETURN 'unchanged';
    END IF;
    EXECUTE p_definition;
    v_after := senate.definition_fingerprint(p_identity);
    IF v_after IS NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = '42704',
            MESSAGE = format('definitions file %s: the definition marked %L did not create it', p_file, p_identity),
            DETAIL = 'After executing the statements under the marker, the catalog has no such object.',
            HINT = 'Make the marker line name exactly the function signature or view the statements below it create.';
    END IF;
    INSERT INTO senate.applied_definitions AS d
        (object_identity, definition_sha256, catalog_md5, definitions_file)
    VALUES (p_identity, v_sha, v_after, p_file)
    ON CONFLICT (object_identity) DO UPDATE
        SET definition_sha256 = excluded.definition_sha256,
            catalog_md5 = excluded.catalog_md5,
            definitions_file = excluded.definitions_file,
            applied_at = excluded.applied_at,
            applied_by = excluded.applied_by;
    RETURN CASE WHEN v_before IS NULL THEN 'created' ELSE 'replaced' END;
END;
$$;
COMMENT ON FUNCTION senate.apply_definition(text, text, text) IS
  'Applies one object of a db/definitions file (its CREATE OR REPLACE and COMMENT statements) '
  'unless the same text was applied last and the catalog still holds what it made; returns '
  'created, replaced or unchanged. Run by the post-apply hook as the migrating role; '
  '42704 when the statements do not create the object their marker names.';
REVOKE ALL ON FUNCTION senate.resolve_definition_identity(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION senate.definition_fingerprint(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION senate.apply_definition(text, text, text) FROM PUBLIC;

DO $$
BEGIN
    PERFORM senate.grant_role_privileges();
END;
$$;
