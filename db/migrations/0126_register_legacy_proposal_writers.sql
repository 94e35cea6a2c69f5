-- Why: a deployment's own proposal writers (the allocation proposal workflow that predates
-- governance) must keep working, and nobody else may claim their leniency. Until now the
-- exemption was the setting senate.legacy_proposal_writes, which any session with table rights
-- could SET for itself to file proposals without evidence; and on a deployment nothing was
-- exempt until an operator found the setting.
--
-- Now a legacy proposal writer is a role registered in senate.legacy_proposal_writers, a table
-- only the owner writes (operators use add_legacy_proposal_writer / remove_legacy_proposal_writer,
-- which record who and when). A session is a legacy writer when its login (session_user) is a
-- registered role or a member, directly or through groups, of one; superuser status does not
-- count, only explicit membership. The registry is per database: roles are cluster-global, and a
-- group role granted for one database's deployment would exempt its members in every database
-- of the cluster.
--
-- On a deployment (allocation_proposals adopted with rows in it), this migration registers the
-- roles that could write proposals before governance: the table's owner and every role granted
-- INSERT or UPDATE on it (PUBLIC and the project's own roles excepted). Legacy writes keep
-- working by default; the operator tightens by removing them. On a fresh install nobody is
-- registered.
--
-- The setting may still turn the exemption off (never on): the governance functions set it off
-- for their own statements, so decide_allocation_proposal() stays strict for everyone.
SET lock_timeout = '5s';

-- This migration makes the proposal trigger functions run with the owner's rights. A writer whose statement is
-- in flight while that commits can see the function's new owner with the tables' old
-- privileges (catalog caches are refreshed per lookup, not per statement) and fail with
-- "permission denied" (seen in 1 run of 5 under a live writer). Taking the deployed tables'
-- writer lock first makes writers wait for the commit instead (milliseconds); nothing else
-- about them changes.
LOCK TABLE public.resource_usage, public.allocation_proposals IN SHARE ROW EXCLUSIVE MODE;

INSERT INTO senate.error_codes (sqlstate, error_name, meaning, hint) VALUES
  ('S5018', 'legacy_writer_role_invalid',
   'add_legacy_proposal_writer() was given a name that is no role of this cluster, a pg_* role or '
   'one of the project''s group roles, or a reason that is blank or over 2000 characters.',
   'Name the deployment''s own login or group role (SELECT rolname FROM pg_roles) and say why.'),
  ('S5019', 'legacy_writer_already_registered',
   'add_legacy_proposal_writer() was given a role that is already a current legacy writer.',
   'List them: SELECT * FROM senate.legacy_proposal_writers WHERE removed_at IS NULL.'),
  ('S5020', 'legacy_writer_not_registered',
   'remove_legacy_proposal_writer() was given a role that is no current legacy writer.',
   'List them: SELECT * FROM senate.legacy_proposal_writers WHERE removed_at IS NULL.')
ON CONFLICT (sqlstate) DO NOTHING;

CREATE TABLE IF NOT EXISTS senate.legacy_proposal_writers (
    registration_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    writer_role      oid NOT NULL,
    role_name        text NOT NULL CHECK (length(role_name) BETWEEN 1 AND 63),
    reason           text NOT NULL CHECK (length(btrim(reason)) BETWEEN 1 AND 2000),
    added_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    added_by         text NOT NULL DEFAULT session_user,
    removed_at       timestamptz,
    removed_by       text,
    CONSTRAINT legacy_proposal_writers_removal_complete
        CHECK ((removed_at IS NULL) = (removed_by IS NULL))
);
COMMENT ON TABLE senate.legacy_proposal_writers IS
  'Roles whose sessions write allocation_proposals as the deployment did before governance: their '
  'INSERTs and evidence rewrites skip the evidence rule and their direct approvals move no budget. '
  'A session is one when its login is a registered role or a member of one. Written only by the '
  'owner (migration 0126 on a deployment; add_legacy_proposal_writer / '
  'remove_legacy_proposal_writer); removed rows are kept as history.';
COMMENT ON COLUMN senate.legacy_proposal_writers.registration_id IS 'Order of recording.';
COMMENT ON COLUMN senate.legacy_proposal_writers.writer_role IS 'The role (pg_roles.oid): its login and its members are legacy writers.';
COMMENT ON COLUMN senate.legacy_proposal_writers.role_name IS 'Name of the role when it was registered (display only; the oid decides).';
COMMENT ON COLUMN senate.legacy_proposal_writers.reason IS 'Why it is exempt (1-2000 characters).';
COMMENT ON COLUMN senate.legacy_proposal_writers.added_at IS 'When it was registered (clock time).';
COMMENT ON COLUMN senate.legacy_proposal_writers.added_by IS 'Login (session_user) that registered it.';
COMMENT ON COLUMN senate.legacy_proposal_writers.removed_at IS 'When the exemption ended (NULL: current).';
COMMENT ON COLUMN senate.legacy_proposal_writers.removed_by IS 'Login (session_user) that ended it.';
COMMENT ON CONSTRAINT legacy_proposal_writers_removal_complete ON senate.legacy_proposal_writers IS
  'A removal records both when and by whom.';
-- Created just above, in this transaction: empty, and no one else can write it yet.
-- squawk-ignore require-concurrent-index-creation
CREATE UNIQUE INDEX IF NOT EXISTS legacy_proposal_writers_current
    ON senate.legacy_proposal_writers (writer_role) WHERE removed_at IS NULL;
COMMENT ON INDEX senate.legacy_proposal_writers_current IS 'A role is registered at most once at a time.';
DROP TRIGGER IF EXISTS t10_refuse_writer_deletes ON senate.legacy_proposal_writers;
CREATE TRIGGER t10_refuse_writer_deletes
    BEFORE DELETE OR TRUNCATE ON senate.legacy_proposal_writers
    FOR EACH STATEMENT EXECUTE FUNCTION senate.refuse_ledger_change();
COMMENT ON TRIGGER t10_refuse_writer_deletes ON senate.legacy_proposal_writers IS
  'The registry is history: a removal sets removed_at, rows are never deleted (S4001).';
REVOKE ALL ON senate.legacy_proposal_writers FROM PUBLIC;

CREATE OR REPLACE FUNCTION senate.session_is_legacy_proposal_writer()
RETURNS boolean
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    WITH RECURSIVE roles_of_session (role_oid) AS (
        SELECT r.oid FROM pg_catalog.pg_roles AS r WHERE r.rolname = pg_catalog."session_user"()
        UNION
        SELECT m.roleid FROM pg_catalog.pg_auth_members AS m
        JOIN roles_of_session AS s ON m.member = s.role_oid
    )
    SELECT EXISTS (SELECT 1 FROM senate.legacy_proposal_writers AS w
                   JOIN roles_of_session AS s ON s.role_oid = w.writer_role
                   WHERE w.removed_at IS NULL)
$$;
COMMENT ON FUNCTION senate.session_is_legacy_proposal_writer() IS
  'True when the session''s login (session_user) is a current legacy proposal writer or an explicit '
  'member (through any chain of role memberships) of one; superuser status alone does not count. '
  'SECURITY DEFINER to read the owner-only registry; it tells the caller only about itself.';

-- Saved definitions, for rollbacks ----------------------------------------------------------
CREATE TABLE IF NOT EXISTS senate.replaced_definitions (
    migration      text NOT NULL CHECK (migration ~ '^[0-9]{4}$'),
    function_oid   oid NOT NULL,
    definition     text NOT NULL,
    description    text,
    saved_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (migration, function_oid)
);
COMMENT ON TABLE senate.replaced_definitions IS
  'Definitions (pg_get_functiondef) and comments of functions a migration replaced, saved before '
  'it replaced them; its rollback restores them with senate.restore_definitions(migration).';
COMMENT ON COLUMN senate.replaced_definitions.migration IS 'Four-digit number of the migration that replaced the function.';
COMMENT ON COLUMN senate.replaced_definitions.function_oid IS 'The function (pg_proc.oid; CREATE OR REPLACE keeps it).';
COMMENT ON COLUMN senate.replaced_definitions.definition IS 'Its complete CREATE OR REPLACE statement before the migration, SECURITY and SET clauses included.';
COMMENT ON COLUMN senate.replaced_definitions.description IS 'Its comment before the migration.';
COMMENT ON COLUMN senate.replaced_definitions.saved_at IS 'When it was saved.';
REVOKE ALL ON senate.replaced_definitions FROM PUBLIC;

CREATE OR REPLACE FUNCTION senate.save_definition(p_migration text, p_function regprocedure)
RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO senate.replaced_definitions (migration, function_oid, definition, description)
    VALUES (p_migration, p_function, pg_catalog.pg_get_functiondef(p_function),
            pg_catalog.obj_description(p_function, 'pg_proc'))
    ON CONFLICT (migration, function_oid) DO NOTHING
$$;
COMMENT ON FUNCTION senate.save_definition(text, regprocedure) IS
  'Saves a function''s current definition and comment under a migration number, before that '
  'migration replaces it (a re-run keeps the first saved).';

CREATE OR REPLACE FUNCTION senate.restore_definitions(p_migration text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
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
$$;
COMMENT ON FUNCTION senate.restore_definitions(text) IS
  'Restores the definitions and comments a migration saved with senate.save_definition() (used by '
  'that migration''s rollback) and forgets them.';

-- The exemption, now from the registry ---------------------------------------------------
DO $$
BEGIN
    PERFORM senate.save_definition('0126', 'senate.legacy_proposal_writes_allowed()');
END;
$$;
CREATE OR REPLACE FUNCTION senate.legacy_proposal_writes_allowed()
RETURNS boolean
LANGUAGE sql STABLE PARALLEL RESTRICTED
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce(pg_catalog.current_setting('senate.legacy_proposal_writes', true), '')
               NOT IN ('off', 'false', '0', 'no')
           AND senate.session_is_legacy_proposal_writer()
$$;
COMMENT ON FUNCTION senate.legacy_proposal_writes_allowed() IS
  'True when this session writes proposals as a registered legacy writer '
  '(senate.legacy_proposal_writers): its proposal writes skip the strict justification rule and its '
  'direct approvals move no budget. The setting senate.legacy_proposal_writes can only turn it off; '
  'the governance functions do so for their own statements.';

CREATE OR REPLACE FUNCTION public.add_legacy_proposal_writer(p_role text, p_reason text)
RETURNS SETOF senate.legacy_proposal_writers
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_role oid := (SELECT r.oid FROM pg_catalog.pg_roles AS r
                   WHERE r.rolname = p_role AND r.rolname !~ '^pg_'
                     AND r.rolname NOT IN ('senate_reader', 'senate_writer', 'senate_reviewer',
                                           'senate_admin', 'senate_owner', 'senate_exchange',
                                           'senate_atlas'));
BEGIN
    IF v_role IS NULL OR p_reason IS NULL OR length(btrim(p_reason)) NOT BETWEEN 1 AND 2000 THEN
        PERFORM senate.raise_error('S5018',
            CASE WHEN v_role IS NULL
                 THEN format('role %s is no role of this cluster that may be a legacy writer',
                             coalesce(quote_literal(left(p_role, 80)), 'NULL'))
                 ELSE format('reason %s must be 1-2000 characters',
                             coalesce(quote_literal(left(p_reason, 80)), 'NULL')) END);
    END IF;
    IF EXISTS (SELECT 1 FROM senate.legacy_proposal_writers AS w
               WHERE w.writer_role = v_role AND w.removed_at IS NULL) THEN
        PERFORM senate.raise_error('S5019',
            format('role %s is already a legacy proposal writer', quote_ident(p_role)));
    END IF;
    RETURN QUERY
    INSERT INTO senate.legacy_proposal_writers AS w (writer_role, role_name, reason, added_by)
    VALUES (v_role, p_role, btrim(p_reason), pg_catalog."session_user"())
    RETURNING w.*;
EXCEPTION WHEN unique_violation THEN
    PERFORM senate.raise_error('S5019',
        format('role %s was just registered by another session', quote_ident(p_role)));
END;
$$;
COMMENT ON FUNCTION public.add_legacy_proposal_writer(text, text) IS
  'Registers a role (login or group) as a legacy proposal writer, recording the calling login and '
  'the time. Operators (senate_admin) only. Errors: S5018 no such role, a pg_* role or a project group role, or '
  'a reason blank or over 2000 characters; S5019 already registered.';
REVOKE EXECUTE ON FUNCTION public.add_legacy_proposal_writer(text, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION public.remove_legacy_proposal_writer(p_role text)
RETURNS SETOF senate.legacy_proposal_writers
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY
    UPDATE senate.legacy_proposal_writers AS w
    SET removed_at = pg_catalog.clock_timestamp(), removed_by = pg_catalog."session_user"()
    WHERE w.writer_role = (SELECT r.oid FROM pg_catalog.pg_roles AS r WHERE r.rolname = p_role)
      AND w.removed_at IS NULL
    RETURNING w.*;
    IF NOT FOUND THEN
        PERFORM senate.raise_error('S5020',
            format('role %s is no current legacy proposal writer',
                   coalesce(quote_literal(left(p_role, 80)), 'NULL')));
    END IF;
END;
$$;
COMMENT ON FUNCTION public.remove_legacy_proposal_writer(text) IS
  'Ends a role''s legacy exemption (removed_at, removed_by = now and the calling login; the row '
  'stays as history): its next proposal writes obey the evidence rule. Operators (senate_admin) '
  'only. Errors: S5020 not a current legacy writer.';
REVOKE EXECUTE ON FUNCTION public.remove_legacy_proposal_writer(text) FROM PUBLIC;

-- A deployment's writers keep writing as they did.
INSERT INTO senate.legacy_proposal_writers (writer_role, role_name, reason, added_by)
SELECT DISTINCT ON (r.rolname) w.role_oid, r.rolname,
       'migration 0126: ' || w.why || ' allocation_proposals, adopted with rows (a deployment)',
       session_user
FROM (
    SELECT c.relowner AS role_oid, 'owned' AS why  -- first for the owner (DISTINCT ON below)
    FROM pg_catalog.pg_class AS c WHERE c.oid = 'public.allocation_proposals'::regclass
    UNION
    SELECT x.grantee, 'was granted ' || string_agg(DISTINCT x.privilege_type, ' and ') || ' on'
    FROM pg_catalog.pg_class AS c, pg_catalog.aclexplode(c.relacl) AS x
    WHERE c.oid = 'public.allocation_proposals'::regclass
      AND x.privilege_type IN ('INSERT', 'UPDATE') AND x.grantee <> 0
    GROUP BY x.grantee
) AS w
JOIN pg_catalog.pg_roles AS r ON r.oid = w.role_oid
WHERE r.rolname !~ '^pg_'
  AND r.rolname NOT IN ('senate_reader', 'senate_writer', 'senate_reviewer', 'senate_admin',
                        'senate_owner', 'senate_exchange', 'senate_atlas')
  AND EXISTS (SELECT 1 FROM senate.schema_registry AS g
              WHERE g.object_kind = 'table' AND g.relation = 'public.allocation_proposals'
                AND g.action = 'adopted')
  AND EXISTS (SELECT 1 FROM public.allocation_proposals)
  AND NOT EXISTS (SELECT 1 FROM senate.legacy_proposal_writers AS l
                  WHERE l.writer_role = w.role_oid AND l.removed_at IS NULL)
ORDER BY r.rolname, w.why;

INSERT INTO senate.function_access (function_name, granted_to, security_definer, revoke_from_public, description) VALUES
  ('public.add_legacy_proposal_writer', '{senate_admin}', true, true, 'Operators exempt a deployment''s writer.'),
  ('public.remove_legacy_proposal_writer', '{senate_admin}', true, true, 'Operators end an exemption.'),
  -- The proposal triggers a legacy writer fires run with the owner's rights: the writer keeps
  -- only the grants it had on allocation_proposals (no policy, history or schema senate rights),
  -- and cannot write the history tables itself (it could forge them).
  ('senate.guard_proposal_state', '{}', true, false, 'Trigger: reads the policy, owner''s rights.'),
  ('senate.check_proposal_evidence_on_write', '{}', true, false, 'Trigger: evidence rule, owner''s rights.'),
  ('senate.record_proposal_transition', '{}', true, false, 'Trigger: history, owner''s rights.'),
  ('senate.record_proposal_votes', '{}', true, false, 'Trigger: vote history, owner''s rights.'),
  ('senate.apply_approved_proposal', '{}', true, false, 'Trigger: an approval''s budget credit, owner''s rights (check_proposal_approval guards it).')
ON CONFLICT (function_name) DO UPDATE SET security_definer = true;
INSERT INTO senate.table_access (relation_name, role_name, privilege) VALUES
  ('senate.legacy_proposal_writers', 'senate_reader', 'SELECT')
ON CONFLICT DO NOTHING;

DO $$
BEGIN
    PERFORM senate.grant_role_privileges();
END;
$$;
