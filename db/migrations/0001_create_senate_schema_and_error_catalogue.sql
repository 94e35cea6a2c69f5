-- Why: every later migration needs a home for internal machinery (trigger
-- functions, rollups, helpers) that is not part of the public contract, and a
-- documented catalogue of the SQLSTATEs this project raises, so that callers
-- can map errors by code and analysts can look a code up in psql.
--
-- Contract objects (tables, views, functions that services and analysts use)
-- live in "public", where the deployed consumers already find resource_usage
-- and allocation_proposals. Internal machinery lives in schema "senate".
SET lock_timeout = '5s';

-- Before anything is written: a deployment whose resource_usage or allocation_proposals
-- lacks a column the spec requires, or holds one the project cannot adopt, is refused here,
-- so that migrate stops with nothing changed (later migrations would fail part-way, leaving
-- the earlier ones live). The codes are catalogued below (S0010, S0011).
DO $guard$
DECLARE
    v_missing text;
    v_type text;
BEGIN
    IF pg_catalog.to_regclass('public.resource_usage') IS NOT NULL THEN
        SELECT pg_catalog.string_agg(r.col, ', ' ORDER BY r.ord) INTO v_missing
        FROM pg_catalog.unnest(ARRAY['entity_type', 'entity_id', 'resource_type', 'amount',
                                     'cost', 'model', 'created_at'])
             WITH ORDINALITY AS r (col, ord)
        WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a
                          WHERE a.attrelid = 'public.resource_usage'::regclass
                            AND a.attname = r.col AND a.attnum > 0 AND NOT a.attisdropped);
        IF v_missing IS NOT NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'S0011',
                MESSAGE = pg_catalog.format(
                    'public.resource_usage lacks the column(s) the spec requires: %s', v_missing),
                DETAIL = 'Required: entity_type, entity_id, resource_type, amount, cost, model, created_at.',
                HINT = 'Add the columns (or rename the deployment''s own) before migrating; nothing was changed.';
        END IF;
    END IF;
    IF pg_catalog.to_regclass('public.allocation_proposals') IS NOT NULL THEN
        SELECT pg_catalog.string_agg(r.col, ', ' ORDER BY r.ord) INTO v_missing
        FROM pg_catalog.unnest(ARRAY['entity_type', 'entity_id', 'requested_tokens',
                                     'justification', 'evidence', 'status'])
             WITH ORDINALITY AS r (col, ord)
        WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a
                          WHERE a.attrelid = 'public.allocation_proposals'::regclass
                            AND a.attname = r.col AND a.attnum > 0 AND NOT a.attisdropped);
        IF v_missing IS NULL AND NOT EXISTS (
            SELECT 1 FROM pg_catalog.pg_attribute AS a
            WHERE a.attrelid = 'public.allocation_proposals'::regclass
              AND a.attname IN ('proposer_id', 'proposer_agent') AND a.attnum > 0
              AND NOT a.attisdropped) THEN
            v_missing := 'proposer_id or proposer_agent';
        END IF;
        IF v_missing IS NOT NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'S0011',
                MESSAGE = pg_catalog.format(
                    'public.allocation_proposals lacks the column(s) the spec requires: %s',
                    v_missing),
                DETAIL = 'Required: entity_type, entity_id, requested_tokens, justification, evidence, status, and proposer_id or proposer_agent.',
                HINT = 'Add the columns (or rename the deployment''s own) before migrating; nothing was changed.';
        END IF;
        SELECT pg_catalog.format_type(a.atttypid, a.atttypmod) INTO v_type
        FROM pg_catalog.pg_attribute AS a
        WHERE a.attrelid = 'public.allocation_proposals'::regclass AND a.attname = 'votes'
          AND a.attnum > 0 AND NOT a.attisdropped;
        IF v_type IS NOT NULL AND v_type <> 'jsonb' THEN
            RAISE EXCEPTION USING ERRCODE = 'S0010',
                MESSAGE = pg_catalog.format(
                    'public.allocation_proposals.votes is %s; governance keeps the current votes '
                    'there as a jsonb array of vote records and cannot adopt a %s column', v_type, v_type),
                DETAIL = 'The deployment''s votes column would have to be converted, which a migration never does to deployed data.',
                HINT = 'Convert it (ALTER TABLE public.allocation_proposals ALTER COLUMN votes TYPE jsonb USING ...) '
                       'or rename it (e.g. to legacy_votes) before migrating; nothing was changed.';
        END IF;
    END IF;
END;
$guard$;

CREATE SCHEMA IF NOT EXISTS senate;
COMMENT ON SCHEMA senate IS
  'Internal machinery of the Senate economics layer (trigger functions, rollups, helpers). '
  'Not a contract: services use the views and functions in public.';

