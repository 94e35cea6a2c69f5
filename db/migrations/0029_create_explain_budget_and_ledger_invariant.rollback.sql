-- Removes only what 0029 added.
DROP FUNCTION IF EXISTS public.check_ledger_invariant();
DROP FUNCTION IF EXISTS public.explain_budget(text, text);
