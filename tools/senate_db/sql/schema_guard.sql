-- Run by `senate-db migrate` (senate_db.migrations.apply_migrations) before it applies
-- anything, on every run: refuses (SQLSTATE S5001, nothing written) while any role other than
-- superusers and members of senate_owner may CREATE in schema public or senate.
--
-- Why: our SECURITY DEFINER functions run with search_path = pg_catalog, pg_temp and name
-- every object of ours schema-qualified, but a qualified call public.f(x) still resolves among
-- the overloads of f in public: whoever can CREATE there can plant a better-matching overload
-- (or a table, type, operator) that a definer function then runs with its owner's rights.
--
-- Who counts: the schema owner and every grantee of CREATE (directly or by membership), except
-- superusers, members of senate_owner, the migrating role itself (it writes every definer
-- function's body, so it is trusted as the owner is; 0099 makes it a member of senate_owner
-- when it is not a superuser) and predefined pg_* roles (pg_database_owner counts
-- through the database owner, who is a member of it). PUBLIC holding CREATE on public (the
-- PostgreSQL 14 default) is tolerated only before the first install, whose first migration
-- (0001) revokes it and records that it did.
DO $guard$
DECLARE
    v_owner oid := (SELECT r.oid FROM pg_catalog.pg_roles AS r WHERE r.rolname = 'senate_owner');
    v_installed boolean :=
        pg_catalog.to_regclass('senate.revoked_schema_privileges') IS NOT NULL;
    v_offenders text;
BEGIN
    SELECT pg_catalog.string_agg(pg_catalog.format('%s may CREATE in schema %s', o.who, o.nspname),
                                 ', ' ORDER BY o.nspname, o.who)
    INTO v_offenders
    FROM (
        SELECT DISTINCT n.nspname,
               CASE WHEN h.grantee = 0 THEN 'PUBLIC' ELSE r.rolname::text END AS who
        FROM pg_catalog.pg_namespace AS n
        CROSS JOIN LATERAL (
            SELECT n.nspowner AS grantee
            UNION
            SELECT a.grantee
            FROM pg_catalog.aclexplode(
                     coalesce(n.nspacl, pg_catalog.acldefault('n', n.nspowner))) AS a
            WHERE a.privilege_type = 'CREATE'
        ) AS h
        LEFT JOIN pg_catalog.pg_roles AS r
          ON h.grantee <> 0 AND pg_catalog.pg_has_role(r.oid, h.grantee, 'MEMBER')
        WHERE n.nspname IN ('public', 'senate')
          AND CASE WHEN h.grantee = 0 THEN n.nspname <> 'public' OR v_installed
                   ELSE r.oid IS NOT NULL AND NOT r.rolsuper AND r.rolname !~ '^pg_'
                        AND r.rolname <> current_user
                        AND (v_owner IS NULL
                             OR NOT pg_catalog.pg_has_role(r.oid, v_owner, 'MEMBER')) END
    ) AS o;

    IF v_offenders IS NOT NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'S5001',
            MESSAGE = pg_catalog.format(
                'refusing to migrate: %s; only superusers, members of senate_owner and the migrating role may',
                v_offenders),
            DETAIL = 'A role that can CREATE there can plant an overload that our SECURITY '
                     'DEFINER functions would run with their owner''s rights. Nothing was written.',
            HINT = 'REVOKE CREATE ON SCHEMA <schema> FROM <role>; a database owned by a '
                   'non-superuser may CREATE in public on PostgreSQL 15+ (ALTER DATABASE ... '
                   'OWNER TO a superuser, or ALTER SCHEMA public OWNER TO a trusted role), or '
                   'GRANT senate_owner TO a role you trust as much as the owner.';
    END IF;
END;
$guard$;
