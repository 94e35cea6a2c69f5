-- Removes only what 0026 added (the transition log is ours).
DROP TRIGGER IF EXISTS t50_record_proposal_transitions ON public.allocation_proposals;
DROP FUNCTION IF EXISTS senate.record_proposal_transition();
DROP TRIGGER IF EXISTS t10_guard_proposal_state ON public.allocation_proposals;
DROP FUNCTION IF EXISTS senate.guard_proposal_state();
CALL senate.release('0026');
DROP FUNCTION IF EXISTS senate.proposal_policy_version(bigint, timestamptz);
