-- Removes only what 0037 added.
DROP FUNCTION IF EXISTS public.run_daily_check(date);
