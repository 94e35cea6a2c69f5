-- Removes only what 0006 added.
DROP FUNCTION IF EXISTS senate.budget_amount(public.resource_budgets, text);
CALL senate.release('0006');
