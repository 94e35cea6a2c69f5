-- Why: the spec budgets llm_tokens by model tier "so expensive reasoning models
-- and cheap batch models do not collapse into one pool". resource_budgets has one
-- token_budget per entity (the pool for all tiers); resource_budget_tiers adds
-- optional per-tier caps:
--   * a tier cap, when present, bounds that tier's token spend per budget period
--     (spend of a tier = llm_tokens usage whose model maps to the tier in
--     llm_models, i.e. senate.usage_rollups.resource_subclass = model_tier);
--   * tiers without a cap draw on the pool only;
--   * the pool (token_budget) always bounds the total, so a tier can spend at most
--     least(its cap, what is left of the pool);
--   * the caps of an entity may not add up to more than its token_budget: a
--     write to resource_budget_tiers that raises an entity's total above its
--     token_budget is refused (S1005). A later cut of token_budget (a rebalance,
--     a reclaim) is NOT refused because of tier caps; the pool then binds first.
-- Market weight scales tier caps like every other budget:
-- effective tier budget = tier token_budget * (1 + market_weight).
--
-- Ledger: every change to a tier cap reaches budget_ledger like any budget change,
-- by statement-level trigger with the cause named through senate.set_change_cause(),
-- under a new account 'entity_tier_budget' with the tier in a new nullable column
-- budget_ledger.model_tier. A separate account keeps the ledger invariant intact:
-- per account, entity, resource class (and tier) the deltas add up to the current
-- balance; entity_budget rows still add up to resource_budgets.token_budget.
-- The account CHECK is replaced by one listing the new account too (NOT VALID, then
-- VALIDATE: budget_ledger is this release's own table, created by 0008, so the
-- validation scan under the migration's lock is short; every existing row already
-- satisfies the wider list).
SET lock_timeout = '5s';

INSERT INTO senate.error_codes (sqlstate, error_name, meaning, hint) VALUES
  ('S1005', 'tier_budgets_exceed_token_budget',
   'The per-tier token caps of an entity would add up to more than its token_budget.',
   'Lower a tier cap or raise resource_budgets.token_budget first.')
ON CONFLICT (sqlstate) DO NOTHING;

CALL senate.claim('0016', 'table', 'public.resource_budget_tiers');
CREATE TABLE IF NOT EXISTS public.resource_budget_tiers (
    entity_type   text NOT NULL,
    entity_id     text NOT NULL,
    model_tier    text NOT NULL REFERENCES public.model_tiers (model_tier),
    token_budget  numeric NOT NULL
        CHECK (token_budget >= 0 AND token_budget NOT IN ('Infinity'::numeric, 'NaN'::numeric)),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (entity_type, entity_id, model_tier),
    FOREIGN KEY (entity_type, entity_id)
        REFERENCES public.resource_budgets (entity_type, entity_id) ON DELETE CASCADE
);
COMMENT ON TABLE public.resource_budget_tiers IS
  'Optional per-model-tier token caps of an envelope, per budget period. A cap bounds that tier''s '
  'llm_tokens spend; the pool resource_budgets.token_budget always bounds the total; caps of an '
  'entity may not be raised above token_budget in total (S1005). Changes are ledgered '
  '(budget_ledger.account entity_tier_budget).';
COMMENT ON COLUMN public.resource_budget_tiers.entity_type IS 'Kind of entity (envelope in resource_budgets).';
COMMENT ON COLUMN public.resource_budget_tiers.entity_id IS 'Identifier of the entity.';
COMMENT ON COLUMN public.resource_budget_tiers.model_tier IS 'Model tier capped (see model_tiers; models map to tiers in llm_models).';
COMMENT ON COLUMN public.resource_budget_tiers.token_budget IS 'Token cap of the tier per budget period, in tokens (before market weight).';
COMMENT ON COLUMN public.resource_budget_tiers.created_at IS 'When the cap was created.';
COMMENT ON COLUMN public.resource_budget_tiers.updated_at IS 'When the cap last changed.';

-- Ledger: a tier column and an account for tier caps.
ALTER TABLE public.budget_ledger ADD COLUMN IF NOT EXISTS model_tier text;
COMMENT ON COLUMN public.budget_ledger.model_tier IS
  'Model tier of an entity_tier_budget entry (NULL for every other account).';
