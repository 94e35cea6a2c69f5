-- Removes only what 0031 added.
DROP FUNCTION IF EXISTS public.set_daily_allowance(text, text, text, numeric, text, text);
DROP FUNCTION IF EXISTS senate.derived_daily_allowance(numeric, date, date);
DROP FUNCTION IF EXISTS senate.effective_class_budget(public.resource_budgets, text, public.economics_policy);
CALL senate.release('0031');
