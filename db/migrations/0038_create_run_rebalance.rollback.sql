-- Removes only what 0038 added.
DROP FUNCTION IF EXISTS public.run_rebalance(timestamptz, boolean, text);
DROP FUNCTION IF EXISTS senate.lock_cycle(text, interval);
DELETE FROM senate.error_codes WHERE sqlstate = 'S5030';
CALL senate.release('0038');
