-- Why: least privilege. Four NOLOGIN group roles name what a caller may do;
-- login roles (services, analysts, reviewers, operators) are made members:
--   senate_reader    analysts: SELECT on the views and the reference tables;
--   senate_writer    services: INSERT usage (or record_resource_usage), read
--                    budgets, ask can_spend / reserve_spend, file proposals;
--   senate_reviewer  the Senate: vote and decide, through the functions only;
--   senate_admin     operators: policy, reserve funding, settings, corrections.
-- A fifth NOLOGIN role, senate_owner, owns the project's functions (0099 makes
-- it their owner): every SECURITY DEFINER function runs with its rights, which
-- are exactly the table privileges 0099 grants it (no DDL, no superuser). No
-- login is a member of it except the migrating role when that role is not a
-- superuser (a DBA runs GRANT senate_owner TO <migrating role>; on PostgreSQL
-- 16+ WITH SET TRUE, the default). Members of senate_owner may CREATE in
-- schemas public and senate; `migrate` refuses while anyone else may.
-- writer, reviewer and admin are members of reader. What each role may touch in
-- this database is granted by 0099 (senate.grant_role_privileges()).
--
-- Roles are cluster-global and one cluster may hold many databases (every test
-- database, or staging next to production), so creation tolerates roles that
-- already exist, also when another database's migration creates them at the
-- same moment. The rollback leaves the roles in place: dropping one would strip
-- its memberships, and with them the access of every other database that uses
-- it. Privileges are revoked per database by 0099's rollback; drop the roles
-- by hand (DROP ROLE) once no database of the cluster uses them.
-- Creating roles needs CREATEROLE (or superuser). Without it, a DBA makes the
-- roles and their memberships beforehand (db/docs/operations.md, "Roles made by
-- a DBA"); this migration then only finds them: it creates, comments and grants
-- nothing already in place, and leaves a role's comment alone when it may not
-- set it (COMMENT ON ROLE needs CREATEROLE; the comment is descriptive only).
-- The pre-flight refuses, before anything is written, a run that would need a
-- missing role or membership it cannot make (one line each, with the SQL).
SET lock_timeout = '5s';

DO $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT v.role_name, v.description
        FROM (VALUES
            ('senate_reader', 'Senate economics: analysts. SELECT on views and reference tables.'),
            ('senate_writer', 'Senate economics: services. INSERT usage, read budgets, call can_spend, '
                              'reserve_spend, record_resource_usage, file_allocation_proposal.'),
            ('senate_reviewer', 'Senate economics: reviewers. Vote and decide proposals through '
                                'cast_allocation_vote and decide_allocation_proposal only.'),
            ('senate_admin', 'Senate economics: operators. Policy, reserve funding, settings, '
                             'usage corrections, review cycles.'),
            ('senate_owner', 'Senate economics: owner of the project''s functions (every SECURITY '
                             'DEFINER function runs as it). NOLOGIN; members only the migrating '
                             'role when that is not a superuser.')
        ) AS v (role_name, description)
        ORDER BY v.role_name
    LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r.role_name) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', r.role_name);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;  -- created meanwhile by a migration of another database
            END;
        END IF;
        IF shobj_description((SELECT oid FROM pg_roles WHERE rolname = r.role_name), 'pg_authid')
           IS DISTINCT FROM r.description THEN
            BEGIN
                EXECUTE format('COMMENT ON ROLE %I IS %L', r.role_name, r.description);
            EXCEPTION WHEN internal_error OR unique_violation OR insufficient_privilege THEN
                NULL;  -- commented meanwhile ("tuple concurrently updated"), or made by a DBA
                       -- and we may not comment it (no CREATEROLE / ADMIN OPTION)
            END;
        END IF;
    END LOOP;

    FOR r IN
        SELECT m.member_name
        FROM (VALUES ('senate_admin'), ('senate_reviewer'), ('senate_writer')) AS m (member_name)
        WHERE NOT pg_has_role(m.member_name, 'senate_reader', 'MEMBER')
        ORDER BY 1
    LOOP
        BEGIN
            EXECUTE format('GRANT senate_reader TO %I', r.member_name);
        EXCEPTION WHEN unique_violation OR internal_error THEN
            NULL;  -- granted meanwhile by a migration of another database
        END;
    END LOOP;
END;
$$;
