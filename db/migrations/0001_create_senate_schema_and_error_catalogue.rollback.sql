-- Removes only what 0001 added.
DROP PROCEDURE IF EXISTS senate.release(text);
DROP PROCEDURE IF EXISTS senate.settle_comments(text);
DROP PROCEDURE IF EXISTS senate.set_registry_comment(text, text, text, text);
DROP PROCEDURE IF EXISTS senate.claim(text, text, text, text);
DROP FUNCTION IF EXISTS senate.registry_object_exists(text, text, text);
DROP FUNCTION IF EXISTS senate.registry_comment(text, text, text);
DROP TABLE IF EXISTS senate.schema_registry;
DROP FUNCTION IF EXISTS senate.raise_error(text, text, text, text);
DROP TABLE IF EXISTS senate.error_codes;
-- Give back what the install revoked (CREATE on public from PUBLIC on PostgreSQL 14
-- defaults), as the recorded grantor, so the schema ACL is as before.
DO $$
DECLARE
    x record;
BEGIN
    FOR x IN
        SELECT r.*, n.nspowner::regrole::text AS schema_owner
        FROM senate.revoked_schema_privileges AS r
        JOIN pg_catalog.pg_namespace AS n ON n.nspname = r.schema_name
        ORDER BY r.schema_name, r.grantee
    LOOP
        -- A superuser's GRANT is recorded as the schema owner's; another grantor grants itself.
        IF x.grantor <> x.schema_owner THEN
            EXECUTE format('SET LOCAL ROLE %I', x.grantor);
        END IF;
        EXECUTE format('GRANT %s ON SCHEMA %I TO %s%s', x.privilege, x.schema_name,
                       CASE WHEN x.grantee = 'PUBLIC' THEN 'PUBLIC' ELSE quote_ident(x.grantee) END,
                       CASE WHEN x.grantable THEN ' WITH GRANT OPTION' ELSE '' END);
        RESET ROLE;
    END LOOP;
END;
$$;
DROP TABLE IF EXISTS senate.revoked_schema_privileges;
DROP SCHEMA IF EXISTS senate;
