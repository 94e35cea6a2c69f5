-- Removes only what 0015 added (the gain history goes with it: it is ours).
-- resource_budgets.roi_score keeps its last value.
DROP FUNCTION IF EXISTS public.refresh_roi_scores(timestamptz);
DROP FUNCTION IF EXISTS public.roi_by_entity(date, date);
DROP FUNCTION IF EXISTS public.roi_window_bounds(timestamptz);
CALL senate.release('0015');