-- squawk: the constraint is replaced by a strictly wider one in the same transaction,
-- so no guarantee is lost; the ledger was created by 0008 of this same release (a
-- deployment upgrading runs 0008 and 0016 in one `migrate`), so validating it under
-- the migration's lock scans a handful of rows at most.
-- squawk-ignore ban-drop-constraint
ALTER TABLE public.budget_ledger DROP CONSTRAINT IF EXISTS budget_ledger_account_check;
ALTER TABLE public.budget_ledger ADD CONSTRAINT budget_ledger_account_check
    CHECK (account IN ('entity_budget', 'reserve', 'entity_status', 'entity_tier_budget')) NOT VALID;
-- squawk-ignore constraint-missing-not-valid
ALTER TABLE public.budget_ledger VALIDATE CONSTRAINT budget_ledger_account_check;
COMMENT ON CONSTRAINT budget_ledger_account_check ON public.budget_ledger IS
  'Accounts: entity_budget, reserve, entity_status, entity_tier_budget (added by 0016).';
-- squawk: dropped only so that a re-run re-creates it identically (same reasons as above).
-- squawk-ignore ban-drop-constraint
ALTER TABLE public.budget_ledger DROP CONSTRAINT IF EXISTS budget_ledger_tier_only_for_tier_account;
ALTER TABLE public.budget_ledger ADD CONSTRAINT budget_ledger_tier_only_for_tier_account
    CHECK ((account = 'entity_tier_budget') = (model_tier IS NOT NULL)) NOT VALID;
-- squawk-ignore constraint-missing-not-valid
ALTER TABLE public.budget_ledger VALIDATE CONSTRAINT budget_ledger_tier_only_for_tier_account;
COMMENT ON CONSTRAINT budget_ledger_tier_only_for_tier_account ON public.budget_ledger IS
  'model_tier is set exactly for entity_tier_budget entries.';
COMMENT ON TABLE public.budget_ledger IS
  'Append-only ledger of every change to resource_budgets (account entity_budget), to per-tier token '
  'caps (account entity_tier_budget, tier in model_tier), to the Senate reserve (account reserve) and '
  'of throttle status changes (account entity_status, delta 0). Invariant: per account, entity, '
  'resource class and tier, the deltas add up to the current balance.';

CREATE OR REPLACE FUNCTION senate.record_tier_budget_changes()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO public.budget_ledger
            (account, entity_type, entity_id, resource_type, model_tier, balance_before,
             balance_after, cause_type, cause_id, actor, note)
        SELECT 'entity_tier_budget', n.entity_type, n.entity_id, 'llm_tokens', n.model_tier, 0,
               n.token_budget, c.cause_type, c.cause_id, c.actor, c.note
        FROM new_rows AS n CROSS JOIN senate.current_change_cause() AS c
        WHERE n.token_budget <> 0
        ORDER BY n.entity_type, n.entity_id, n.model_tier;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO public.budget_ledger
            (account, entity_type, entity_id, resource_type, model_tier, balance_before,
             balance_after, cause_type, cause_id, actor, note)
        SELECT 'entity_tier_budget', entity_type, entity_id, 'llm_tokens', model_tier,
               coalesce(o.token_budget, 0), coalesce(n.token_budget, 0),
               c.cause_type, c.cause_id, c.actor, c.note
        FROM old_rows AS o
        FULL JOIN new_rows AS n USING (entity_type, entity_id, model_tier)
        CROSS JOIN senate.current_change_cause() AS c
        WHERE coalesce(o.token_budget, 0) <> coalesce(n.token_budget, 0)
        ORDER BY entity_type, entity_id, model_tier;
    ELSE
        INSERT INTO public.budget_ledger
            (account, entity_type, entity_id, resource_type, model_tier, balance_before,
             balance_after, cause_type, cause_id, actor, note)
        SELECT 'entity_tier_budget', o.entity_type, o.entity_id, 'llm_tokens', o.model_tier,
               o.token_budget, 0, c.cause_type, c.cause_id, c.actor, c.note
        FROM old_rows AS o CROSS JOIN senate.current_change_cause() AS c
        WHERE o.token_budget <> 0
        ORDER BY o.entity_type, o.entity_id, o.model_tier;
    END IF;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION senate.record_tier_budget_changes() IS
  'Statement-level trigger: one budget_ledger row (account entity_tier_budget) per changed tier cap, '
  'with the cause from senate.current_change_cause().';

CREATE OR REPLACE FUNCTION senate.check_tier_budgets_within_token_budget()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_types text[];
    v_ids text[];
    v_bad record;
