-- Removes only what 0006 added.
DROP FUNCTION IF EXISTS senate.budget_amount(public.resource_budgets, text);
DROP TABLE IF EXISTS public.resource_budgets;
