-- Removes only what 0140 added: the as_of columns, their stamping triggers, senate.change_as_of
-- and its functions; run_daily_check, run_rebalance and check_spend_alerts get back the
-- definitions 0140 saved; explain_budget(text, text) and budget_move_evidence are put back as
-- 0111 and 0136 left them.
SET lock_timeout = '5s';

-- budget_move_evidence without as_of (a view cannot lose a column in place).
-- squawk-ignore ban-drop-view
DROP VIEW IF EXISTS public.budget_move_evidence;
CREATE VIEW public.budget_move_evidence AS
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

-- explain_budget(text, text) as 0111 left it.
DELETE FROM senate.function_hardening
WHERE function_oid = to_regprocedure('public.explain_budget(text, text, boolean)');
DROP FUNCTION IF EXISTS public.explain_budget(text, text, boolean);
CREATE FUNCTION public.explain_budget(p_entity_type text, p_entity_id text)
RETURNS TABLE (
    ledger_id       bigint,
    recorded_at     timestamptz,
    resource_type   text,
    balance_before  numeric,
    balance_after   numeric,
    delta           numeric,
    unit            text,
    cause           text,
    actor           text,
    explanation     text,
    login           text)
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT l.ledger_id,
           l.recorded_at,
           l.resource_type,
           l.balance_before,
           l.balance_after,
           l.delta,
           coalesce(rt.unit, ''),
           l.cause_type || coalesce(' ' || l.cause_id, ''),
           l.actor,
           CASE
               WHEN p.id IS NOT NULL THEN
                   pg_catalog.format('proposal %s by %s approved: %s%s', p.id,
                          coalesce(p.proposer_agent::text, p.proposer_id::text, 'unknown'),
                          CASE WHEN pg_catalog.length(p.justification) > 160
                               THEN pg_catalog.left(p.justification, 159) || '…'
                               ELSE p.justification END,
                          coalesce(' (' || l.note || ')', ''))
               WHEN l.account = 'entity_status' THEN coalesce('status: ' || l.note, 'status change')
               ELSE coalesce(l.note, '')
           END,
           l.session_login
    FROM public.budget_ledger AS l
    LEFT JOIN public.resource_types AS rt ON rt.resource_type = l.resource_type
    LEFT JOIN public.allocation_proposals AS p
        ON l.cause_type = 'proposal_approval'
       AND p.entity_type::text = l.entity_type
       AND p.entity_id::text = l.entity_id
       AND p.id::text = l.cause_id
    WHERE l.entity_type = p_entity_type
      AND l.entity_id = p_entity_id
      AND l.account IN ('entity_budget', 'entity_status')
    ORDER BY l.ledger_id
$$;
COMMENT ON FUNCTION public.explain_budget(text, text) IS
  'Why an entity has its budget: every change to its resource_budgets row (and throttle status), '
  'in order, with when, resource class, balance before -> after, delta and unit (tokens, '
  'CPU-seconds, GB-hours, calls), cause (type and id), actor (as named by the function that made '
  'the change), an explanation (for approvals: the proposal, its proposer and justification, and '
  'the reviewer''s note) and login (session_user that made the change; NULL before migration '
  '0111). A direct edit reads as direct_write under its login. The last balance_after per class '
  'is the current budget.';
REVOKE EXECUTE ON FUNCTION public.explain_budget(text, text) FROM PUBLIC;

DO $$
BEGIN
    PERFORM senate.restore_definitions('0140');
END;
$$;

DROP TRIGGER IF EXISTS t15_stamp_as_of ON public.spend_throttles;
DROP TRIGGER IF EXISTS t98_stamp_as_of ON public.budget_ledger;
DELETE FROM senate.function_hardening
WHERE function_oid IN (
    SELECT p.oid FROM pg_catalog.pg_proc AS p
    WHERE p.oid IN (pg_catalog.to_regprocedure('senate.stamp_throttle_as_of()'),
                    pg_catalog.to_regprocedure('senate.stamp_ledger_as_of()'),
                    pg_catalog.to_regprocedure('senate.current_change_as_of()'),
                    pg_catalog.to_regprocedure('senate.set_change_as_of(timestamptz)')));
DROP FUNCTION IF EXISTS senate.stamp_throttle_as_of();
DROP FUNCTION IF EXISTS senate.stamp_ledger_as_of();
DROP FUNCTION IF EXISTS senate.current_change_as_of();
DROP FUNCTION IF EXISTS senate.set_change_as_of(timestamptz);
DROP TABLE IF EXISTS senate.change_as_of;
ALTER TABLE public.spend_alerts DROP COLUMN IF EXISTS fired_as_of;
ALTER TABLE public.spend_throttles DROP COLUMN IF EXISTS released_as_of;
ALTER TABLE public.spend_throttles DROP COLUMN IF EXISTS throttled_as_of;
ALTER TABLE public.budget_ledger DROP COLUMN IF EXISTS as_of;

DO $$
BEGIN
    PERFORM senate.grant_role_privileges();
END;
$$;
