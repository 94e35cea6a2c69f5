-- Undoing a migration that created views means dropping them.
-- Removes only what 0017 added.
-- squawk-ignore ban-drop-view
DROP VIEW IF EXISTS public.daily_spend;
-- squawk-ignore ban-drop-view
DROP VIEW IF EXISTS public.budget_tier_status;
-- squawk-ignore ban-drop-view
DROP VIEW IF EXISTS public.budget_status;
DROP FUNCTION IF EXISTS public.budget_tier_status_as_of(timestamptz);
DROP FUNCTION IF EXISTS public.budget_status_as_of(timestamptz);
DROP FUNCTION IF EXISTS senate.applied_market_weight(numeric, numeric, numeric, numeric, numeric);
