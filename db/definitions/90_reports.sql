-- db/definitions/90_reports.sql -- Reports and analyst views: what `senate-db report` and analysts in psql read.
--
-- The current definition of each function and view below; the post-apply hook
-- (db/migrations/post-apply_definitions.py) applies an object whenever its text here
-- changes. Each object starts at its '-- define' line. See README, "Adding a migration".

-- define view public.senate_report_overview
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
COMMENT ON VIEW public.senate_report_overview IS 'The Senate report''s headline, one row: the current budget period, envelopes, entities over budget, the token budget and its use this period, the cost of this period''s spend, the ROI window''s KG edges and tokens, pending proposals, the token reserve, throttled entities, alerts fired this period and the last rebalance run. Rounded for reading (amounts to 2 decimals, fractions to 4, USD to cents, ROI to 8 decimals); exact figures in budget_status, roi_leaderboard and senate_reserve.';
COMMENT ON COLUMN public.senate_report_overview.as_of IS 'When the figures were read (now()).';
COMMENT ON COLUMN public.senate_report_overview.period_start IS 'First day of the current budget period (policy time zone).';
COMMENT ON COLUMN public.senate_report_overview.period_end IS 'First day after the current budget period (exclusive bound).';
COMMENT ON COLUMN public.senate_report_overview.envelopes IS 'Number of resource_budgets rows, in envelopes.';
COMMENT ON COLUMN public.senate_report_overview.over_budget_entities IS 'Entities over their effective budget in at least one class this period (budget_status.over_budget), in entities.';
COMMENT ON COLUMN public.senate_report_overview.effective_token_budget IS 'Sum of effective llm_tokens budgets this period, in tokens (2 decimals).';
COMMENT ON COLUMN public.senate_report_overview.tokens_spent IS 'llm tokens spent by envelopes this period, in tokens.';
COMMENT ON COLUMN public.senate_report_overview.token_utilization IS 'tokens_spent / effective_token_budget as a fraction (1 = 100 %; 4 decimals).';
COMMENT ON COLUMN public.senate_report_overview.spent_cost_usd IS 'Cost of all classes'' spend by envelopes this period, in USD (cents).';
COMMENT ON COLUMN public.senate_report_overview.roi_window_start IS 'First day of the current ROI window.';
COMMENT ON COLUMN public.senate_report_overview.roi_window_end IS 'First day after the ROI window (exclusive bound).';
COMMENT ON COLUMN public.senate_report_overview.kg_edges_gained IS 'KG edges gained in the ROI window (roi_leaderboard), in edges.';
COMMENT ON COLUMN public.senate_report_overview.roi_window_tokens_spent IS 'llm tokens spent in the ROI window (roi_leaderboard), in tokens.';
COMMENT ON COLUMN public.senate_report_overview.roi_window_roi IS 'kg_edges_gained / roi_window_tokens_spent, in KG edges per token (8 decimals).';
COMMENT ON COLUMN public.senate_report_overview.pending_proposals IS 'Allocation proposals awaiting a decision, in proposals.';
COMMENT ON COLUMN public.senate_report_overview.reserve_tokens IS 'Senate reserve of llm_tokens, in tokens.';
COMMENT ON COLUMN public.senate_report_overview.throttled_entities IS 'Entities with an active throttle in at least one class (budget_status.throttled), in entities; senate_report_throttled has one row per entity and class, so it can hold more rows.';
COMMENT ON COLUMN public.senate_report_overview.alerts_this_period IS 'Spend alerts fired for the current budget period (spend_alerts), in alerts.';
COMMENT ON COLUMN public.senate_report_overview.last_rebalance_run IS 'run_id of the most recent applied rebalance (rebalance_runs); NULL if none.';

-- define view public.senate_report_top_allocations
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
COMMENT ON VIEW public.senate_report_top_allocations IS 'Envelopes ranked by effective token budget this period (largest first, by the exact budget), with priority, applied market weight, token spend and utilization, stored ROI score and the period''s cost in all classes. Rounded for reading (amounts 2 decimals, weight 3, fractions 4, ROI 8, USD cents); exact figures in budget_status and resource_budgets.';
COMMENT ON COLUMN public.senate_report_top_allocations.allocation_rank IS 'Rank, 1 = largest effective token budget.';
COMMENT ON COLUMN public.senate_report_top_allocations.entity_type IS 'Kind of entity.';
COMMENT ON COLUMN public.senate_report_top_allocations.entity_id IS 'Entity identifier.';
COMMENT ON COLUMN public.senate_report_top_allocations.priority_score IS 'resource_budgets.priority_score, unitless in [0, 1].';
COMMENT ON COLUMN public.senate_report_top_allocations.market_weight IS 'Applied market weight (unitless, 3 decimals), as in budget_status.';
COMMENT ON COLUMN public.senate_report_top_allocations.token_budget IS 'Base token budget per period, in tokens.';
COMMENT ON COLUMN public.senate_report_top_allocations.effective_token_budget IS 'token_budget * (1 + market_weight), in tokens (2 decimals).';
COMMENT ON COLUMN public.senate_report_top_allocations.tokens_spent IS 'Tokens spent this period, in tokens.';
COMMENT ON COLUMN public.senate_report_top_allocations.token_utilization IS 'tokens_spent / effective_token_budget as a fraction (1 = 100 %; 4 decimals); NULL when the budget is 0.';
COMMENT ON COLUMN public.senate_report_top_allocations.roi_score IS 'resource_budgets.roi_score at the last refresh, in KG edges per token (8 decimals); NULL without spend.';
COMMENT ON COLUMN public.senate_report_top_allocations.period_cost_usd IS 'Cost of this period''s spend in all four classes, in USD (cents).';

