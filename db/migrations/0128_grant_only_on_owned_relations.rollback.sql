-- Gives back 0099's wildcards in public (SELECT on every view to senate_reader and
-- senate_owner, on every table to senate_admin) and removes the rows 0128 added by name.
SET lock_timeout = '5s';
DELETE FROM senate.table_access AS a
WHERE (a.role_name IN ('senate_reader', 'senate_owner') AND a.privilege = 'SELECT'
       AND a.relation_name IN (
    'public.allocation_proposal_tallies', 'public.allocation_ranking', 'public.budget_status',
    'public.budget_tier_status', 'public.daily_spend', 'public.proposals_due_for_review',
    'public.roi_leaderboard', 'public.senate_report_budget_by_period',
    'public.senate_report_last_rebalance', 'public.senate_report_last_rebalance_summary',
    'public.senate_report_over_budget', 'public.senate_report_overview',
    'public.senate_report_pending_proposals', 'public.senate_report_reserve',
    'public.senate_report_reserve_history', 'public.senate_report_roi_laggards',
    'public.senate_report_roi_leaders', 'public.senate_report_roi_priority',
    'public.senate_report_spend_mix', 'public.senate_report_throttled',
    'public.senate_report_top_allocations'))
   OR (a.role_name = 'senate_admin' AND a.privilege = 'SELECT'
       AND a.relation_name IN (
    'public.allocation_proposal_transitions', 'public.allocation_proposals',
    'public.allocation_signals', 'public.allocation_votes', 'public.api_providers',
    'public.budget_ledger', 'public.budget_snapshots', 'public.economics_policy',
    'public.entity_types', 'public.governance_blocks', 'public.llm_models',
    'public.market_signals', 'public.model_tiers', 'public.rebalance_changes',
    'public.rebalance_runs', 'public.reserve_snapshots', 'public.resource_budget_tiers',
    'public.resource_budgets', 'public.resource_daily_allowances', 'public.resource_types',
    'public.resource_usage', 'public.senate_reserve', 'public.spend_alerts',
    'public.spend_reservations', 'public.spend_throttles', 'public.world_model_gains'));
INSERT INTO senate.table_access (relation_name, role_name, privilege) VALUES
  ('public.<views>', 'senate_reader', 'SELECT'),
  ('public.<tables>', 'senate_admin', 'SELECT'),
  ('public.<views>', 'senate_owner', 'SELECT')
ON CONFLICT DO NOTHING;
DO $$
BEGIN
    PERFORM senate.grant_role_privileges();
END;
$$;
