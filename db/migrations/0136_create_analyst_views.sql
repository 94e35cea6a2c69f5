-- Why (issue 16, point 6 "Analyst answers"): five questions an analyst asks of the Senate each
-- get one documented view or function (db/docs/analyst.md runs each on the demo database):
--   who is over budget and throttled           -> over_budget_and_throttled (this migration)
--   why did this budget move                   -> budget_move_evidence (this migration)
--   what would the next rebalance do           -> preview_rebalance() (0134)
--   which tiers and providers cost most        -> cost_by_tier_and_provider (this migration)
--   which pending proposals can the reserve pay -> reserve_queue (0135)
-- The views carry exact values (numeric, in the unit of the class or USD); the documented queries
-- round them for reading. Each is readable by senate_reader: the views read their tables with
-- their owner's rights and call only functions PUBLIC may execute.
SET lock_timeout = '5s';

CREATE OR REPLACE VIEW public.over_budget_and_throttled AS
SELECT b.entity_type,
       b.entity_id,
       b.resource_type,
       b.unit,
       CASE WHEN b.over_budget AND b.throttled THEN 'over budget, throttled'
            WHEN b.over_budget THEN 'over budget, not throttled yet'
            ELSE 'throttled, within budget'
       END AS standing,
       b.over_budget,
       b.throttled,
       b.effective_budget,
       b.spent,
       greatest(b.spent - b.effective_budget, 0) AS overrun,
       b.utilization,
       b.daily_allowance,
       b.spent_cost_usd,
       b.throttled_until,
       b.throttle_reason
FROM public.budget_status AS b
WHERE b.over_budget OR b.throttled
ORDER BY b.over_budget AND b.throttled DESC, b.over_budget DESC, b.utilization DESC NULLS FIRST,
         b.entity_type, b.entity_id, b.resource_type;
COMMENT ON VIEW public.over_budget_and_throttled IS
  'Who is over budget and who is throttled, this budget period (budget_status): every entity and '
  'class that has spent more than its effective budget or is under an active throttle of the '
  'daily check, with its standing (over budget, throttled; over budget, not throttled yet; '
  'throttled, within budget: over a daily allowance). Over budget and throttled first, then over '
  'budget, then throttled only; most over first within each.';
COMMENT ON COLUMN public.over_budget_and_throttled.entity_type IS 'Kind of entity.';
COMMENT ON COLUMN public.over_budget_and_throttled.entity_id IS 'Entity identifier.';
COMMENT ON COLUMN public.over_budget_and_throttled.resource_type IS 'Resource class.';
COMMENT ON COLUMN public.over_budget_and_throttled.unit IS 'Unit of the amounts: tokens, CPU-seconds, GB-hours or calls.';
COMMENT ON COLUMN public.over_budget_and_throttled.standing IS 'over budget, throttled | over budget, not throttled yet | throttled, within budget.';
COMMENT ON COLUMN public.over_budget_and_throttled.over_budget IS 'Spend this period exceeds the effective budget.';
COMMENT ON COLUMN public.over_budget_and_throttled.throttled IS 'Under an active throttle: the spend gate refuses it until throttled_until.';
COMMENT ON COLUMN public.over_budget_and_throttled.effective_budget IS 'Effective budget this period, in unit.';
COMMENT ON COLUMN public.over_budget_and_throttled.spent IS 'Spend this period, in unit.';
COMMENT ON COLUMN public.over_budget_and_throttled.overrun IS 'Spend beyond the effective budget, in unit (0 when within it).';
COMMENT ON COLUMN public.over_budget_and_throttled.utilization IS 'spent / effective_budget as a fraction (1 = all of it); NULL when the budget is 0.';
COMMENT ON COLUMN public.over_budget_and_throttled.daily_allowance IS 'Daily allowance the daily check applies, in unit per day.';
COMMENT ON COLUMN public.over_budget_and_throttled.spent_cost_usd IS 'Cost of this period''s spend, in USD.';
COMMENT ON COLUMN public.over_budget_and_throttled.throttled_until IS 'When the throttle ends at the latest (NULL: not throttled).';
COMMENT ON COLUMN public.over_budget_and_throttled.throttle_reason IS 'Why it is throttled (daily allowance or period budget; NULL: not throttled).';

