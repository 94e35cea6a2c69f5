-- db/definitions/95_access.sql -- Access: the grant registries applied to roles, and the saved definitions rollbacks restore.
--
-- The current definition of each function and view below; the post-apply hook
-- (db/migrations/post-apply_definitions.py) applies an object whenever its text here
-- changes. Each object starts at its '-- define' line. See README, "Adding a migration".

-- define function senate.registry_comment(text,text,text)
CREATE OR REPLACE FUNCTION senate.registry_comment(p_kind text, p_relation text, p_name text)
 RETURNS text
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;
COMMENT ON FUNCTION senate.registry_comment(text,text,text) IS 'The comment an object of senate.schema_registry carries now (NULL: none or no such object).';

-- define function senate.registry_object_exists(text,text,text)
CREATE OR REPLACE FUNCTION senate.registry_object_exists(p_kind text, p_relation text, p_name text)
 RETURNS boolean
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;
COMMENT ON FUNCTION senate.registry_object_exists(text,text,text) IS 'Whether a table, index (p_relation), column or constraint (p_name of p_relation) exists now.';

-- define function senate.set_registry_comment(text,text,text,text)
CREATE OR REPLACE PROCEDURE senate.set_registry_comment(IN p_kind text, IN p_relation text, IN p_name text, IN p_comment text)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $procedure$
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
$procedure$;
COMMENT ON PROCEDURE senate.set_registry_comment(text,text,text,text) IS 'Sets (NULL: removes) the comment of a registry object if it exists; used by senate.settle_comments and senate.release.';

-- define function senate.settle_comments(text)
CREATE OR REPLACE PROCEDURE senate.settle_comments(IN p_migration text)
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $procedure$
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
$procedure$;
COMMENT ON PROCEDURE senate.settle_comments(text) IS 'Call at the end of a migration that comments objects it may have adopted: every adopted object gets back the comment the deployment gave it; one that had none keeps the project''s comment, recorded as set by p_migration so that its rollback removes it.';

-- define function senate.grant_role_privileges()
CREATE OR REPLACE FUNCTION senate.grant_role_privileges()
 RETURNS SETOF text
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    f record;
    t record;
    r text;
    s text;
    v_secure_config constant text[] := ARRAY['search_path=pg_catalog, pg_temp'];
    v_owner constant oid := (SELECT o.oid FROM pg_catalog.pg_roles AS o WHERE o.rolname = 'senate_owner');
