-- Removes only what 0126 added: the registry, its functions and error codes, the saved-definitions
-- machinery; the exemption gets back the definition 0126 saved (0025's).
SET lock_timeout = '5s';
DELETE FROM senate.function_access
WHERE function_name IN ('public.add_legacy_proposal_writer', 'public.remove_legacy_proposal_writer',
                        'senate.guard_proposal_state', 'senate.check_proposal_evidence_on_write',
                        'senate.record_proposal_transition', 'senate.record_proposal_votes',
                        'senate.apply_approved_proposal');
ALTER FUNCTION senate.guard_proposal_state() SECURITY INVOKER;
ALTER FUNCTION senate.check_proposal_evidence_on_write() SECURITY INVOKER;
ALTER FUNCTION senate.record_proposal_transition() SECURITY INVOKER;
ALTER FUNCTION senate.record_proposal_votes() SECURITY INVOKER;
ALTER FUNCTION senate.apply_approved_proposal() SECURITY INVOKER;
DELETE FROM senate.table_access WHERE relation_name = 'senate.legacy_proposal_writers';
DO $$
BEGIN
    PERFORM senate.restore_definitions('0126');
END;
$$;
DROP FUNCTION IF EXISTS public.remove_legacy_proposal_writer(text);
DROP FUNCTION IF EXISTS public.add_legacy_proposal_writer(text, text);
DROP FUNCTION IF EXISTS senate.session_is_legacy_proposal_writer();
DROP TABLE IF EXISTS senate.legacy_proposal_writers;
DROP FUNCTION IF EXISTS senate.restore_definitions(text);
DROP FUNCTION IF EXISTS senate.save_definition(text, regprocedure);
DROP TABLE IF EXISTS senate.replaced_definitions;
DELETE FROM senate.error_codes WHERE sqlstate IN ('S5018', 'S5019', 'S5020');