-- define view public.senate_report_over_budget
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
COMMENT ON VIEW public.senate_report_over_budget IS 'Envelopes that have spent more than their effective budget in a class this period, most over first (NULL utilization = spend against a zero budget). One row per entity and class. Rounded for reading (amounts 2 decimals, fractions 4, USD cents); exact figures in budget_status.';
COMMENT ON COLUMN public.senate_report_over_budget.entity_type IS 'Kind of entity.';
COMMENT ON COLUMN public.senate_report_over_budget.entity_id IS 'Entity identifier.';
COMMENT ON COLUMN public.senate_report_over_budget.resource_type IS 'Resource class over budget.';
COMMENT ON COLUMN public.senate_report_over_budget.unit IS 'Unit of the amounts: tokens, CPU-seconds, GB-hours or calls.';
COMMENT ON COLUMN public.senate_report_over_budget.effective_budget IS 'Effective budget this period, in unit (2 decimals).';
COMMENT ON COLUMN public.senate_report_over_budget.spent IS 'Spend this period, in unit.';
COMMENT ON COLUMN public.senate_report_over_budget.overrun IS 'spent - effective_budget, in unit (2 decimals).';
COMMENT ON COLUMN public.senate_report_over_budget.utilization IS 'spent / effective_budget as a fraction (4 decimals); NULL when the budget is 0.';
COMMENT ON COLUMN public.senate_report_over_budget.spent_cost_usd IS 'Cost of the spend this period, in USD (cents).';
COMMENT ON COLUMN public.senate_report_over_budget.throttled IS 'True while the daily check''s throttle holds (can_spend refuses).';
COMMENT ON COLUMN public.senate_report_over_budget.throttled_until IS 'When that throttle ends at the latest; NULL when not throttled.';

-- define view public.senate_report_throttled
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
COMMENT ON VIEW public.senate_report_throttled IS 'Entity and class pairs under an active throttle of the daily check (budget_status.throttled): the spend gate refuses them until throttled_until, or sooner if their budget rises. Longest throttles first. One row per entity and class (senate_report_overview.throttled_entities counts entities). Rounded for reading (amounts 2 decimals, fractions 4); exact figures in budget_status.';
COMMENT ON COLUMN public.senate_report_throttled.entity_type IS 'Kind of entity.';
COMMENT ON COLUMN public.senate_report_throttled.entity_id IS 'Entity identifier.';
COMMENT ON COLUMN public.senate_report_throttled.resource_type IS 'Resource class throttled.';
COMMENT ON COLUMN public.senate_report_throttled.unit IS 'Unit of the amounts: tokens, CPU-seconds, GB-hours or calls.';
COMMENT ON COLUMN public.senate_report_throttled.effective_budget IS 'Effective budget this period, in unit (2 decimals).';
COMMENT ON COLUMN public.senate_report_throttled.spent IS 'Spend this period, in unit.';
COMMENT ON COLUMN public.senate_report_throttled.utilization IS 'spent / effective_budget as a fraction (4 decimals); NULL when the budget is 0.';
COMMENT ON COLUMN public.senate_report_throttled.daily_allowance IS 'Daily allowance the daily check applies, in unit per day (2 decimals).';
COMMENT ON COLUMN public.senate_report_throttled.throttled_until IS 'When the throttle ends at the latest (next day or next period).';
COMMENT ON COLUMN public.senate_report_throttled.throttle_reason IS 'Why (spend against the daily allowance or the period budget).';

-- define view public.senate_report_roi_leaders
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
COMMENT ON VIEW public.senate_report_roi_leaders IS 'The best yield per token in the current ROI window (roi_leaderboard, entities that spent tokens), highest first (by the exact ROI), with priority and applied market weight (NULL without an envelope). ROI rounded to 8 decimals and weight to 3 for reading; exact in roi_leaderboard.';
COMMENT ON COLUMN public.senate_report_roi_leaders.leader_rank IS 'Rank, 1 = highest ROI.';
COMMENT ON COLUMN public.senate_report_roi_leaders.entity_type IS 'Kind of entity.';
COMMENT ON COLUMN public.senate_report_roi_leaders.entity_id IS 'Entity identifier.';
COMMENT ON COLUMN public.senate_report_roi_leaders.roi_score IS 'KG edges gained per token spent in the window, in edges per token (8 decimals).';
COMMENT ON COLUMN public.senate_report_roi_leaders.kg_edges_gained IS 'KG edges gained in the window, in edges.';
COMMENT ON COLUMN public.senate_report_roi_leaders.tokens_spent IS 'llm tokens spent in the window, in tokens.';
COMMENT ON COLUMN public.senate_report_roi_leaders.priority_score IS 'priority_score of the envelope, unitless in [0, 1].';
COMMENT ON COLUMN public.senate_report_roi_leaders.market_weight IS 'Applied market weight of the envelope (unitless, 3 decimals).';
COMMENT ON COLUMN public.senate_report_roi_leaders.window_start IS 'First day of the ROI window.';
COMMENT ON COLUMN public.senate_report_roi_leaders.window_end IS 'First day after the ROI window (exclusive bound).';

