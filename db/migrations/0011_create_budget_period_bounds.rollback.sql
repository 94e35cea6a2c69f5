-- Removes only what 0011 added.
DROP FUNCTION IF EXISTS public.budget_period_bounds(timestamptz);
DROP FUNCTION IF EXISTS senate.period_bounds(timestamptz, text, text);
