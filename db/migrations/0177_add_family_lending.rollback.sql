-- Removes only what 0177 added: the two family lending settings, rebalance_runs.family_loans,
-- and family_lending in the reason CHECK of rebalance_changes. That table is an append-only
-- ledger: rows of the rule family_lending written meanwhile stay (the restored CHECK is then
-- left NOT VALID: it holds for new rows only); without such rows it is validated as before.
SET lock_timeout = '5s';
-- squawk-ignore ban-drop-constraint
ALTER TABLE public.rebalance_changes DROP CONSTRAINT IF EXISTS rebalance_changes_reason_check;
ALTER TABLE public.rebalance_changes
    ADD CONSTRAINT rebalance_changes_reason_check
    CHECK (reason IN ('idle_reclaim', 'sustained_low_roi', 'strong_roi_market_support',
                      'reassigned_idle_budget', 'reserve')) NOT VALID;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM public.rebalance_changes AS c WHERE c.reason = 'family_lending')
    THEN
        ALTER TABLE public.rebalance_changes VALIDATE CONSTRAINT rebalance_changes_reason_check;
    END IF;
END;
$$;
COMMENT ON COLUMN public.rebalance_changes.reason IS 'Rule: idle_reclaim, sustained_low_roi, strong_roi_market_support, reassigned_idle_budget, or reserve (net reserve change).';
CALL senate.release('0177');
