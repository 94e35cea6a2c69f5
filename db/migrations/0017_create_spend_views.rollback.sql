-- Removes only what 0017 added.
DROP VIEW IF EXISTS public.daily_spend;
DROP VIEW IF EXISTS public.budget_tier_status;
DROP VIEW IF EXISTS public.budget_status;
DROP FUNCTION IF EXISTS senate.applied_market_weight(numeric, numeric, numeric, numeric, numeric);
