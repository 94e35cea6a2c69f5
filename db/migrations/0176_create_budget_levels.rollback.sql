-- Removes only what 0176 added: the budget_levels view and its grants.
SET lock_timeout = '5s';
DELETE FROM senate.table_access WHERE relation_name = 'public.budget_levels';
-- squawk-ignore ban-drop-view
DROP VIEW IF EXISTS public.budget_levels;
