-- Why (issue 17): 0058 folded the statement-level insert triggers of resource_usage into
-- t80_account_usage_inserts and row triggers with WHEN clauses; the three trigger functions
-- they ran stayed defined only so 0058 could be rolled back. No trigger runs them: they go.
-- Their definitions are saved (senate.save_definition) so this migration's rollback can put
-- them back before 0058's rollback wires them again.
SET lock_timeout = '5s';
DO $$
BEGIN
    PERFORM senate.save_definition('0154', 'senate.validate_usage_inserts()');
    PERFORM senate.save_definition('0154', 'senate.refuse_forged_corrections()');
    PERFORM senate.save_definition('0154', 'senate.settle_spend_reservations()');
END;
$$;
-- Their rows in senate.function_hardening (what 0099's rollback gives back) stay: the
-- rollback points them at the re-created functions.
DELETE FROM senate.function_access AS a
WHERE a.function_name IN ('senate.refuse_forged_corrections', 'senate.settle_spend_reservations');
-- squawk-ignore ban-drop-function
DROP FUNCTION senate.validate_usage_inserts();
-- squawk-ignore ban-drop-function
DROP FUNCTION senate.refuse_forged_corrections();
-- squawk-ignore ban-drop-function
DROP FUNCTION senate.settle_spend_reservations();
