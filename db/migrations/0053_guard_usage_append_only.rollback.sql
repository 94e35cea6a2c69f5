-- Removes only what 0053 added. Correction rows stay: they are usage.
SET lock_timeout = '5s';
DROP FUNCTION IF EXISTS public.correct_resource_usage(public.resource_usage.id%TYPE, numeric, text, text);
DROP TRIGGER IF EXISTS t10_refuse_usage_rewrites ON public.resource_usage;
DROP TRIGGER IF EXISTS t10_refuse_usage_truncate ON public.resource_usage;
DROP TRIGGER IF EXISTS t10_refuse_usage_deletes ON public.resource_usage;
DROP FUNCTION IF EXISTS senate.refuse_usage_rewrites();
DROP FUNCTION IF EXISTS senate.refuse_usage_change();
