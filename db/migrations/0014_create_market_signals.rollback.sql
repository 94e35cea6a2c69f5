-- Removes only what 0014 added (the signal history goes with it: it is ours).
-- resource_budgets.market_weight keeps its last value.
DROP FUNCTION IF EXISTS public.refresh_market_weights(timestamptz);
DROP FUNCTION IF EXISTS public.market_weights(timestamptz);
CALL senate.release('0014');
