-- Why (issue 16, point 8 "views round for display where a person reads them"): the report
-- views showed raw numerics in psql, e.g. an effective budget of 1139113.954120 tokens (base x
-- (1 + market weight)), utilizations with 20 decimals, ROI as 0.00292572154881111077. The
-- senate_report_* views are the Senate report's display layer (the report and the analyst in
-- psql read them), so they now round where a person reads:
--   amounts in the unit of a class   2 decimals, trailing zeros dropped (trim_scale): 287000,
--                                    1139113.95, 990623.7
--   fractions (utilization, share)   4 decimals (0.1945 = 19.45 %)
--   USD                              2 decimals
--   ROI (KG edges per token)         8 decimals (0.00292572)
--   market weight                    3 decimals
-- The exact values stay where they come from (budget_status, roi_leaderboard,
-- allocation_ranking, senate_reserve, budget_ledger, rebalance_changes, daily_spend, the
-- snapshot tables; the analyst views of 0136 are exact too), and every rounded column says so
-- in its comment. Column names, types and order are unchanged (the contract of 0061);
-- senate_report_reserve gains last_change_as_of (appended): the economy time of its last
-- change (budget_ledger.as_of, 0140), beside last_change_at, the clock time it was written.
-- senate_report_last_rebalance_summary sums the exact deltas (rebalance_changes), then rounds.
SET lock_timeout = '5s';

CREATE OR REPLACE VIEW public.senate_report_overview AS
SELECT now() AS as_of,
       pb.period_start,
       pb.period_end,
       (SELECT count(*) FROM public.resource_budgets) AS envelopes,
       s.over_budget_entities,
       trim_scale(round(s.effective_token_budget, 2)) AS effective_token_budget,
       trim_scale(round(s.tokens_spent, 2)) AS tokens_spent,
       round(CASE WHEN s.effective_token_budget > 0
                  THEN s.tokens_spent / s.effective_token_budget END, 4) AS token_utilization,
       round(s.spent_cost_usd, 2) AS spent_cost_usd,
       rw.window_start AS roi_window_start,
       rw.window_end AS roi_window_end,
       g.kg_edges_gained,
       trim_scale(round(g.tokens_spent, 2)) AS roi_window_tokens_spent,
       round(public.roi_score(g.kg_edges_gained, g.tokens_spent), 8) AS roi_window_roi,
       (SELECT count(*) FROM public.allocation_proposals AS p WHERE p.status = 'pending')
           AS pending_proposals,
       (SELECT trim_scale(round(r.balance, 2)) FROM public.senate_reserve AS r
        WHERE r.resource_type = 'llm_tokens') AS reserve_tokens,
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
  'alerts fired this period and the last rebalance run. Rounded for reading (amounts to 2 '
  'decimals, fractions to 4, USD to cents, ROI to 8 decimals); exact figures in budget_status, '
  'roi_leaderboard and senate_reserve.';
COMMENT ON COLUMN public.senate_report_overview.effective_token_budget IS 'Sum of effective llm_tokens budgets this period, in tokens (2 decimals).';
COMMENT ON COLUMN public.senate_report_overview.token_utilization IS 'tokens_spent / effective_token_budget as a fraction (1 = 100 %; 4 decimals).';
COMMENT ON COLUMN public.senate_report_overview.spent_cost_usd IS 'Cost of all classes'' spend by envelopes this period, in USD (cents).';
COMMENT ON COLUMN public.senate_report_overview.roi_window_roi IS 'kg_edges_gained / roi_window_tokens_spent, in KG edges per token (8 decimals).';
COMMENT ON COLUMN public.senate_report_overview.throttled_entities IS 'Entities with an active throttle in at least one class (budget_status.throttled), in entities; senate_report_throttled has one row per entity and class, so it can hold more rows.';

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
       round(s.market_weight, 3) AS market_weight,
       trim_scale(round(s.base_budget, 2)) AS token_budget,
       trim_scale(round(s.effective_budget, 2)) AS effective_token_budget,
       trim_scale(round(s.spent, 2)) AS tokens_spent,
       round(s.utilization, 4) AS token_utilization,
       round(e.roi_score, 8) AS roi_score,
       round(c.period_cost_usd, 2) AS period_cost_usd
