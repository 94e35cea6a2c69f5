-- Why: services and analysts ask "how much of its budget has this entity used this
-- period?" and the daily budget check asks "what was spent per day, per entity,
-- per model tier or provider?". These views answer from senate.usage_rollups
-- (summed over shard), never from resource_usage, so their cost does not grow with
-- the usage history: budget_status for one entity is one primary-key probe on
-- resource_budgets plus one index range scan of the rollups per resource class
-- (at most shards x days-in-period rows each).
--
-- Applied market weight: the views apply resource_budgets.market_weight clamped to
-- the ACTIVE policy's [-max_market_penalty, max_market_boost], and 0 below its
-- min_priority_for_market_weight. refresh_market_weights() already writes weights
-- that obey both rules; the views re-apply them so that a policy change, a newer
-- assessment or a direct write can never lift an effective budget above
-- base * (1 + max_market_boost) before the next refresh.
--
-- The period is the one containing as_of: budget_status_as_of(as_of) and
-- budget_tier_status_as_of(as_of) are inlinable SQL functions (review cycles ask
-- about a given day), and the views are those functions at now(). The period
-- bounds come from the active policy row the query already reads
-- (senate.period_bounds, inlined) - the same bounds as budget_period_bounds(as_of).
--
-- Column order is a contract: later migrations may only APPEND columns (CREATE OR
-- REPLACE VIEW), never reorder or rename them.
SET lock_timeout = '5s';

CREATE OR REPLACE FUNCTION senate.applied_market_weight(
    p_market_weight numeric, p_priority_score numeric, p_min_priority numeric,
    p_max_boost numeric, p_max_penalty numeric)
RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE WHEN p_priority_score >= p_min_priority
                THEN greatest(-p_max_penalty, least(p_max_boost, p_market_weight))
                ELSE 0::numeric END
$$;
COMMENT ON FUNCTION senate.applied_market_weight(numeric, numeric, numeric, numeric, numeric) IS
  'Market weight as the views apply it (unitless): the stored weight clamped to '
  '[-max penalty, max boost], or 0 when priority_score is below the policy threshold.';

CREATE OR REPLACE FUNCTION public.budget_status_as_of(as_of timestamptz)
RETURNS TABLE (
    entity_type text, entity_id text, resource_type text, unit text, base_budget numeric,
    market_weight numeric, effective_budget numeric, period_start date, period_end date,
    spent numeric, spent_cost_usd numeric, remaining numeric, utilization numeric,
    over_budget boolean)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT b.entity_type,
           b.entity_id,
           t.resource_type,
           t.unit,
           x.base_budget,
           w.market_weight,
           e.effective_budget,
           pb.period_start,
           pb.period_end,
           coalesce(s.spent, 0) AS spent,
           coalesce(s.spent_cost_usd, 0) AS spent_cost_usd,
           greatest(e.effective_budget - coalesce(s.spent, 0), 0) AS remaining,
           CASE WHEN e.effective_budget > 0 THEN coalesce(s.spent, 0) / e.effective_budget END
               AS utilization,
           coalesce(s.spent, 0) > e.effective_budget AS over_budget
    FROM public.resource_budgets AS b
    CROSS JOIN public.resource_types AS t
    CROSS JOIN (SELECT bounds.period_start, bounds.period_end, p.min_priority_for_market_weight,
                       p.max_market_boost, p.max_market_penalty
                FROM public.economics_policy AS p
                CROSS JOIN LATERAL senate.period_bounds(as_of, p.budget_period, p.time_zone) AS bounds
                WHERE p.is_active) AS pb
    CROSS JOIN LATERAL (SELECT senate.budget_amount(b, t.resource_type) AS base_budget) AS x
    CROSS JOIN LATERAL (SELECT senate.applied_market_weight(
                                   b.market_weight, b.priority_score, pb.min_priority_for_market_weight,
                                   pb.max_market_boost, pb.max_market_penalty) AS market_weight) AS w
    CROSS JOIN LATERAL (SELECT public.effective_budget(x.base_budget, w.market_weight)
                                   AS effective_budget) AS e
    -- A join to a grouped subquery (not a LATERAL aggregate) so that the planner can
    -- push an entity filter into the rollup scan (one index range per entity) and
    -- still hash-join the whole table when the view is read for every entity.
    LEFT JOIN (
        SELECT r.entity_type, r.entity_id, r.resource_type,
               sum(r.amount_total) AS spent, sum(r.cost_total_usd) AS spent_cost_usd
        FROM senate.usage_rollups AS r
        CROSS JOIN (SELECT bounds.period_start, bounds.period_end
                    FROM public.economics_policy AS p
                    CROSS JOIN LATERAL senate.period_bounds(as_of, p.budget_period, p.time_zone) AS bounds
                    WHERE p.is_active) AS rp
        WHERE r.usage_day >= rp.period_start AND r.usage_day < rp.period_end
        GROUP BY r.entity_type, r.entity_id, r.resource_type) AS s
      ON s.entity_type = b.entity_type AND s.entity_id = b.entity_id
     AND s.resource_type = t.resource_type
