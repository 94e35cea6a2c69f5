-- Why: Exchange prices and Atlas gains move money. market_signals sets an entity's market weight
-- and world_model_gains its ROI, and both steer the next rebalance's draws on the reserve. Until
-- now the usage writer (every service) could insert them for any entity: a compromised service
-- raised its own weight and ROI and cut a rival's. Each feed now has its own group role, and
-- each feed row records the login that wrote it.
--
--   senate_exchange  the Exchange's price and confidence feed: INSERT market_signals;
--   senate_atlas     Atlas's world-model gains feed: INSERT world_model_gains.
--
-- Both are NOLOGIN members of senate_reader, like the other group roles (created once per
-- cluster, tolerated when present; the rollback leaves them, see 0056). senate_writer loses
-- INSERT on both tables. market_signals.session_login and world_model_gains.session_login are
-- set to session_user by a BEFORE INSERT trigger whatever the INSERT says (rows recorded before
-- this migration keep NULL: the login was not recorded then).
SET lock_timeout = '5s';

DO $$
DECLARE
    r record;
BEGIN
    FOR r IN
        SELECT v.role_name, v.description
        FROM (VALUES
            ('senate_exchange', 'Senate economics: the Exchange feed. INSERT market_signals '
                                '(price and confidence per entity).'),
            ('senate_atlas', 'Senate economics: the Atlas feed. INSERT world_model_gains '
                             '(KG edges, papers, hypotheses, artifact quality per entity).')
        ) AS v (role_name, description)
        ORDER BY v.role_name
    LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = r.role_name) THEN
            BEGIN
                EXECUTE pg_catalog.format('CREATE ROLE %I NOLOGIN', r.role_name);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;  -- created meanwhile by a migration of another database
            END;
        END IF;
        IF pg_catalog.shobj_description(
               (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = r.role_name), 'pg_authid')
           IS DISTINCT FROM r.description THEN
            BEGIN
                EXECUTE pg_catalog.format('COMMENT ON ROLE %I IS %L', r.role_name, r.description);
            EXCEPTION WHEN internal_error OR unique_violation OR insufficient_privilege THEN
                NULL;  -- commented meanwhile, or created by a DBA without our comment
            END;
        END IF;
        IF NOT pg_catalog.pg_has_role(r.role_name, 'senate_reader', 'MEMBER') THEN
            BEGIN
                EXECUTE pg_catalog.format('GRANT senate_reader TO %I', r.role_name);
            EXCEPTION WHEN unique_violation OR internal_error THEN
                NULL;  -- granted meanwhile by a migration of another database
            END;
        END IF;
    END LOOP;
END;
$$;

-- The access tables name the roles they may grant to (small tables of ours: widening a CHECK
-- list scans a few hundred rows).
-- squawk-ignore ban-drop-constraint
ALTER TABLE senate.table_access DROP CONSTRAINT IF EXISTS table_access_role_name_check;
-- squawk-ignore constraint-missing-not-valid
ALTER TABLE senate.table_access ADD CONSTRAINT table_access_role_name_check CHECK (
    role_name IN ('senate_reader', 'senate_writer', 'senate_reviewer', 'senate_admin',
                  'senate_owner', 'senate_exchange', 'senate_atlas'));
-- squawk-ignore ban-drop-constraint
ALTER TABLE senate.function_access DROP CONSTRAINT IF EXISTS function_access_granted_to_check;
-- squawk-ignore constraint-missing-not-valid
ALTER TABLE senate.function_access ADD CONSTRAINT function_access_granted_to_check CHECK (
    granted_to <@ ARRAY['senate_reader', 'senate_writer', 'senate_reviewer', 'senate_admin',
                        'senate_exchange', 'senate_atlas']);

DELETE FROM senate.table_access
WHERE role_name = 'senate_writer' AND privilege = 'INSERT'
  AND relation_name IN ('public.market_signals', 'public.world_model_gains');
REVOKE INSERT ON public.market_signals, public.world_model_gains FROM senate_writer;
INSERT INTO senate.table_access (relation_name, role_name, privilege) VALUES
  ('public.market_signals', 'senate_exchange', 'INSERT'),
  ('public.world_model_gains', 'senate_atlas', 'INSERT')
ON CONFLICT DO NOTHING;

-- Who wrote each feed row.
ALTER TABLE public.market_signals ADD COLUMN IF NOT EXISTS session_login text;
COMMENT ON COLUMN public.market_signals.session_login IS
  'Login that recorded the signal (session_user), set by trigger t99_stamp_session_login whatever '
  'the INSERT gave; NULL for rows recorded before migration 0125.';
ALTER TABLE public.world_model_gains ADD COLUMN IF NOT EXISTS session_login text;
COMMENT ON COLUMN public.world_model_gains.session_login IS
  'Login that recorded the gain (session_user), set by trigger t99_stamp_session_login whatever '
  'the INSERT gave; NULL for rows recorded before migration 0125.';

DROP TRIGGER IF EXISTS t99_stamp_session_login ON public.market_signals;
CREATE TRIGGER t99_stamp_session_login
    BEFORE INSERT ON public.market_signals
    FOR EACH ROW EXECUTE FUNCTION senate.stamp_session_login();
COMMENT ON TRIGGER t99_stamp_session_login ON public.market_signals IS
  'Records the login (session_user) on every signal, whatever the INSERT claims.';
DROP TRIGGER IF EXISTS t99_stamp_session_login ON public.world_model_gains;
CREATE TRIGGER t99_stamp_session_login
    BEFORE INSERT ON public.world_model_gains
    FOR EACH ROW EXECUTE FUNCTION senate.stamp_session_login();
COMMENT ON TRIGGER t99_stamp_session_login ON public.world_model_gains IS
  'Records the login (session_user) on every gain, whatever the INSERT claims.';

DO $$
BEGIN
    PERFORM senate.grant_role_privileges();
END;
$$;