-- define view public.senate_report_roi_laggards
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
COMMENT ON VIEW public.senate_report_roi_laggards IS 'The poorest yield per token in the current ROI window, lowest first (by the exact ROI; ties: the larger spender first), with priority and applied market weight (NULL without an envelope). ROI rounded to 8 decimals and weight to 3 for reading; exact in roi_leaderboard.';
COMMENT ON COLUMN public.senate_report_roi_laggards.laggard_rank IS 'Rank, 1 = lowest ROI.';
COMMENT ON COLUMN public.senate_report_roi_laggards.entity_type IS 'Kind of entity.';
COMMENT ON COLUMN public.senate_report_roi_laggards.entity_id IS 'Entity identifier.';
COMMENT ON COLUMN public.senate_report_roi_laggards.roi_score IS 'KG edges gained per token spent in the window, in edges per token (8 decimals).';
COMMENT ON COLUMN public.senate_report_roi_laggards.kg_edges_gained IS 'KG edges gained in the window, in edges.';
COMMENT ON COLUMN public.senate_report_roi_laggards.tokens_spent IS 'llm tokens spent in the window, in tokens.';
COMMENT ON COLUMN public.senate_report_roi_laggards.priority_score IS 'priority_score of the envelope, unitless in [0, 1].';
COMMENT ON COLUMN public.senate_report_roi_laggards.market_weight IS 'Applied market weight of the envelope (unitless, 3 decimals).';
COMMENT ON COLUMN public.senate_report_roi_laggards.window_start IS 'First day of the ROI window.';
COMMENT ON COLUMN public.senate_report_roi_laggards.window_end IS 'First day after the ROI window (exclusive bound).';

-- define view public.senate_report_pending_proposals
CREATE OR REPLACE VIEW public.senate_report_pending_proposals AS
SELECT p.id AS proposal_id,
       p.created_at::timestamptz AS filed_at,
       p.entity_type::text AS entity_type,
       p.entity_id::text AS entity_id,
       p.resource_type,
       rt.unit,
       p.requested_tokens::numeric AS requested_amount,
       coalesce(p.proposer_agent::text, p.proposer_id::text) AS proposer,
       t.approvals,
       t.rejections,
       t.abstentions,
       t.quorum,
       t.approvable,
       coalesce(q.covers_in_queue, false) AS reserve_covers,
       p.justification
FROM public.allocation_proposals AS p
JOIN public.allocation_proposal_tallies AS t ON t.proposal_id = p.id
LEFT JOIN public.resource_types AS rt ON rt.resource_type = p.resource_type
LEFT JOIN public.reserve_queue AS q ON q.proposal_id = p.id
WHERE p.status = 'pending'
ORDER BY p.created_at, p.id;
COMMENT ON VIEW public.senate_report_pending_proposals IS 'Allocation proposals awaiting a decision, oldest first: what is asked for whom, the votes so far under the proposal''s policy version, whether it could be approved now and whether the reserve covers it together with the pending proposals of its class filed before it (reserve_queue).';
COMMENT ON COLUMN public.senate_report_pending_proposals.proposal_id IS 'The proposal.';
COMMENT ON COLUMN public.senate_report_pending_proposals.filed_at IS 'When it was filed.';
COMMENT ON COLUMN public.senate_report_pending_proposals.entity_type IS 'Kind of entity it is for.';
COMMENT ON COLUMN public.senate_report_pending_proposals.entity_id IS 'Entity it is for.';
COMMENT ON COLUMN public.senate_report_pending_proposals.resource_type IS 'Resource class requested.';
COMMENT ON COLUMN public.senate_report_pending_proposals.unit IS 'Unit of requested_amount: tokens, CPU-seconds, GB-hours or calls.';
COMMENT ON COLUMN public.senate_report_pending_proposals.requested_amount IS 'Amount requested, in unit.';
COMMENT ON COLUMN public.senate_report_pending_proposals.proposer IS 'Who filed it (agent or user).';
COMMENT ON COLUMN public.senate_report_pending_proposals.approvals IS 'Approve votes so far.';
COMMENT ON COLUMN public.senate_report_pending_proposals.rejections IS 'Reject votes so far.';
COMMENT ON COLUMN public.senate_report_pending_proposals.abstentions IS 'Abstentions so far.';
COMMENT ON COLUMN public.senate_report_pending_proposals.quorum IS 'Non-abstaining votes its policy version requires.';
COMMENT ON COLUMN public.senate_report_pending_proposals.approvable IS 'Quorum met and more approve than reject votes.';
COMMENT ON COLUMN public.senate_report_pending_proposals.reserve_covers IS 'The reserve of the class covers it after every earlier pending proposal of the class is paid (reserve_queue.covers_in_queue; first filed, first paid).';
COMMENT ON COLUMN public.senate_report_pending_proposals.justification IS 'The proposer''s justification.';

-- define view public.senate_report_reserve
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
-- The money class usd once it is in use: a reserve, a cost budget or a pending proposal.
WHERE t.resource_type <> 'usd' OR r.resource_type IS NOT NULL OR a.allocated > 0
   OR q.pending_requested IS NOT NULL