BEGIN
    -- Entities whose total of caps this statement raised.
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(x.entity_type), array_agg(x.entity_id) INTO v_types, v_ids
        FROM (SELECT n.entity_type, n.entity_id FROM new_rows AS n
              GROUP BY 1, 2 HAVING sum(n.token_budget) > 0) AS x;
    ELSE
        SELECT array_agg(x.entity_type), array_agg(x.entity_id) INTO v_types, v_ids
        FROM (SELECT entity_type, entity_id
              FROM old_rows AS o FULL JOIN new_rows AS n USING (entity_type, entity_id, model_tier)
              GROUP BY 1, 2
              HAVING sum(coalesce(n.token_budget, 0) - coalesce(o.token_budget, 0)) > 0) AS x;
    END IF;
    IF v_types IS NULL THEN
        RETURN NULL;
    END IF;
    -- Serialize cap raises per entity: lock the envelopes in key order, then check
    -- with a fresh snapshot (next statement) that sees committed concurrent raises.
    PERFORM 1
    FROM public.resource_budgets AS b
    JOIN unnest(v_types, v_ids) AS t (entity_type, entity_id)
      ON b.entity_type = t.entity_type AND b.entity_id = t.entity_id
    ORDER BY b.entity_type, b.entity_id
    FOR NO KEY UPDATE OF b;
    SELECT b.entity_type, b.entity_id, b.token_budget, s.total INTO v_bad
    FROM public.resource_budgets AS b
    JOIN unnest(v_types, v_ids) AS t (entity_type, entity_id)
      ON b.entity_type = t.entity_type AND b.entity_id = t.entity_id
    CROSS JOIN LATERAL (SELECT sum(r.token_budget) AS total FROM public.resource_budget_tiers AS r
                        WHERE r.entity_type = b.entity_type AND r.entity_id = b.entity_id) AS s
    WHERE s.total > b.token_budget
    ORDER BY b.entity_type, b.entity_id
    LIMIT 1;
    IF FOUND THEN
        PERFORM senate.raise_error('S1005',
            format('resource_budget_tiers: tier caps of %s %s would total %s tokens, above its '
                   'token_budget of %s tokens', v_bad.entity_type, v_bad.entity_id, v_bad.total,
                   v_bad.token_budget));
    END IF;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION senate.check_tier_budgets_within_token_budget() IS
  'Statement-level trigger on resource_budget_tiers: refuses (S1005) a write that raises an '
  'entity''s total of tier caps above its token_budget. Locks the envelopes in key order so '
  'concurrent cap writes for one entity are checked one after the other.';

DROP TRIGGER IF EXISTS t10_check_tier_inserts ON public.resource_budget_tiers;
CREATE TRIGGER t10_check_tier_inserts
    AFTER INSERT ON public.resource_budget_tiers
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION senate.check_tier_budgets_within_token_budget();
DROP TRIGGER IF EXISTS t10_check_tier_updates ON public.resource_budget_tiers;
CREATE TRIGGER t10_check_tier_updates
    AFTER UPDATE ON public.resource_budget_tiers
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION senate.check_tier_budgets_within_token_budget();
COMMENT ON TRIGGER t10_check_tier_inserts ON public.resource_budget_tiers IS 'New tier caps may not total more than token_budget.';
COMMENT ON TRIGGER t10_check_tier_updates ON public.resource_budget_tiers IS 'Raised tier caps may not total more than token_budget.';

DROP TRIGGER IF EXISTS t50_record_tier_budget_inserts ON public.resource_budget_tiers;
CREATE TRIGGER t50_record_tier_budget_inserts
    AFTER INSERT ON public.resource_budget_tiers
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION senate.record_tier_budget_changes();
DROP TRIGGER IF EXISTS t50_record_tier_budget_updates ON public.resource_budget_tiers;
CREATE TRIGGER t50_record_tier_budget_updates
    AFTER UPDATE ON public.resource_budget_tiers
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION senate.record_tier_budget_changes();
DROP TRIGGER IF EXISTS t50_record_tier_budget_deletes ON public.resource_budget_tiers;
CREATE TRIGGER t50_record_tier_budget_deletes
    AFTER DELETE ON public.resource_budget_tiers
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION senate.record_tier_budget_changes();
COMMENT ON TRIGGER t50_record_tier_budget_inserts ON public.resource_budget_tiers IS 'Ledger rows for new tier caps.';
COMMENT ON TRIGGER t50_record_tier_budget_updates ON public.resource_budget_tiers IS 'Ledger rows for changed tier caps.';
COMMENT ON TRIGGER t50_record_tier_budget_deletes ON public.resource_budget_tiers IS 'Ledger rows for removed tier caps.';

CALL senate.settle_comments('0016');