BEGIN
    IF v_owner IS NULL THEN
        RAISE EXCEPTION 'role senate_owner does not exist (created by migration 0056)'
            USING ERRCODE = 'undefined_object',
                  HINT = 'Re-run 0056 as a role with CREATEROLE, or CREATE ROLE senate_owner NOLOGIN.';
    END IF;
    -- A migrating role that is not a superuser hands the functions to senate_owner, which
    -- needs membership in it (ALTER ... OWNER TO). A CREATEROLE migrator that created the role
    -- (ADMIN OPTION on 16+) grants it to itself; otherwise a DBA must have done so.
    IF NOT pg_catalog.pg_has_role(current_user, v_owner, 'USAGE')
       AND NOT (SELECT r.rolsuper FROM pg_catalog.pg_roles AS r WHERE r.rolname = current_user) THEN
        BEGIN
            EXECUTE pg_catalog.format('GRANT senate_owner TO %I', current_user);
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE EXCEPTION 'the migrating role % is not a member of senate_owner and cannot grant it '
                            'to itself', current_user
                USING ERRCODE = 'insufficient_privilege',
                      HINT = pg_catalog.format('As a superuser: GRANT senate_owner TO %I; then migrate again.',
                                               current_user);
        END;
    END IF;
    -- A new owner needs CREATE on the function's schema (superusers skip that check). Schema
    -- senate is ours; on public, the DBA grants it (README "Who owns the definer functions").
    IF NOT pg_catalog.has_schema_privilege(v_owner, 'senate', 'CREATE') THEN
        GRANT USAGE, CREATE ON SCHEMA senate TO senate_owner;
    END IF;

    -- Functions: every overload of each listed name that exists now, and every function of
    -- schema senate (all of it is ours; functions of extensions excepted).
    FOR f IN
        SELECT a.function_name, coalesce(a.granted_to, '{}') AS granted_to,
               coalesce(a.security_definer, p.prosecdef) AS security_definer,
               coalesce(a.revoke_from_public, p.prosecdef AND p.provolatile = 'v'
                        AND p.prorettype <> 'trigger'::regtype) AS revoke_from_public,
               p.oid AS fn_oid, p.oid::regprocedure AS fn, p.prosecdef, p.proowner, p.proconfig,
               (SELECT c FROM unnest(p.proconfig) AS c WHERE c LIKE 'search_path=%') AS search_path_config,
               has_function_privilege('public', p.oid, 'EXECUTE') AS public_can_execute
        FROM pg_catalog.pg_proc AS p
        LEFT JOIN senate.function_access AS a
          ON p.pronamespace = split_part(a.function_name, '.', 1)::regnamespace
         AND p.proname = split_part(a.function_name, '.', 2)
        WHERE (a.function_name IS NOT NULL OR p.pronamespace = 'senate'::regnamespace)
          AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend AS d
                          WHERE d.classid = 'pg_catalog.pg_proc'::regclass AND d.objid = p.oid
                            AND d.deptype = 'e')
        ORDER BY p.pronamespace, p.proname, p.oid
    LOOP
        INSERT INTO senate.function_hardening
            (function_oid, function_signature, was_security_definer, had_search_path,
             public_could_execute, had_owner)
        VALUES (f.fn_oid, f.fn::text, f.prosecdef,
                substr(f.search_path_config, length('search_path=') + 1), f.public_can_execute,
                f.proowner)
        ON CONFLICT (function_oid) DO NOTHING;

        IF f.proowner <> v_owner THEN
            EXECUTE format('ALTER ROUTINE %s OWNER TO senate_owner', f.fn);
            RETURN NEXT format('gave %s to senate_owner', f.fn);
        END IF;
        IF f.security_definer
           AND (NOT f.prosecdef
                OR ARRAY(SELECT c FROM unnest(f.proconfig) AS c WHERE c NOT LIKE 'lock_timeout=%')
                   IS DISTINCT FROM v_secure_config) THEN
            -- Only the pinned path, and a bounded lock wait (lock_timeout, the scheduled cycles),
            -- may stay in a definer function's SET clauses.
            IF EXISTS (SELECT 1 FROM unnest(f.proconfig) AS c
                       WHERE c NOT LIKE 'lock_timeout=%' AND c NOT LIKE 'search_path=%') THEN
                EXECUTE format('ALTER ROUTINE %s RESET ALL', f.fn);
            END IF;
            EXECUTE format('ALTER ROUTINE %s SECURITY DEFINER SET search_path = pg_catalog, pg_temp', f.fn);
            RETURN NEXT format('secured %s', f.fn);
        END IF;
        IF f.revoke_from_public AND f.public_can_execute THEN
            EXECUTE format('REVOKE EXECUTE ON ROUTINE %s FROM PUBLIC', f.fn);
            RETURN NEXT format('revoked EXECUTE on %s from PUBLIC', f.fn);
        END IF;
        FOREACH r IN ARRAY f.granted_to LOOP
            IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_proc AS p,
                                  aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) AS x
                           WHERE p.oid = f.fn_oid AND x.grantee = r::regrole
                             AND x.privilege_type = 'EXECUTE') THEN
                EXECUTE format('GRANT EXECUTE ON ROUTINE %s TO %I', f.fn, r);
                RETURN NEXT format('granted EXECUTE on %s to %s', f.fn, r);
            END IF;
        END LOOP;
    END LOOP;

    -- Schemas: USAGE on senate for the roles granted something in it.
    FOR t IN
        SELECT DISTINCT a.role_name, split_part(a.relation_name, '.', 1) AS schema_name
        FROM senate.table_access AS a
        WHERE split_part(a.relation_name, '.', 1) <> 'public'
        ORDER BY 1, 2
    LOOP
        IF NOT has_schema_privilege(t.role_name, t.schema_name, 'USAGE') THEN
            EXECUTE format('GRANT USAGE ON SCHEMA %I TO %I', t.schema_name, t.role_name);
            RETURN NEXT format('granted USAGE on schema %s to %s', t.schema_name, t.role_name);
        END IF;
    END LOOP;

    -- Tables and views.
    FOR t IN
        SELECT a.role_name, a.privilege, c.oid::regclass AS rel, c.relkind
        FROM senate.table_access AS a
        JOIN pg_catalog.pg_class AS c
          ON c.relnamespace = split_part(a.relation_name, '.', 1)::regnamespace
         AND CASE split_part(a.relation_name, '.', 2)
                 WHEN '<views>' THEN c.relkind IN ('v', 'm')
                 WHEN '<tables>' THEN c.relkind IN ('r', 'p', 'v', 'm', 'f')
                 ELSE c.relname = split_part(a.relation_name, '.', 2)
                      AND c.relkind IN ('r', 'p', 'v', 'm', 'f') END
        WHERE c.relname NOT LIKE '\_yoyo%' AND c.relname <> 'yoyo_lock'
          -- The access machinery is written by migrations only, never by a definer function.
          AND NOT (a.role_name = 'senate_owner'
                   AND c.relnamespace = 'senate'::regnamespace
                   AND c.relname IN ('function_access', 'table_access', 'function_hardening',
                                     'revoked_schema_privileges'))
        ORDER BY a.role_name, c.oid, a.privilege
    LOOP
        -- Grant only what is missing (a GRANT always rewrites the catalog row).
        CONTINUE WHEN t.privilege !~ '\(' AND EXISTS (
            SELECT 1 FROM pg_catalog.pg_class AS c,
                   aclexplode(coalesce(c.relacl, acldefault('r', c.relowner))) AS x
            WHERE c.oid = t.rel AND x.grantee = t.role_name::regrole
              AND x.privilege_type = t.privilege);
        CONTINUE WHEN t.privilege ~ '\(' AND NOT EXISTS (
            SELECT 1
            FROM unnest(string_to_array(substring(t.privilege FROM '\((.*)\)'), ', ')) AS col (name)
            WHERE NOT EXISTS (
                SELECT 1 FROM pg_catalog.pg_attribute AS a, aclexplode(a.attacl) AS x
                WHERE a.attrelid = t.rel AND a.attname = col.name
                  AND x.grantee = t.role_name::regrole
                  AND x.privilege_type = split_part(t.privilege, ' ', 1)));
        EXECUTE format('GRANT %s ON TABLE %s TO %I', t.privilege, t.rel, t.role_name);
        RETURN NEXT format('granted %s on %s to %s', t.privilege, t.rel, t.role_name);
        IF t.privilege = 'INSERT' THEN
            FOR s IN
                SELECT pg_get_serial_sequence(t.rel::text, a.attname)
                FROM pg_catalog.pg_attribute AS a
                WHERE a.attrelid = t.rel AND a.attnum > 0 AND NOT a.attisdropped
                  AND pg_get_serial_sequence(t.rel::text, a.attname) IS NOT NULL
            LOOP
                EXECUTE format('GRANT USAGE ON SEQUENCE %s TO %I', s, t.role_name);
            END LOOP;
        END IF;
    END LOOP;
    RETURN;