-- First step of every install: nobody but the owners may create objects in the
-- schemas our SECURITY DEFINER functions name (public and senate), since a
-- better-matching overload planted there would run with their owner's rights.
-- PostgreSQL 14 (and clusters upgraded from it) grants CREATE on schema public
-- to PUBLIC: revoke it, and record that we did so the rollback restores it.
-- `senate-db migrate` refuses to start while any other role may CREATE there
-- (tools/senate_db/sql/schema_guard.sql, SQLSTATE S5001).
CREATE TABLE IF NOT EXISTS senate.revoked_schema_privileges (
    schema_name  name NOT NULL,
    grantee      text NOT NULL,
    privilege    text NOT NULL CHECK (privilege IN ('CREATE')),
    grantor      text NOT NULL,
    grantable    boolean NOT NULL,
    revoked_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (schema_name, grantee, privilege)
);
COMMENT ON TABLE senate.revoked_schema_privileges IS
  'Schema privileges the install revoked (CREATE on public from PUBLIC, the PostgreSQL 14 '
  'default), so the rollback of 0001 grants them back exactly as they were.';
COMMENT ON COLUMN senate.revoked_schema_privileges.schema_name IS 'Schema whose ACL was changed.';
COMMENT ON COLUMN senate.revoked_schema_privileges.grantee IS 'Who held the privilege (PUBLIC or a role name).';
COMMENT ON COLUMN senate.revoked_schema_privileges.privilege IS 'The privilege revoked.';
COMMENT ON COLUMN senate.revoked_schema_privileges.grantor IS 'Role that had granted it (restored as grantor).';
COMMENT ON COLUMN senate.revoked_schema_privileges.grantable IS 'Whether it was held WITH GRANT OPTION.';
COMMENT ON COLUMN senate.revoked_schema_privileges.revoked_at IS 'When the install revoked it.';

DO $$
DECLARE
    x record;
BEGIN
    FOR x IN
        SELECT n.nspname, a.grantor::regrole::text AS grantor, a.is_grantable
        FROM pg_catalog.pg_namespace AS n,
             pg_catalog.aclexplode(coalesce(n.nspacl, pg_catalog.acldefault('n', n.nspowner))) AS a
        WHERE n.nspname = 'public' AND a.grantee = 0 AND a.privilege_type = 'CREATE'
    LOOP
        INSERT INTO senate.revoked_schema_privileges
            (schema_name, grantee, privilege, grantor, grantable)
        VALUES (x.nspname, 'PUBLIC', 'CREATE', x.grantor, x.is_grantable)
        ON CONFLICT DO NOTHING;
        EXECUTE format('REVOKE CREATE ON SCHEMA %I FROM PUBLIC', x.nspname);
    END LOOP;
END;
$$;

CREATE TABLE IF NOT EXISTS senate.error_codes (
    sqlstate    char(5) PRIMARY KEY CHECK (sqlstate ~ '^S[0-9A-Z]{4}$'),
    error_name  text NOT NULL UNIQUE CHECK (error_name ~ '^[a-z][a-z0-9_]*$'),
    meaning     text NOT NULL,
    hint        text NOT NULL
);
COMMENT ON TABLE senate.error_codes IS
  'Catalogue of the SQLSTATEs raised by the Senate economics layer. Our own class starts '
  'with S (implementation-defined range): S0xxx schema compatibility, S1xxx economics, '
  'S2xxx governance, S3xxx spend gate and review cycles, S4xxx integrity and security. '
  'Standard codes (22xxx data exceptions, 23xxx constraint violations) are used where they fit.';
COMMENT ON COLUMN senate.error_codes.sqlstate IS 'Five-character SQLSTATE, class S.';
COMMENT ON COLUMN senate.error_codes.error_name IS 'Stable snake_case name for client-side mapping.';
COMMENT ON COLUMN senate.error_codes.meaning IS 'What the error means.';
COMMENT ON COLUMN senate.error_codes.hint IS 'What the caller should do about it.';