FROM status AS s
JOIN public.resource_budgets AS e ON e.entity_type = s.entity_type AND e.entity_id = s.entity_id
JOIN cost AS c ON c.entity_type = s.entity_type AND c.entity_id = s.entity_id
WHERE s.resource_type = 'llm_tokens'
ORDER BY 1;
COMMENT ON VIEW public.senate_report_top_allocations IS
  'Envelopes ranked by effective token budget this period (largest first, by the exact budget), '
  'with priority, applied market weight, token spend and utilization, stored ROI score and the '
  'period''s cost in all classes. Rounded for reading (amounts 2 decimals, weight 3, fractions 4, '
  'ROI 8, USD cents); exact figures in budget_status and resource_budgets.';
COMMENT ON COLUMN public.senate_report_top_allocations.market_weight IS 'Applied market weight (unitless, 3 decimals), as in budget_status.';
COMMENT ON COLUMN public.senate_report_top_allocations.effective_token_budget IS 'token_budget * (1 + market_weight), in tokens (2 decimals).';
COMMENT ON COLUMN public.senate_report_top_allocations.token_utilization IS 'tokens_spent / effective_token_budget as a fraction (1 = 100 %; 4 decimals); NULL when the budget is 0.';
COMMENT ON COLUMN public.senate_report_top_allocations.roi_score IS 'resource_budgets.roi_score at the last refresh, in KG edges per token (8 decimals); NULL without spend.';
COMMENT ON COLUMN public.senate_report_top_allocations.period_cost_usd IS 'Cost of this period''s spend in all four classes, in USD (cents).';

CREATE OR REPLACE VIEW public.senate_report_over_budget AS
SELECT b.entity_type,
       b.entity_id,
       b.resource_type,
       b.unit,
       trim_scale(round(b.effective_budget, 2)) AS effective_budget,
       trim_scale(round(b.spent, 2)) AS spent,
       trim_scale(round(b.spent - b.effective_budget, 2)) AS overrun,
       round(b.utilization, 4) AS utilization,
       round(b.spent_cost_usd, 2) AS spent_cost_usd,
       b.throttled,
       b.throttled_until
FROM public.budget_status AS b
WHERE b.over_budget
ORDER BY b.utilization DESC NULLS FIRST, b.entity_type, b.entity_id, b.resource_type;
COMMENT ON VIEW public.senate_report_over_budget IS
  'Envelopes that have spent more than their effective budget in a class this period, most over '
  'first (NULL utilization = spend against a zero budget). One row per entity and class. Rounded '
  'for reading (amounts 2 decimals, fractions 4, USD cents); exact figures in budget_status.';
COMMENT ON COLUMN public.senate_report_over_budget.effective_budget IS 'Effective budget this period, in unit (2 decimals).';
COMMENT ON COLUMN public.senate_report_over_budget.overrun IS 'spent - effective_budget, in unit (2 decimals).';
COMMENT ON COLUMN public.senate_report_over_budget.utilization IS 'spent / effective_budget as a fraction (4 decimals); NULL when the budget is 0.';
COMMENT ON COLUMN public.senate_report_over_budget.spent_cost_usd IS 'Cost of the spend this period, in USD (cents).';

CREATE OR REPLACE VIEW public.senate_report_throttled AS
SELECT b.entity_type,
       b.entity_id,
       b.resource_type,
       b.unit,
       trim_scale(round(b.effective_budget, 2)) AS effective_budget,
       trim_scale(round(b.spent, 2)) AS spent,
       round(b.utilization, 4) AS utilization,
       trim_scale(round(b.daily_allowance, 2)) AS daily_allowance,
       b.throttled_until,
       b.throttle_reason
