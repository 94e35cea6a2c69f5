-- Removes only what 0010 added.
DROP FUNCTION IF EXISTS public.roi_score(numeric, numeric);
DROP FUNCTION IF EXISTS public.effective_budget(numeric, numeric);
DROP FUNCTION IF EXISTS public.allocation_score(numeric, numeric, numeric, numeric);
DROP FUNCTION IF EXISTS public.allocation_score(numeric, numeric, numeric, numeric, bigint);
DROP FUNCTION IF EXISTS senate.weighted_allocation_score(numeric, numeric, numeric, numeric, numeric, numeric, numeric, numeric);
DROP FUNCTION IF EXISTS senate.refuse_value(text, text, text, numeric, text);
DELETE FROM senate.error_codes WHERE sqlstate IN ('S1001', 'S1002');