CREATE OR REPLACE VIEW public.budget_move_evidence AS
SELECT l.ledger_id,
       l.recorded_at,
       l.entity_type,
       l.entity_id,
       l.resource_type,
       l.model_tier,
       rt.unit,
       l.balance_before,
       l.balance_after,
       l.delta,
       l.cause_type,
       l.cause_id,
       coalesce(c.reason, l.cause_type) AS rule,
       CASE
           WHEN c.run_id IS NOT NULL THEN c.detail
           WHEN p.id IS NOT NULL THEN
               format('proposal %s by %s approved: %s%s', p.id,
                      coalesce(p.proposer_agent::text, p.proposer_id::text, 'unknown'),
                      CASE WHEN length(p.justification) > 160
                           THEN left(p.justification, 159) || '…'
                           ELSE p.justification END,
                      coalesce(' (' || l.note || ')', ''))
           ELSE l.note
       END AS evidence,
       rr.window_start AS rebalance_window_start,
       rr.window_end AS rebalance_window_end,
       l.actor,
       l.session_login AS login
FROM public.budget_ledger AS l
LEFT JOIN public.resource_types AS rt ON rt.resource_type = l.resource_type
LEFT JOIN public.rebalance_changes AS c
       ON l.cause_type = 'rebalance' AND l.account = 'entity_budget'
      AND c.entity_type = l.entity_type AND c.entity_id = l.entity_id
      AND c.resource_type = l.resource_type AND c.run_id::text = l.cause_id
LEFT JOIN public.rebalance_runs AS rr ON rr.run_id = c.run_id
LEFT JOIN public.allocation_proposals AS p
       ON l.cause_type = 'proposal_approval'
      AND p.entity_type::text = l.entity_type AND p.entity_id::text = l.entity_id
      AND p.id::text = l.cause_id
WHERE l.account IN ('entity_budget', 'entity_tier_budget');
COMMENT ON VIEW public.budget_move_evidence IS
  'Why each budget moved: every change to an entity''s budget (budget_ledger, accounts '
  'entity_budget and entity_tier_budget) with the rule that moved it and that rule''s evidence for '
  'this entity: for a rebalance, the rule and evidence of its plan (rebalance_changes: ROI figures, '
  'market weight, idle since, rank) and the window reviewed; for an approval, the proposal, its '
  'proposer and justification and the reviewer''s note; otherwise the ledger note. Filter by '
  'entity_type and entity_id (indexed); order by ledger_id.';
COMMENT ON COLUMN public.budget_move_evidence.ledger_id IS 'budget_ledger row (order of recording).';
COMMENT ON COLUMN public.budget_move_evidence.recorded_at IS 'When the change was recorded.';
COMMENT ON COLUMN public.budget_move_evidence.entity_type IS 'Kind of entity.';
COMMENT ON COLUMN public.budget_move_evidence.entity_id IS 'Entity identifier.';
COMMENT ON COLUMN public.budget_move_evidence.resource_type IS 'Resource class whose budget moved.';
COMMENT ON COLUMN public.budget_move_evidence.model_tier IS 'Model tier of a per-tier token cap change (NULL: the envelope''s budget).';
COMMENT ON COLUMN public.budget_move_evidence.unit IS 'Unit of the amounts: tokens, CPU-seconds, GB-hours or calls.';
COMMENT ON COLUMN public.budget_move_evidence.balance_before IS 'Budget before, in unit.';
COMMENT ON COLUMN public.budget_move_evidence.balance_after IS 'Budget after, in unit.';
COMMENT ON COLUMN public.budget_move_evidence.delta IS 'balance_after - balance_before, in unit.';
COMMENT ON COLUMN public.budget_move_evidence.cause_type IS 'What caused it: rebalance, proposal_approval, direct_write, ...';
COMMENT ON COLUMN public.budget_move_evidence.cause_id IS 'Rebalance run id, proposal id, ... (NULL if none).';
COMMENT ON COLUMN public.budget_move_evidence.rule IS 'The rule: for a rebalance idle_reclaim, sustained_low_roi, strong_roi_market_support or reassigned_idle_budget; else the cause type.';
COMMENT ON COLUMN public.budget_move_evidence.evidence IS 'What the rule acted on for this entity (rebalance plan detail, the approved proposal, or the ledger note).';
COMMENT ON COLUMN public.budget_move_evidence.rebalance_window_start IS 'First day of the window the rebalance reviewed (NULL for other causes).';
COMMENT ON COLUMN public.budget_move_evidence.rebalance_window_end IS 'First day after that window, exclusive (NULL for other causes).';
COMMENT ON COLUMN public.budget_move_evidence.actor IS 'Who made the change, as named by the function that made it.';
COMMENT ON COLUMN public.budget_move_evidence.login IS 'Login (session_user) that made the change; NULL before migration 0111.';