FROM public.budget_status AS b
WHERE b.throttled
ORDER BY b.throttled_until DESC, b.utilization DESC NULLS FIRST, b.entity_type, b.entity_id,
         b.resource_type;
COMMENT ON VIEW public.senate_report_throttled IS
  'Entity and class pairs under an active throttle of the daily check (budget_status.throttled): '
  'the spend gate refuses them until throttled_until, or sooner if their budget rises. Longest '
  'throttles first. One row per entity and class (senate_report_overview.throttled_entities '
  'counts entities). Rounded for reading (amounts 2 decimals, fractions 4); exact figures in '
  'budget_status.';
COMMENT ON COLUMN public.senate_report_throttled.effective_budget IS 'Effective budget this period, in unit (2 decimals).';
COMMENT ON COLUMN public.senate_report_throttled.utilization IS 'spent / effective_budget as a fraction (4 decimals); NULL when the budget is 0.';
COMMENT ON COLUMN public.senate_report_throttled.daily_allowance IS 'Daily allowance the daily check applies, in unit per day (2 decimals).';

CREATE OR REPLACE VIEW public.senate_report_roi_leaders AS
SELECT row_number() OVER (ORDER BY l.roi_score DESC, l.kg_edges_gained DESC, l.entity_type,
                                   l.entity_id) AS leader_rank,
       l.entity_type,
       l.entity_id,
       round(l.roi_score, 8) AS roi_score,
       l.kg_edges_gained,
       trim_scale(round(l.tokens_spent, 2)) AS tokens_spent,
       a.priority_score,
       round(a.market_weight, 3) AS market_weight,
       l.window_start,
       l.window_end
FROM public.roi_leaderboard AS l
LEFT JOIN public.allocation_ranking AS a
    ON a.entity_type = l.entity_type AND a.entity_id = l.entity_id
WHERE l.roi_score IS NOT NULL
ORDER BY 1;
COMMENT ON VIEW public.senate_report_roi_leaders IS
  'The best yield per token in the current ROI window (roi_leaderboard, entities that spent tokens), '
  'highest first (by the exact ROI), with priority and applied market weight (NULL without an '
  'envelope). ROI rounded to 8 decimals and weight to 3 for reading; exact in roi_leaderboard.';
COMMENT ON COLUMN public.senate_report_roi_leaders.roi_score IS 'KG edges gained per token spent in the window, in edges per token (8 decimals).';
COMMENT ON COLUMN public.senate_report_roi_leaders.market_weight IS 'Applied market weight of the envelope (unitless, 3 decimals).';

CREATE OR REPLACE VIEW public.senate_report_roi_laggards AS
SELECT row_number() OVER (ORDER BY l.roi_score, l.tokens_spent DESC, l.entity_type, l.entity_id)
           AS laggard_rank,
       l.entity_type,
       l.entity_id,
       round(l.roi_score, 8) AS roi_score,
       l.kg_edges_gained,
       trim_scale(round(l.tokens_spent, 2)) AS tokens_spent,
       a.priority_score,
       round(a.market_weight, 3) AS market_weight,
       l.window_start,
       l.window_end
FROM public.roi_leaderboard AS l
LEFT JOIN public.allocation_ranking AS a
    ON a.entity_type = l.entity_type AND a.entity_id = l.entity_id
WHERE l.roi_score IS NOT NULL
ORDER BY 1;
COMMENT ON VIEW public.senate_report_roi_laggards IS
  'The poorest yield per token in the current ROI window, lowest first (by the exact ROI; ties: '
  'the larger spender first), with priority and applied market weight (NULL without an '
  'envelope). ROI rounded to 8 decimals and weight to 3 for reading; exact in roi_leaderboard.';
COMMENT ON COLUMN public.senate_report_roi_laggards.roi_score IS 'KG edges gained per token spent in the window, in edges per token (8 decimals).';
COMMENT ON COLUMN public.senate_report_roi_laggards.market_weight IS 'Applied market weight of the envelope (unitless, 3 decimals).';

