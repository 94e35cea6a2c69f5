-- Why: the spec's canonical per-entity budget envelope. One row per
-- (entity_type, entity_id); it is the editable control surface, while
-- resource_usage stays the append-only record of spend. Every change to a row
-- is written to the budget ledger by trigger (migration 0008).
SET lock_timeout = '5s';

CALL senate.claim('0006', 'table', 'public.resource_budgets');
CREATE TABLE IF NOT EXISTS public.resource_budgets (
    entity_type        text NOT NULL REFERENCES public.entity_types (entity_type),
    entity_id          text NOT NULL CHECK (length(entity_id) BETWEEN 1 AND 200),
    token_budget       numeric NOT NULL DEFAULT 0
        CHECK (token_budget >= 0 AND token_budget NOT IN ('NaN'::numeric, 'Infinity'::numeric)),
    cpu_budget         numeric NOT NULL DEFAULT 0
        CHECK (cpu_budget >= 0 AND cpu_budget NOT IN ('NaN'::numeric, 'Infinity'::numeric)),
    storage_budget_gb  numeric NOT NULL DEFAULT 0
        CHECK (storage_budget_gb >= 0 AND storage_budget_gb NOT IN ('NaN'::numeric, 'Infinity'::numeric)),
    api_call_budget    numeric NOT NULL DEFAULT 0
        CHECK (api_call_budget >= 0 AND api_call_budget NOT IN ('NaN'::numeric, 'Infinity'::numeric)),
    priority_score     numeric NOT NULL DEFAULT 0
        CHECK (priority_score BETWEEN 0 AND 1 AND priority_score <> 'NaN'::numeric),
    market_weight      numeric NOT NULL DEFAULT 0
        CHECK (market_weight >= -1 AND market_weight NOT IN ('NaN'::numeric, 'Infinity'::numeric)),
    roi_score          numeric
        CHECK (roi_score >= 0 AND roi_score NOT IN ('NaN'::numeric, 'Infinity'::numeric)),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (entity_type, entity_id)
);
COMMENT ON TABLE public.resource_budgets IS
  'Per-entity budget envelope, one row per (entity_type, entity_id). Budgets apply per '
  'budget period (economics_policy.budget_period, a calendar week by default). Every change '
  'is recorded in budget_ledger with its cause.';
COMMENT ON COLUMN public.resource_budgets.entity_type IS 'Kind of object (see entity_types).';
COMMENT ON COLUMN public.resource_budgets.entity_id IS 'Identifier of the object.';
COMMENT ON COLUMN public.resource_budgets.token_budget IS 'LLM token credits per budget period, in tokens (all tiers; per-tier caps in resource_budget_tiers when set).';
COMMENT ON COLUMN public.resource_budgets.cpu_budget IS 'Compute allowance per budget period, in CPU-seconds.';
COMMENT ON COLUMN public.resource_budgets.storage_budget_gb IS 'Storage allowance per budget period, in GB-hours.';
COMMENT ON COLUMN public.resource_budgets.api_call_budget IS 'External API allowance per budget period, in calls.';
COMMENT ON COLUMN public.resource_budgets.priority_score IS 'Senate allocation score in [0, 1] used to rank entities when budgets are scarce (follows the latest allocation_signals assessment).';
COMMENT ON COLUMN public.resource_budgets.market_weight IS 'Exchange-derived budget modifier, >= -1; effective budget = base budget * (1 + market_weight).';
COMMENT ON COLUMN public.resource_budgets.roi_score IS 'KG edges gained per token spent over the policy ROI window (edges/token); NULL while nothing was spent.';
COMMENT ON COLUMN public.resource_budgets.created_at IS 'When the envelope was created.';
COMMENT ON COLUMN public.resource_budgets.updated_at IS 'When the envelope last changed.';

CALL senate.claim('0006', 'index', 'public.resource_budgets_priority_idx');
CREATE INDEX IF NOT EXISTS resource_budgets_priority_idx
    ON public.resource_budgets (priority_score DESC, entity_type, entity_id);
CALL senate.claim('0006', 'index', 'public.resource_budgets_roi_idx');
CREATE INDEX IF NOT EXISTS resource_budgets_roi_idx
    ON public.resource_budgets (roi_score DESC NULLS LAST, entity_type, entity_id);
COMMENT ON INDEX public.resource_budgets_priority_idx IS 'Ranking index for "top priority" queries.';
COMMENT ON INDEX public.resource_budgets_roi_idx IS 'Ranking index for "top ROI" queries.';

CREATE OR REPLACE FUNCTION senate.budget_amount(b public.resource_budgets, p_resource_type text)
RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE p_resource_type
        WHEN 'llm_tokens' THEN b.token_budget
        WHEN 'cpu_seconds' THEN b.cpu_budget
        WHEN 'storage_gb_hours' THEN b.storage_budget_gb
        WHEN 'api_calls' THEN b.api_call_budget
    END
$$;
COMMENT ON FUNCTION senate.budget_amount(public.resource_budgets, text) IS
  'The base budget of one resource class in a resource_budgets row (NULL for an unknown class).';

CALL senate.settle_comments('0006');
