-- Removes only what 0007 added.
DROP FUNCTION IF EXISTS public.active_economics_policy();
DROP TABLE IF EXISTS public.economics_policy;
