-- Why: a vote or a decision is a person's, and the person is the login that
-- is connected, never a name passed as an argument (one reviewer login could
-- otherwise vote as three senators and approve from the reserve alone). The
-- Senate's members are rows of senate.senate_members, mapping a LOGIN role to
-- a senator id. Only the owner writes the table; operators (senate_admin)
-- manage it through add_senator() / remove_senator(), which record who made
-- each change and when (a removal keeps the row, with removed_at / removed_by).
-- senate.session_senator() is the senator id of session_user (NULL when the
-- login is no member); the governance functions act as that member only.
--
-- The role is stored by oid: a role dropped and recreated under the same name
-- is not the same member. A role renamed keeps its membership.
SET lock_timeout = '5s';

INSERT INTO senate.error_codes (sqlstate, error_name, meaning, hint) VALUES
  ('S5010', 'session_not_a_senator',
   'The session''s login (session_user) is not mapped to a senator in senate.senate_members, so '
   'it cannot vote on, decide or reopen allocation proposals.',
   'An operator maps the login with add_senator(login, senator_id); then connect as that login.'),
  ('S5011', 'acting_for_another_senator',
   'A voter or reviewer argument, or a vote written directly, names a senator other than the '
   'session''s own: a member votes and decides only as themself.',
   'Pass NULL or your own senator id (or login name); connect as the other senator to act as them.'),
  ('S5012', 'vote_of_another_senator',
   'A write would replace the vote of another voter: a vote is replaced only by the voter''s own '
   'session.',
   'Cast your own vote with cast_allocation_vote(); other voters change their own votes.'),
  ('S5013', 'proposer_decides_own_proposal',
   'The login that filed a proposal (or the senator named as its proposer) tried to decide it: a '
   'proposer never decides their own proposal.',
   'Another senator decides it.'),
  ('S5014', 'proposal_vote_cap_reached',
   'A new vote would give a proposal more votes than the max_votes_per_proposal of the policy '
   'version recorded on it.',
   'Decide the proposal with the votes it has, or adopt a policy with a higher cap for new proposals.'),
  ('S5015', 'senator_login_invalid',
   'add_senator() was given a role that does not exist or cannot log in (NOLOGIN).',
   'Create the login first (CREATE ROLE name LOGIN ...) and grant it senate_reviewer.'),
  ('S5016', 'senator_already_mapped',
   'add_senator() was given a login or a senator id that is already mapped to a current member.',
   'Remove the current mapping with remove_senator(senator_id) first.'),
  ('S5017', 'senator_not_mapped',
   'remove_senator() was given a senator id that no current member has.',
   'List the current members: SELECT * FROM senate.senate_members WHERE removed_at IS NULL.')
ON CONFLICT (sqlstate) DO NOTHING;

CREATE TABLE IF NOT EXISTS senate.senate_members (
    membership_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    login_role     oid NOT NULL,
    login_name     text NOT NULL CHECK (length(login_name) BETWEEN 1 AND 63),
    senator_id     text NOT NULL CHECK (length(senator_id) BETWEEN 1 AND 200
                                        AND senator_id = btrim(senator_id, E' \t\n\r\f\v')),
    added_at       timestamptz NOT NULL DEFAULT clock_timestamp(),
    added_by       text NOT NULL DEFAULT session_user,
    removed_at     timestamptz,
    removed_by     text,
    CONSTRAINT senate_members_removal_complete CHECK ((removed_at IS NULL) = (removed_by IS NULL))
);
COMMENT ON TABLE senate.senate_members IS
  'Senators are logins: each row maps a LOGIN role (by oid) to a senator id, with who added it and '
  'when, and who removed it and when (removed rows are kept as history). Written only by the '
  'owner, through add_senator() and remove_senator().';
COMMENT ON COLUMN senate.senate_members.membership_id IS 'Order of recording.';
COMMENT ON COLUMN senate.senate_members.login_role IS 'The login (pg_roles.oid): session_user must be this role.';
COMMENT ON COLUMN senate.senate_members.login_name IS 'Name of the login when it was added (display only; the oid decides).';
COMMENT ON COLUMN senate.senate_members.senator_id IS 'The senator id votes and decisions are recorded under (1-200 characters).';
COMMENT ON COLUMN senate.senate_members.added_at IS 'When the mapping was added (clock time).';
COMMENT ON COLUMN senate.senate_members.added_by IS 'Login (session_user) that added it.';
COMMENT ON COLUMN senate.senate_members.removed_at IS 'When the mapping was removed (NULL: current member).';
COMMENT ON COLUMN senate.senate_members.removed_by IS 'Login (session_user) that removed it.';
COMMENT ON CONSTRAINT senate_members_removal_complete ON senate.senate_members IS
  'A removal records both when and by whom.';
