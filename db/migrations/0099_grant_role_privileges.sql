-- Why: the group roles of 0056 get exactly what they need in this database,
-- and nothing by default: mutating functions run as their owner (SECURITY
-- DEFINER) with a pinned search_path, EXECUTE revoked from PUBLIC and granted
-- to the roles that may call them; tables are granted per role.
--
-- Nothing outside the owner can change what a definer function runs: the
-- project's functions are owned by the NOLOGIN role senate_owner (0056), and
-- every SECURITY DEFINER one runs with search_path = pg_catalog, pg_temp, its
-- body naming every object of ours schema-qualified (public.x, senate.x), so a
-- function or table planted in public cannot be picked up by name resolution.
-- senate_owner holds DML only (SELECT, INSERT, UPDATE, DELETE) on the
-- project's tables and exactly what the definer functions need on the deployed
-- ones (resource_usage, allocation_proposals); it owns no table, so a definer
-- function cannot ALTER, TRUNCATE or disable the append-only guards.
--
-- Who may do what is data, in two tables, so another migration extends it
-- with an INSERT and a call: senate.function_access (function -> roles,
-- SECURITY DEFINER or not) and senate.table_access (relation -> role ->
-- privilege). senate.grant_role_privileges() applies both, is re-runnable,
-- and skips names that do not exist yet (functions of branches not merged):
-- this migration runs last (numbered 0099 so it stays last), and re-running the function after adding
-- functions brings them in.
-- Functions it hardens (SECURITY DEFINER, search_path, PUBLIC EXECUTE) have
-- their previous state recorded in senate.function_hardening, so the rollback
-- restores exactly what was there.
SET lock_timeout = '5s';

-- This migration hands the trigger functions to senate_owner and grants what they read. A writer whose statement is
-- in flight while that commits can see the function's new owner with the tables' old
-- privileges (catalog caches are refreshed per lookup, not per statement) and fail with
-- "permission denied" (seen in 1 run of 5 under a live writer). Taking the deployed tables'
-- writer lock first makes writers wait for the commit instead (milliseconds); nothing else
-- about them changes.
LOCK TABLE public.resource_usage, public.allocation_proposals IN SHARE ROW EXCLUSIVE MODE;

CREATE TABLE IF NOT EXISTS senate.function_access (
    function_name       text PRIMARY KEY CHECK (function_name ~ '^(public|senate)\.[a-z_][a-z0-9_]*$'),
    granted_to          text[] NOT NULL DEFAULT '{}' CHECK (
        granted_to <@ ARRAY['senate_reader', 'senate_writer', 'senate_reviewer', 'senate_admin']),
    security_definer    boolean NOT NULL,
    revoke_from_public  boolean NOT NULL DEFAULT true,
    description         text NOT NULL
);
COMMENT ON TABLE senate.function_access IS
  'Who may call which function (every overload of the name), applied by '
  'senate.grant_role_privileges(). Add a row and call that function to bring a new function in.';
COMMENT ON COLUMN senate.function_access.function_name IS 'Schema-qualified function name (all overloads).';
COMMENT ON COLUMN senate.function_access.granted_to IS 'Group roles granted EXECUTE.';
COMMENT ON COLUMN senate.function_access.security_definer IS
  'Make it SECURITY DEFINER with search_path pg_catalog, pg_temp (mutating functions, and trigger '
  'functions that write internal tables for callers who may not). Every listed function is owned '
  'by senate_owner either way.';
COMMENT ON COLUMN senate.function_access.revoke_from_public IS 'Revoke the default EXECUTE from PUBLIC.';
COMMENT ON COLUMN senate.function_access.description IS 'Why this access.';

CREATE TABLE IF NOT EXISTS senate.table_access (
    relation_name  text NOT NULL CHECK (
        relation_name ~ '^(public|senate)\.([a-z_][a-z0-9_]*|<views>|<tables>)$'),
    role_name      text NOT NULL CHECK (
        role_name IN ('senate_reader', 'senate_writer', 'senate_reviewer', 'senate_admin',
                      'senate_owner')),
    privilege      text NOT NULL CHECK (
        privilege ~ '^(SELECT|INSERT|UPDATE|DELETE)( \([a-z_][a-z0-9_]*(, [a-z_][a-z0-9_]*)*\))?$'),
    PRIMARY KEY (relation_name, role_name, privilege)
);
COMMENT ON TABLE senate.table_access IS
  'Which group role gets which privilege on which table or view, applied by '
  'senate.grant_role_privileges(). INSERT also grants USAGE on the serial sequences of the table.';
COMMENT ON COLUMN senate.table_access.relation_name IS
  'Schema-qualified table or view; <views> = every view of the schema, <tables> = every table.';
