-- Removes only what 0028 added.
-- Undoing this migration means dropping the view it created.
-- squawk-ignore ban-drop-view
DROP VIEW IF EXISTS public.proposals_due_for_review;
DROP FUNCTION IF EXISTS public.reopen_allocation_proposal(public.allocation_proposals.id%TYPE, text, text);
DROP FUNCTION IF EXISTS public.decide_allocation_proposal(public.allocation_proposals.id%TYPE, text, text, text, timestamptz);
DROP FUNCTION IF EXISTS senate.lock_proposal(public.allocation_proposals.id%TYPE, text);
DROP TRIGGER IF EXISTS t50_apply_approved_proposal ON public.allocation_proposals;
DROP FUNCTION IF EXISTS senate.apply_approved_proposal();
DROP TRIGGER IF EXISTS t13_check_proposal_approval ON public.allocation_proposals;
DROP FUNCTION IF EXISTS senate.check_proposal_approval();