-- The table is created just above, in this transaction: it is empty and no one else can
-- write it yet, so a plain CREATE INDEX blocks nobody.
-- squawk-ignore require-concurrent-index-creation
CREATE UNIQUE INDEX IF NOT EXISTS senate_members_current_login
    ON senate.senate_members (login_role) WHERE removed_at IS NULL;
COMMENT ON INDEX senate.senate_members_current_login IS 'A login is at most one current senator.';
-- squawk-ignore require-concurrent-index-creation
CREATE UNIQUE INDEX IF NOT EXISTS senate_members_current_senator
    ON senate.senate_members (senator_id) WHERE removed_at IS NULL;
COMMENT ON INDEX senate.senate_members_current_senator IS 'A senator id belongs to at most one current login.';

DROP TRIGGER IF EXISTS t10_refuse_member_deletes ON senate.senate_members;
CREATE TRIGGER t10_refuse_member_deletes
    BEFORE DELETE ON senate.senate_members
    FOR EACH STATEMENT EXECUTE FUNCTION senate.refuse_ledger_change();
DROP TRIGGER IF EXISTS t10_refuse_member_truncate ON senate.senate_members;
CREATE TRIGGER t10_refuse_member_truncate
    BEFORE TRUNCATE ON senate.senate_members
    FOR EACH STATEMENT EXECUTE FUNCTION senate.refuse_ledger_change();
COMMENT ON TRIGGER t10_refuse_member_deletes ON senate.senate_members IS
  'Membership is history: a removal sets removed_at, rows are never deleted (S4001).';
COMMENT ON TRIGGER t10_refuse_member_truncate ON senate.senate_members IS
  'Membership is history: TRUNCATE is refused (S4001).';
REVOKE ALL ON senate.senate_members FROM PUBLIC;

CREATE OR REPLACE FUNCTION senate.session_senator()
RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER
SET search_path = pg_catalog, public, senate, pg_temp
AS $$
    SELECT m.senator_id
    FROM senate.senate_members AS m
    WHERE m.login_role = (SELECT r.oid FROM pg_catalog.pg_roles AS r
                          WHERE r.rolname = pg_catalog."session_user"())
      AND m.removed_at IS NULL
$$;
COMMENT ON FUNCTION senate.session_senator() IS
  'The senator id of the session''s login (session_user, through senate.senate_members); NULL '
  'when the login is no current member. Whatever current_user a SECURITY DEFINER function runs '
  'as, session_user is the login that connected (or SET SESSION AUTHORIZATION by a superuser).';

CREATE OR REPLACE FUNCTION senate.require_session_senator(p_argument text, p_claimed text)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_me text := senate.session_senator();
    v_claimed text;
BEGIN
    -- A name, when given, is checked like every actor name first (S2010).
    IF p_claimed IS NOT NULL THEN
        v_claimed := senate.require_actor(p_argument, p_claimed);
    END IF;
    IF v_me IS NULL THEN
        PERFORM senate.raise_error('S5010',
            format('login %s is not a senator: it cannot act as %s %s',
                   quote_ident(pg_catalog."session_user"()::text), p_argument,
                   coalesce(quote_literal(left(v_claimed, 80)), '(itself)')));
    END IF;
    IF v_claimed IS NOT NULL AND v_claimed <> v_me
       AND v_claimed <> pg_catalog."session_user"()::text THEN
        PERFORM senate.raise_error('S5011',
            format('%s %s is not the session''s senator: login %s is senator %s',
                   p_argument, quote_literal(left(v_claimed, 80)),
                   quote_ident(pg_catalog."session_user"()::text), quote_literal(v_me)));
    END IF;
    RETURN v_me;
END;
$$;
COMMENT ON FUNCTION senate.require_session_senator(text, text) IS
  'The session''s senator id, or raises S2010 when the claimed name (argument p_argument: voter, '
  'reviewer) is given but blank or over 200 characters, S5010 when the login is no member, S5011 '
  'when the claimed name is neither NULL nor the session''s senator id or login name.';

