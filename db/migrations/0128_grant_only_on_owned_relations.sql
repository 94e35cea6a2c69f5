-- Why: grants only on what the project owns. 0099 granted through wildcards: senate_reader and
-- senate_owner SELECT on every view of schema public, senate_admin SELECT on every table of it,
-- the deployment's own included (a deployment view over user e-mails became readable by every
-- analyst; raw usage through a deployment view too). The wildcards in public are replaced by
-- the project's relations by name, and what the wildcards granted on the deployment's other
-- relations is revoked. A migration that adds a view or table in public adds its rows to
-- senate.table_access (tests/test_security_roles.py fails while one lacks them).
--
-- Revoked: privileges of the project's group roles and senate_owner on relations of public
-- that are not the project's (only 0099's wildcards gave them such privileges; the roles are
-- the project's). The two deployed tables the project adopts (resource_usage,
-- allocation_proposals) are the project's here: its functions and admins read them.
SET lock_timeout = '5s';

DELETE FROM senate.table_access
WHERE relation_name IN ('public.<views>', 'public.<tables>');

INSERT INTO senate.table_access (relation_name, role_name, privilege) VALUES
  ('public.allocation_proposal_tallies', 'senate_reader', 'SELECT'),
  ('public.allocation_ranking', 'senate_reader', 'SELECT'),
  ('public.budget_status', 'senate_reader', 'SELECT'),
  ('public.budget_tier_status', 'senate_reader', 'SELECT'),
  ('public.daily_spend', 'senate_reader', 'SELECT'),
  ('public.proposals_due_for_review', 'senate_reader', 'SELECT'),
  ('public.roi_leaderboard', 'senate_reader', 'SELECT'),
  ('public.senate_report_budget_by_period', 'senate_reader', 'SELECT'),
  ('public.senate_report_last_rebalance', 'senate_reader', 'SELECT'),
  ('public.senate_report_last_rebalance_summary', 'senate_reader', 'SELECT'),
  ('public.senate_report_over_budget', 'senate_reader', 'SELECT'),
  ('public.senate_report_overview', 'senate_reader', 'SELECT'),
  ('public.senate_report_pending_proposals', 'senate_reader', 'SELECT'),
  ('public.senate_report_reserve', 'senate_reader', 'SELECT'),
  ('public.senate_report_reserve_history', 'senate_reader', 'SELECT'),
  ('public.senate_report_roi_laggards', 'senate_reader', 'SELECT'),
  ('public.senate_report_roi_leaders', 'senate_reader', 'SELECT'),
  ('public.senate_report_roi_priority', 'senate_reader', 'SELECT'),
  ('public.senate_report_spend_mix', 'senate_reader', 'SELECT'),
  ('public.senate_report_throttled', 'senate_reader', 'SELECT'),
  ('public.senate_report_top_allocations', 'senate_reader', 'SELECT'),
  ('public.allocation_proposal_tallies', 'senate_owner', 'SELECT'),
  ('public.allocation_ranking', 'senate_owner', 'SELECT'),
  ('public.budget_status', 'senate_owner', 'SELECT'),
  ('public.budget_tier_status', 'senate_owner', 'SELECT'),
  ('public.daily_spend', 'senate_owner', 'SELECT'),
  ('public.proposals_due_for_review', 'senate_owner', 'SELECT'),
  ('public.roi_leaderboard', 'senate_owner', 'SELECT'),
  ('public.senate_report_budget_by_period', 'senate_owner', 'SELECT'),
  ('public.senate_report_last_rebalance', 'senate_owner', 'SELECT'),
  ('public.senate_report_last_rebalance_summary', 'senate_owner', 'SELECT'),
  ('public.senate_report_over_budget', 'senate_owner', 'SELECT'),
  ('public.senate_report_overview', 'senate_owner', 'SELECT'),
  ('public.senate_report_pending_proposals', 'senate_owner', 'SELECT'),
  ('public.senate_report_reserve', 'senate_owner', 'SELECT'),
  ('public.senate_report_reserve_history', 'senate_owner', 'SELECT'),
  ('public.senate_report_roi_laggards', 'senate_owner', 'SELECT'),
  ('public.senate_report_roi_leaders', 'senate_owner', 'SELECT'),
  ('public.senate_report_roi_priority', 'senate_owner', 'SELECT'),
  ('public.senate_report_spend_mix', 'senate_owner', 'SELECT'),
  ('public.senate_report_throttled', 'senate_owner', 'SELECT'),
  ('public.senate_report_top_allocations', 'senate_owner', 'SELECT'),
  ('public.allocation_proposal_transitions', 'senate_admin', 'SELECT'),
  ('public.allocation_proposals', 'senate_admin', 'SELECT'),
  ('public.allocation_signals', 'senate_admin', 'SELECT'),
  ('public.allocation_votes', 'senate_admin', 'SELECT'),
  ('public.api_providers', 'senate_admin', 'SELECT'),
  ('public.budget_ledger', 'senate_admin', 'SELECT'),
  ('public.budget_snapshots', 'senate_admin', 'SELECT'),
  ('public.economics_policy', 'senate_admin', 'SELECT'),
  ('public.entity_types', 'senate_admin', 'SELECT'),
  ('public.governance_blocks', 'senate_admin', 'SELECT'),
  ('public.llm_models', 'senate_admin', 'SELECT'),
  ('public.market_signals', 'senate_admin', 'SELECT'),
  ('public.model_tiers', 'senate_admin', 'SELECT'),
  ('public.rebalance_changes', 'senate_admin', 'SELECT'),
  ('public.rebalance_runs', 'senate_admin', 'SELECT'),
  ('public.reserve_snapshots', 'senate_admin', 'SELECT'),
  ('public.resource_budget_tiers', 'senate_admin', 'SELECT'),
  ('public.resource_budgets', 'senate_admin', 'SELECT'),
  ('public.resource_daily_allowances', 'senate_admin', 'SELECT'),
  ('public.resource_types', 'senate_admin', 'SELECT'),
  ('public.resource_usage', 'senate_admin', 'SELECT'),
  ('public.senate_reserve', 'senate_admin', 'SELECT'),
  ('public.spend_alerts', 'senate_admin', 'SELECT'),
  ('public.spend_reservations', 'senate_admin', 'SELECT'),
  ('public.spend_throttles', 'senate_admin', 'SELECT'),
  ('public.world_model_gains', 'senate_admin', 'SELECT')
ON CONFLICT DO NOTHING;

DO $$
DECLARE
    obj record;
BEGIN
    FOR obj IN
        SELECT c.oid::regclass AS rel, r.rolname
        FROM pg_catalog.pg_class AS c
        CROSS JOIN pg_catalog.pg_roles AS r
        WHERE c.relnamespace = 'public'::regnamespace
          AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
          AND r.rolname IN ('senate_reader', 'senate_writer', 'senate_reviewer', 'senate_admin',
                            'senate_owner', 'senate_exchange', 'senate_atlas')
          AND EXISTS (SELECT 1 FROM pg_catalog.aclexplode(c.relacl) AS x WHERE x.grantee = r.oid)
          AND NOT EXISTS (SELECT 1 FROM senate.table_access AS a
                          WHERE a.relation_name = 'public.' || c.relname)
        ORDER BY c.oid, r.rolname
    LOOP
        EXECUTE pg_catalog.format('REVOKE ALL ON TABLE %s FROM %I', obj.rel, obj.rolname);
    END LOOP;
    PERFORM senate.grant_role_privileges();
END;
$$;
