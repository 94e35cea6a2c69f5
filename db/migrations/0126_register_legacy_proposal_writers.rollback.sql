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

-- Trigger functions on the deployed tables run with the owner's rights from the migration that
-- defines them (issue 14 point 9): a legacy writer holding only its grants on the deployed
-- tables keeps working after every migration, not only once 0099/0126 have run. Their bodies
-- name every object schema-qualified; the path is pinned to the catalog.
ALTER FUNCTION senate.guard_proposal_state() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION senate.check_proposal_evidence_on_write() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION senate.record_proposal_transition() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION senate.record_proposal_votes() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION senate.apply_approved_proposal() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
