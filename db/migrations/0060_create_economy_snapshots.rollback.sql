-- Removes only what 0060 added (the snapshot history goes with its tables).
DROP FUNCTION IF EXISTS public.record_economy_snapshot(timestamptz);
CALL senate.release('0060');