ORDER BY t.resource_type;
COMMENT ON VIEW public.senate_report_reserve IS 'The Senate reserve per resource class: balance, what is allocated to envelopes, the reserve''s share of the two, what pending proposals ask for, and the last change (from the ledger: its cause, amount, economy time and clock time). Rounded for reading (amounts 2 decimals, share 4); exact in senate_reserve and budget_ledger.';
COMMENT ON COLUMN public.senate_report_reserve.resource_type IS 'Resource class.';
COMMENT ON COLUMN public.senate_report_reserve.unit IS 'Unit of the amounts: tokens, CPU-seconds, GB-hours, calls or USD (class usd, listed once it has a reserve, a cost budget or a pending proposal).';
COMMENT ON COLUMN public.senate_report_reserve.balance IS 'Reserve balance, in unit (2 decimals).';
COMMENT ON COLUMN public.senate_report_reserve.allocated IS 'Sum of the base budgets of every envelope, in unit.';
COMMENT ON COLUMN public.senate_report_reserve.reserve_share IS 'balance / (balance + allocated) as a fraction (4 decimals); NULL when both are 0.';
COMMENT ON COLUMN public.senate_report_reserve.pending_requested IS 'Sum requested by pending proposals, in unit.';
COMMENT ON COLUMN public.senate_report_reserve.last_change_at IS 'When the last change to the reserve of the class was recorded (ledger recorded_at, clock time).';
COMMENT ON COLUMN public.senate_report_reserve.last_change_cause IS 'Cause of that change (reserve_funding, proposal_approval, rebalance, ...).';
COMMENT ON COLUMN public.senate_report_reserve.last_change_delta IS 'Amount of that change, in unit (signed: + into the reserve, - out of it; 2 decimals).';
COMMENT ON COLUMN public.senate_report_reserve.last_change_as_of IS 'The economy time of that change (budget_ledger.as_of: a rebalance''s as_of, the demo''s simulated day); last_change_at for changes recorded before economy times were (rows from older releases).';

-- define view public.senate_report_last_rebalance
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
-- The run's columns by name: a new column of rebalance_runs is not a dependency of the view.
FROM (SELECT x.run_id, x.window_start, x.window_end, x.as_of, x.applied_at, x.actor
      FROM public.rebalance_runs AS x ORDER BY x.run_id DESC LIMIT 1) AS r
JOIN public.rebalance_changes AS c ON c.run_id = r.run_id
LEFT JOIN public.resource_types AS rt ON rt.resource_type = c.resource_type
ORDER BY c.reason, c.resource_type, c.entity_type, c.entity_id;
COMMENT ON VIEW public.senate_report_last_rebalance IS 'What the most recent applied rebalance (rebalance_runs) changed and why: its plan (rebalance_changes), one row per envelope and class changed, and one reserve row per class (entity NULL, reason reserve), with the rule and its evidence. Amounts rounded to 2 decimals for reading; exact in rebalance_changes.';
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
COMMENT ON COLUMN public.senate_report_last_rebalance.old_budget IS 'Budget (or reserve balance) before, in unit (2 decimals).';
COMMENT ON COLUMN public.senate_report_last_rebalance.new_budget IS 'Budget (or reserve balance) after, in unit (2 decimals).';
COMMENT ON COLUMN public.senate_report_last_rebalance.delta IS 'new_budget - old_budget, in unit (2 decimals).';
COMMENT ON COLUMN public.senate_report_last_rebalance.reason IS 'The rule: idle_reclaim, sustained_low_roi, strong_roi_market_support, family_lending, reassigned_idle_budget, or reserve.';
COMMENT ON COLUMN public.senate_report_last_rebalance.detail IS 'The evidence the rule acted on (ROI figures, market weight, idle since, rank).';

-- define view public.senate_report_spend_mix
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
COMMENT ON VIEW public.senate_report_spend_mix IS 'Where this budget period''s spend went: amount and cost per resource class and model tier or API provider (all entities, from the usage rollups), costliest first. Rounded for reading (amounts 2 decimals, USD cents); exact in daily_spend.';
COMMENT ON COLUMN public.senate_report_spend_mix.resource_type IS 'Resource class.';
COMMENT ON COLUMN public.senate_report_spend_mix.unit IS 'Unit of amount: tokens, CPU-seconds, GB-hours or calls.';
COMMENT ON COLUMN public.senate_report_spend_mix.tier_or_provider IS 'Model tier (llm_tokens), provider (api_calls), or empty.';
COMMENT ON COLUMN public.senate_report_spend_mix.amount IS 'Amount used this period, in unit (2 decimals).';
COMMENT ON COLUMN public.senate_report_spend_mix.cost_usd IS 'Cost this period, in USD (cents).';
COMMENT ON COLUMN public.senate_report_spend_mix.usage_rows IS 'resource_usage rows this period, in rows.';

-- define view public.senate_report_budget_by_period
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
COMMENT ON VIEW public.senate_report_budget_by_period IS 'Budget against spend per budget period, entity type and resource class: the latest snapshot (budget_snapshots) taken in each period, so a finished period shows its whole spend and the current one its spend so far. Empty until record_economy_snapshot() has run. Rounded for reading (amounts 2 decimals, USD cents, fractions 4); exact in budget_snapshots.';
COMMENT ON COLUMN public.senate_report_budget_by_period.period_start IS 'First day of the budget period.';
COMMENT ON COLUMN public.senate_report_budget_by_period.period_end IS 'First day after the budget period (exclusive bound).';
COMMENT ON COLUMN public.senate_report_budget_by_period.entity_type IS 'Kind of entity.';
COMMENT ON COLUMN public.senate_report_budget_by_period.resource_type IS 'Resource class.';
COMMENT ON COLUMN public.senate_report_budget_by_period.unit IS 'Unit of the amounts: tokens, CPU-seconds, GB-hours or calls.';
COMMENT ON COLUMN public.senate_report_budget_by_period.snapshot_at IS 'The snapshot the row comes from (the latest in the period).';
COMMENT ON COLUMN public.senate_report_budget_by_period.envelopes IS 'Envelopes of this entity type then, in envelopes.';
COMMENT ON COLUMN public.senate_report_budget_by_period.base_budget IS 'Sum of base budgets then, in unit (2 decimals).';
COMMENT ON COLUMN public.senate_report_budget_by_period.effective_budget IS 'Sum of effective budgets then, in unit (2 decimals).';
COMMENT ON COLUMN public.senate_report_budget_by_period.spent IS 'Spend in the period through the snapshot''s day, in unit (2 decimals).';
COMMENT ON COLUMN public.senate_report_budget_by_period.spent_cost_usd IS 'Cost of that spend, in USD (cents).';
COMMENT ON COLUMN public.senate_report_budget_by_period.utilization IS 'spent / effective_budget as a fraction (4 decimals); NULL when the budget is 0.';
COMMENT ON COLUMN public.senate_report_budget_by_period.over_budget_entities IS 'Entities over their effective budget at the snapshot, in entities.';

