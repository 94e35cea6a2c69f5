-- Why: operators correct usage (correct_resource_usage, ledgered as a correction); they do not
-- record it. 0099 let senate_admin call record_resource_usage, so an operator could add spend
-- under any entity that no service reported, which README's role table forbids. Only the usage
-- writer (services) records usage now.
SET lock_timeout = '5s';
UPDATE senate.function_access
SET granted_to = '{senate_writer}'
WHERE function_name = 'public.record_resource_usage';
DO $$
DECLARE
    f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_catalog.pg_proc AS p
             WHERE p.oid = ANY (SELECT q.oid FROM pg_catalog.pg_proc AS q
                                WHERE q.pronamespace = 'public'::regnamespace
                                  AND q.proname = 'record_resource_usage')
             ORDER BY p.oid LOOP
        EXECUTE pg_catalog.format('REVOKE EXECUTE ON FUNCTION %s FROM senate_admin', f);
    END LOOP;
    PERFORM senate.grant_role_privileges();
END;
$$;
