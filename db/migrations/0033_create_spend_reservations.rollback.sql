-- Removes only what 0033 added. resource_usage.reservation_id is this release's own column
-- (nullable, never read by deployed consumers), so dropping it loses no deployed data.
DROP TRIGGER IF EXISTS t70_settle_spend_reservations ON public.resource_usage;
DROP FUNCTION IF EXISTS senate.settle_spend_reservations();
CALL senate.release('0033');
