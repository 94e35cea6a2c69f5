-- Pre-flight of `senate-db check` / `senate-db migrate`: one read-only query over the catalog.
-- $1 (jsonb) is built by tools/senate_db/preflight.py: the project's objects (from
-- db/schema.sql, each with the migration that creates it), the applied and all migration ids,
-- the operator's --schema, the switches and the measured rates. Each row is one finding:
-- (severity BLOCKER | WARNING | INFO, code, object, message). Blockers refuse the migration.
WITH arg AS (
    SELECT $1::jsonb AS j
),
opt AS (
    SELECT j ->> 'schema' AS schema_opt,
           (j ->> 'partitioned_supported')::boolean AS partitioned_ok,
           (j ->> 'triggers_after_t20_supported')::boolean AS triggers_ok,
           (j ->> 'backfill_rows_per_second_quiet')::numeric AS rate_quiet,
           (j ->> 'backfill_rows_per_second_triggers_on')::numeric AS rate_loud,
           (j ->> 'longest_writer_wait_ms')::numeric AS longest_wait_ms,
           (j ->> 'long_backfill_seconds')::numeric AS long_backfill_s,
           ARRAY(SELECT jsonb_array_elements_text(j -> 'applied')) AS applied,
           ARRAY(SELECT x FROM jsonb_array_elements_text(j -> 'migrations') AS x
                 WHERE x NOT IN (SELECT jsonb_array_elements_text(j -> 'applied'))) AS pending,
           (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) AS is_super,
           (SELECT rolbypassrls FROM pg_roles WHERE rolname = current_user) AS bypass,
           -- CREATE ROLE needs CREATEROLE; granting a role needs ADMIN OPTION on it (on
           -- PostgreSQL 15 CREATEROLE is enough; on 16+ its creator holds ADMIN OPTION).
           (SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user) AS may_create_roles,
           (SELECT rolcreaterole FROM pg_roles WHERE rolname = current_user)
             AND current_setting('server_version_num')::int < 160000 AS may_grant_any_role
    FROM arg
),
-- The cluster-wide roles the migrations create and the membership each needs: made once per
-- cluster by the migrating role when it may create roles, else beforehand by a DBA
-- (db/docs/operations.md, "Roles made by a DBA").
group_roles AS (
    SELECT g.role_name, g.member_of, g.migration,
           r.oid IS NOT NULL AS present,
           EXISTS (SELECT 1 FROM unnest(o.pending) AS p WHERE p LIKE g.migration || '\_%') AS pending,
           -- may the migrating role grant membership in this role (a role it creates: yes)
           CASE WHEN r.oid IS NULL THEN o.may_create_roles
                ELSE o.is_super OR o.may_grant_any_role
                     OR pg_has_role(current_user, r.oid, 'MEMBER WITH ADMIN OPTION') END AS grantable,
           format('CREATE ROLE %I NOLOGIN%s;', g.role_name,
                  CASE WHEN g.member_of IS NULL THEN '' ELSE format(' IN ROLE %I', g.member_of) END) AS create_sql
    FROM (VALUES ('senate_reader', NULL, '0056'),
                 ('senate_writer', 'senate_reader', '0056'),
                 ('senate_reviewer', 'senate_reader', '0056'),
                 ('senate_admin', 'senate_reader', '0056'),
                 ('senate_owner', NULL, '0056'),
                 ('senate_exchange', 'senate_reader', '0125'),
                 ('senate_atlas', 'senate_reader', '0125')) AS g (role_name, member_of, migration)
    CROSS JOIN opt AS o
    LEFT JOIN pg_roles AS r ON r.rolname = g.role_name
),
-- Is an object (tagged with the migration that creates it) the project's own already?
proj_rel AS (
    SELECT r ->> 'schema' AS nsp, r ->> 'name' AS name, r ->> 'kind' AS kind,
           r ->> 'table' AS of_table, r ->> 'migration' AS migration,
           (r ->> 'migration') = ANY (o.applied)
             OR (r ->> 'migration' IS NULL AND cardinality(o.applied) > 0)
             -- schema senate is the project's own once its first migration created it
             OR (r ->> 'schema' = 'senate' AND (SELECT j ->> 'first_migration' FROM arg) = ANY (o.applied)) AS ours
    FROM arg, opt AS o, jsonb_array_elements(j -> 'relations') AS r
),
proj_fn AS (
    SELECT f ->> 'schema' AS nsp, f ->> 'name' AS name, f ->> 'args' AS args,
           f ->> 'kind' AS kind, f ->> 'migration' AS migration,
           (f ->> 'migration') = ANY (o.applied)
             OR (f ->> 'migration' IS NULL AND cardinality(o.applied) > 0)
             -- schema senate is the project's own once its first migration created it
             OR (f ->> 'schema' = 'senate' AND (SELECT j ->> 'first_migration' FROM arg) = ANY (o.applied)) AS ours
    FROM arg, opt AS o, jsonb_array_elements(j -> 'functions') AS f
),
proj_trg AS (
    SELECT t ->> 'schema' AS nsp, t ->> 'table' AS tbl, t ->> 'name' AS name,
           t ->> 'migration' AS migration,
           (t ->> 'migration') = ANY (o.applied)
             OR (t ->> 'migration' IS NULL AND cardinality(o.applied) > 0)
             -- schema senate is the project's own once its first migration created it
             OR (t ->> 'schema' = 'senate' AND (SELECT j ->> 'first_migration' FROM arg) = ANY (o.applied)) AS ours
    FROM arg, opt AS o, jsonb_array_elements(j -> 'triggers') AS t
),
proj_col AS (
    SELECT c ->> 'schema' AS nsp, c ->> 'table' AS tbl, c ->> 'column' AS col,
           c ->> 'type' AS typ, to_regtype(c ->> 'type') AS typ_oid,
           coalesce((c ->> 'added')::boolean, false) AS added
    FROM arg, jsonb_array_elements(j -> 'columns') AS c
),
deployed_names (tbl) AS (
    VALUES ('resource_usage'), ('allocation_proposals')
),
-- Every search_path a consumer of this database may have: the migrating role's, and each
-- ALTER DATABASE / ALTER ROLE ... SET search_path applying to this database.
paths AS (
    SELECT format('the migrating role %s', current_user) AS who, current_schemas(false) AS schemas
    UNION ALL
    SELECT CASE WHEN s.setrole = 0 THEN format('database %s', current_database())
                ELSE format('role %s', r.rolname) END,
           ARRAY(SELECT CASE WHEN btrim(x) IN ('"$user"', '$user') THEN coalesce(r.rolname::text, '$user')
                             ELSE btrim(btrim(x), '"') END
                 FROM unnest(string_to_array(substr(cfg, length('search_path=') + 1), ',')) AS x)
    FROM pg_db_role_setting AS s
    LEFT JOIN pg_roles AS r ON r.oid = s.setrole
    CROSS JOIN LATERAL unnest(s.setconfig) AS cfg
    WHERE s.setdatabase IN (0, (SELECT oid FROM pg_database WHERE datname = current_database()))
      AND cfg LIKE 'search\_path=%'
),
found AS (
    SELECT c.oid, n.nspname::text AS nsp, c.relname::text AS tbl, c.relkind,
           -- a view over public's table (the remedy below) forwards consumers to it
           c.relkind = 'v' AND EXISTS (
               SELECT 1 FROM pg_rewrite AS rw
               JOIN pg_depend AS dp ON dp.classid = 'pg_rewrite'::regclass AND dp.objid = rw.oid
               WHERE rw.ev_class = c.oid
                 AND dp.refobjid = to_regclass(format('public.%I', c.relname))) AS forwards
    FROM pg_class AS c
    JOIN pg_namespace AS n ON n.oid = c.relnamespace
    WHERE c.relname IN (SELECT tbl FROM deployed_names)
      AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
      AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'senate')
      AND n.nspname NOT LIKE 'pg\_toast%' AND n.nspname NOT LIKE 'pg\_temp%'
),
resolved AS (
    SELECT d.tbl, p.who, array_to_string(p.schemas, ', ') AS path,
           (SELECT f.nsp FROM unnest(p.schemas) WITH ORDINALITY AS s (nsp, ord)
            JOIN found AS f ON f.nsp = s.nsp AND f.tbl = d.tbl
            ORDER BY s.ord LIMIT 1) AS nsp
    FROM paths AS p CROSS JOIN deployed_names AS d
),
-- The tables the migrations will alter or read: the two deployed ones, and every project table
-- a deployment already has (adopted by CREATE TABLE IF NOT EXISTS), all in schema public.
dep AS (
    SELECT c.oid, c.relname::text AS tbl, c.relkind, c.relowner, c.relrowsecurity,
           c.relforcerowsecurity, c.relreplident, c.reltuples, c.relpages,
           c.relname IN (SELECT tbl FROM deployed_names) AS is_deployed
    FROM pg_class AS c
    WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p')
      AND (c.relname IN (SELECT tbl FROM deployed_names)
           OR c.relname IN (SELECT name FROM proj_rel WHERE nsp = 'public' AND kind = 'table' AND NOT ours))
),
dep_rows AS (
    SELECT d.*,
           CASE WHEN d.relkind = 'r' AND d.reltuples >= 0 THEN d.reltuples::bigint
                WHEN d.relkind = 'p' AND NOT EXISTS (
                    SELECT 1 FROM pg_partition_tree(d.oid) AS t JOIN pg_class AS l ON l.oid = t.relid
                    WHERE t.isleaf AND l.reltuples < 0)
                THEN (SELECT coalesce(sum(l.reltuples), 0)::bigint FROM pg_partition_tree(d.oid) AS t
                      JOIN pg_class AS l ON l.oid = t.relid WHERE t.isleaf)
           END AS estimated
    FROM dep AS d
),
dep_counted AS (
    -- Tables never analyzed have no estimate: the harness counted them (argument "counts").
    SELECT d.*,
           coalesce(d.estimated, ((SELECT j FROM arg) -> 'counts' ->> d.tbl)::bigint, 0) AS n_rows,
           d.estimated IS NOT NULL AS is_estimate
    FROM dep_rows AS d
),
dep_cols AS (
    SELECT d.tbl, a.attname::text AS col, a.atttypid, format_type(a.atttypid, a.atttypmod) AS typ,
           a.attgenerated
    FROM dep AS d
    JOIN pg_attribute AS a ON a.attrelid = d.oid AND a.attnum > 0 AND NOT a.attisdropped
),
-- The compatibility columns and the canonical column each mirrors (0004).
compat (tbl, col, canonical) AS (
    VALUES ('resource_usage', 'amount_used', 'amount'),
           ('resource_usage', 'timestamp', 'created_at'),
           ('allocation_proposals', 'requested_amount', 'requested_tokens')
),
-- Columns the project adds to a deployed table that lacks them, with the type it would add.
added AS (
    SELECT d.tbl, pc.col,
           coalesce((SELECT dc.typ FROM compat AS k JOIN dep_cols AS dc
                     ON dc.tbl = k.tbl AND dc.col = k.canonical
                     WHERE k.tbl = pc.tbl AND k.col = pc.col), pc.typ) AS typ
    FROM dep AS d
    JOIN proj_col AS pc ON pc.nsp = 'public' AND pc.tbl = d.tbl
    WHERE d.is_deployed
      AND NOT EXISTS (SELECT 1 FROM dep_cols AS dc WHERE dc.tbl = d.tbl AND dc.col = pc.col)
),
pubs AS (
    SELECT d.tbl, d.oid, d.relreplident, p.pubname::text AS pubname, p.pubupdate,
           EXISTS (SELECT 1 FROM pg_publication_rel AS pr
                   WHERE pr.prpubid = p.oid AND pr.prrelid = d.oid AND pr.prattrs IS NOT NULL) AS has_column_list
    FROM dep AS d
    JOIN pg_publication_tables AS pt ON pt.schemaname = 'public' AND pt.tablename = d.tbl
    JOIN pg_publication AS p ON p.pubname = pt.pubname
    WHERE d.is_deployed
),
findings (severity, code, object, message) AS (
    -- Where the deployed tables live -------------------------------------------------------
    SELECT 'BLOCKER', 'schema', format('%I.%I', o.schema_opt, d.tbl),
           format('--schema %s: the project works on public.%s only (its functions, views and '
                  'triggers name public.%s); move the table (ALTER TABLE %I.%I SET SCHEMA public; '
                  'for consumers that name %s.%s: CREATE VIEW %I.%I AS SELECT * FROM public.%I) '
                  'and run check again',
                  o.schema_opt, d.tbl, d.tbl, o.schema_opt, d.tbl, o.schema_opt, d.tbl,
                  o.schema_opt, d.tbl, d.tbl)
    FROM opt AS o CROSS JOIN deployed_names AS d
    WHERE o.schema_opt IS NOT NULL AND o.schema_opt <> 'public'
    UNION ALL
    SELECT 'BLOCKER', 'schema', format('%I.%I', r.nsp, r.tbl),
           format('the deployed %s is %s.%s for %s: the project works on public.%s only and would %s; '
                  'move it (ALTER TABLE %I.%I SET SCHEMA public; for consumers that name %s.%s: '
                  'CREATE VIEW %I.%I AS SELECT * FROM public.%I), or pass --schema public if '
                  'public.%s is the live table, then run check again',
                  r.tbl, r.nsp, r.tbl, string_agg(format('%s (search_path %s)', r.who, r.path), ', '),
                  r.tbl,
                  CASE WHEN to_regclass(format('public.%I', r.tbl)) IS NULL
                       THEN format('create an empty public.%s beside it', r.tbl)
                       ELSE format('work on public.%s, which these consumers do not see', r.tbl) END,
                  r.nsp, r.tbl, r.nsp, r.tbl, r.nsp, r.tbl, r.tbl, r.tbl)
    FROM resolved AS r, opt AS o
    WHERE r.nsp IS NOT NULL AND r.nsp <> 'public' AND o.schema_opt IS NULL
      AND NOT EXISTS (SELECT 1 FROM found AS f WHERE f.nsp = r.nsp AND f.tbl = r.tbl AND f.forwards)
    GROUP BY r.nsp, r.tbl
    UNION ALL
    SELECT 'INFO', 'location', format('%I.%I', f.nsp, f.tbl),
           format('a view over public.%s: consumers reaching %s.%s use the project''s table', f.tbl, f.nsp, f.tbl)
    FROM found AS f WHERE f.forwards
    UNION ALL
    SELECT CASE WHEN to_regclass(format('public.%I', f.tbl)) IS NULL AND o.schema_opt IS NULL
                THEN 'BLOCKER' ELSE 'WARNING' END,
           'schema', format('%I.%I', f.nsp, f.tbl),
           CASE WHEN to_regclass(format('public.%I', f.tbl)) IS NULL AND o.schema_opt IS NULL
                THEN format('a %s exists in schema %s (on no search_path) and none in public: the '
                            'project would create an empty public.%s; move it (ALTER TABLE %I.%I SET '
                            'SCHEMA public) or pass --schema public to create a new one, then run check again',
                            f.tbl, f.nsp, f.tbl, f.nsp, f.tbl)
                ELSE format('%s.%s exists too; the project works on public.%s and leaves this one alone',
                            f.nsp, f.tbl, f.tbl) END
    FROM found AS f, opt AS o
    WHERE f.nsp <> 'public' AND NOT f.forwards AND (o.schema_opt IS NULL OR o.schema_opt = 'public')
      AND (o.schema_opt = 'public'
           OR NOT EXISTS (SELECT 1 FROM resolved AS r WHERE r.tbl = f.tbl AND r.nsp = f.nsp))
    UNION ALL
    SELECT 'BLOCKER', 'schema', format('public.%I', f.tbl),
           format('public.%s is a %s, not a table: the project adopts tables only', f.tbl,
                  CASE f.relkind WHEN 'v' THEN 'view' WHEN 'm' THEN 'materialized view' ELSE 'foreign table' END)
    FROM found AS f WHERE f.nsp = 'public' AND f.relkind NOT IN ('r', 'p')
    UNION ALL
    SELECT 'INFO', 'location', format('public.%I', d.tbl),
           CASE WHEN EXISTS (SELECT 1 FROM dep WHERE dep.tbl = d.tbl AND dep.is_deployed)
                THEN format('deployed table found in public; search paths checked: %s',
                            (SELECT string_agg(format('%s (%s)', p.who, array_to_string(p.schemas, ', ')), '; ') FROM paths AS p))
                ELSE 'absent: created by migration 0003' END
    FROM deployed_names AS d
    UNION ALL
    -- Partitioning ---------------------------------------------------------------------------
    SELECT CASE WHEN o.partitioned_ok THEN 'WARNING' ELSE 'BLOCKER' END, 'partitioned',
           format('public.%I', d.tbl),
           format('public.%s is partitioned (%s partitions)%s', d.tbl,
                  (SELECT count(*) FROM pg_partition_tree(d.oid) WHERE isleaf),
                  CASE WHEN o.partitioned_ok THEN ''
                       ELSE ': the migrations do not yet handle every partition (backfill, indexes, '
                            'triggers, rollups); not supported by this version' END)
    FROM dep AS d, opt AS o WHERE d.relkind = 'p'
    UNION ALL
    -- Row-level security -----------------------------------------------------------------------
    SELECT CASE WHEN row_security_active(d.oid) THEN 'BLOCKER' ELSE 'WARNING' END,
           CASE WHEN d.relforcerowsecurity THEN 'rls_forced' ELSE 'rls' END,
           format('public.%I', d.tbl),
           CASE WHEN row_security_active(d.oid)
                THEN format('row-level security%s applies to the migrating role %s (policies: %s): the '
                            'backfill and its final count would see only the rows the policies let it see; '
                            'migrate as a role with BYPASSRLS (ALTER ROLE %I BYPASSRLS) or a superuser '
                            '(the migrations run with row_security = off and fail rather than skip rows)',
                            CASE WHEN d.relforcerowsecurity THEN ' (FORCE ROW LEVEL SECURITY)' ELSE '' END,
                            current_user,
                            coalesce((SELECT string_agg(format('%s %s', pol.polname,
                                        CASE WHEN pol.polpermissive THEN 'permissive' ELSE 'restrictive' END), ', ')
                                      FROM pg_policy AS pol WHERE pol.polrelid = d.oid), 'none: every row hidden'),
                            current_user)
                ELSE format('row-level security is enabled%s; it does not apply to the migrating role %s '
                            '(%s), so the backfill sees every row; the columns the project adds are '
                            'subject to the same policies for everyone else',
                            CASE WHEN d.relforcerowsecurity THEN ' and forced' ELSE '' END, current_user,
                            CASE WHEN o.is_super THEN 'superuser' WHEN o.bypass THEN 'BYPASSRLS' ELSE 'owner' END)
           END
    FROM dep AS d, opt AS o WHERE d.relrowsecurity
    UNION ALL
    -- Ownership and the migrating role's rights ----------------------------------------------------
    SELECT CASE WHEN pg_has_role(current_user, d.relowner, 'USAGE') THEN 'INFO' ELSE 'BLOCKER' END,
           'owner', format('public.%I', d.tbl),
           CASE WHEN pg_has_role(current_user, d.relowner, 'USAGE')
                THEN format('owned by %s; the migrating role %s acts as its owner', d.relowner::regrole, current_user)
                ELSE format('owned by %s; the migrating role %s cannot ALTER it: migrate as %s or a member '
                            'of it (GRANT %I TO %I)', d.relowner::regrole, current_user,
                            d.relowner::regrole, d.relowner::regrole::text, current_user) END
    FROM dep AS d
    WHERE cardinality((SELECT pending FROM opt)) > 0
    UNION ALL
    SELECT 'BLOCKER', 'rights', 'schema public',
           format('the migrating role %s may not CREATE in schema public (the project creates its '
                  'tables, views and functions there): GRANT CREATE ON SCHEMA public TO %I, or migrate '
                  'as its owner', current_user, current_user)
    FROM opt AS o
    WHERE cardinality(o.pending) > 0 AND to_regnamespace('public') IS NOT NULL
      AND NOT has_schema_privilege('public', 'CREATE')
    UNION ALL
    SELECT 'BLOCKER', 'rights', format('database %s', current_database()),
           format('schema public does not exist: the project creates its objects there; CREATE SCHEMA '
                  'public (owned by the migrating role %s) first', current_user)
    FROM opt AS o
    WHERE cardinality(o.pending) > 0 AND to_regnamespace('public') IS NULL
    UNION ALL
    SELECT 'BLOCKER', 'rights', format('database %s', current_database()),
           format('schema senate does not exist and the migrating role %s may not CREATE in this '
                  'database: GRANT CREATE ON DATABASE %I TO %I, or create schema senate owned by it',
                  current_user, current_database(), current_user)
    FROM opt AS o
    WHERE cardinality(o.pending) > 0 AND to_regnamespace('senate') IS NULL
      AND NOT has_database_privilege(current_database(), 'CREATE')
    UNION ALL
    -- Roles and memberships: cluster-wide, so a migrating role without CREATEROLE needs a DBA to
    -- have made them; one line each, with the statement to run, before anything is written.
    SELECT 'BLOCKER', 'role', 'role ' || g.role_name,
           format('role %s does not exist and the migrating role %s may not create roles (migration '
                  '%s creates it): as a superuser run %s then migrate again (every role: '
                  'db/docs/operations.md, "Roles made by a DBA")',
                  g.role_name, current_user, g.migration, g.create_sql)
    FROM group_roles AS g, opt AS o
    WHERE NOT g.present AND g.pending AND NOT o.may_create_roles
    UNION ALL
    SELECT 'BLOCKER', 'membership', format('role %s in %s', g.role_name, g.member_of),
           format('role %s is not a member of %s and the migrating role %s may not grant it (migration '
                  '%s does): as a superuser run GRANT %I TO %I; then migrate again',
                  g.role_name, g.member_of, current_user, g.migration, g.member_of, g.role_name)
    FROM group_roles AS g
    JOIN group_roles AS m ON m.role_name = g.member_of
    CROSS JOIN opt AS o
    WHERE g.pending AND NOT m.grantable
      -- a role still to be created by the migration itself needs the grant too; one the
      -- migration cannot create has its own line above (CREATE ROLE ... IN ROLE ...)
      AND CASE WHEN NOT g.present THEN o.may_create_roles
               WHEN NOT m.present THEN true
               ELSE NOT pg_has_role(g.role_name, g.member_of, 'MEMBER') END
    UNION ALL
    -- A migrating role that is not a superuser gives every function to senate_owner (0099,
    -- senate.grant_role_privileges(), called again by later migrations): it must be a member of
    -- senate_owner (or able to grant that to itself), and senate_owner needs CREATE on public
    -- (PostgreSQL checks the new owner's CREATE on the function's schema).
    SELECT 'BLOCKER', 'membership', format('role %s in senate_owner', current_user),
           format('the migrating role %s is not a member of senate_owner and may not grant it to '
                  'itself (0099 and later migrations give every function to senate_owner): as a '
                  'superuser run GRANT senate_owner TO %I; then migrate again', current_user, current_user)
    FROM group_roles AS g, opt AS o
    WHERE g.role_name = 'senate_owner' AND NOT o.is_super AND cardinality(o.pending) > 0
      AND NOT g.grantable
      AND CASE WHEN g.present THEN NOT pg_has_role(current_user, 'senate_owner', 'USAGE') ELSE true END
    UNION ALL
    SELECT 'BLOCKER', 'rights', 'role senate_owner',
           format('senate_owner may not CREATE in schema public: the migrating role %s is not a '
                  'superuser, so the migrations give every function to senate_owner, which PostgreSQL '
                  'allows only when the new owner may CREATE in the function''s schema; as the owner of '
                  'schema public (on PostgreSQL 15+ the database owner) or a superuser run %sGRANT CREATE '
                  'ON SCHEMA public TO senate_owner; then migrate again', current_user,
                  CASE WHEN g.present THEN '' ELSE g.create_sql || ' ' END)
    FROM group_roles AS g, opt AS o
    WHERE g.role_name = 'senate_owner' AND NOT o.is_super AND cardinality(o.pending) > 0
      AND to_regnamespace('public') IS NOT NULL
      AND CASE WHEN g.present THEN NOT has_schema_privilege('senate_owner', 'public', 'CREATE')
               ELSE true END
    UNION ALL
    SELECT 'INFO', 'rights', 'role ' || current_user,
           CASE WHEN o.is_super OR has_parameter_privilege('session_replication_role', 'SET')
                THEN 'may SET session_replication_role: the backfill runs with the deployment''s triggers quiet'
                ELSE 'may not SET session_replication_role: the backfill runs with triggers on (slower, still correct)' END
    FROM opt AS o WHERE cardinality(o.pending) > 0
    UNION ALL
    -- Name collisions -------------------------------------------------------------------------
    SELECT CASE WHEN pr.kind = 'index' THEN 'WARNING'
                WHEN pr.kind = 'table' AND c.relkind IN ('r', 'p') AND NOT EXISTS (
                    SELECT 1 FROM proj_col AS pc
                    WHERE pc.nsp = pr.nsp AND pc.tbl = pr.name AND NOT pc.added
                      AND NOT EXISTS (SELECT 1 FROM pg_attribute AS a WHERE a.attrelid = c.oid
                                      AND a.attname = pc.col AND a.attnum > 0 AND NOT a.attisdropped))
                THEN 'WARNING' ELSE 'BLOCKER' END,
           CASE WHEN pr.kind = 'table' AND c.relkind IN ('r', 'p') THEN 'adopted' ELSE 'collision' END,
           format('%I.%I', pr.nsp, pr.name),
           CASE WHEN pr.kind = 'index'
                THEN format('an index of that name exists (%s): %s keeps it instead of building its own',
                            pg_get_indexdef(c.oid), pr.migration)
                WHEN pr.kind = 'table' AND c.relkind IN ('r', 'p')
                THEN coalesce(
                    'the deployed table lacks columns the project uses: ' || (
                        SELECT string_agg(format('%s %s', pc.col, pc.typ), ', ')
                        FROM proj_col AS pc
                        WHERE pc.nsp = pr.nsp AND pc.tbl = pr.name AND NOT pc.added
                          AND NOT EXISTS (SELECT 1 FROM pg_attribute AS a WHERE a.attrelid = c.oid
                                          AND a.attname = pc.col AND a.attnum > 0 AND NOT a.attisdropped))
                      || format('; %s would adopt it as is (CREATE TABLE IF NOT EXISTS) and fail or '
                                'misbehave: rename it or add those columns', pr.migration),
                    format('%s adopts the deployed table as is (CREATE TABLE IF NOT EXISTS) and uses its rows',
                           pr.migration))
                ELSE format('a %s of that name exists; %s creates a %s %s.%s: rename or move the deployed one',
                            CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'v' THEN 'view'
                                 WHEN 'm' THEN 'materialized view' WHEN 'S' THEN 'sequence'
                                 WHEN 'i' THEN 'index' WHEN 'I' THEN 'index' WHEN 'f' THEN 'foreign table'
                                 ELSE 'relation' END,
                            pr.migration, pr.kind, pr.nsp, pr.name) END
    FROM proj_rel AS pr
    JOIN pg_class AS c ON c.relname = pr.name
    JOIN pg_namespace AS n ON n.oid = c.relnamespace AND n.nspname = pr.nsp
    WHERE NOT pr.ours
      AND pr.name NOT IN (SELECT tbl FROM deployed_names)
      AND coalesce(pr.of_table, '') NOT IN (SELECT tbl FROM deployed_names)
    UNION ALL
    SELECT CASE WHEN oidvectortypes(p.proargtypes) = pf.args THEN 'BLOCKER' ELSE 'WARNING' END,
           'collision', format('%I.%I(%s)', pf.nsp, pf.name, oidvectortypes(p.proargtypes)),
           CASE WHEN oidvectortypes(p.proargtypes) = pf.args
                THEN format('%s creates %s %s.%s(%s): it would replace the deployment''s; rename or move it',
                            pf.migration, pf.kind, pf.nsp, pf.name, pf.args)
                ELSE format('%s creates %s %s.%s(%s) beside it: calls by name may become ambiguous',
                            pf.migration, pf.kind, pf.nsp, pf.name, pf.args) END
    FROM proj_fn AS pf
    JOIN pg_proc AS p ON p.proname = pf.name
    JOIN pg_namespace AS n ON n.oid = p.pronamespace AND n.nspname = pf.nsp
    WHERE NOT pf.ours
    UNION ALL
    SELECT 'BLOCKER', 'collision', format('trigger %I on %I.%I', pt.name, pt.nsp, pt.tbl),
           format('the deployment has a trigger of that name; %s would replace it (CREATE OR REPLACE '
                  'TRIGGER): rename it (ALTER TRIGGER %I ON %I.%I RENAME TO ...)',
                  pt.migration, pt.name, pt.nsp, pt.tbl)
    FROM proj_trg AS pt
    JOIN pg_trigger AS tg ON tg.tgname = pt.name AND NOT tg.tgisinternal
    JOIN pg_class AS c ON c.oid = tg.tgrelid AND c.relname = pt.tbl
    JOIN pg_namespace AS n ON n.oid = c.relnamespace AND n.nspname = pt.nsp
    WHERE NOT pt.ours
    UNION ALL
    SELECT 'WARNING', 'collision', 'schema senate',
           format('schema senate exists (owner %s, %s objects) and this project has not migrated this '
                  'database: the project keeps its internals there; rollback leaves the schema and what '
                  'it held before', n.nspowner::regrole,
                  (SELECT count(*) FROM pg_class AS c WHERE c.relnamespace = n.oid)
                  + (SELECT count(*) FROM pg_proc AS p WHERE p.pronamespace = n.oid))
    FROM pg_namespace AS n, opt AS o
    WHERE n.nspname = 'senate' AND cardinality(o.applied) = 0
    UNION ALL
    SELECT 'BLOCKER', 'rights', 'schema senate',
           format('schema senate is owned by %s; the migrating role %s cannot create in it: migrate as '
                  '%s or GRANT CREATE ON SCHEMA senate TO %I', n.nspowner::regrole, current_user,
                  n.nspowner::regrole, current_user)
    FROM pg_namespace AS n, opt AS o
    WHERE n.nspname = 'senate' AND cardinality(o.pending) > 0
      AND NOT has_schema_privilege(n.oid, 'CREATE')
    UNION ALL
    -- Deployed columns the project cannot adopt ----------------------------------------------------
    -- A compatibility column of another type is left alone by 0004 (not kept in sync): a
    -- warning. Generated columns and other project columns of the wrong kind are blockers.
    SELECT CASE WHEN dc.attgenerated = '' AND (k.col IS NOT NULL OR dc.col = 'proposer')
                THEN 'WARNING' ELSE 'BLOCKER' END,
           'column', format('public.%I.%I', dc.tbl, dc.col),
           CASE WHEN dc.attgenerated <> ''
                THEN format('%s.%s is a generated column (%s); the project writes %s: it cannot adopt it; '
                            'rename it (ALTER TABLE public.%I RENAME COLUMN %I TO ...)',
                            dc.tbl, dc.col, dc.typ, dc.col, dc.tbl, dc.col)
                WHEN k.col IS NOT NULL
                THEN format('%s.%s is %s but %s is %s: the project cannot adopt it and leaves it alone, '
                            'not kept equal to %s (consumers of %s keep reading the deployment''s own values); '
                            'to adopt it, ALTER its type to %s before migrating',
                            dc.tbl, dc.col, dc.typ, k.canonical, cc.typ, k.canonical, dc.col, cc.typ)
                WHEN dc.col = 'proposer'
                THEN format('%s.proposer is %s, not text: the project cannot adopt it and leaves it alone, '
                            'not kept equal to coalesce(proposer_id, proposer_agent)', dc.tbl, dc.typ)
                ELSE format('%s.%s is %s; the project needs %s: rename it or ALTER its type',
                            dc.tbl, dc.col, dc.typ, pc.typ) END
    FROM dep_cols AS dc
    JOIN dep AS d ON d.tbl = dc.tbl AND d.is_deployed
    JOIN proj_col AS pc ON pc.nsp = 'public' AND pc.tbl = dc.tbl AND pc.col = dc.col
    LEFT JOIN compat AS k ON k.tbl = dc.tbl AND k.col = dc.col
    LEFT JOIN dep_cols AS cc ON cc.tbl = k.tbl AND cc.col = k.canonical
    WHERE dc.attgenerated <> ''
       OR (k.col IS NOT NULL AND cc.typ IS NOT NULL AND cc.typ <> dc.typ)
       OR (k.col IS NULL AND dc.col = 'proposer' AND dc.atttypid NOT IN ('text'::regtype, 'varchar'::regtype))
       OR (k.col IS NULL AND dc.col IN ('votes', 'evidence', 'metadata') AND dc.atttypid <> 'jsonb'::regtype)
       OR (k.col IS NULL AND dc.col NOT IN ('proposer', 'votes', 'evidence', 'metadata')
           AND (SELECT t.typcategory FROM pg_type AS t WHERE t.oid = dc.atttypid)
               <> (SELECT t.typcategory FROM pg_type AS t WHERE t.oid = pc.typ_oid)
           -- ids: text, uuid or whole numbers all serve (0004 compares their text forms)
           AND NOT ((dc.col = 'id' OR dc.col LIKE '%\_id') AND (SELECT t.typcategory FROM pg_type AS t WHERE t.oid = dc.atttypid) IN ('S', 'N', 'U')))
    UNION ALL
    -- Publications, replica identity ---------------------------------------------------------
    SELECT 'WARNING', 'publication', format('public.%I', p.tbl),
           CASE WHEN p.has_column_list
                THEN format('published by %s with a column list: the columns the project adds are not '
                            'published; no subscriber change needed', p.pubname)
                WHEN NOT EXISTS (SELECT 1 FROM added AS a WHERE a.tbl = p.tbl)
                THEN format('published by %s; the project adds no column to it', p.pubname)
                ELSE format('published by %s: before migrating, every subscriber of it must run the '
                            'subscriber_ddl line for public.%s (else its apply worker stops at the first '
                            'replicated row and this server keeps WAL for its slot%s); the backfill then '
                            'replicates an UPDATE of every row', p.pubname, p.tbl,
                            coalesce(' ' || (SELECT string_agg(s.slot_name::text, ', ') FROM pg_replication_slots AS s
                                             WHERE s.slot_type = 'logical' AND s.database = current_database()), ''))
           END
    FROM pubs AS p
    UNION ALL
    SELECT 'WARNING', 'subscriber_ddl', format('public.%I', a.tbl),
           format('ALTER TABLE public.%I %s;', a.tbl,
                  string_agg(format('ADD COLUMN IF NOT EXISTS %I %s', a.col, a.typ), ', ' ORDER BY a.col))
    FROM added AS a
    WHERE EXISTS (SELECT 1 FROM pubs AS p WHERE p.tbl = a.tbl AND NOT p.has_column_list)
    GROUP BY a.tbl
    UNION ALL
    SELECT CASE WHEN p.relreplident = 'n'
                  OR (p.relreplident = 'd' AND NOT EXISTS (SELECT 1 FROM pg_index AS i WHERE i.indrelid = p.oid AND i.indisprimary))
                THEN 'BLOCKER' ELSE 'INFO' END,
           'replica_identity', format('public.%I', p.tbl),
           CASE WHEN p.relreplident = 'n'
                  OR (p.relreplident = 'd' AND NOT EXISTS (SELECT 1 FROM pg_index AS i WHERE i.indrelid = p.oid AND i.indisprimary))
                THEN format('published for UPDATE by %s without a replica identity: the backfill''s UPDATEs '
                            'would fail (55000); ALTER TABLE public.%I REPLICA IDENTITY FULL, or add a primary key',
                            string_agg(p.pubname, ', '), p.tbl)
                ELSE format('replica identity %s', CASE p.relreplident WHEN 'd' THEN 'default (primary key)'
                     WHEN 'f' THEN 'full: every backfill UPDATE writes the whole old row to WAL'
                     ELSE 'index' END) END
    FROM pubs AS p WHERE p.pubupdate
    GROUP BY p.tbl, p.oid, p.relreplident
    UNION ALL
    -- Deployment triggers that write canonical or compatibility columns ---------------------------
    SELECT CASE WHEN w.lang <> 'plpgsql' THEN 'WARNING'
                WHEN w.after_t20 AND NOT o.triggers_ok THEN 'BLOCKER'
                WHEN w.after_t20 THEN 'WARNING' ELSE 'INFO' END,
           CASE WHEN w.lang <> 'plpgsql' THEN 'trigger' WHEN w.after_t20 THEN 'trigger_after_t20'
                ELSE 'trigger' END,
           format('trigger %I on public.%I', w.tgname, w.tbl),
           CASE WHEN w.lang <> 'plpgsql'
                THEN format('BEFORE ROW trigger in %s (%s): the pre-flight cannot tell whether it assigns '
                            'canonical columns; if it does and its name sorts after t20_, the pairs differ',
                            w.lang, w.proc)
                WHEN w.after_t20
                THEN format('BEFORE ROW trigger %s assigns %s and fires after t20_sync_compatibility_* (names '
                            'sort after it): the compatibility columns would keep the value from before it%s',
                            w.proc, array_to_string(w.writes, ', '),
                            CASE WHEN o.triggers_ok THEN '' ELSE '; rename it to sort before t20_ (ALTER TRIGGER ... RENAME TO t1x_...)' END)
                ELSE format('BEFORE ROW trigger %s assigns %s before t20_sync_compatibility_*: its values are mirrored',
                            w.proc, array_to_string(w.writes, ', ')) END
    FROM (
        SELECT d.tbl, tg.tgname::text AS tgname, p.oid::regprocedure::text AS proc, l.lanname::text AS lang,
               tg.tgname::text COLLATE "C" > 't20_sync_compatibility_on_insert' AS after_t20,
               ARRAY(SELECT col FROM (VALUES ('amount'), ('amount_used'), ('created_at'), ('timestamp'),
                                             ('requested_tokens'), ('requested_amount'), ('proposer_id'),
                                             ('proposer_agent'), ('proposer')) AS v (col)
                     WHERE p.prosrc ~* ('new\s*\.\s*"?' || col || '"?\s*:=')
                        OR p.prosrc ~* ('(^|[;\n]|\mthen|\melse|\mbegin|\mloop)\s*new\s*\.\s*"?' || col || '"?\s*=[^=>]')) AS writes
        FROM dep AS d
        JOIN pg_trigger AS tg ON tg.tgrelid = d.oid AND NOT tg.tgisinternal
        JOIN pg_proc AS p ON p.oid = tg.tgfoid
        JOIN pg_language AS l ON l.oid = p.prolang
        WHERE d.is_deployed
          AND (tg.tgtype & 1) = 1 AND (tg.tgtype & 2) = 2 AND (tg.tgtype & (4 | 16)) <> 0
          AND NOT EXISTS (SELECT 1 FROM proj_trg AS pt WHERE pt.tbl = d.tbl AND pt.name = tg.tgname AND pt.ours)
          AND tg.tgname NOT LIKE 't20\_sync\_compatibility\_%'
    ) AS w, opt AS o
    WHERE w.lang <> 'plpgsql' OR cardinality(w.writes) > 0
    UNION ALL
    -- Row counts, backfill time, longest lock ------------------------------------------------
    SELECT CASE WHEN d.n_rows / r.rate > o.long_backfill_s THEN 'WARNING' ELSE 'INFO' END,
           'rows', format('public.%I', d.tbl),
           format('%s %s rows; backfill of the compatibility columns about %s s (%s rows/s, triggers %s)%s',
                  CASE WHEN d.is_estimate THEN 'about' ELSE 'exactly' END, d.n_rows,
                  round(d.n_rows / r.rate, 1), r.rate, CASE WHEN r.quiet THEN 'quiet' ELSE 'on' END,
                  CASE WHEN d.tbl = 'resource_usage'
                       THEN format('; writers keep writing while it runs, the rollups are folded '
                                   '(0009) and the index is built CONCURRENTLY (0130): the longest '
                                   'writer wait does not grow with the table (%s ms measured at 2 M rows)',
                                   o.longest_wait_ms)
                       ELSE '' END)
    FROM dep_counted AS d, opt AS o,
         LATERAL (SELECT o.is_super OR has_parameter_privilege('session_replication_role', 'SET') AS quiet) AS q,
         LATERAL (SELECT q.quiet, CASE WHEN q.quiet THEN o.rate_quiet ELSE o.rate_loud END AS rate) AS r
    WHERE d.is_deployed AND cardinality(o.pending) > 0
)
SELECT severity, code, object, message FROM findings
ORDER BY CASE severity WHEN 'BLOCKER' THEN 0 WHEN 'WARNING' THEN 1 ELSE 2 END, code, object, message
