-- Removes only what 0007 added.
DROP FUNCTION IF EXISTS public.active_economics_policy();
CALL senate.release('0007');
