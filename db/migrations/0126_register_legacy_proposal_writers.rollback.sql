-- Removes only what 0126 added: the registry, its functions and error codes; the exemption is
-- the setting senate.legacy_proposal_writes again (0025's definition).
SET lock_timeout = '5s';
DELETE FROM senate.function_access
WHERE function_name IN ('public.add_legacy_proposal_writer', 'public.remove_legacy_proposal_writer',
                        'senate.guard_proposal_state', 'senate.check_proposal_evidence_on_write',
                        'senate.record_proposal_transition', 'senate.record_proposal_votes');
ALTER FUNCTION senate.guard_proposal_state() SECURITY INVOKER;
ALTER FUNCTION senate.check_proposal_evidence_on_write() SECURITY INVOKER;
ALTER FUNCTION senate.record_proposal_transition() SECURITY INVOKER;
ALTER FUNCTION senate.record_proposal_votes() SECURITY INVOKER;
DELETE FROM senate.table_access WHERE relation_name = 'senate.legacy_proposal_writers';
CREATE OR REPLACE FUNCTION senate.legacy_proposal_writes_allowed()
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT coalesce(current_setting('senate.legacy_proposal_writes', true), '')
           IN ('on', 'true', '1', 'yes')
$$;
COMMENT ON FUNCTION senate.legacy_proposal_writes_allowed() IS
  'True when this session is a legacy consumer (setting senate.legacy_proposal_writes = on, meant '
  'for legacy consumers'' role only): its proposal writes skip the strict justification rule and '
  'its direct approvals move no budget. decide_allocation_proposal() runs with the setting off.';
DROP FUNCTION IF EXISTS public.remove_legacy_proposal_writer(text);
DROP FUNCTION IF EXISTS public.add_legacy_proposal_writer(text, text);
DROP FUNCTION IF EXISTS senate.session_is_legacy_proposal_writer();
DROP TABLE IF EXISTS senate.legacy_proposal_writers;
DELETE FROM senate.error_codes WHERE sqlstate IN ('S5018', 'S5019', 'S5020');