CREATE OR REPLACE VIEW public.senate_report_reserve AS
SELECT t.resource_type,
       t.unit,
       trim_scale(round(coalesce(r.balance, 0), 2)) AS balance,
       trim_scale(round(a.allocated, 2)) AS allocated,
       round(CASE WHEN coalesce(r.balance, 0) + a.allocated > 0
                  THEN coalesce(r.balance, 0) / (coalesce(r.balance, 0) + a.allocated) END, 4)
           AS reserve_share,
       trim_scale(round(coalesce(q.pending_requested, 0), 2)) AS pending_requested,
       l.recorded_at AS last_change_at,
       l.cause_type AS last_change_cause,
       trim_scale(round(l.delta, 2)) AS last_change_delta,
       coalesce(l.as_of, l.recorded_at) AS last_change_as_of
FROM public.resource_types AS t
LEFT JOIN public.senate_reserve AS r ON r.resource_type = t.resource_type
CROSS JOIN LATERAL (SELECT coalesce(sum(senate.budget_amount(b, t.resource_type)), 0) AS allocated
                    FROM public.resource_budgets AS b) AS a
LEFT JOIN LATERAL (SELECT sum(p.requested_tokens::numeric) AS pending_requested
                   FROM public.allocation_proposals AS p
                   WHERE p.status = 'pending' AND p.resource_type = t.resource_type) AS q ON true
LEFT JOIN LATERAL (SELECT g.recorded_at, g.cause_type, g.delta, g.as_of
                   FROM public.budget_ledger AS g
                   WHERE g.account = 'reserve' AND g.entity_type IS NULL AND g.entity_id IS NULL
                     AND g.resource_type = t.resource_type
                   ORDER BY g.ledger_id DESC
                   LIMIT 1) AS l ON true
ORDER BY t.resource_type;
COMMENT ON VIEW public.senate_report_reserve IS
  'The Senate reserve per resource class: balance, what is allocated to envelopes, the reserve''s '
  'share of the two, what pending proposals ask for, and the last change (from the ledger: its '
  'cause, amount, economy time and clock time). Rounded for reading (amounts 2 decimals, share '
  '4); exact in senate_reserve and budget_ledger.';
COMMENT ON COLUMN public.senate_report_reserve.balance IS 'Reserve balance, in unit (2 decimals).';
COMMENT ON COLUMN public.senate_report_reserve.reserve_share IS 'balance / (balance + allocated) as a fraction (4 decimals); NULL when both are 0.';
COMMENT ON COLUMN public.senate_report_reserve.last_change_at IS 'When the last change to the reserve of the class was recorded (ledger recorded_at, clock time).';
COMMENT ON COLUMN public.senate_report_reserve.last_change_delta IS 'Amount of that change, in unit (signed: + into the reserve, - out of it; 2 decimals).';
COMMENT ON COLUMN public.senate_report_reserve.last_change_as_of IS 'The economy time of that change (budget_ledger.as_of: a rebalance''s as_of, the demo''s simulated day); last_change_at for changes before migration 0140.';

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
       trim_scale(round(c.old_budget, 2)) AS old_budget,
       trim_scale(round(c.new_budget, 2)) AS new_budget,
       trim_scale(round(c.delta, 2)) AS delta,
       c.reason,
       c.detail
FROM (SELECT x.* FROM public.rebalance_runs AS x ORDER BY x.run_id DESC LIMIT 1) AS r
JOIN public.rebalance_changes AS c ON c.run_id = r.run_id
LEFT JOIN public.resource_types AS rt ON rt.resource_type = c.resource_type
ORDER BY c.reason, c.resource_type, c.entity_type, c.entity_id;
COMMENT ON VIEW public.senate_report_last_rebalance IS
  'What the most recent applied rebalance (rebalance_runs) changed and why: its plan '
  '(rebalance_changes), one row per envelope and class changed, and one reserve row per class '
  '(entity NULL, reason reserve), with the rule and its evidence. Amounts rounded to 2 decimals '
  'for reading; exact in rebalance_changes.';
