-- Removes only what 0054 added.
SET lock_timeout = '5s';
DROP TRIGGER IF EXISTS t10_refuse_forged_corrections ON public.resource_usage;
DROP TRIGGER IF EXISTS t10_validate_usage_inserts ON public.resource_usage;
DROP FUNCTION IF EXISTS senate.refuse_forged_corrections();
DROP FUNCTION IF EXISTS senate.validate_usage_inserts();
