-- Removes only what 0024 added.
DROP FUNCTION IF EXISTS public.fund_reserve(text, numeric, text, text);