COMMENT ON COLUMN senate.table_access.role_name IS
  'Group role granted the privilege, or senate_owner (what the SECURITY DEFINER functions may touch).';
COMMENT ON COLUMN senate.table_access.privilege IS
  'SELECT, INSERT, UPDATE or DELETE, optionally with a column list.';

CREATE TABLE IF NOT EXISTS senate.function_hardening (
    function_oid          oid PRIMARY KEY,
    function_signature    text NOT NULL,
    was_security_definer  boolean NOT NULL,
    had_search_path       text,
    public_could_execute  boolean NOT NULL,
    had_owner             oid NOT NULL,
    hardened_at           timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE senate.function_hardening IS
  'State of each function before senate.grant_role_privileges() first changed it, so the rollback '
  'of 0099 restores it.';
COMMENT ON COLUMN senate.function_hardening.function_oid IS 'The function.';
COMMENT ON COLUMN senate.function_hardening.function_signature IS 'Its signature when recorded.';
COMMENT ON COLUMN senate.function_hardening.was_security_definer IS 'Whether it was SECURITY DEFINER before.';
COMMENT ON COLUMN senate.function_hardening.had_search_path IS 'Its own search_path setting before (NULL: none).';
COMMENT ON COLUMN senate.function_hardening.public_could_execute IS 'Whether PUBLIC could execute it before.';
COMMENT ON COLUMN senate.function_hardening.had_owner IS
  'Its owner before (pg_authid oid; ownership passes to senate_owner).';
COMMENT ON COLUMN senate.function_hardening.hardened_at IS 'When it was first hardened.';

INSERT INTO senate.function_access (function_name, granted_to, security_definer, revoke_from_public, description) VALUES
  -- usage ingest and corrections (0050-0055)
  ('public.record_resource_usage', '{senate_writer,senate_admin}', true, true, 'Idempotent usage ingest by services.'),
  ('public.correct_resource_usage', '{senate_admin}', true, true, 'Usage corrections by operators.'),
  ('public.set_senate_setting', '{senate_admin}', true, true, 'Deployment guards, operators only.'),
  ('public.reconcile_usage_rollups', '{senate_admin}', true, true, 'Audit of rollups (reads internal tables).'),
  ('public.reconcile_compatibility_columns', '{senate_admin}', true, true, 'Audit of compatibility pairs (reads internal tables).'),
  ('public.active_economics_policy', '{senate_reader}', false, false, 'The policy in force: public knowledge.'),
  -- inlinable SQL (the planner pushes filters into them): stays SECURITY INVOKER, so only roles
  -- that may read the tables behind it get rows; analysts use the views budget_status and
  -- budget_tier_status instead.
  ('public.budget_status_as_of', '{}', false, false, 'Inlinable read over budgets and rollups.'),
  ('public.budget_tier_status_as_of', '{}', false, false, 'Inlinable read over tier budgets and rollups.'),
  -- trigger functions writing internal tables for callers who hold no privilege on them
  ('senate.roll_up_usage', '{}', true, true, 'Usage rollups written for any inserting role.'),
  ('senate.record_budget_changes', '{}', true, true, 'Ledger written for any role changing budgets.'),
  ('senate.record_reserve_changes', '{}', true, true, 'Ledger written for any role changing the reserve.'),
  ('senate.refuse_forged_corrections', '{}', false, true, 'Must judge the invoking role: stays SECURITY INVOKER.'),
  ('senate.check_usage_references', '{}', true, true, 'Locks reference rows (FOR KEY SHARE) for any inserting role.'),
  ('senate.settle_spend_reservations', '{}', true, true, 'Settles holds for any inserting role.'),
  ('senate.follow_latest_assessment', '{}', true, true, 'Moves priority_score for the assessing role.'),
  -- economics: pure formulas and period helpers stay callable by everyone (views use them)
  ('public.allocation_score', '{senate_reader}', false, false, 'Pure formula.'),
  ('public.effective_budget', '{senate_reader}', false, false, 'Pure formula.'),
  ('public.roi_score', '{senate_reader}', false, false, 'Pure formula.'),
  ('public.budget_period_bounds', '{senate_reader}', false, false, 'Calendar arithmetic.'),
  ('public.roi_window_bounds', '{senate_reader}', false, false, 'Calendar arithmetic.'),
  ('public.market_weights', '{senate_reader}', true, true, 'Read-only derivation over market_signals (used by views).'),
  ('public.roi_by_entity', '{senate_reader}', true, true, 'Read-only derivation over gains and rollups (used by roi_leaderboard).'),
  ('public.adopt_economics_policy', '{senate_admin}', true, true, 'Policy is changed by operators.'),
  ('public.refresh_market_weights', '{senate_admin}', true, true, 'Scheduler: market weights.'),
  ('public.refresh_roi_scores', '{senate_admin}', true, true, 'Scheduler: ROI scores.'),
  ('public.refresh_priority_scores', '{senate_admin}', true, true, 'Scheduler: priority scores.'),
  ('public.place_governance_block', '{senate_reviewer,senate_admin}', true, true, 'The Senate holds an entity.'),
  ('public.resolve_governance_block', '{senate_reviewer,senate_admin}', true, true, 'The Senate releases a hold.'),
  -- governance
  ('public.fund_reserve', '{senate_admin}', true, true, 'New resources enter only by operators.'),
  ('public.file_allocation_proposal', '{senate_writer,senate_reviewer,senate_admin}', true, true, 'Services and people file proposals.'),
  ('public.cast_allocation_vote', '{senate_reviewer}', true, true, 'Reviewers vote.'),
  ('public.decide_allocation_proposal', '{senate_reviewer}', true, true, 'Reviewers decide.'),
  ('public.reopen_allocation_proposal', '{senate_reviewer}', true, true, 'Reviewers return a deferral to pending.'),
  ('public.explain_budget', '{senate_reader}', true, true, 'Anyone with read access may ask why a budget is what it is.'),
  ('public.check_ledger_invariant', '{senate_admin}', true, true, 'Audit of the ledger (reads budgets and ledger).'),
  -- spend gate and review cycles
  ('public.can_spend', '{senate_writer,senate_admin}', true, true, 'Services ask before they spend.'),
  ('public.reserve_spend', '{senate_writer,senate_admin}', true, true, 'Services hold budget before they spend.'),
  ('public.release_spend_reservation', '{senate_writer,senate_admin}', true, true, 'Services release an unused hold.'),
  ('public.expire_spend_reservations', '{senate_admin}', true, true, 'Scheduler releases expired holds.'),
  ('public.run_daily_check', '{senate_admin}', true, true, 'Scheduler: daily spend safety.'),
  ('public.run_rebalance', '{senate_admin}', true, true, 'Scheduler: weekly rebalance.'),
  ('public.check_spend_alerts', '{senate_admin}', true, true, 'Scheduler: spend alerts.'),
  ('public.cleanup_spend_reservations', '{senate_admin}', true, true, 'Scheduler removes expired holds.'),
  ('public.set_daily_allowance', '{senate_admin}', true, true, 'Operators set an explicit daily allowance.'),
  ('public.record_economy_snapshot', '{senate_admin}', true, true, 'Scheduler records the economy for reports.')
ON CONFLICT (function_name) DO NOTHING;

INSERT INTO senate.table_access (relation_name, role_name, privilege) VALUES
  ('public.<views>', 'senate_reader', 'SELECT'),
  ('public.entity_types', 'senate_reader', 'SELECT'),
  ('public.resource_types', 'senate_reader', 'SELECT'),
  ('public.model_tiers', 'senate_reader', 'SELECT'),
  ('public.llm_models', 'senate_reader', 'SELECT'),
  ('public.api_providers', 'senate_reader', 'SELECT'),
  ('public.economics_policy', 'senate_reader', 'SELECT'),
  -- Behind the views: budget_status and its kin call inlinable SQL functions, whose tables are
  -- read with the caller's rights. Their rows are what the views show anyway.
  ('public.resource_budgets', 'senate_reader', 'SELECT'),
  ('public.resource_budget_tiers', 'senate_reader', 'SELECT'),
  ('senate.usage_rollups', 'senate_reader', 'SELECT'),
  ('senate.error_codes', 'senate_reader', 'SELECT'),
  ('senate.settings', 'senate_reader', 'SELECT'),
  ('public.resource_usage', 'senate_writer', 'INSERT'),
  ('public.resource_usage', 'senate_writer', 'SELECT (id)'),
  ('public.resource_budgets', 'senate_writer', 'SELECT'),
  ('public.market_signals', 'senate_writer', 'INSERT'),
  ('public.world_model_gains', 'senate_writer', 'INSERT'),
  ('public.allocation_proposals', 'senate_reviewer', 'SELECT'),
  ('public.allocation_votes', 'senate_reviewer', 'SELECT'),
  ('public.allocation_proposal_transitions', 'senate_reviewer', 'SELECT'),
  ('public.allocation_signals', 'senate_reviewer', 'INSERT'),
  ('public.allocation_signals', 'senate_reviewer', 'SELECT'),
  ('public.governance_blocks', 'senate_reviewer', 'SELECT'),
  ('public.allocation_signals', 'senate_admin', 'INSERT'),
  ('public.resource_budget_tiers', 'senate_admin', 'INSERT'),
  ('public.resource_budget_tiers', 'senate_admin', 'UPDATE'),
  ('public.<tables>', 'senate_admin', 'SELECT'),
  ('public.economics_policy', 'senate_admin', 'INSERT'),
  ('public.economics_policy', 'senate_admin', 'UPDATE'),
  ('public.resource_budgets', 'senate_admin', 'INSERT'),
  ('public.resource_budgets', 'senate_admin', 'UPDATE'),
  ('public.entity_types', 'senate_admin', 'INSERT'),
  ('public.entity_types', 'senate_admin', 'UPDATE'),
  ('public.model_tiers', 'senate_admin', 'INSERT'),
  ('public.model_tiers', 'senate_admin', 'UPDATE'),
  ('public.llm_models', 'senate_admin', 'INSERT'),
  ('public.llm_models', 'senate_admin', 'UPDATE'),
  ('public.api_providers', 'senate_admin', 'INSERT'),
  ('public.api_providers', 'senate_admin', 'UPDATE'),
  -- senate_owner, as whom every SECURITY DEFINER function runs. Deployed tables (0003: they may
  -- predate the project and belong to the deployment): exactly what the functions do there.
  -- Row locks (SELECT ... FOR UPDATE in correct_resource_usage) need UPDATE on one column.
  ('public.resource_usage', 'senate_owner', 'SELECT'),
  ('public.resource_usage', 'senate_owner', 'INSERT'),
  ('public.resource_usage', 'senate_owner', 'UPDATE (id)'),
  ('public.allocation_proposals', 'senate_owner', 'SELECT'),
  ('public.allocation_proposals', 'senate_owner', 'INSERT'),
  ('public.allocation_proposals', 'senate_owner', 'UPDATE'),
  ('public.<views>', 'senate_owner', 'SELECT'),
  ('senate.<tables>', 'senate_owner', 'SELECT'),
  ('senate.<tables>', 'senate_owner', 'INSERT'),
  ('senate.<tables>', 'senate_owner', 'UPDATE'),
  ('senate.<tables>', 'senate_owner', 'DELETE')
ON CONFLICT DO NOTHING;

-- The project's own tables in public: DML for senate_owner (history tables refuse UPDATE and
-- DELETE in their triggers whoever asks; no TRUNCATE, no DDL). A new public table that a
-- definer function touches needs its rows here (tables in schema senate are covered above).
INSERT INTO senate.table_access (relation_name, role_name, privilege)
SELECT 'public.' || t.name, 'senate_owner', p.privilege
FROM unnest(ARRAY[
        'entity_types', 'resource_types', 'model_tiers', 'llm_models', 'api_providers',
        'resource_budgets', 'economics_policy', 'senate_reserve', 'budget_ledger',
        'allocation_signals', 'governance_blocks', 'market_signals', 'world_model_gains',
        'resource_budget_tiers', 'allocation_proposal_transitions', 'allocation_votes',
        'resource_daily_allowances', 'spend_throttles', 'spend_reservations', 'spend_alerts',
        'rebalance_runs', 'rebalance_changes', 'budget_snapshots', 'reserve_snapshots'])
         AS t (name),
     unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE']) AS p (privilege)