-- define view public.senate_report_reserve_history
CREATE OR REPLACE VIEW public.senate_report_reserve_history AS
SELECT s.snapshot_at,
       s.resource_type,
       rt.unit,
       trim_scale(round(s.balance, 2)) AS balance,
       trim_scale(round(s.allocated, 2)) AS allocated
FROM public.reserve_snapshots AS s
LEFT JOIN public.resource_types AS rt ON rt.resource_type = s.resource_type
ORDER BY s.resource_type, s.snapshot_at;
COMMENT ON VIEW public.senate_report_reserve_history IS 'The reserve over time per resource class (reserve_snapshots), with the allocated total beside it. Empty until record_economy_snapshot() has run. Amounts rounded to 2 decimals for reading; exact in reserve_snapshots.';
COMMENT ON COLUMN public.senate_report_reserve_history.snapshot_at IS 'The instant.';
COMMENT ON COLUMN public.senate_report_reserve_history.resource_type IS 'Resource class.';
COMMENT ON COLUMN public.senate_report_reserve_history.unit IS 'Unit of the amounts: tokens, CPU-seconds, GB-hours or calls.';
COMMENT ON COLUMN public.senate_report_reserve_history.balance IS 'Reserve balance, in unit (2 decimals).';
COMMENT ON COLUMN public.senate_report_reserve_history.allocated IS 'Sum of envelopes'' base budgets, in unit (2 decimals).';

-- define view public.senate_report_roi_priority
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
COMMENT ON VIEW public.senate_report_roi_priority IS 'Every envelope''s priority score beside its ROI in the current window (NULL without token spend): does the Senate''s judgment agree with the yield? With applied market weight and effective token budget. Rounded for reading (ROI 8 decimals, weight 3, amounts 2); exact in allocation_ranking and roi_leaderboard.';
COMMENT ON COLUMN public.senate_report_roi_priority.entity_type IS 'Kind of entity.';
COMMENT ON COLUMN public.senate_report_roi_priority.entity_id IS 'Entity identifier.';
COMMENT ON COLUMN public.senate_report_roi_priority.priority_score IS 'priority_score, unitless in [0, 1].';
COMMENT ON COLUMN public.senate_report_roi_priority.roi_score IS 'KG edges per token in the current ROI window (8 decimals); NULL without token spend.';
COMMENT ON COLUMN public.senate_report_roi_priority.kg_edges_gained IS 'KG edges gained in the window, in edges (NULL when none and no spend).';
COMMENT ON COLUMN public.senate_report_roi_priority.tokens_spent IS 'llm tokens spent in the window, in tokens (NULL when none and no gains).';
COMMENT ON COLUMN public.senate_report_roi_priority.market_weight IS 'Applied market weight (unitless, 3 decimals).';
COMMENT ON COLUMN public.senate_report_roi_priority.effective_token_budget IS 'Effective token budget per period, in tokens (2 decimals).';

-- define view public.senate_report_last_rebalance_summary
CREATE OR REPLACE VIEW public.senate_report_last_rebalance_summary AS
SELECT r.run_id,
       r.window_start,
       r.window_end,
       c.resource_type,
       rt.unit,
       c.reason,
       count(*) AS changes,
       trim_scale(round(sum(c.delta), 2)) AS total_delta
FROM (SELECT x.run_id, x.window_start, x.window_end
      FROM public.rebalance_runs AS x ORDER BY x.run_id DESC LIMIT 1) AS r
JOIN public.rebalance_changes AS c ON c.run_id = r.run_id
LEFT JOIN public.resource_types AS rt ON rt.resource_type = c.resource_type
GROUP BY r.run_id, r.window_start, r.window_end, c.resource_type, rt.unit, c.reason
ORDER BY c.resource_type, c.reason;
COMMENT ON VIEW public.senate_report_last_rebalance_summary IS 'senate_report_last_rebalance counted per resource class and rule: how many budgets the last rebalance changed under each rule and by how much in total (the reserve row: its net change). The exact deltas (rebalance_changes) are summed, then rounded to 2 decimals.';
COMMENT ON COLUMN public.senate_report_last_rebalance_summary.run_id IS 'The run.';
COMMENT ON COLUMN public.senate_report_last_rebalance_summary.window_start IS 'First day of the window it reviewed.';
COMMENT ON COLUMN public.senate_report_last_rebalance_summary.window_end IS 'First day after that window (exclusive bound).';
COMMENT ON COLUMN public.senate_report_last_rebalance_summary.resource_type IS 'Resource class.';
COMMENT ON COLUMN public.senate_report_last_rebalance_summary.unit IS 'Unit of total_delta: tokens, CPU-seconds, GB-hours or calls.';
COMMENT ON COLUMN public.senate_report_last_rebalance_summary.reason IS 'The rule (reserve: the net reserve change).';
COMMENT ON COLUMN public.senate_report_last_rebalance_summary.changes IS 'Budgets changed under the rule, in envelopes x classes.';
COMMENT ON COLUMN public.senate_report_last_rebalance_summary.total_delta IS 'Sum of their deltas, in unit (2 decimals).';

