-- Removes only what 0016 added. The ledger is append-only, so entity_tier_budget
-- entries already recorded stay; the account CHECK goes back to the original list
-- (NOT VALID when such entries exist, so history is kept rather than rewritten).
CALL senate.release('0016');
DROP FUNCTION IF EXISTS senate.check_tier_budgets_within_token_budget();
DROP FUNCTION IF EXISTS senate.record_tier_budget_changes();
-- Undoing 0016 means dropping the constraints it created or widened.
-- squawk-ignore ban-drop-constraint
ALTER TABLE public.budget_ledger DROP CONSTRAINT IF EXISTS budget_ledger_tier_only_for_tier_account;
-- squawk-ignore ban-drop-constraint
ALTER TABLE public.budget_ledger DROP CONSTRAINT IF EXISTS budget_ledger_account_check;
ALTER TABLE public.budget_ledger ADD CONSTRAINT budget_ledger_account_check
    CHECK (account IN ('entity_budget', 'reserve', 'entity_status')) NOT VALID;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM public.budget_ledger WHERE account = 'entity_tier_budget') THEN
        ALTER TABLE public.budget_ledger VALIDATE CONSTRAINT budget_ledger_account_check;
        ALTER TABLE public.budget_ledger DROP COLUMN IF EXISTS model_tier;
    END IF;
END;
$$;
COMMENT ON TABLE public.budget_ledger IS
  'Append-only ledger of every change to resource_budgets (account entity_budget), to the Senate '
  'reserve (account reserve) and of throttle status changes (account entity_status, delta 0). '
  'Invariant: per account, entity and resource class, the deltas add up to the current balance.';
