-- Removes only what 0036 added.
DROP FUNCTION IF EXISTS public.check_spend_alerts(timestamptz, text, text);
CALL senate.release('0036');