END;
$function$;
COMMENT ON FUNCTION senate.grant_role_privileges() IS 'Applies senate.function_access and senate.table_access: gives the listed functions that exist, and every function of schema senate, to senate_owner; makes the SECURITY DEFINER ones run with search_path = pg_catalog, pg_temp (and nothing else in proconfig); revokes EXECUTE from PUBLIC; grants the roles (and senate_owner) their privileges. Records each function''s prior state in senate.function_hardening. Idempotent; returns what it changed. Call it again after adding or replacing functions (CREATE OR REPLACE resets SECURITY DEFINER and SET clauses).';

-- define function senate.revoke_role_privileges()
CREATE OR REPLACE FUNCTION senate.revoke_role_privileges()
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    h record;
    r text;
    obj record;
BEGIN
    -- Restore each hardened function that still exists to its recorded state.
    FOR h IN
        SELECT x.*, p.oid::regprocedure AS fn, p.proowner
        FROM senate.function_hardening AS x
        JOIN pg_catalog.pg_proc AS p ON p.oid = x.function_oid
        ORDER BY x.function_oid
    LOOP
        IF NOT h.was_security_definer THEN
            EXECUTE format('ALTER ROUTINE %s SECURITY INVOKER', h.fn);
        END IF;
        IF h.had_search_path IS NULL THEN
            EXECUTE format('ALTER ROUTINE %s RESET search_path', h.fn);
        ELSE
            PERFORM set_config('search_path', h.had_search_path, true);
            EXECUTE format('ALTER ROUTINE %s SET search_path FROM CURRENT', h.fn);
            PERFORM set_config('search_path', 'pg_catalog, pg_temp', true);
        END IF;
        IF h.public_could_execute AND NOT has_function_privilege('public', h.fn, 'EXECUTE') THEN
            EXECUTE format('GRANT EXECUTE ON ROUTINE %s TO PUBLIC', h.fn);
        END IF;
        IF h.proowner <> h.had_owner
           AND EXISTS (SELECT 1 FROM pg_catalog.pg_roles AS o WHERE o.oid = h.had_owner) THEN
            EXECUTE format('ALTER ROUTINE %s OWNER TO %I', h.fn,
                           (SELECT o.rolname FROM pg_catalog.pg_roles AS o WHERE o.oid = h.had_owner));
        END IF;
    END LOOP;

    -- Revoke whatever the group roles and senate_owner hold on this database's objects.
    FOREACH r IN ARRAY ARRAY['senate_reader', 'senate_writer', 'senate_reviewer', 'senate_admin',
                             'senate_owner'] LOOP
        CONTINUE WHEN NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r);
        FOR obj IN
            SELECT c.oid::regclass AS rel, c.relkind FROM pg_catalog.pg_class AS c
            WHERE c.relnamespace IN ('public'::regnamespace, 'senate'::regnamespace)
              AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')
              AND (EXISTS (SELECT 1 FROM aclexplode(c.relacl) AS x WHERE x.grantee = r::regrole)
                   OR EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a, aclexplode(a.attacl) AS x
                              WHERE a.attrelid = c.oid AND x.grantee = r::regrole))
            ORDER BY c.oid
        LOOP
            IF obj.relkind = 'S' THEN
                EXECUTE format('REVOKE ALL ON SEQUENCE %s FROM %I', obj.rel, r);
            ELSE
                EXECUTE format('REVOKE ALL ON TABLE %s FROM %I', obj.rel, r);
            END IF;
        END LOOP;
        EXECUTE format('REVOKE ALL ON SCHEMA senate FROM %I', r);
        FOR obj IN
            SELECT p.oid::regprocedure AS fn FROM pg_catalog.pg_proc AS p
            WHERE p.pronamespace IN ('public'::regnamespace, 'senate'::regnamespace)
              AND p.prokind IN ('f', 'p')
              AND EXISTS (SELECT 1 FROM aclexplode(p.proacl) AS x WHERE x.grantee = r::regrole)
            ORDER BY p.oid
        LOOP
            EXECUTE format('REVOKE ALL ON ROUTINE %s FROM %I', obj.fn, r);
        END LOOP;
    END LOOP;
