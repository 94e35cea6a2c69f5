-- Removes only what 0008 added (the ledger's history goes with it: it is ours).
DROP TRIGGER IF EXISTS t50_record_budget_inserts ON public.resource_budgets;
DROP TRIGGER IF EXISTS t50_record_budget_updates ON public.resource_budgets;
DROP TRIGGER IF EXISTS t50_record_budget_deletes ON public.resource_budgets;
CALL senate.release('0008');
DROP FUNCTION IF EXISTS senate.refuse_ledger_change();
DROP FUNCTION IF EXISTS senate.record_reserve_changes();
DROP FUNCTION IF EXISTS senate.record_budget_changes();
DROP FUNCTION IF EXISTS senate.current_change_cause();
DROP FUNCTION IF EXISTS senate.clear_change_cause();
DROP FUNCTION IF EXISTS senate.set_change_cause(text, text, text, text);
DELETE FROM senate.error_codes WHERE sqlstate = 'S4001';