$$;
COMMENT ON FUNCTION public.budget_status_as_of(timestamptz) IS
  'budget_status for the budget period containing as_of (budgets, weights and policy as they '
  'are now; spend of that period). An inlinable SQL function: filters on entity_type and '
  'entity_id reach the rollup scan. budget_status is budget_status_as_of(now()).';

CREATE OR REPLACE VIEW public.budget_status AS
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

CREATE OR REPLACE FUNCTION public.budget_tier_status_as_of(as_of timestamptz)
RETURNS TABLE (
    entity_type text, entity_id text, model_tier text, base_budget numeric,
    market_weight numeric, effective_budget numeric, period_start date, period_end date,
    spent numeric, spent_cost_usd numeric, remaining numeric, utilization numeric,
    over_budget boolean)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT b.entity_type,
           b.entity_id,
           c.model_tier,
           c.token_budget AS base_budget,
           w.market_weight,
           e.effective_budget,
           pb.period_start,
           pb.period_end,
           coalesce(s.spent, 0) AS spent,
           coalesce(s.spent_cost_usd, 0) AS spent_cost_usd,
           greatest(least(e.effective_budget - coalesce(s.spent, 0),
                          e.pool_effective_budget - coalesce(ps.pool_spent, 0)), 0) AS remaining,
           CASE WHEN e.effective_budget > 0 THEN coalesce(s.spent, 0) / e.effective_budget END
               AS utilization,
           coalesce(s.spent, 0) > e.effective_budget AS over_budget
    FROM public.resource_budget_tiers AS c
    JOIN public.resource_budgets AS b ON b.entity_type = c.entity_type AND b.entity_id = c.entity_id
    CROSS JOIN (SELECT bounds.period_start, bounds.period_end, p.min_priority_for_market_weight,
                       p.max_market_boost, p.max_market_penalty
                FROM public.economics_policy AS p
                CROSS JOIN LATERAL senate.period_bounds(as_of, p.budget_period, p.time_zone) AS bounds
                WHERE p.is_active) AS pb
    CROSS JOIN LATERAL (SELECT senate.applied_market_weight(
                                   b.market_weight, b.priority_score, pb.min_priority_for_market_weight,
                                   pb.max_market_boost, pb.max_market_penalty) AS market_weight) AS w
    CROSS JOIN LATERAL (SELECT public.effective_budget(c.token_budget, w.market_weight) AS effective_budget,
                               public.effective_budget(b.token_budget, w.market_weight)
                                   AS pool_effective_budget) AS e
    LEFT JOIN (
        SELECT r.entity_type, r.entity_id, r.resource_subclass AS model_tier,
               sum(r.amount_total) AS spent, sum(r.cost_total_usd) AS spent_cost_usd
        FROM senate.usage_rollups AS r
        CROSS JOIN (SELECT bounds.period_start, bounds.period_end
                    FROM public.economics_policy AS p
                    CROSS JOIN LATERAL senate.period_bounds(as_of, p.budget_period, p.time_zone) AS bounds
                    WHERE p.is_active) AS rp
        WHERE r.resource_type = 'llm_tokens'
          AND r.usage_day >= rp.period_start AND r.usage_day < rp.period_end
        GROUP BY r.entity_type, r.entity_id, r.resource_subclass) AS s
      ON s.entity_type = c.entity_type AND s.entity_id = c.entity_id AND s.model_tier = c.model_tier
    LEFT JOIN (
        SELECT r.entity_type, r.entity_id, sum(r.amount_total) AS pool_spent
        FROM senate.usage_rollups AS r
        CROSS JOIN (SELECT bounds.period_start, bounds.period_end
                    FROM public.economics_policy AS p
                    CROSS JOIN LATERAL senate.period_bounds(as_of, p.budget_period, p.time_zone) AS bounds
                    WHERE p.is_active) AS rp
        WHERE r.resource_type = 'llm_tokens'
          AND r.usage_day >= rp.period_start AND r.usage_day < rp.period_end
        GROUP BY r.entity_type, r.entity_id) AS ps
      ON ps.entity_type = c.entity_type AND ps.entity_id = c.entity_id
$$;
COMMENT ON FUNCTION public.budget_tier_status_as_of(timestamptz) IS
  'budget_tier_status for the budget period containing as_of (caps, weights and policy as they '
  'are now; spend of that period). budget_tier_status is budget_tier_status_as_of(now()).';