CREATE OR REPLACE VIEW public.cost_by_tier_and_provider AS
WITH policy AS (
    SELECT coalesce(max(e.budget_period), 'week') AS budget_period,
           coalesce(max(e.time_zone), 'UTC') AS time_zone
    FROM public.economics_policy AS e
    WHERE e.is_active
), spend AS (
    SELECT b.period_start,
           b.period_end,
           d.resource_type,
           CASE WHEN nullif(d.model_tier, '') IS NOT NULL THEN 'model tier'
                WHEN nullif(d.provider, '') IS NOT NULL THEN 'provider'
                ELSE 'class' END AS kind,
           coalesce(nullif(d.model_tier, ''), nullif(d.provider, ''), d.resource_type)
               AS tier_or_provider,
           sum(d.amount) AS amount,
           sum(d.cost_usd) AS cost_usd,
           sum(d.usage_rows)::bigint AS usage_rows,
           count(DISTINCT (d.entity_type, d.entity_id)) AS entities
    FROM public.daily_spend AS d
    CROSS JOIN policy AS po
    CROSS JOIN LATERAL senate.period_bounds(d.usage_day::timestamp AT TIME ZONE po.time_zone,
                                            po.budget_period, po.time_zone) AS b
    GROUP BY 1, 2, 3, 4, 5
)
SELECT s.period_start,
       s.period_end,
       row_number() OVER (PARTITION BY s.period_start
                          ORDER BY s.cost_usd DESC, s.resource_type, s.tier_or_provider)
           AS cost_rank,
       s.resource_type,
       rt.unit,
       s.kind,
       s.tier_or_provider,
       s.amount,
       s.cost_usd,
       s.cost_usd / nullif(sum(s.cost_usd) OVER (PARTITION BY s.period_start), 0) AS cost_share,
       s.usage_rows,
       s.entities
FROM spend AS s
LEFT JOIN public.resource_types AS rt ON rt.resource_type = s.resource_type
ORDER BY s.period_start DESC, cost_rank;
COMMENT ON VIEW public.cost_by_tier_and_provider IS
  'Which model tiers and API providers cost most, per budget period (active policy): amount, cost '
  'in USD, share of the period''s cost and rank (1 = costliest), how many usage rows and entities, '
  'per LLM model tier (llm_tokens) and API provider (api_calls); other classes as one row each. '
  'From the usage rollups (daily_spend). Newest period first.';
COMMENT ON COLUMN public.cost_by_tier_and_provider.period_start IS 'First day of the budget period (policy time zone).';
COMMENT ON COLUMN public.cost_by_tier_and_provider.period_end IS 'First day after the budget period (exclusive bound).';
COMMENT ON COLUMN public.cost_by_tier_and_provider.cost_rank IS 'Rank by cost within the period, 1 = costliest.';
COMMENT ON COLUMN public.cost_by_tier_and_provider.resource_type IS 'Resource class.';
COMMENT ON COLUMN public.cost_by_tier_and_provider.unit IS 'Unit of amount: tokens, CPU-seconds, GB-hours or calls.';
COMMENT ON COLUMN public.cost_by_tier_and_provider.kind IS 'model tier (llm_tokens), provider (api_calls) or class (a class without tiers or providers).';
COMMENT ON COLUMN public.cost_by_tier_and_provider.tier_or_provider IS 'Model tier, API provider, or the resource class itself.';
COMMENT ON COLUMN public.cost_by_tier_and_provider.amount IS 'Amount used in the period, in unit.';
COMMENT ON COLUMN public.cost_by_tier_and_provider.cost_usd IS 'Cost in the period, in USD.';
COMMENT ON COLUMN public.cost_by_tier_and_provider.cost_share IS 'cost_usd / the period''s total cost, as a fraction (NULL when the period cost nothing).';
COMMENT ON COLUMN public.cost_by_tier_and_provider.usage_rows IS 'resource_usage rows in the period, in rows.';
COMMENT ON COLUMN public.cost_by_tier_and_provider.entities IS 'Entities that used it in the period.';

INSERT INTO senate.table_access (relation_name, role_name, privilege)
SELECT v.name, r.role_name, 'SELECT'
FROM unnest(ARRAY['public.over_budget_and_throttled', 'public.budget_move_evidence',
                  'public.cost_by_tier_and_provider']) AS v (name),
     unnest(ARRAY['senate_reader', 'senate_owner']) AS r (role_name)
ORDER BY 1, 2
ON CONFLICT DO NOTHING;

DO $$
BEGIN
    PERFORM senate.grant_role_privileges();
END;
$$;
