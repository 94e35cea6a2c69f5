-- Removes only what 0125 added: the feed roles' grants in this database (the roles stay, see
-- 0056), the login columns and their triggers; senate_writer gets INSERT on the feeds back.
SET lock_timeout = '5s';
DROP TRIGGER IF EXISTS t99_stamp_session_login ON public.world_model_gains;
DROP TRIGGER IF EXISTS t99_stamp_session_login ON public.market_signals;
ALTER TABLE public.world_model_gains DROP COLUMN IF EXISTS session_login;
ALTER TABLE public.market_signals DROP COLUMN IF EXISTS session_login;

DELETE FROM senate.table_access WHERE role_name IN ('senate_exchange', 'senate_atlas');
-- Whatever the feed roles hold in this database (the tables and their identity sequences).
DO $$
DECLARE
    obj record;
BEGIN
    FOR obj IN
        SELECT c.oid::regclass AS rel, c.relkind, r.rolname
        FROM pg_catalog.pg_class AS c
        CROSS JOIN pg_catalog.pg_roles AS r
        WHERE r.rolname IN ('senate_exchange', 'senate_atlas')
          AND c.relnamespace IN ('public'::regnamespace, 'senate'::regnamespace)
          AND EXISTS (SELECT 1 FROM pg_catalog.aclexplode(c.relacl) AS x WHERE x.grantee = r.oid)
        ORDER BY c.oid, r.rolname
    LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON %s %s FROM %I',
                                  CASE obj.relkind WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END,
                                  obj.rel, obj.rolname);
    END LOOP;
END;
$$;
INSERT INTO senate.table_access (relation_name, role_name, privilege) VALUES
  ('public.market_signals', 'senate_writer', 'INSERT'),
  ('public.world_model_gains', 'senate_writer', 'INSERT')
ON CONFLICT DO NOTHING;

-- squawk-ignore ban-drop-constraint
ALTER TABLE senate.function_access DROP CONSTRAINT IF EXISTS function_access_granted_to_check;
-- squawk-ignore constraint-missing-not-valid
ALTER TABLE senate.function_access ADD CONSTRAINT function_access_granted_to_check CHECK (
    granted_to <@ ARRAY['senate_reader', 'senate_writer', 'senate_reviewer', 'senate_admin']);
-- squawk-ignore ban-drop-constraint
ALTER TABLE senate.table_access DROP CONSTRAINT IF EXISTS table_access_role_name_check;
-- squawk-ignore constraint-missing-not-valid
ALTER TABLE senate.table_access ADD CONSTRAINT table_access_role_name_check CHECK (
    role_name IN ('senate_reader', 'senate_writer', 'senate_reviewer', 'senate_admin',
                  'senate_owner'));

DO $$
BEGIN
    PERFORM senate.grant_role_privileges();
END;
$$;