INSERT INTO senate.error_codes (sqlstate, error_name, meaning, hint) VALUES
  ('S0001', 'compatibility_conflict',
   'A write set a compatibility column and its canonical column to different values.',
   'Set only one of the two columns, or set both to the same value.'),
  ('S0010', 'deployed_column_not_adoptable',
   'A deployed table holds a column of the project''s name with a type the project cannot adopt '
   '(allocation_proposals.votes other than jsonb); migrate refused before writing anything.',
   'Convert or rename the deployment''s column before migrating.'),
  ('S0011', 'deployed_column_missing',
   'A deployed resource_usage or allocation_proposals lacks a column the spec requires; migrate '
   'refused before writing anything.',
   'Add the column (or rename the deployment''s own) before migrating.'),
  ('S5001', 'schema_create_not_owner_only',
   'senate-db migrate refused to start: a role other than superusers and members of senate_owner '
   'may CREATE in schema public or senate, where it could plant a better-matching overload of a '
   'function our SECURITY DEFINER functions call. Nothing was written.',
   'REVOKE CREATE ON SCHEMA <schema> FROM <role> (on PostgreSQL 15+ the database owner may CREATE '
   'in public: make the database owned by a superuser, or ALTER SCHEMA public OWNER TO a trusted '
   'role), or GRANT senate_owner TO a role you trust as much as the owner; then migrate again.')
ON CONFLICT (sqlstate) DO NOTHING;

