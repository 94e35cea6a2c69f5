-- Removes only what 0009 added. resource_usage.provider stays if it holds
-- data writers may depend on; it is dropped only when every value is NULL.
DROP FUNCTION IF EXISTS public.reconcile_usage_rollups();
DROP TRIGGER IF EXISTS t80_roll_up_usage_inserts ON public.resource_usage;
DROP TRIGGER IF EXISTS t80_roll_up_usage_updates ON public.resource_usage;
DROP TRIGGER IF EXISTS t80_roll_up_usage_deletes ON public.resource_usage;
DROP FUNCTION IF EXISTS senate.roll_up_usage();
DROP FUNCTION IF EXISTS senate.policy_time_zone();
DROP TABLE IF EXISTS senate.usage_rollups;
CALL senate.release('0009');