-- define view public.over_budget_and_throttled
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
COMMENT ON VIEW public.over_budget_and_throttled IS 'Who is over budget and who is throttled, this budget period (budget_status): every entity and class that has spent more than its effective budget or is under an active throttle of the daily check, with its standing (over budget, throttled; over budget, not throttled yet; throttled, within budget: over a daily allowance, or forecast to run out when the policy throttles on forecast). Over budget and throttled first, then over budget, then throttled only; most over first within each.';
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

-- define view public.budget_move_evidence
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
       l.session_login AS login,
       coalesce(l.as_of, l.recorded_at) AS as_of
FROM public.budget_ledger AS l
LEFT JOIN public.resource_types AS rt ON rt.resource_type = l.resource_type
LEFT JOIN public.rebalance_changes AS c
       ON l.cause_type = 'rebalance' AND l.account = 'entity_budget'
      AND c.entity_type = l.entity_type AND c.entity_id = l.entity_id
      AND c.resource_type = l.resource_type AND c.run_id::text = l.cause_id
LEFT JOIN public.rebalance_runs AS rr ON rr.run_id = c.run_id
LEFT JOIN public.allocation_proposals AS p
       ON l.cause_type IN ('proposal_approval', 'proposal_carve_out')
      AND p.entity_type::text = l.entity_type AND p.entity_id::text = l.entity_id
      AND p.id::text = l.cause_id
WHERE l.account IN ('entity_budget', 'entity_tier_budget');
COMMENT ON VIEW public.budget_move_evidence IS 'Why each budget moved: every change to an entity''s budget (budget_ledger, accounts entity_budget and entity_tier_budget) with the rule that moved it and that rule''s evidence for this entity: for a rebalance, the rule and evidence of its plan (rebalance_changes: ROI figures, market weight, idle since, rank) and the window reviewed; for an approval, the proposal, its proposer and justification and the reviewer''s note; otherwise the ledger note. Filter by entity_type and entity_id (indexed); order by ledger_id.';
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
COMMENT ON COLUMN public.budget_move_evidence.cause_type IS 'What caused it: rebalance, proposal_approval (from the reserve), proposal_carve_out (from the parent''s unallocated budget; the parent''s row has delta 0), direct_write, ...';
COMMENT ON COLUMN public.budget_move_evidence.cause_id IS 'Rebalance run id, proposal id, ... (NULL if none).';
COMMENT ON COLUMN public.budget_move_evidence.rule IS 'The rule: for a rebalance idle_reclaim, sustained_low_roi, strong_roi_market_support, family_lending or reassigned_idle_budget; else the cause type.';
COMMENT ON COLUMN public.budget_move_evidence.evidence IS 'What the rule acted on for this entity (rebalance plan detail, the approved proposal, or the ledger note).';
COMMENT ON COLUMN public.budget_move_evidence.rebalance_window_start IS 'First day of the window the rebalance reviewed (NULL for other causes).';
COMMENT ON COLUMN public.budget_move_evidence.rebalance_window_end IS 'First day after that window, exclusive (NULL for other causes).';
COMMENT ON COLUMN public.budget_move_evidence.actor IS 'Who made the change, as named by the function that made it.';
COMMENT ON COLUMN public.budget_move_evidence.login IS 'Login (session_user) that made the change; NULL for rows older than login stamping (earlier releases).';
COMMENT ON COLUMN public.budget_move_evidence.as_of IS 'The economy time of the move (budget_ledger.as_of: a rebalance''s as_of, the demo''s simulated day; recorded_at for rows older than economy times (earlier releases)).';

-- define view public.cost_by_tier_and_provider
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
COMMENT ON VIEW public.cost_by_tier_and_provider IS 'Which model tiers and API providers cost most, per budget period (active policy): amount, cost in USD, share of the period''s cost and rank (1 = costliest), how many usage rows and entities, per LLM model tier (llm_tokens) and API provider (api_calls); other classes as one row each. From the usage rollups (daily_spend). Newest period first.';
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

-- define view public.senate_report_runway
CREATE OR REPLACE VIEW public.senate_report_runway AS
SELECT f.entity_type,
       f.entity_id,
       f.resource_type,
       f.unit,
       trim_scale(round(f.effective_budget, 2)) AS effective_budget,
       trim_scale(round(f.spent, 2)) AS spent,
       trim_scale(round(f.daily_rate, 2)) AS daily_rate,
       round((f.effective_budget - f.spent) / f.daily_rate, 2) AS runway_days,
       round(f.projected_utilization, 2) AS projected_utilization,
       f.runs_out_local,
       f.runs_out_at,
       f.period_end
FROM public.budget_forecast AS f
WHERE f.runway_status = 'runs_out'
ORDER BY (f.effective_budget - f.spent) / f.daily_rate, f.entity_type, f.entity_id,
         f.resource_type;