CREATE OR REPLACE FUNCTION public.add_senator(p_login text, p_senator_id text)
RETURNS TABLE (membership_id bigint, login_name text, senator_id text, added_at timestamptz,
               added_by text)
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_role oid;
    v_can_login boolean;
    v_senator text := senate.require_actor('senator_id', p_senator_id);
BEGIN
    SELECT r.oid, r.rolcanlogin INTO v_role, v_can_login
    FROM pg_catalog.pg_roles AS r WHERE r.rolname = p_login;
    IF v_role IS NULL OR NOT v_can_login THEN
        PERFORM senate.raise_error('S5015',
            format('login %s %s', coalesce(quote_literal(left(p_login, 80)), 'NULL'),
                   CASE WHEN v_role IS NULL THEN 'is not a role of this cluster'
                        ELSE 'is a NOLOGIN role: a senator is a login' END));
    END IF;
    -- Concurrent adds of the same login or senator id serialise on the unique indexes.
    IF EXISTS (SELECT 1 FROM senate.senate_members AS m
               WHERE m.removed_at IS NULL AND (m.login_role = v_role OR m.senator_id = v_senator)) THEN
        PERFORM senate.raise_error('S5016',
            format('login %s or senator %s is already a current member', quote_ident(p_login),
                   quote_literal(v_senator)));
    END IF;
    BEGIN
        RETURN QUERY
        INSERT INTO senate.senate_members AS m (login_role, login_name, senator_id, added_at, added_by)
        VALUES (v_role, p_login, v_senator, pg_catalog.clock_timestamp(),
                pg_catalog."session_user"())
        RETURNING m.membership_id, m.login_name, m.senator_id, m.added_at, m.added_by;
    EXCEPTION WHEN unique_violation THEN
        PERFORM senate.raise_error('S5016',
            format('login %s or senator %s was just mapped by another session',
                   quote_ident(p_login), quote_literal(v_senator)));
    END;
END;
$$;
COMMENT ON FUNCTION public.add_senator(text, text) IS
  'Maps a LOGIN role to a senator id (senate.senate_members), recording the calling login and the '
  'time. Operators (senate_admin) only. Errors: S5015 no such role or NOLOGIN, S5016 login or '
  'senator id already a current member, S2010 senator id missing or over 200 characters.';
REVOKE EXECUTE ON FUNCTION public.add_senator(text, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION public.remove_senator(p_senator_id text)
RETURNS TABLE (membership_id bigint, login_name text, senator_id text, removed_at timestamptz,
               removed_by text)
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    RETURN QUERY
    UPDATE senate.senate_members AS m
    SET removed_at = pg_catalog.clock_timestamp(), removed_by = pg_catalog."session_user"()
    WHERE m.senator_id = p_senator_id AND m.removed_at IS NULL
    RETURNING m.membership_id, m.login_name, m.senator_id, m.removed_at, m.removed_by;
    IF NOT FOUND THEN
        PERFORM senate.raise_error('S5017',
            format('senator %s is not a current member',
                   coalesce(quote_literal(left(p_senator_id, 80)), 'NULL')));
    END IF;
END;
$$;
COMMENT ON FUNCTION public.remove_senator(text) IS
  'Ends a senator''s membership (sets removed_at and removed_by to now and the calling login; the '
  'row stays as history). Their votes on pending proposals stop counting towards quorum. '
  'Operators (senate_admin) only. Errors: S5017 no current member has this senator id.';
REVOKE EXECUTE ON FUNCTION public.remove_senator(text) FROM PUBLIC;

INSERT INTO senate.function_access (function_name, granted_to, security_definer, revoke_from_public, description) VALUES
  ('public.add_senator', '{senate_admin}', true, true, 'Operators map logins to senators.'),
  ('public.remove_senator', '{senate_admin}', true, true, 'Operators end a membership.')
ON CONFLICT (function_name) DO NOTHING;
INSERT INTO senate.table_access (relation_name, role_name, privilege) VALUES
  ('senate.senate_members', 'senate_reader', 'SELECT')
ON CONFLICT DO NOTHING;

DO $$
BEGIN
    PERFORM senate.grant_role_privileges();
END;
$$;
