-- Puts back the senate_report_* views as 0061 made them (exact figures, 0061's comments);
-- senate_report_reserve loses last_change_as_of (a view cannot lose a column in place: dropped
-- and made again, then granted again from senate.table_access).
SET lock_timeout = '5s';

CREATE OR REPLACE VIEW public.senate_report_overview AS
SELECT now() AS as_of,
       pb.period_start,
       pb.period_end,
       (SELECT count(*) FROM public.resource_budgets) AS envelopes,
       s.over_budget_entities,
       s.effective_token_budget,
       s.tokens_spent,
       CASE WHEN s.effective_token_budget > 0 THEN s.tokens_spent / s.effective_token_budget END
           AS token_utilization,
       s.spent_cost_usd,
       rw.window_start AS roi_window_start,
       rw.window_end AS roi_window_end,
       g.kg_edges_gained,
       g.tokens_spent AS roi_window_tokens_spent,
       public.roi_score(g.kg_edges_gained, g.tokens_spent) AS roi_window_roi,
       (SELECT count(*) FROM public.allocation_proposals AS p WHERE p.status = 'pending')
           AS pending_proposals,
       (SELECT r.balance FROM public.senate_reserve AS r WHERE r.resource_type = 'llm_tokens')
           AS reserve_tokens,
       s.throttled_entities,
       (SELECT count(*) FROM public.spend_alerts AS a
        WHERE a.period_start = pb.period_start) AS alerts_this_period,
       (SELECT max(r.run_id) FROM public.rebalance_runs AS r) AS last_rebalance_run
FROM public.budget_period_bounds(now()) AS pb
CROSS JOIN public.roi_window_bounds(now()) AS rw
CROSS JOIN (
    SELECT count(DISTINCT (b.entity_type, b.entity_id)) FILTER (WHERE b.over_budget)
               AS over_budget_entities,
           count(DISTINCT (b.entity_type, b.entity_id)) FILTER (WHERE b.throttled)
               AS throttled_entities,
           coalesce(sum(b.effective_budget) FILTER (WHERE b.resource_type = 'llm_tokens'), 0)
               AS effective_token_budget,
           coalesce(sum(b.spent) FILTER (WHERE b.resource_type = 'llm_tokens'), 0) AS tokens_spent,
           coalesce(sum(b.spent_cost_usd), 0) AS spent_cost_usd
    FROM public.budget_status AS b) AS s
CROSS JOIN (
    SELECT coalesce(sum(l.kg_edges_gained), 0) AS kg_edges_gained,
           coalesce(sum(l.tokens_spent), 0) AS tokens_spent
    FROM public.roi_leaderboard AS l) AS g;
COMMENT ON VIEW public.senate_report_overview IS
  'The Senate report''s headline, one row: the current budget period, envelopes, entities over '
  'budget, the token budget and its use this period, the cost of this period''s spend, the ROI '
  'window''s KG edges and tokens, pending proposals, the token reserve, throttled entities, '
  'alerts fired this period and the last rebalance run.';
COMMENT ON COLUMN public.senate_report_overview.as_of IS 'When the figures were read (now()).';
COMMENT ON COLUMN public.senate_report_overview.period_start IS 'First day of the current budget period (policy time zone).';
COMMENT ON COLUMN public.senate_report_overview.period_end IS 'First day after the current budget period (exclusive bound).';
COMMENT ON COLUMN public.senate_report_overview.envelopes IS 'Number of resource_budgets rows, in envelopes.';
COMMENT ON COLUMN public.senate_report_overview.over_budget_entities IS 'Entities over their effective budget in at least one class this period (budget_status.over_budget), in entities.';
COMMENT ON COLUMN public.senate_report_overview.effective_token_budget IS 'Sum of effective llm_tokens budgets this period, in tokens.';
COMMENT ON COLUMN public.senate_report_overview.tokens_spent IS 'llm tokens spent by envelopes this period, in tokens.';
COMMENT ON COLUMN public.senate_report_overview.token_utilization IS 'tokens_spent / effective_token_budget as a fraction (1 = 100 %).';
COMMENT ON COLUMN public.senate_report_overview.spent_cost_usd IS 'Cost of all classes'' spend by envelopes this period, in USD.';
COMMENT ON COLUMN public.senate_report_overview.roi_window_start IS 'First day of the current ROI window.';
COMMENT ON COLUMN public.senate_report_overview.roi_window_end IS 'First day after the ROI window (exclusive bound).';
COMMENT ON COLUMN public.senate_report_overview.kg_edges_gained IS 'KG edges gained in the ROI window (roi_leaderboard), in edges.';
COMMENT ON COLUMN public.senate_report_overview.roi_window_tokens_spent IS 'llm tokens spent in the ROI window (roi_leaderboard), in tokens.';
COMMENT ON COLUMN public.senate_report_overview.roi_window_roi IS 'kg_edges_gained / roi_window_tokens_spent, in KG edges per token.';
COMMENT ON COLUMN public.senate_report_overview.pending_proposals IS 'Allocation proposals awaiting a decision, in proposals.';
COMMENT ON COLUMN public.senate_report_overview.reserve_tokens IS 'Senate reserve of llm_tokens, in tokens.';
COMMENT ON COLUMN public.senate_report_overview.throttled_entities IS 'Entities with an active throttle in at least one class (budget_status.throttled), in entities.';
COMMENT ON COLUMN public.senate_report_overview.alerts_this_period IS 'Spend alerts fired for the current budget period (spend_alerts), in alerts.';
COMMENT ON COLUMN public.senate_report_overview.last_rebalance_run IS 'run_id of the most recent applied rebalance (rebalance_runs); NULL if none.';

CREATE OR REPLACE VIEW public.senate_report_top_allocations AS
WITH status AS (
    SELECT b.* FROM public.budget_status AS b
), cost AS (
    SELECT s.entity_type, s.entity_id, sum(s.spent_cost_usd) AS period_cost_usd
    FROM status AS s GROUP BY s.entity_type, s.entity_id
)
SELECT row_number() OVER (ORDER BY s.effective_budget DESC, s.entity_type, s.entity_id)
           AS allocation_rank,
       s.entity_type,
       s.entity_id,
       e.priority_score,
       s.market_weight,
       s.base_budget AS token_budget,
       s.effective_budget AS effective_token_budget,
       s.spent AS tokens_spent,
       s.utilization AS token_utilization,
       e.roi_score,
       c.period_cost_usd
FROM status AS s
JOIN public.resource_budgets AS e ON e.entity_type = s.entity_type AND e.entity_id = s.entity_id
JOIN cost AS c ON c.entity_type = s.entity_type AND c.entity_id = s.entity_id
WHERE s.resource_type = 'llm_tokens'
ORDER BY 1;
COMMENT ON VIEW public.senate_report_top_allocations IS
  'Envelopes ranked by effective token budget this period (largest first), with priority, applied '
  'market weight, token spend and utilization, stored ROI score and the period''s cost in all '
  'classes.';
COMMENT ON COLUMN public.senate_report_top_allocations.allocation_rank IS 'Rank, 1 = largest effective token budget.';
COMMENT ON COLUMN public.senate_report_top_allocations.entity_type IS 'Kind of entity.';
COMMENT ON COLUMN public.senate_report_top_allocations.entity_id IS 'Entity identifier.';
COMMENT ON COLUMN public.senate_report_top_allocations.priority_score IS 'resource_budgets.priority_score, unitless in [0, 1].';
COMMENT ON COLUMN public.senate_report_top_allocations.market_weight IS 'Applied market weight (unitless), as in budget_status.';
COMMENT ON COLUMN public.senate_report_top_allocations.token_budget IS 'Base token budget per period, in tokens.';
COMMENT ON COLUMN public.senate_report_top_allocations.effective_token_budget IS 'token_budget * (1 + market_weight), in tokens.';
COMMENT ON COLUMN public.senate_report_top_allocations.tokens_spent IS 'Tokens spent this period, in tokens.';
COMMENT ON COLUMN public.senate_report_top_allocations.token_utilization IS 'tokens_spent / effective_token_budget as a fraction (1 = 100 %); NULL when the budget is 0.';
COMMENT ON COLUMN public.senate_report_top_allocations.roi_score IS 'resource_budgets.roi_score at the last refresh, in KG edges per token; NULL without spend.';
COMMENT ON COLUMN public.senate_report_top_allocations.period_cost_usd IS 'Cost of this period''s spend in all four classes, in USD.';

CREATE OR REPLACE VIEW public.senate_report_over_budget AS
SELECT b.entity_type,
       b.entity_id,
       b.resource_type,
       b.unit,
       b.effective_budget,
       b.spent,
       b.spent - b.effective_budget AS overrun,
       b.utilization,
       b.spent_cost_usd,
       b.throttled,
       b.throttled_until
FROM public.budget_status AS b
WHERE b.over_budget
ORDER BY b.utilization DESC NULLS FIRST, b.entity_type, b.entity_id, b.resource_type;
COMMENT ON VIEW public.senate_report_over_budget IS
  'Envelopes that have spent more than their effective budget in a class this period, most over '
  'first (NULL utilization = spend against a zero budget).';
COMMENT ON COLUMN public.senate_report_over_budget.entity_type IS 'Kind of entity.';
COMMENT ON COLUMN public.senate_report_over_budget.entity_id IS 'Entity identifier.';
COMMENT ON COLUMN public.senate_report_over_budget.resource_type IS 'Resource class over budget.';
COMMENT ON COLUMN public.senate_report_over_budget.unit IS 'Unit of the amounts: tokens, CPU-seconds, GB-hours or calls.';
COMMENT ON COLUMN public.senate_report_over_budget.effective_budget IS 'Effective budget this period, in unit.';
COMMENT ON COLUMN public.senate_report_over_budget.spent IS 'Spend this period, in unit.';
COMMENT ON COLUMN public.senate_report_over_budget.overrun IS 'spent - effective_budget, in unit.';
COMMENT ON COLUMN public.senate_report_over_budget.utilization IS 'spent / effective_budget as a fraction; NULL when the budget is 0.';
COMMENT ON COLUMN public.senate_report_over_budget.spent_cost_usd IS 'Cost of the spend this period, in USD.';
COMMENT ON COLUMN public.senate_report_over_budget.throttled IS 'True while the daily check''s throttle holds (can_spend refuses).';
COMMENT ON COLUMN public.senate_report_over_budget.throttled_until IS 'When that throttle ends at the latest; NULL when not throttled.';

CREATE OR REPLACE VIEW public.senate_report_throttled AS
SELECT b.entity_type,
       b.entity_id,
       b.resource_type,
       b.unit,
       b.effective_budget,
       b.spent,
       b.utilization,
       b.daily_allowance,
       b.throttled_until,
       b.throttle_reason
FROM public.budget_status AS b
WHERE b.throttled
ORDER BY b.throttled_until DESC, b.utilization DESC NULLS FIRST, b.entity_type, b.entity_id,
         b.resource_type;
COMMENT ON VIEW public.senate_report_throttled IS
  'Entity and class pairs under an active throttle of the daily check (budget_status.throttled): '
  'the spend gate refuses them until throttled_until, or sooner if their budget rises. Longest '
  'throttles first.';
COMMENT ON COLUMN public.senate_report_throttled.entity_type IS 'Kind of entity.';
COMMENT ON COLUMN public.senate_report_throttled.entity_id IS 'Entity identifier.';
COMMENT ON COLUMN public.senate_report_throttled.resource_type IS 'Resource class throttled.';
COMMENT ON COLUMN public.senate_report_throttled.unit IS 'Unit of the amounts: tokens, CPU-seconds, GB-hours or calls.';
COMMENT ON COLUMN public.senate_report_throttled.effective_budget IS 'Effective budget this period, in unit.';
COMMENT ON COLUMN public.senate_report_throttled.spent IS 'Spend this period, in unit.';
COMMENT ON COLUMN public.senate_report_throttled.utilization IS 'spent / effective_budget as a fraction; NULL when the budget is 0.';
COMMENT ON COLUMN public.senate_report_throttled.daily_allowance IS 'Daily allowance the daily check applies, in unit per day.';
COMMENT ON COLUMN public.senate_report_throttled.throttled_until IS 'When the throttle ends at the latest (next day or next period).';
COMMENT ON COLUMN public.senate_report_throttled.throttle_reason IS 'Why (spend against the daily allowance or the period budget).';

CREATE OR REPLACE VIEW public.senate_report_roi_leaders AS
SELECT row_number() OVER (ORDER BY l.roi_score DESC, l.kg_edges_gained DESC, l.entity_type,
                                   l.entity_id) AS leader_rank,
       l.entity_type,
       l.entity_id,
       l.roi_score,
       l.kg_edges_gained,
       l.tokens_spent,
       a.priority_score,
       a.market_weight,
       l.window_start,
       l.window_end
FROM public.roi_leaderboard AS l
LEFT JOIN public.allocation_ranking AS a
    ON a.entity_type = l.entity_type AND a.entity_id = l.entity_id
WHERE l.roi_score IS NOT NULL
ORDER BY 1;
COMMENT ON VIEW public.senate_report_roi_leaders IS
  'The best yield per token in the current ROI window (roi_leaderboard, entities that spent tokens), '
  'highest first, with priority and applied market weight (NULL without an envelope).';
COMMENT ON COLUMN public.senate_report_roi_leaders.leader_rank IS 'Rank, 1 = highest ROI.';
COMMENT ON COLUMN public.senate_report_roi_leaders.entity_type IS 'Kind of entity.';
COMMENT ON COLUMN public.senate_report_roi_leaders.entity_id IS 'Entity identifier.';
COMMENT ON COLUMN public.senate_report_roi_leaders.roi_score IS 'KG edges gained per token spent in the window, in edges per token.';
COMMENT ON COLUMN public.senate_report_roi_leaders.kg_edges_gained IS 'KG edges gained in the window, in edges.';
COMMENT ON COLUMN public.senate_report_roi_leaders.tokens_spent IS 'llm tokens spent in the window, in tokens.';
COMMENT ON COLUMN public.senate_report_roi_leaders.priority_score IS 'priority_score of the envelope, unitless in [0, 1].';
COMMENT ON COLUMN public.senate_report_roi_leaders.market_weight IS 'Applied market weight of the envelope (unitless).';
COMMENT ON COLUMN public.senate_report_roi_leaders.window_start IS 'First day of the ROI window.';
COMMENT ON COLUMN public.senate_report_roi_leaders.window_end IS 'First day after the ROI window (exclusive bound).';

CREATE OR REPLACE VIEW public.senate_report_roi_laggards AS
SELECT row_number() OVER (ORDER BY l.roi_score, l.tokens_spent DESC, l.entity_type, l.entity_id)
           AS laggard_rank,
       l.entity_type,
       l.entity_id,
       l.roi_score,
       l.kg_edges_gained,
       l.tokens_spent,
       a.priority_score,
       a.market_weight,
       l.window_start,
       l.window_end
FROM public.roi_leaderboard AS l
LEFT JOIN public.allocation_ranking AS a
    ON a.entity_type = l.entity_type AND a.entity_id = l.entity_id
WHERE l.roi_score IS NOT NULL
ORDER BY 1;
COMMENT ON VIEW public.senate_report_roi_laggards IS
  'The poorest yield per token in the current ROI window, lowest first (ties: the larger spender '
  'first), with priority and applied market weight (NULL without an envelope).';
COMMENT ON COLUMN public.senate_report_roi_laggards.laggard_rank IS 'Rank, 1 = lowest ROI.';
COMMENT ON COLUMN public.senate_report_roi_laggards.entity_type IS 'Kind of entity.';
COMMENT ON COLUMN public.senate_report_roi_laggards.entity_id IS 'Entity identifier.';
COMMENT ON COLUMN public.senate_report_roi_laggards.roi_score IS 'KG edges gained per token spent in the window, in edges per token.';
COMMENT ON COLUMN public.senate_report_roi_laggards.kg_edges_gained IS 'KG edges gained in the window, in edges.';
COMMENT ON COLUMN public.senate_report_roi_laggards.tokens_spent IS 'llm tokens spent in the window, in tokens.';
COMMENT ON COLUMN public.senate_report_roi_laggards.priority_score IS 'priority_score of the envelope, unitless in [0, 1].';
COMMENT ON COLUMN public.senate_report_roi_laggards.market_weight IS 'Applied market weight of the envelope (unitless).';
COMMENT ON COLUMN public.senate_report_roi_laggards.window_start IS 'First day of the ROI window.';
COMMENT ON COLUMN public.senate_report_roi_laggards.window_end IS 'First day after the ROI window (exclusive bound).';

CREATE OR REPLACE VIEW public.senate_report_last_rebalance AS
SELECT r.run_id,
       r.window_start,
       r.window_end,
       r.as_of,
       r.applied_at,
       r.actor,
       c.entity_type,
       c.entity_id,
       c.resource_type,
       rt.unit,
       c.old_budget,
       c.new_budget,
       c.delta,
       c.reason,
       c.detail
FROM (SELECT x.* FROM public.rebalance_runs AS x ORDER BY x.run_id DESC LIMIT 1) AS r
JOIN public.rebalance_changes AS c ON c.run_id = r.run_id
LEFT JOIN public.resource_types AS rt ON rt.resource_type = c.resource_type
ORDER BY c.reason, c.resource_type, c.entity_type, c.entity_id;
COMMENT ON VIEW public.senate_report_last_rebalance IS
  'What the most recent applied rebalance (rebalance_runs) changed and why: its plan '
  '(rebalance_changes), one row per envelope and class changed, and one reserve row per class '
  '(entity NULL, reason reserve), with the rule and its evidence.';
COMMENT ON COLUMN public.senate_report_last_rebalance.run_id IS 'The run (budget_ledger.cause_id of its changes).';
COMMENT ON COLUMN public.senate_report_last_rebalance.window_start IS 'First day of the window it reviewed.';
COMMENT ON COLUMN public.senate_report_last_rebalance.window_end IS 'First day after that window (exclusive bound).';
COMMENT ON COLUMN public.senate_report_last_rebalance.as_of IS 'The as_of it was applied for.';
COMMENT ON COLUMN public.senate_report_last_rebalance.applied_at IS 'When it was applied (clock time).';
COMMENT ON COLUMN public.senate_report_last_rebalance.actor IS 'Who applied it.';
COMMENT ON COLUMN public.senate_report_last_rebalance.entity_type IS 'Kind of entity (NULL for the reserve row).';
COMMENT ON COLUMN public.senate_report_last_rebalance.entity_id IS 'Entity (NULL for the reserve row).';
COMMENT ON COLUMN public.senate_report_last_rebalance.resource_type IS 'Resource class.';
COMMENT ON COLUMN public.senate_report_last_rebalance.unit IS 'Unit of the amounts: tokens, CPU-seconds, GB-hours or calls.';
COMMENT ON COLUMN public.senate_report_last_rebalance.old_budget IS 'Budget (or reserve balance) before, in unit.';
COMMENT ON COLUMN public.senate_report_last_rebalance.new_budget IS 'Budget (or reserve balance) after, in unit.';
COMMENT ON COLUMN public.senate_report_last_rebalance.delta IS 'new_budget - old_budget, in unit.';
COMMENT ON COLUMN public.senate_report_last_rebalance.reason IS 'The rule: idle_reclaim, sustained_low_roi, strong_roi_market_support, reassigned_idle_budget, or reserve.';
COMMENT ON COLUMN public.senate_report_last_rebalance.detail IS 'The evidence the rule acted on (ROI figures, market weight, idle since, rank).';

CREATE OR REPLACE VIEW public.senate_report_last_rebalance_summary AS
SELECT r.run_id,
       r.window_start,
       r.window_end,
       r.resource_type,
       r.unit,
       r.reason,
       count(*) AS changes,
       sum(r.delta) AS total_delta
FROM public.senate_report_last_rebalance AS r
GROUP BY r.run_id, r.window_start, r.window_end, r.resource_type, r.unit, r.reason
ORDER BY r.resource_type, r.reason;
COMMENT ON VIEW public.senate_report_last_rebalance_summary IS
  'senate_report_last_rebalance counted per resource class and rule: how many budgets the last '
  'rebalance changed under each rule and by how much in total (the reserve row: its net change).';
COMMENT ON COLUMN public.senate_report_last_rebalance_summary.run_id IS 'The run.';
COMMENT ON COLUMN public.senate_report_last_rebalance_summary.window_start IS 'First day of the window it reviewed.';
COMMENT ON COLUMN public.senate_report_last_rebalance_summary.window_end IS 'First day after that window (exclusive bound).';
COMMENT ON COLUMN public.senate_report_last_rebalance_summary.resource_type IS 'Resource class.';
COMMENT ON COLUMN public.senate_report_last_rebalance_summary.unit IS 'Unit of total_delta: tokens, CPU-seconds, GB-hours or calls.';
COMMENT ON COLUMN public.senate_report_last_rebalance_summary.reason IS 'The rule (reserve: the net reserve change).';
COMMENT ON COLUMN public.senate_report_last_rebalance_summary.changes IS 'Budgets changed under the rule, in envelopes x classes.';
COMMENT ON COLUMN public.senate_report_last_rebalance_summary.total_delta IS 'Sum of their deltas, in unit.';

CREATE OR REPLACE VIEW public.senate_report_spend_mix AS
SELECT d.resource_type,
       rt.unit,
       coalesce(d.model_tier, d.provider, '') AS tier_or_provider,
       sum(d.amount) AS amount,
       sum(d.cost_usd) AS cost_usd,
       sum(d.usage_rows)::bigint AS usage_rows
FROM public.daily_spend AS d
CROSS JOIN public.budget_period_bounds(now()) AS b
LEFT JOIN public.resource_types AS rt ON rt.resource_type = d.resource_type
WHERE d.usage_day >= b.period_start AND d.usage_day < b.period_end
GROUP BY d.resource_type, rt.unit, coalesce(d.model_tier, d.provider, '')
ORDER BY sum(d.cost_usd) DESC, d.resource_type, 3;
COMMENT ON VIEW public.senate_report_spend_mix IS
  'Where this budget period''s spend went: amount and cost per resource class and model tier or '
  'API provider (all entities, from the usage rollups), costliest first.';
COMMENT ON COLUMN public.senate_report_spend_mix.resource_type IS 'Resource class.';
COMMENT ON COLUMN public.senate_report_spend_mix.unit IS 'Unit of amount: tokens, CPU-seconds, GB-hours or calls.';
COMMENT ON COLUMN public.senate_report_spend_mix.tier_or_provider IS 'Model tier (llm_tokens), provider (api_calls), or empty.';
COMMENT ON COLUMN public.senate_report_spend_mix.amount IS 'Amount used this period, in unit.';
COMMENT ON COLUMN public.senate_report_spend_mix.cost_usd IS 'Cost this period, in USD.';
COMMENT ON COLUMN public.senate_report_spend_mix.usage_rows IS 'resource_usage rows this period, in rows.';

CREATE OR REPLACE VIEW public.senate_report_budget_by_period AS
SELECT DISTINCT ON (s.period_start, s.entity_type, s.resource_type)
       s.period_start,
       s.period_end,
       s.entity_type,
       s.resource_type,
       rt.unit,
       s.snapshot_at,
       s.envelopes,
       s.base_budget,
       s.effective_budget,
       s.spent,
       s.spent_cost_usd,
       CASE WHEN s.effective_budget > 0 THEN s.spent / s.effective_budget END AS utilization,
       s.over_budget_entities
FROM public.budget_snapshots AS s
LEFT JOIN public.resource_types AS rt ON rt.resource_type = s.resource_type
ORDER BY s.period_start, s.entity_type, s.resource_type, s.snapshot_at DESC;
COMMENT ON VIEW public.senate_report_budget_by_period IS
  'Budget against spend per budget period, entity type and resource class: the latest snapshot '
  '(budget_snapshots) taken in each period, so a finished period shows its whole spend and the '
  'current one its spend so far. Empty until record_economy_snapshot() has run.';
COMMENT ON COLUMN public.senate_report_budget_by_period.period_start IS 'First day of the budget period.';
COMMENT ON COLUMN public.senate_report_budget_by_period.period_end IS 'First day after the budget period (exclusive bound).';
COMMENT ON COLUMN public.senate_report_budget_by_period.entity_type IS 'Kind of entity.';
COMMENT ON COLUMN public.senate_report_budget_by_period.resource_type IS 'Resource class.';
COMMENT ON COLUMN public.senate_report_budget_by_period.unit IS 'Unit of the amounts: tokens, CPU-seconds, GB-hours or calls.';
COMMENT ON COLUMN public.senate_report_budget_by_period.snapshot_at IS 'The snapshot the row comes from (the latest in the period).';
COMMENT ON COLUMN public.senate_report_budget_by_period.envelopes IS 'Envelopes of this entity type then, in envelopes.';
COMMENT ON COLUMN public.senate_report_budget_by_period.base_budget IS 'Sum of base budgets then, in unit.';
COMMENT ON COLUMN public.senate_report_budget_by_period.effective_budget IS 'Sum of effective budgets then, in unit.';
COMMENT ON COLUMN public.senate_report_budget_by_period.spent IS 'Spend in the period through the snapshot''s day, in unit.';
COMMENT ON COLUMN public.senate_report_budget_by_period.spent_cost_usd IS 'Cost of that spend, in USD.';
COMMENT ON COLUMN public.senate_report_budget_by_period.utilization IS 'spent / effective_budget as a fraction; NULL when the budget is 0.';
COMMENT ON COLUMN public.senate_report_budget_by_period.over_budget_entities IS 'Entities over their effective budget at the snapshot, in entities.';

CREATE OR REPLACE VIEW public.senate_report_reserve_history AS
SELECT s.snapshot_at,
       s.resource_type,
       rt.unit,
       s.balance,
       s.allocated
FROM public.reserve_snapshots AS s
LEFT JOIN public.resource_types AS rt ON rt.resource_type = s.resource_type
ORDER BY s.resource_type, s.snapshot_at;
COMMENT ON VIEW public.senate_report_reserve_history IS
  'The reserve over time per resource class (reserve_snapshots), with the allocated total beside '
  'it. Empty until record_economy_snapshot() has run.';
COMMENT ON COLUMN public.senate_report_reserve_history.snapshot_at IS 'The instant.';
COMMENT ON COLUMN public.senate_report_reserve_history.resource_type IS 'Resource class.';
COMMENT ON COLUMN public.senate_report_reserve_history.unit IS 'Unit of the amounts: tokens, CPU-seconds, GB-hours or calls.';
COMMENT ON COLUMN public.senate_report_reserve_history.balance IS 'Reserve balance, in unit.';
COMMENT ON COLUMN public.senate_report_reserve_history.allocated IS 'Sum of envelopes'' base budgets, in unit.';

CREATE OR REPLACE VIEW public.senate_report_roi_priority AS
SELECT a.entity_type,
       a.entity_id,
       a.priority_score,
       l.roi_score,
       l.kg_edges_gained,
       l.tokens_spent,
       a.market_weight,
       a.effective_token_budget
FROM public.allocation_ranking AS a
LEFT JOIN public.roi_leaderboard AS l
    ON l.entity_type = a.entity_type AND l.entity_id = a.entity_id
ORDER BY a.entity_type, a.entity_id;
COMMENT ON VIEW public.senate_report_roi_priority IS
  'Every envelope''s priority score beside its ROI in the current window (NULL without token '
  'spend): does the Senate''s judgment agree with the yield? With applied market weight and '
  'effective token budget.';
COMMENT ON COLUMN public.senate_report_roi_priority.entity_type IS 'Kind of entity.';
COMMENT ON COLUMN public.senate_report_roi_priority.entity_id IS 'Entity identifier.';
COMMENT ON COLUMN public.senate_report_roi_priority.priority_score IS 'priority_score, unitless in [0, 1].';
COMMENT ON COLUMN public.senate_report_roi_priority.roi_score IS 'KG edges per token in the current ROI window; NULL without token spend.';
COMMENT ON COLUMN public.senate_report_roi_priority.kg_edges_gained IS 'KG edges gained in the window, in edges (NULL when none and no spend).';
COMMENT ON COLUMN public.senate_report_roi_priority.tokens_spent IS 'llm tokens spent in the window, in tokens (NULL when none and no gains).';
COMMENT ON COLUMN public.senate_report_roi_priority.market_weight IS 'Applied market weight (unitless).';
COMMENT ON COLUMN public.senate_report_roi_priority.effective_token_budget IS 'Effective token budget per period, in tokens.';

-- squawk-ignore ban-drop-view
DROP VIEW IF EXISTS public.senate_report_reserve;
CREATE OR REPLACE VIEW public.senate_report_reserve AS
SELECT t.resource_type,
       t.unit,
       coalesce(r.balance, 0) AS balance,
       a.allocated,
       CASE WHEN coalesce(r.balance, 0) + a.allocated > 0
            THEN coalesce(r.balance, 0) / (coalesce(r.balance, 0) + a.allocated) END
           AS reserve_share,
       coalesce(q.pending_requested, 0) AS pending_requested,
       l.recorded_at AS last_change_at,
       l.cause_type AS last_change_cause,
       l.delta AS last_change_delta
FROM public.resource_types AS t
LEFT JOIN public.senate_reserve AS r ON r.resource_type = t.resource_type
CROSS JOIN LATERAL (SELECT coalesce(sum(senate.budget_amount(b, t.resource_type)), 0) AS allocated
                    FROM public.resource_budgets AS b) AS a
LEFT JOIN LATERAL (SELECT sum(p.requested_tokens::numeric) AS pending_requested
                   FROM public.allocation_proposals AS p
                   WHERE p.status = 'pending' AND p.resource_type = t.resource_type) AS q ON true
LEFT JOIN LATERAL (SELECT g.recorded_at, g.cause_type, g.delta
                   FROM public.budget_ledger AS g
                   WHERE g.account = 'reserve' AND g.entity_type IS NULL AND g.entity_id IS NULL
                     AND g.resource_type = t.resource_type
                   ORDER BY g.ledger_id DESC
                   LIMIT 1) AS l ON true
ORDER BY t.resource_type;
COMMENT ON VIEW public.senate_report_reserve IS
  'The Senate reserve per resource class: balance, what is allocated to envelopes, the reserve''s '
  'share of the two, what pending proposals ask for, and the last change (from the ledger).';
COMMENT ON COLUMN public.senate_report_reserve.resource_type IS 'Resource class.';
COMMENT ON COLUMN public.senate_report_reserve.unit IS 'Unit of the amounts: tokens, CPU-seconds, GB-hours or calls.';
COMMENT ON COLUMN public.senate_report_reserve.balance IS 'Reserve balance, in unit.';
COMMENT ON COLUMN public.senate_report_reserve.allocated IS 'Sum of the base budgets of every envelope, in unit.';
COMMENT ON COLUMN public.senate_report_reserve.reserve_share IS 'balance / (balance + allocated) as a fraction; NULL when both are 0.';
COMMENT ON COLUMN public.senate_report_reserve.pending_requested IS 'Sum requested by pending proposals, in unit.';
COMMENT ON COLUMN public.senate_report_reserve.last_change_at IS 'When the reserve of the class last changed (ledger).';
COMMENT ON COLUMN public.senate_report_reserve.last_change_cause IS 'Cause of that change (reserve_funding, proposal_approval, rebalance, ...).';
COMMENT ON COLUMN public.senate_report_reserve.last_change_delta IS 'Amount of that change, in unit.';

DO $$
BEGIN
    PERFORM senate.grant_role_privileges();
END;
$$;
