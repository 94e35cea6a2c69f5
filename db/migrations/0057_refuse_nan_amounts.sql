-- Why: PostgreSQL's numeric NaN compares greater than every number, so checks
-- such as "token_budget >= 0" or "balance >= 0 AND balance <> 'Infinity'"
-- accept it. One NaN budget, reserve balance or requested amount poisons every
-- sum it enters, and through the append-only ledger forever (a NaN delta can
-- never be corrected away). These CHECKs refuse NaN by name (23514, the
-- constraint name naming the column).
--
-- resource_budgets and senate_reserve are this project's tables: the checks are
-- added NOT VALID (brief ACCESS EXCLUSIVE, no scan) and then validated, which
-- scans under SHARE UPDATE EXCLUSIVE while reads and writes go on.
-- allocation_proposals may be a large deployed table whose requested_tokens
-- may be integer (never NaN: nothing to add); where it is numeric the check is
-- added NOT VALID only: it binds every new or updated row at once, and the
-- existing rows are left to the operator (ALTER TABLE ... VALIDATE CONSTRAINT
-- allocation_proposals_requested_tokens_not_nan) rather than scanned here.
SET lock_timeout = '5s';

DO $$
DECLARE
    c record;
BEGIN
    FOR c IN
        SELECT v.tbl, v.col, v.tbl || '_' || v.col || '_not_nan' AS conname
        FROM (VALUES ('resource_budgets', 'token_budget'), ('resource_budgets', 'cpu_budget'),
                     ('resource_budgets', 'storage_budget_gb'), ('resource_budgets', 'api_call_budget'),
                     ('resource_budgets', 'market_weight'), ('resource_budgets', 'roi_score'),
                     ('senate_reserve', 'balance'), ('allocation_proposals', 'requested_tokens'))
             AS v (tbl, col)
        JOIN pg_attribute AS a
          ON a.attrelid = to_regclass('public.' || v.tbl) AND a.attname = v.col
         AND NOT a.attisdropped AND a.atttypid = 'numeric'::regtype
        WHERE NOT EXISTS (SELECT 1 FROM pg_constraint AS k
                          WHERE k.conrelid = a.attrelid
                            AND k.conname = v.tbl || '_' || v.col || '_not_nan')
        ORDER BY 1, 2
    LOOP
        EXECUTE format('ALTER TABLE public.%I ADD CONSTRAINT %I CHECK (%I <> %L::numeric) NOT VALID',
                       c.tbl, c.conname, c.col, 'NaN');
        EXECUTE format('COMMENT ON CONSTRAINT %I ON public.%I IS %L', c.conname, c.tbl,
                       format('%s is a number: NaN is refused (it would poison every sum).', c.col));
    END LOOP;
END;
$$;

DO $$
DECLARE
    c record;
BEGIN
    FOR c IN
        SELECT k.conrelid::regclass AS rel, k.conname
        FROM pg_constraint AS k
        WHERE k.conrelid IN ('public.resource_budgets'::regclass, 'public.senate_reserve'::regclass)
          AND k.conname LIKE '%\_not\_nan' AND NOT k.convalidated
        ORDER BY 1, 2
    LOOP
        EXECUTE format('ALTER TABLE %s VALIDATE CONSTRAINT %I', c.rel, c.conname);
    END LOOP;
END;
$$;
