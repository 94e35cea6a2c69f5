-- Removes only what 0035 added: the appended columns of budget_status. A view cannot
-- lose columns by CREATE OR REPLACE, so the view is dropped and re-created exactly as
-- migration 0017 defined it (with its comments).
-- squawk-ignore ban-drop-view
DROP VIEW IF EXISTS public.budget_status;
CREATE VIEW public.budget_status AS
SELECT s.entity_type, s.entity_id, s.resource_type, s.unit, s.base_budget, s.market_weight,
       s.effective_budget, s.period_start, s.period_end, s.spent, s.spent_cost_usd,
       s.remaining, s.utilization, s.over_budget
FROM public.budget_status_as_of(now()) AS s;
COMMENT ON VIEW public.budget_status IS
  'Per entity and resource class, the current budget period (budget_period_bounds(now())): base '
  'budget, applied market weight, effective budget, spend, remaining, utilization, over-budget flag. '
  'Reads senate.usage_rollups (fast at any history size); filter by entity_type and entity_id. '
  'Columns are only ever appended.';
COMMENT ON COLUMN public.budget_status.entity_type IS 'Kind of entity.';
COMMENT ON COLUMN public.budget_status.entity_id IS 'Entity identifier.';
COMMENT ON COLUMN public.budget_status.resource_type IS 'Resource class: llm_tokens, cpu_seconds, storage_gb_hours, api_calls.';
COMMENT ON COLUMN public.budget_status.unit IS 'Unit of the budget and spend columns: tokens, CPU-seconds, GB-hours or calls.';
COMMENT ON COLUMN public.budget_status.base_budget IS 'Envelope for the class per budget period from resource_budgets, in unit.';
COMMENT ON COLUMN public.budget_status.market_weight IS 'Applied market weight (unitless): resource_budgets.market_weight clamped to the active policy bounds, 0 below its priority threshold.';
COMMENT ON COLUMN public.budget_status.effective_budget IS 'effective_budget(base_budget, market_weight) = base_budget * (1 + market_weight), in unit.';
COMMENT ON COLUMN public.budget_status.period_start IS 'First day of the current budget period (policy time zone).';
COMMENT ON COLUMN public.budget_status.period_end IS 'First day AFTER the current budget period (exclusive bound).';
COMMENT ON COLUMN public.budget_status.spent IS 'Amount used in the current period, in unit (from senate.usage_rollups).';
COMMENT ON COLUMN public.budget_status.spent_cost_usd IS 'Cost of the spend in the current period, in USD.';
COMMENT ON COLUMN public.budget_status.remaining IS 'effective_budget - spent, floored at 0, in unit.';
COMMENT ON COLUMN public.budget_status.utilization IS 'spent / effective_budget as a fraction (1 = 100 %); NULL when the effective budget is 0.';
COMMENT ON COLUMN public.budget_status.over_budget IS 'True when spent exceeds the effective budget.';