COMMENT ON VIEW public.senate_report_runway IS 'Runway: entity and class pairs projected to run out before this budget period ends (budget_forecast.runway_status runs_out), soonest first; amounts rounded to 2 decimals for reading (exact values in budget_forecast).';
COMMENT ON COLUMN public.senate_report_runway.entity_type IS 'Kind of entity.';
COMMENT ON COLUMN public.senate_report_runway.entity_id IS 'Entity identifier.';
COMMENT ON COLUMN public.senate_report_runway.resource_type IS 'Resource class.';
COMMENT ON COLUMN public.senate_report_runway.unit IS 'Unit of the amounts: tokens, CPU-seconds, GB-hours or calls.';
COMMENT ON COLUMN public.senate_report_runway.effective_budget IS 'Effective budget this period, in unit (2 decimals).';
COMMENT ON COLUMN public.senate_report_runway.spent IS 'Spend this period so far, today included, in unit (2 decimals).';
COMMENT ON COLUMN public.senate_report_runway.daily_rate IS 'Estimated spend per day (budget_forecast.daily_rate), in unit per day (2 decimals).';
COMMENT ON COLUMN public.senate_report_runway.runway_days IS '(effective_budget - spent) / daily_rate: days of spend left at that rate, in days (2 decimals).';
COMMENT ON COLUMN public.senate_report_runway.projected_utilization IS 'Projected spend at period end / effective_budget, as a fraction (2 decimals: whole percent).';
COMMENT ON COLUMN public.senate_report_runway.runs_out_local IS 'When it runs out at that rate, local wall-clock time in the policy time zone, to the hour.';
COMMENT ON COLUMN public.senate_report_runway.runs_out_at IS 'When it runs out at that rate (timestamptz, exact).';
COMMENT ON COLUMN public.senate_report_runway.period_end IS 'First day after the budget period (exclusive bound).';
-- define view public.senate_report_families
CREATE OR REPLACE VIEW public.senate_report_families AS
WITH pb AS (
    SELECT p AS policy, b.period_start, b.period_end
    FROM public.economics_policy AS p
    CROSS JOIN LATERAL senate.period_bounds(now(), p.budget_period, p.time_zone) AS b
    WHERE p.is_active
), roots AS (
    -- The families: one per root (a parent without a parent), ranked by the root's effective
    -- token budget (the cap of the whole family), largest first; the first five are shown.
    SELECT r.root_type, r.root_id,
           row_number() OVER (ORDER BY rb.budget DESC NULLS LAST, r.root_type, r.root_id)
               AS family_rank
    FROM (SELECT DISTINCT p.parent_type AS root_type, p.parent_id AS root_id
          FROM public.entity_parents AS p
          WHERE NOT EXISTS (SELECT 1 FROM public.entity_parents AS q
                            WHERE q.entity_type = p.parent_type
                              AND q.entity_id = p.parent_id)) AS r
    LEFT JOIN LATERAL (
        SELECT senate.effective_class_budget(b, 'llm_tokens', pb.policy) AS budget
        FROM public.resource_budgets AS b CROSS JOIN pb
        WHERE b.entity_type = r.root_type AND b.entity_id = r.root_id) AS rb ON true
), members AS MATERIALIZED (
    -- Every member of those families (the root at depth 0), its own envelope's effective
    -- token budget, its own token spend this period and its open token holds.
    SELECT t.family_rank, f.entity_type, f.entity_id, f.depth::integer AS depth,
           (SELECT senate.effective_class_budget(b, 'llm_tokens', pb.policy)
            FROM public.resource_budgets AS b
            WHERE b.entity_type = f.entity_type AND b.entity_id = f.entity_id) AS budget,
           (SELECT coalesce(sum(r.amount_total), 0) FROM senate.usage_rollups AS r
            WHERE r.entity_type = f.entity_type AND r.entity_id = f.entity_id
              AND r.resource_type = 'llm_tokens'
              AND r.usage_day >= pb.period_start AND r.usage_day < pb.period_end) AS own_spent,
           (SELECT coalesce(sum(o.amount), 0) FROM public.spend_reservations AS o
            WHERE o.entity_type = f.entity_type AND o.entity_id = f.entity_id
              AND o.resource_type = 'llm_tokens' AND o.settled_at IS NULL
              AND o.released_at IS NULL AND o.expires_at > now()) AS own_held
    FROM roots AS t
    JOIN senate.entity_family AS f ON f.ancestor_type = t.root_type AND f.ancestor_id = t.root_id
    CROSS JOIN pb
    WHERE t.family_rank <= 5
), levels AS MATERIALIZED (
    -- Each member's subtree (itself and its descendants): spend, holds and size; the
    -- headroom its envelope leaves (as budget_levels.available); its rank among its
    -- siblings by subtree spend.
    SELECT m.family_rank, m.entity_type, m.entity_id, m.depth, m.budget, s.spent, s.held,
           s.members,
           CASE WHEN m.budget IS NOT NULL THEN greatest(m.budget - s.spent - s.held, 0) END
               AS headroom,
           p.parent_type, p.parent_id,
           row_number() OVER (PARTITION BY m.family_rank, p.parent_type, p.parent_id
                              ORDER BY s.spent DESC, m.entity_type, m.entity_id) AS sibling_rank
    FROM members AS m
    CROSS JOIN LATERAL (
        SELECT sum(d.own_spent) AS spent, sum(d.own_held) AS held, count(*) AS members
        FROM senate.entity_family AS x
        JOIN members AS d ON d.entity_type = x.entity_type AND d.entity_id = x.entity_id
        WHERE x.ancestor_type = m.entity_type AND x.ancestor_id = m.entity_id) AS s
    LEFT JOIN public.entity_parents AS p
      ON p.entity_type = m.entity_type AND p.entity_id = m.entity_id
), shown AS (
    SELECT l.*, path.ranks,
           -- Its levels (itself, then each ancestor with an envelope): the least headroom binds,
           -- the nearest on a tie, as can_spend and reserve_spend judge it.
           bind.entity_type AS bind_type, bind.entity_id AS bind_id, bind.up AS bind_up,
           bind.headroom AS available,
           (SELECT count(*) FROM levels AS c
            WHERE c.family_rank = l.family_rank AND c.parent_type = l.entity_type
              AND c.parent_id = l.entity_id AND (c.sibling_rank > 5 OR c.depth > 2)) AS not_shown
    FROM levels AS l
    -- The path from the root (sibling ranks), for the tree's order; shown when every step
    -- of it is among the five largest siblings and it is at most two levels below the root.
    CROSS JOIN LATERAL (
        SELECT pg_catalog.array_agg(a.sibling_rank ORDER BY x.depth DESC) AS ranks,
               bool_and(a.sibling_rank <= 5) AS within
        FROM senate.entity_family AS x
        JOIN levels AS a
          ON a.family_rank = l.family_rank
         AND a.entity_type = x.ancestor_type AND a.entity_id = x.ancestor_id
        WHERE x.entity_type = l.entity_type AND x.entity_id = l.entity_id) AS path
    LEFT JOIN LATERAL (
        SELECT a.entity_type, a.entity_id, x.depth AS up, a.headroom
        FROM senate.entity_family AS x
        JOIN levels AS a
          ON a.family_rank = l.family_rank
         AND a.entity_type = x.ancestor_type AND a.entity_id = x.ancestor_id
        WHERE x.entity_type = l.entity_type AND x.entity_id = l.entity_id
          AND a.budget IS NOT NULL
        ORDER BY a.headroom, x.depth
        LIMIT 1) AS bind ON true
    WHERE l.depth <= 2 AND path.within
)
SELECT s.family_rank::integer AS family_rank,
       row_number() OVER (ORDER BY s.family_rank, s.ranks) AS tree_order,
       s.depth,
       CASE WHEN s.depth = 0 THEN ''
            ELSE pg_catalog.repeat(U&'\00A0\00A0', s.depth - 1) || U&'\2514 ' END
           || s.entity_type || ' ' || s.entity_id AS tree,
       s.entity_type,
       s.entity_id,
       trim_scale(round(s.budget, 2)) AS effective_budget,
       trim_scale(round(s.spent, 2)) AS subtree_spent,
       trim_scale(round(s.held, 2)) AS subtree_held,
       trim_scale(round(s.headroom, 2)) AS headroom,
       CASE WHEN s.bind_up = 0 THEN 'itself'
            WHEN s.bind_up IS NOT NULL
                THEN pg_catalog.format('%s %s (%s up)', s.bind_type, s.bind_id, s.bind_up)
       END AS binding_level,
       trim_scale(round(s.available, 2)) AS available,
       s.members::integer AS subtree_members,
       s.not_shown::integer AS children_not_shown
