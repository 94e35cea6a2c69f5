-- Removes only what 0025 added.
DROP FUNCTION IF EXISTS public.file_allocation_proposal(text, text, numeric, text, text, jsonb, text);
DROP TRIGGER IF EXISTS t11_check_proposal_evidence ON public.allocation_proposals;
DROP FUNCTION IF EXISTS senate.check_proposal_evidence_on_write();
DROP FUNCTION IF EXISTS senate.legacy_proposal_writes_allowed();
DROP FUNCTION IF EXISTS senate.check_proposal_evidence(text, jsonb);
DROP FUNCTION IF EXISTS senate.is_json_number_in(jsonb, numeric, numeric);
