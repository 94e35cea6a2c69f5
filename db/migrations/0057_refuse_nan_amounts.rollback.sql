-- Removes only what 0057 added.
SET lock_timeout = '5s';
DO $$
DECLARE
    c record;
BEGIN
    FOR c IN
        SELECT k.conrelid::regclass AS rel, k.conname
        FROM pg_constraint AS k
        WHERE k.conrelid IN (to_regclass('public.resource_budgets'), to_regclass('public.senate_reserve'),
                             to_regclass('public.allocation_proposals'))
          AND k.conname IN ('resource_budgets_token_budget_not_nan', 'resource_budgets_cpu_budget_not_nan',
                            'resource_budgets_storage_budget_gb_not_nan',
                            'resource_budgets_api_call_budget_not_nan',
                            'resource_budgets_market_weight_not_nan', 'resource_budgets_roi_score_not_nan',
                            'senate_reserve_balance_not_nan', 'allocation_proposals_requested_tokens_not_nan')
        ORDER BY 1, 2
    LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', c.rel, c.conname);
    END LOOP;
END;
$$;