COMMENT ON COLUMN public.senate_report_last_rebalance.old_budget IS 'Budget (or reserve balance) before, in unit (2 decimals).';
COMMENT ON COLUMN public.senate_report_last_rebalance.new_budget IS 'Budget (or reserve balance) after, in unit (2 decimals).';
COMMENT ON COLUMN public.senate_report_last_rebalance.delta IS 'new_budget - old_budget, in unit (2 decimals).';

CREATE OR REPLACE VIEW public.senate_report_last_rebalance_summary AS
SELECT r.run_id,
       r.window_start,
       r.window_end,
       c.resource_type,
       rt.unit,
       c.reason,
       count(*) AS changes,
       trim_scale(round(sum(c.delta), 2)) AS total_delta
FROM (SELECT x.* FROM public.rebalance_runs AS x ORDER BY x.run_id DESC LIMIT 1) AS r
JOIN public.rebalance_changes AS c ON c.run_id = r.run_id
LEFT JOIN public.resource_types AS rt ON rt.resource_type = c.resource_type
GROUP BY r.run_id, r.window_start, r.window_end, c.resource_type, rt.unit, c.reason
ORDER BY c.resource_type, c.reason;
COMMENT ON VIEW public.senate_report_last_rebalance_summary IS
  'senate_report_last_rebalance counted per resource class and rule: how many budgets the last '
  'rebalance changed under each rule and by how much in total (the reserve row: its net change). '
  'The exact deltas (rebalance_changes) are summed, then rounded to 2 decimals.';
COMMENT ON COLUMN public.senate_report_last_rebalance_summary.total_delta IS 'Sum of their deltas, in unit (2 decimals).';

CREATE OR REPLACE VIEW public.senate_report_spend_mix AS
SELECT d.resource_type,
       rt.unit,
       coalesce(d.model_tier, d.provider, '') AS tier_or_provider,
       trim_scale(round(sum(d.amount), 2)) AS amount,
       round(sum(d.cost_usd), 2) AS cost_usd,
       sum(d.usage_rows)::bigint AS usage_rows
FROM public.daily_spend AS d
CROSS JOIN public.budget_period_bounds(now()) AS b
LEFT JOIN public.resource_types AS rt ON rt.resource_type = d.resource_type
WHERE d.usage_day >= b.period_start AND d.usage_day < b.period_end
GROUP BY d.resource_type, rt.unit, coalesce(d.model_tier, d.provider, '')
ORDER BY sum(d.cost_usd) DESC, d.resource_type, 3;
COMMENT ON VIEW public.senate_report_spend_mix IS
  'Where this budget period''s spend went: amount and cost per resource class and model tier or '
  'API provider (all entities, from the usage rollups), costliest first. Rounded for reading '
  '(amounts 2 decimals, USD cents); exact in daily_spend.';
COMMENT ON COLUMN public.senate_report_spend_mix.amount IS 'Amount used this period, in unit (2 decimals).';
COMMENT ON COLUMN public.senate_report_spend_mix.cost_usd IS 'Cost this period, in USD (cents).';

CREATE OR REPLACE VIEW public.senate_report_budget_by_period AS
SELECT DISTINCT ON (s.period_start, s.entity_type, s.resource_type)
       s.period_start,
       s.period_end,
       s.entity_type,
       s.resource_type,
       rt.unit,
       s.snapshot_at,
       s.envelopes,
       trim_scale(round(s.base_budget, 2)) AS base_budget,
       trim_scale(round(s.effective_budget, 2)) AS effective_budget,
       trim_scale(round(s.spent, 2)) AS spent,
       round(s.spent_cost_usd, 2) AS spent_cost_usd,
       round(CASE WHEN s.effective_budget > 0 THEN s.spent / s.effective_budget END, 4)
           AS utilization,
       s.over_budget_entities
