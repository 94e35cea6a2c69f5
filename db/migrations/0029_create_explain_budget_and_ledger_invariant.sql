-- Why: the framework exists to make resource decisions legible. Anyone must be
-- able to ask "why does this entity have this budget?" and get the answer from
-- the database: explain_budget() tells an entity's story from the budget
-- ledger, in order, joined to the proposals that caused it. And the ledger is
-- only an explanation if it is complete: check_ledger_invariant() proves that
-- the ledger's deltas add up to every current budget and reserve balance.
SET lock_timeout = '5s';

CREATE OR REPLACE FUNCTION public.explain_budget(p_entity_type text, p_entity_id text)
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
    explanation     text)
LANGUAGE sql STABLE
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
                   format('proposal %s by %s approved: %s%s', p.id,
                          coalesce(p.proposer_agent::text, p.proposer_id::text, 'unknown'),
                          CASE WHEN length(p.justification) > 160
                               THEN left(p.justification, 159) || '…'
                               ELSE p.justification END,
                          coalesce(' (' || l.note || ')', ''))
               WHEN l.account = 'entity_status' THEN coalesce('status: ' || l.note, 'status change')
               ELSE coalesce(l.note, '')
           END
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
  'CPU-seconds, GB-hours, calls), cause (type and id), actor, and an explanation (for approvals: '
  'the proposal, its proposer and justification, and the reviewer''s note). The last '
  'balance_after per class is the current budget.';

CREATE OR REPLACE FUNCTION public.check_ledger_invariant()
RETURNS TABLE (
    account          text,
    entity_type      text,
    entity_id        text,
    resource_type    text,
    ledger_total     numeric,
    current_balance  numeric,
    difference       numeric)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    WITH ledger AS (
        SELECT l.account, coalesce(l.entity_type, '') AS entity_type,
               coalesce(l.entity_id, '') AS entity_id, l.resource_type, sum(l.delta) AS total
        FROM public.budget_ledger AS l
        WHERE l.account IN ('entity_budget', 'reserve')
        GROUP BY 1, 2, 3, 4
    ), balances AS (
        SELECT 'entity_budget'::text AS account, b.entity_type, b.entity_id, rt.resource_type,
               senate.budget_amount(b, rt.resource_type) AS balance
        FROM public.resource_budgets AS b
        CROSS JOIN public.resource_types AS rt
        UNION ALL
        SELECT 'reserve', '', '', r.resource_type, r.balance
        FROM public.senate_reserve AS r
    )
    SELECT account, nullif(entity_type, ''), nullif(entity_id, ''), resource_type,
           coalesce(l.total, 0), coalesce(b.balance, 0),
           coalesce(b.balance, 0) - coalesce(l.total, 0)
    FROM ledger AS l
    FULL JOIN balances AS b USING (account, entity_type, entity_id, resource_type)
    WHERE coalesce(l.total, 0) <> coalesce(b.balance, 0)
    ORDER BY 1, 2, 3, 4
$$;
COMMENT ON FUNCTION public.check_ledger_invariant() IS
  'Proves the budget ledger complete: returns every (account, entity, resource class) whose current '
  'balance (resource_budgets column, or senate_reserve balance) differs from the sum of its ledger '
  'deltas, with the difference. No rows means every budget and reserve balance is explained by the '
  'ledger. Reads the whole ledger: an audit, not a hot-path call.';
