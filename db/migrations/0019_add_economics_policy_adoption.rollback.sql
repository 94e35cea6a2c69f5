-- Removes only what 0019 added (policy versions adopted meanwhile stay: they are history).
DROP FUNCTION IF EXISTS public.adopt_economics_policy(jsonb, text, text);
DROP TRIGGER IF EXISTS t10_require_one_active_policy ON public.economics_policy;
DROP TRIGGER IF EXISTS t10_validate_economics_policy ON public.economics_policy;
DROP TRIGGER IF EXISTS t10_refuse_economics_policy_truncate ON public.economics_policy;
DROP TRIGGER IF EXISTS t10_guard_economics_policy ON public.economics_policy;
DROP FUNCTION IF EXISTS senate.require_one_active_policy();
DROP FUNCTION IF EXISTS senate.validate_economics_policy();
DROP FUNCTION IF EXISTS senate.guard_economics_policy();
DELETE FROM senate.error_codes WHERE sqlstate IN ('S1006', 'S1007', 'S1008');
