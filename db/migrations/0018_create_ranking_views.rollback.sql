-- Undoing a migration that created views means dropping them.
-- Removes only what 0018 added.
-- squawk-ignore ban-drop-view
DROP VIEW IF EXISTS public.roi_leaderboard;
-- squawk-ignore ban-drop-view
DROP VIEW IF EXISTS public.allocation_ranking;