FROM shown AS s
ORDER BY 2;
COMMENT ON VIEW public.senate_report_families IS 'The report''s tree of the largest families (issue 19): the five families whose root (a parent without a parent, entity_parents) has the largest effective token budget, as a tree in pre-order (tree_order): the root, then each member at most two levels below it, the five with the largest subtree spend under each parent (children_not_shown counts the rest). Per member, in tokens for the current budget period: its envelope''s effective budget, its subtree''s (itself and every descendant) spend and open holds, the headroom its envelope leaves, and the level that binds it (itself or an ancestor: the least headroom, the nearest on a tie, as can_spend and reserve_spend judge it) with what that leaves it. Rounded for reading (2 decimals); exact per level and class in budget_levels. Empty when there is no tree.';
COMMENT ON COLUMN public.senate_report_families.family_rank IS 'The family''s rank by its root''s effective token budget (1 = largest; roots without an envelope last).';
COMMENT ON COLUMN public.senate_report_families.tree_order IS 'Order of the rows as a tree: each family''s root, then depth first, larger subtree spend first among siblings.';
COMMENT ON COLUMN public.senate_report_families.depth IS 'Levels below the family''s root (0 = the root), at most 2.';
COMMENT ON COLUMN public.senate_report_families.tree IS 'The member as a line of the tree: kind and id, indented by depth.';
COMMENT ON COLUMN public.senate_report_families.entity_type IS 'Kind of the member.';
COMMENT ON COLUMN public.senate_report_families.entity_id IS 'Member identifier.';
COMMENT ON COLUMN public.senate_report_families.effective_budget IS 'Effective token budget of its own envelope this period, in tokens (2 decimals); NULL: it has no envelope (it caps nothing).';
COMMENT ON COLUMN public.senate_report_families.subtree_spent IS 'Token spend of its subtree (itself and every descendant) this period, in tokens (2 decimals).';
COMMENT ON COLUMN public.senate_report_families.subtree_held IS 'Tokens held by open reservations in its subtree, in tokens (2 decimals).';
COMMENT ON COLUMN public.senate_report_families.headroom IS 'effective_budget - subtree_spent - subtree_held, floored at 0, in tokens (2 decimals): what its own envelope still lets its subtree spend; NULL without an envelope.';
COMMENT ON COLUMN public.senate_report_families.binding_level IS 'The level that stops its spending first: itself, or an ancestor (kind, id, levels up) with the least headroom; NULL when neither it nor any ancestor has an envelope.';
COMMENT ON COLUMN public.senate_report_families.available IS 'What it may still spend this period: the binding level''s headroom, in tokens (2 decimals; tier caps aside).';
COMMENT ON COLUMN public.senate_report_families.subtree_members IS 'Entities in its subtree, itself included.';
COMMENT ON COLUMN public.senate_report_families.children_not_shown IS 'Its children not shown (beyond the five largest by subtree spend, or deeper than two levels below the root).';

