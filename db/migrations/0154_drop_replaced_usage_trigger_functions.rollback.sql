-- Puts back the three trigger functions 0154 dropped, from the definitions it saved, with
-- their comments, registry rows and owner, so 0058's rollback can wire them again.
SET lock_timeout = '5s';
INSERT INTO senate.function_access
    (function_name, granted_to, security_definer, revoke_from_public, description) VALUES
  ('senate.refuse_forged_corrections', '{}', false, true, 'Must judge the invoking role: stays SECURITY INVOKER.'),
  ('senate.settle_spend_reservations', '{}', true, true, 'Settles holds for any inserting role.')
ON CONFLICT (function_name) DO NOTHING;
DO $$
DECLARE
    d record;
    v_signature text;
    v_owner name;
BEGIN
    SELECT pg_catalog.pg_get_userbyid(p.proowner) INTO v_owner
    FROM pg_catalog.pg_proc AS p WHERE p.oid = 'senate.roll_up_usage()'::regprocedure;
    FOR d IN SELECT r.* FROM senate.replaced_definitions AS r
             WHERE r.migration = '0154' ORDER BY r.function_oid LOOP
        v_signature := substring(d.definition FROM 'FUNCTION (senate\.[a-z_]+\(\))');
        IF pg_catalog.to_regprocedure(v_signature) IS NULL THEN
            EXECUTE d.definition;
            EXECUTE pg_catalog.format('COMMENT ON FUNCTION %s IS %L', v_signature, d.description);
            IF v_owner IS DISTINCT FROM current_user THEN
                EXECUTE pg_catalog.format('ALTER FUNCTION %s OWNER TO %I', v_signature, v_owner);
            END IF;
        END IF;
    END LOOP;
    DELETE FROM senate.replaced_definitions AS r WHERE r.migration = '0154';
    -- What 0099 recorded of them before hardening, for 0099's rollback.
    UPDATE senate.function_hardening AS h
    SET function_oid = pg_catalog.to_regprocedure(h.function_signature)
    WHERE h.function_signature IN ('senate.validate_usage_inserts()',
                                   'senate.refuse_forged_corrections()',
                                   'senate.settle_spend_reservations()')
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_proc AS p WHERE p.oid = h.function_oid)
      AND pg_catalog.to_regprocedure(h.function_signature) IS NOT NULL;
    PERFORM senate.grant_role_privileges();
END;
$$;
