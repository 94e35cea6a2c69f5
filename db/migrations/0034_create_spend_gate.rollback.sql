-- Removes only what 0034 added.
DROP FUNCTION IF EXISTS public.cleanup_spend_reservations(interval);
DROP FUNCTION IF EXISTS public.release_spend_reservation(bigint);
DROP FUNCTION IF EXISTS public.reserve_spend(text, text, text, numeric, interval, text);
DROP FUNCTION IF EXISTS public.can_spend(text, text, text, numeric, text);
DROP FUNCTION IF EXISTS senate.spend_request_is_valid(text, text, numeric, text, boolean, boolean, boolean);
DROP FUNCTION IF EXISTS senate.check_spend_request(text, text, text, numeric, text, boolean, boolean, boolean);
DROP FUNCTION IF EXISTS senate.spend_position(text, text, text, text, timestamptz);
