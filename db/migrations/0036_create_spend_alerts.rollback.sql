-- Removes only what 0036 added.
DROP FUNCTION IF EXISTS public.check_spend_alerts(timestamptz, text, text);
DROP TABLE IF EXISTS public.spend_alerts;