ORDER BY 1, 3
ON CONFLICT DO NOTHING;

CREATE OR REPLACE FUNCTION senate.grant_role_privileges()
RETURNS SETOF text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
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
$$;
COMMENT ON FUNCTION senate.grant_role_privileges() IS
  'Applies senate.function_access and senate.table_access: gives the listed functions that exist, '
  'and every function of schema senate, to senate_owner; makes the SECURITY DEFINER ones run with '
  'search_path = pg_catalog, pg_temp (and nothing else in proconfig); revokes EXECUTE from PUBLIC; '
  'grants the roles (and senate_owner) their privileges. Records each function''s prior state in '
  'senate.function_hardening. Idempotent; returns what it changed. Call it again after adding or '
  'replacing functions (CREATE OR REPLACE resets SECURITY DEFINER and SET clauses).';
REVOKE EXECUTE ON FUNCTION senate.grant_role_privileges() FROM PUBLIC;

CREATE OR REPLACE FUNCTION senate.revoke_role_privileges()
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
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
$$;
COMMENT ON FUNCTION senate.revoke_role_privileges() IS
  'Undoes senate.grant_role_privileges() in this database (used by the rollback of 0099): restores '
  'hardened functions to their recorded state (owner, SECURITY DEFINER, search_path, PUBLIC '
  'EXECUTE) and revokes every privilege of the group roles and senate_owner here. The roles '
  'themselves stay (they are cluster-global).';
REVOKE EXECUTE ON FUNCTION senate.revoke_role_privileges() FROM PUBLIC;

DO $$
BEGIN
    PERFORM senate.grant_role_privileges();
END;
$$;
