-- Removes only what 0059 added: privileges of the group roles in this
-- database, and the hardening of functions (restored from
-- senate.function_hardening). The roles stay (see 0056).
SET lock_timeout = '5s';
DO $$
BEGIN
    PERFORM senate.revoke_role_privileges();
END;
$$;
DROP FUNCTION IF EXISTS senate.revoke_role_privileges();
DROP FUNCTION IF EXISTS senate.grant_role_privileges();
DROP TABLE IF EXISTS senate.function_hardening;
DROP TABLE IF EXISTS senate.table_access;
DROP TABLE IF EXISTS senate.function_access;
