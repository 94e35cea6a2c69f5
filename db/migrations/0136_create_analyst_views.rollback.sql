-- Removes only what 0136 added: the three analyst views and their grants.
SET lock_timeout = '5s';
DELETE FROM senate.table_access
WHERE relation_name IN ('public.over_budget_and_throttled', 'public.budget_move_evidence',
                        'public.cost_by_tier_and_provider');
-- squawk-ignore ban-drop-view
DROP VIEW IF EXISTS public.cost_by_tier_and_provider;
-- squawk-ignore ban-drop-view
DROP VIEW IF EXISTS public.budget_move_evidence;
-- squawk-ignore ban-drop-view
DROP VIEW IF EXISTS public.over_budget_and_throttled;
