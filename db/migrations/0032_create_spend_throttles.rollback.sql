-- Removes only what 0032 added.
DROP TRIGGER IF EXISTS t60_release_lifted_throttles_on_delete ON public.resource_daily_allowances;
DROP TRIGGER IF EXISTS t60_release_lifted_throttles_on_update ON public.resource_daily_allowances;
DROP TRIGGER IF EXISTS t60_release_lifted_throttles_on_insert ON public.resource_daily_allowances;
DROP TRIGGER IF EXISTS t60_release_lifted_throttles ON public.resource_budgets;
DROP FUNCTION IF EXISTS senate.release_throttles_of_removed_allowances();
DROP FUNCTION IF EXISTS senate.release_throttles_of_changed_envelopes();
DROP FUNCTION IF EXISTS senate.release_lifted_throttles(text[], text[], timestamptz);
CALL senate.release('0032');
DROP FUNCTION IF EXISTS senate.record_throttle_changes();
DROP FUNCTION IF EXISTS senate.guard_spend_throttles();
