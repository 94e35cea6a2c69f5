-- Removes only what 0018 added.
DROP VIEW IF EXISTS public.roi_leaderboard;
DROP VIEW IF EXISTS public.allocation_ranking;