CREATE OR REPLACE VIEW public.budget_tier_status AS
SELECT s.entity_type, s.entity_id, s.model_tier, s.base_budget, s.market_weight,
       s.effective_budget, s.period_start, s.period_end, s.spent, s.spent_cost_usd,
       s.remaining, s.utilization, s.over_budget
FROM public.budget_tier_status_as_of(now()) AS s;
COMMENT ON VIEW public.budget_tier_status IS
  'Per entity and capped model tier (resource_budget_tiers), the current budget period: tier cap, '
  'applied market weight, effective cap, the tier''s llm_tokens spend, and remaining = what both the '
  'tier cap and the whole token pool still allow. Tiers without a cap draw on the pool only '
  '(budget_status, resource_type llm_tokens). Columns are only ever appended.';
COMMENT ON COLUMN public.budget_tier_status.entity_type IS 'Kind of entity.';
COMMENT ON COLUMN public.budget_tier_status.entity_id IS 'Entity identifier.';
COMMENT ON COLUMN public.budget_tier_status.model_tier IS 'Model tier capped (models map to tiers in llm_models).';
COMMENT ON COLUMN public.budget_tier_status.base_budget IS 'Tier cap per budget period, in tokens.';
COMMENT ON COLUMN public.budget_tier_status.market_weight IS 'Applied market weight of the entity (unitless), as in budget_status.';
COMMENT ON COLUMN public.budget_tier_status.effective_budget IS 'base_budget * (1 + market_weight), in tokens.';
COMMENT ON COLUMN public.budget_tier_status.period_start IS 'First day of the current budget period (policy time zone).';
COMMENT ON COLUMN public.budget_tier_status.period_end IS 'First day AFTER the current budget period (exclusive bound).';
COMMENT ON COLUMN public.budget_tier_status.spent IS 'Tokens used in the current period by models of this tier.';
COMMENT ON COLUMN public.budget_tier_status.spent_cost_usd IS 'Cost of this tier''s spend in the current period, in USD.';
COMMENT ON COLUMN public.budget_tier_status.remaining IS 'Tokens this tier may still use: least(tier effective cap - tier spend, pool effective budget - pool spend), floored at 0.';
COMMENT ON COLUMN public.budget_tier_status.utilization IS 'spent / effective_budget as a fraction (1 = 100 %); NULL when the effective cap is 0.';
COMMENT ON COLUMN public.budget_tier_status.over_budget IS 'True when the tier''s spend exceeds its effective cap.';

CREATE OR REPLACE VIEW public.daily_spend AS
SELECT r.usage_day,
       r.entity_type,
       r.entity_id,
       r.resource_type,
       r.resource_subclass,
       CASE WHEN r.resource_type = 'llm_tokens' THEN r.resource_subclass END AS model_tier,
       CASE WHEN r.resource_type = 'api_calls' THEN r.resource_subclass END AS provider,
       sum(r.amount_total) AS amount,
       sum(r.cost_total_usd) AS cost_usd,
       sum(r.usage_rows)::bigint AS usage_rows
FROM senate.usage_rollups AS r
GROUP BY r.usage_day, r.entity_type, r.entity_id, r.resource_type, r.resource_subclass
HAVING sum(r.usage_rows) <> 0 OR sum(r.amount_total) <> 0 OR sum(r.cost_total_usd) <> 0;
COMMENT ON VIEW public.daily_spend IS
  'Spend per day (policy time zone) x entity x resource class x model tier or provider: amount and '
  'cost in USD. What the daily budget check reads. From senate.usage_rollups (summed over shard).';
COMMENT ON COLUMN public.daily_spend.usage_day IS 'Calendar day of the spend in the policy time zone.';
COMMENT ON COLUMN public.daily_spend.entity_type IS 'Kind of entity charged.';
COMMENT ON COLUMN public.daily_spend.entity_id IS 'Entity charged.';
COMMENT ON COLUMN public.daily_spend.resource_type IS 'Resource class.';
COMMENT ON COLUMN public.daily_spend.resource_subclass IS 'Model tier (llm_tokens; unknown for unmapped models), provider (api_calls) or empty.';
COMMENT ON COLUMN public.daily_spend.model_tier IS 'Model tier for llm_tokens rows, else NULL.';
COMMENT ON COLUMN public.daily_spend.provider IS 'API provider for api_calls rows, else NULL.';
COMMENT ON COLUMN public.daily_spend.amount IS 'Amount used, in the unit of the class (tokens, CPU-seconds, GB-hours, calls).';
COMMENT ON COLUMN public.daily_spend.cost_usd IS 'Cost in USD (row cost, else priced from llm_models / api_providers).';
COMMENT ON COLUMN public.daily_spend.usage_rows IS 'Number of resource_usage rows, in rows.';