CREATE OR REPLACE FUNCTION senate.raise_error(
    p_sqlstate text, p_message text, p_detail text DEFAULT NULL, p_hint text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION USING
        ERRCODE = p_sqlstate,
        MESSAGE = p_message,
        DETAIL  = coalesce(p_detail, ''),
        HINT    = coalesce(p_hint,
                   (SELECT e.hint FROM senate.error_codes AS e WHERE e.sqlstate = p_sqlstate), '');
END;
$$;
COMMENT ON FUNCTION senate.raise_error(text, text, text, text) IS
  'Raises an error with the given SQLSTATE and message; the HINT defaults to the one '
  'catalogued in senate.error_codes for that SQLSTATE.';

-- The registry of what the project created and what it adopted. A deployment may already hold
-- any table, column, index or constraint a migration declares "IF NOT EXISTS"; the migration
-- first CALLs senate.claim() for it, which records 'created' (absent before: the rollback
-- removes it) or 'adopted' (the deployment's: the rollback never touches it) with the comment
-- it had. senate.settle_comments() (end of such a migration) puts back every comment of an
-- adopted object the migration's COMMENT statements replaced, keeps the project's comment only
-- where the deployment had none, and senate.release() (the rollback) undoes exactly that.
CREATE TABLE IF NOT EXISTS senate.schema_registry (
    entry_id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    migration         text NOT NULL CHECK (migration ~ '^[0-9]{4}$'),
    object_kind       text NOT NULL
        CHECK (object_kind IN ('table', 'column', 'index', 'constraint', 'row')),
    relation          text NOT NULL CHECK (length(relation) BETWEEN 1 AND 300),
    object_name       text NOT NULL DEFAULT '' CHECK (length(object_name) <= 300),
    key_column        text CHECK (length(key_column) <= 63),
    action            text NOT NULL CHECK (action IN ('created', 'adopted')),
    previous_comment  text,
    commented_by      text CHECK (commented_by ~ '^[0-9]{4}$'),
    recorded_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (object_kind, relation, object_name),
    CHECK (object_kind = 'row' OR key_column IS NULL),
    CHECK (object_kind <> 'row' OR (key_column IS NOT NULL AND action = 'created'))
);
COMMENT ON TABLE senate.schema_registry IS
  'What the migrations created and what they adopted from the deployment, one row per object '
  '(tables, columns, indexes, constraints, seed rows written into adopted tables). Rollbacks '
  'remove only the created ones and restore comments; adopted objects are never dropped.';
COMMENT ON COLUMN senate.schema_registry.entry_id IS 'Order of recording; rollbacks undo in reverse.';
COMMENT ON COLUMN senate.schema_registry.migration IS 'Four-digit number of the migration that recorded the object.';
COMMENT ON COLUMN senate.schema_registry.object_kind IS 'table, column, index, constraint, or row (a seed row written into an adopted table).';
COMMENT ON COLUMN senate.schema_registry.relation IS 'Schema-qualified table (for an index: the index itself).';
COMMENT ON COLUMN senate.schema_registry.object_name IS 'Column or constraint name, or the row''s key value; empty for tables and indexes.';
COMMENT ON COLUMN senate.schema_registry.key_column IS 'For rows: the key column that object_name is a value of.';
COMMENT ON COLUMN senate.schema_registry.action IS 'created: absent before, the rollback removes it; adopted: the deployment''s, never dropped.';
COMMENT ON COLUMN senate.schema_registry.previous_comment IS 'For adopted objects: the comment the deployment had (NULL: none).';
COMMENT ON COLUMN senate.schema_registry.commented_by IS 'For adopted objects without a comment: the migration that gave it the project''s comment (its rollback removes it again).';
COMMENT ON COLUMN senate.schema_registry.recorded_at IS 'When the object was recorded.';

CREATE OR REPLACE FUNCTION senate.registry_comment(p_kind text, p_relation text, p_name text)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE p_kind
        WHEN 'column' THEN (SELECT pg_catalog.col_description(a.attrelid, a.attnum)
                            FROM pg_catalog.pg_attribute AS a
                            WHERE a.attrelid = pg_catalog.to_regclass(p_relation)
                              AND a.attname = p_name AND a.attnum > 0 AND NOT a.attisdropped)
        WHEN 'constraint' THEN (SELECT pg_catalog.obj_description(c.oid, 'pg_constraint')
                                FROM pg_catalog.pg_constraint AS c
                                WHERE c.conrelid = pg_catalog.to_regclass(p_relation)
                                  AND c.conname = p_name)
        WHEN 'row' THEN NULL
        ELSE pg_catalog.obj_description(pg_catalog.to_regclass(p_relation), 'pg_class')
    END
$$;
COMMENT ON FUNCTION senate.registry_comment(text, text, text) IS
  'The comment an object of senate.schema_registry carries now (NULL: none or no such object).';

CREATE OR REPLACE FUNCTION senate.registry_object_exists(p_kind text, p_relation text, p_name text)
RETURNS boolean
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE p_kind
        WHEN 'column' THEN EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a
                                   WHERE a.attrelid = pg_catalog.to_regclass(p_relation)
                                     AND a.attname = p_name AND a.attnum > 0
                                     AND NOT a.attisdropped)
        WHEN 'constraint' THEN EXISTS (SELECT 1 FROM pg_catalog.pg_constraint AS c
                                       WHERE c.conrelid = pg_catalog.to_regclass(p_relation)
                                         AND c.conname = p_name)
        ELSE pg_catalog.to_regclass(p_relation) IS NOT NULL
    END
$$;
COMMENT ON FUNCTION senate.registry_object_exists(text, text, text) IS
  'Whether a table, index (p_relation), column or constraint (p_name of p_relation) exists now.';

CREATE OR REPLACE PROCEDURE senate.claim(
    p_migration text, p_kind text, p_relation text, p_name text DEFAULT '')
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_exists boolean := senate.registry_object_exists(p_kind, p_relation, p_name);
BEGIN
    IF p_kind IN ('column', 'constraint') AND EXISTS (
        SELECT 1 FROM senate.schema_registry AS g
        WHERE g.object_kind = 'table' AND g.relation = p_relation AND g.action = 'created'
          AND g.migration = p_migration) THEN
        RETURN;  -- part of the table this migration created: it goes with the table
    END IF;
    INSERT INTO senate.schema_registry
        (migration, object_kind, relation, object_name, action, previous_comment)
    VALUES (p_migration, p_kind, p_relation, p_name,
            CASE WHEN v_exists THEN 'adopted' ELSE 'created' END,
            CASE WHEN v_exists THEN senate.registry_comment(p_kind, p_relation, p_name) END)
    ON CONFLICT (object_kind, relation, object_name) DO NOTHING;
    IF v_exists AND p_kind = 'table' THEN
        -- An adopted table brings its columns: recorded as adopted, with their comments.
        INSERT INTO senate.schema_registry
            (migration, object_kind, relation, object_name, action, previous_comment)
        SELECT p_migration, 'column', p_relation, a.attname, 'adopted',
               pg_catalog.col_description(a.attrelid, a.attnum)
        FROM pg_catalog.pg_attribute AS a
        WHERE a.attrelid = pg_catalog.to_regclass(p_relation) AND a.attnum > 0
          AND NOT a.attisdropped
        ORDER BY a.attnum
        ON CONFLICT (object_kind, relation, object_name) DO NOTHING;
    END IF;
END;
$$;
COMMENT ON PROCEDURE senate.claim(text, text, text, text) IS
  'Call before a CREATE ... IF NOT EXISTS / ADD COLUMN IF NOT EXISTS: records the object '
  '(kind table, column, index or constraint) in senate.schema_registry as created (absent now) '
  'or adopted (the deployment''s, with its comment; for a table also each of its columns). '
  'An object already recorded keeps its first record.';

CREATE OR REPLACE PROCEDURE senate.set_registry_comment(
    p_kind text, p_relation text, p_name text, p_comment text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_rel regclass := pg_catalog.to_regclass(p_relation);
    v_relkind "char";
BEGIN
    IF NOT senate.registry_object_exists(p_kind, p_relation, p_name) THEN
        RETURN;
    END IF;
    SELECT c.relkind INTO v_relkind FROM pg_catalog.pg_class AS c WHERE c.oid = v_rel;
    IF p_kind = 'column' THEN
        EXECUTE pg_catalog.format('COMMENT ON COLUMN %s.%I IS %L', v_rel, p_name, p_comment);
    ELSIF p_kind = 'constraint' THEN
        EXECUTE pg_catalog.format('COMMENT ON CONSTRAINT %I ON %s IS %L', p_name, v_rel, p_comment);
    ELSE
        EXECUTE pg_catalog.format('COMMENT ON %s %s IS %L',
            CASE v_relkind WHEN 'i' THEN 'INDEX' WHEN 'I' THEN 'INDEX' WHEN 'v' THEN 'VIEW'
                           WHEN 'm' THEN 'MATERIALIZED VIEW' WHEN 'f' THEN 'FOREIGN TABLE'
                           ELSE 'TABLE' END,
            v_rel, p_comment);
    END IF;
END;
$$;
COMMENT ON PROCEDURE senate.set_registry_comment(text, text, text, text) IS
  'Sets (NULL: removes) the comment of a registry object if it exists; used by '
  'senate.settle_comments and senate.release.';

CREATE OR REPLACE PROCEDURE senate.settle_comments(p_migration text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
BEGIN
    FOR r IN SELECT g.entry_id, g.object_kind, g.relation, g.object_name, g.previous_comment,
                    g.commented_by,
                    senate.registry_comment(g.object_kind, g.relation, g.object_name) AS now_comment
             FROM senate.schema_registry AS g
             WHERE g.action = 'adopted'
             ORDER BY g.entry_id
    LOOP
        IF r.previous_comment IS NOT NULL THEN
            IF r.now_comment IS DISTINCT FROM r.previous_comment THEN
                CALL senate.set_registry_comment(r.object_kind, r.relation, r.object_name,
                                                 r.previous_comment);
            END IF;
        ELSIF r.now_comment IS NOT NULL AND r.commented_by IS NULL THEN
            UPDATE senate.schema_registry SET commented_by = p_migration
            WHERE entry_id = r.entry_id;
        END IF;
    END LOOP;
END;
$$;
COMMENT ON PROCEDURE senate.settle_comments(text) IS
  'Call at the end of a migration that comments objects it may have adopted: every adopted '
  'object gets back the comment the deployment gave it; one that had none keeps the project''s '
  'comment, recorded as set by p_migration so that its rollback removes it.';

CREATE OR REPLACE PROCEDURE senate.release(p_migration text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    r record;
    v_rel regclass;
BEGIN
    FOR r IN SELECT g.entry_id, g.object_kind, g.relation, g.object_name
             FROM senate.schema_registry AS g
             WHERE g.action = 'adopted' AND g.commented_by = p_migration
    LOOP
        CALL senate.set_registry_comment(r.object_kind, r.relation, r.object_name, NULL);
        UPDATE senate.schema_registry SET commented_by = NULL WHERE entry_id = r.entry_id;
    END LOOP;
    FOR r IN SELECT g.object_kind, g.relation, g.object_name, g.key_column
             FROM senate.schema_registry AS g
             WHERE g.migration = p_migration AND g.action = 'created'
             ORDER BY g.entry_id DESC
    LOOP
        v_rel := pg_catalog.to_regclass(r.relation);
        CONTINUE WHEN v_rel IS NULL
            OR NOT senate.registry_object_exists(r.object_kind, r.relation, r.object_name)
               AND r.object_kind <> 'row';
        CASE r.object_kind
            WHEN 'table' THEN EXECUTE pg_catalog.format('DROP TABLE %s', v_rel);
            WHEN 'index' THEN EXECUTE pg_catalog.format('DROP INDEX %s', v_rel);
            WHEN 'column' THEN
                EXECUTE pg_catalog.format('ALTER TABLE %s DROP COLUMN %I', v_rel, r.object_name);
            WHEN 'constraint' THEN
                EXECUTE pg_catalog.format('ALTER TABLE %s DROP CONSTRAINT %I', v_rel, r.object_name);
            WHEN 'row' THEN
                EXECUTE pg_catalog.format('DELETE FROM %s WHERE %I::text = $1', v_rel, r.key_column)
                USING r.object_name;
        END CASE;
    END LOOP;
    DELETE FROM senate.schema_registry WHERE migration = p_migration;
END;
$$;
COMMENT ON PROCEDURE senate.release(text) IS
  'The registry part of a rollback: removes the comments p_migration gave adopted objects, then '
  'drops what p_migration created (rows, constraints, columns, indexes, tables; newest first) '
  'and forgets its records. Adopted objects and their data are never touched.';