END;
$function$;
COMMENT ON FUNCTION senate.revoke_role_privileges() IS 'Undoes senate.grant_role_privileges() in this database (used by the rollback of 0099): restores hardened functions to their recorded state (owner, SECURITY DEFINER, search_path, PUBLIC EXECUTE) and revokes every privilege of the group roles and senate_owner here. The roles themselves stay (they are cluster-global).';

-- define function senate.save_definition(text,regprocedure)
CREATE OR REPLACE FUNCTION senate.save_definition(p_migration text, p_function regprocedure)
 RETURNS void
 LANGUAGE sql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
    INSERT INTO senate.replaced_definitions (migration, function_oid, definition, description)
    VALUES (p_migration, p_function, pg_catalog.pg_get_functiondef(p_function),
            pg_catalog.obj_description(p_function, 'pg_proc'))
    ON CONFLICT (migration, function_oid) DO NOTHING
$function$;
COMMENT ON FUNCTION senate.save_definition(text,regprocedure) IS 'Saves a function''s current definition and comment under a migration number, before that migration replaces it (a re-run keeps the first saved).';

-- define function senate.restore_definitions(text)
CREATE OR REPLACE FUNCTION senate.restore_definitions(p_migration text)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    d record;
BEGIN
    FOR d IN SELECT r.* FROM senate.replaced_definitions AS r
             WHERE r.migration = p_migration ORDER BY r.function_oid LOOP
        EXECUTE d.definition;
        EXECUTE pg_catalog.format('COMMENT ON FUNCTION %s IS %L',
                                  d.function_oid::regprocedure, d.description);
    END LOOP;
    DELETE FROM senate.replaced_definitions AS r WHERE r.migration = p_migration;
END;
$function$;
COMMENT ON FUNCTION senate.restore_definitions(text) IS 'Restores the definitions and comments a migration saved with senate.save_definition() (used by that migration''s rollback) and forgets them.';
