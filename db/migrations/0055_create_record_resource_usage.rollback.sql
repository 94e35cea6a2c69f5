-- Removes only what 0055 added.
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_proc AS p
             WHERE p.proname = 'record_resource_usage'
               AND p.pronamespace = 'public'::regnamespace LOOP
        EXECUTE format('DROP FUNCTION IF EXISTS %s', f);
    END LOOP;
END;
$$;
