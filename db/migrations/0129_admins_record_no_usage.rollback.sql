-- Gives senate_admin EXECUTE on record_resource_usage back (0099's grant).
SET lock_timeout = '5s';
UPDATE senate.function_access
SET granted_to = '{senate_writer,senate_admin}'
WHERE function_name = 'public.record_resource_usage';
DO $$
BEGIN
    PERFORM senate.grant_role_privileges();
END;
$$;