FROM public.budget_snapshots AS s
LEFT JOIN public.resource_types AS rt ON rt.resource_type = s.resource_type
ORDER BY s.period_start, s.entity_type, s.resource_type, s.snapshot_at DESC;
COMMENT ON VIEW public.senate_report_budget_by_period IS
  'Budget against spend per budget period, entity type and resource class: the latest snapshot '
  '(budget_snapshots) taken in each period, so a finished period shows its whole spend and the '
  'current one its spend so far. Empty until record_economy_snapshot() has run. Rounded for '
  'reading (amounts 2 decimals, USD cents, fractions 4); exact in budget_snapshots.';
COMMENT ON COLUMN public.senate_report_budget_by_period.base_budget IS 'Sum of base budgets then, in unit (2 decimals).';
COMMENT ON COLUMN public.senate_report_budget_by_period.effective_budget IS 'Sum of effective budgets then, in unit (2 decimals).';
COMMENT ON COLUMN public.senate_report_budget_by_period.spent IS 'Spend in the period through the snapshot''s day, in unit (2 decimals).';
COMMENT ON COLUMN public.senate_report_budget_by_period.spent_cost_usd IS 'Cost of that spend, in USD (cents).';
COMMENT ON COLUMN public.senate_report_budget_by_period.utilization IS 'spent / effective_budget as a fraction (4 decimals); NULL when the budget is 0.';

CREATE OR REPLACE VIEW public.senate_report_reserve_history AS
SELECT s.snapshot_at,
       s.resource_type,
       rt.unit,
       trim_scale(round(s.balance, 2)) AS balance,
       trim_scale(round(s.allocated, 2)) AS allocated
FROM public.reserve_snapshots AS s
LEFT JOIN public.resource_types AS rt ON rt.resource_type = s.resource_type
ORDER BY s.resource_type, s.snapshot_at;
COMMENT ON VIEW public.senate_report_reserve_history IS
  'The reserve over time per resource class (reserve_snapshots), with the allocated total beside '
  'it. Empty until record_economy_snapshot() has run. Amounts rounded to 2 decimals for reading; '
  'exact in reserve_snapshots.';
COMMENT ON COLUMN public.senate_report_reserve_history.balance IS 'Reserve balance, in unit (2 decimals).';
COMMENT ON COLUMN public.senate_report_reserve_history.allocated IS 'Sum of envelopes'' base budgets, in unit (2 decimals).';

CREATE OR REPLACE VIEW public.senate_report_roi_priority AS
SELECT a.entity_type,
       a.entity_id,
       a.priority_score,
       round(l.roi_score, 8) AS roi_score,
       l.kg_edges_gained,
       trim_scale(round(l.tokens_spent, 2)) AS tokens_spent,
       round(a.market_weight, 3) AS market_weight,
       trim_scale(round(a.effective_token_budget, 2)) AS effective_token_budget
FROM public.allocation_ranking AS a
LEFT JOIN public.roi_leaderboard AS l
    ON l.entity_type = a.entity_type AND l.entity_id = a.entity_id
ORDER BY a.entity_type, a.entity_id;
COMMENT ON VIEW public.senate_report_roi_priority IS
  'Every envelope''s priority score beside its ROI in the current window (NULL without token '
  'spend): does the Senate''s judgment agree with the yield? With applied market weight and '
  'effective token budget. Rounded for reading (ROI 8 decimals, weight 3, amounts 2); exact in '
  'allocation_ranking and roi_leaderboard.';
COMMENT ON COLUMN public.senate_report_roi_priority.roi_score IS 'KG edges per token in the current ROI window (8 decimals); NULL without token spend.';
COMMENT ON COLUMN public.senate_report_roi_priority.market_weight IS 'Applied market weight (unitless, 3 decimals).';
COMMENT ON COLUMN public.senate_report_roi_priority.effective_token_budget IS 'Effective token budget per period, in tokens (2 decimals).';

DO $$
BEGIN
    PERFORM senate.grant_role_privileges();
END;
$$;
