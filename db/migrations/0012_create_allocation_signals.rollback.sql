-- Removes only what 0012 added (the assessment history goes with it: it is ours).
-- resource_budgets.priority_score keeps its last value.
DROP FUNCTION IF EXISTS public.refresh_priority_scores();
DROP TRIGGER IF EXISTS t30_priority_from_latest_assessment ON public.resource_budgets;
DROP FUNCTION IF EXISTS senate.priority_from_latest_assessment();
-- squawk-ignore ban-drop-view
DROP VIEW IF EXISTS senate.latest_allocation_signals;
CALL senate.release('0012');
DROP FUNCTION IF EXISTS senate.follow_latest_assessment();
DROP FUNCTION IF EXISTS senate.sync_priority_scores(text[], text[]);
