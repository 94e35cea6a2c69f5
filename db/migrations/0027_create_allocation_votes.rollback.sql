-- Removes only what 0027 added (the vote history is ours; the votes column
-- belongs to 0004 and stays).
DROP FUNCTION IF EXISTS public.cast_allocation_vote(public.allocation_proposals.id%TYPE, text, text, text);
-- Undoing this migration means dropping the view it created.
-- squawk-ignore ban-drop-view
DROP VIEW IF EXISTS public.allocation_proposal_tallies;
DROP TRIGGER IF EXISTS t50_record_proposal_votes ON public.allocation_proposals;
DROP FUNCTION IF EXISTS senate.record_proposal_votes();
DROP TRIGGER IF EXISTS t12_guard_proposal_votes ON public.allocation_proposals;
DROP FUNCTION IF EXISTS senate.guard_proposal_votes();
CALL senate.release('0027');
