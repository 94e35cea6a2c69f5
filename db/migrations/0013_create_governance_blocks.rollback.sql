-- Removes only what 0013 added (the block history goes with it: it is ours).
DROP FUNCTION IF EXISTS public.resolve_governance_block(bigint, text, text);
DROP FUNCTION IF EXISTS public.place_governance_block(text, text, text, text, text);
CALL senate.release('0013');
DROP FUNCTION IF EXISTS senate.zero_blocked_market_weights();
DROP FUNCTION IF EXISTS senate.guard_governance_blocks();
DELETE FROM senate.error_codes WHERE sqlstate IN ('S1003', 'S1004');
