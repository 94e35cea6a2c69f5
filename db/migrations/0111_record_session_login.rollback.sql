-- Undoes 0111: the cause functions read settings again (0008), the approval trigger and
-- explain_budget are restored (0028, 0029), the login columns, their triggers and the cause
-- table are removed.
SET lock_timeout = '5s';
DELETE FROM senate.function_hardening
WHERE function_oid = to_regprocedure('public.explain_budget(text, text)');
DROP FUNCTION IF EXISTS public.explain_budget(text, text);
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
    explanation     text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, public, senate, pg_temp
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

CREATE OR REPLACE FUNCTION senate.set_change_cause(
    p_cause_type text, p_cause_id text, p_actor text, p_note text DEFAULT NULL)
RETURNS void
LANGUAGE sql VOLATILE
AS $$
    SELECT set_config('senate.cause_type', coalesce(p_cause_type, ''), true),
           set_config('senate.cause_id', coalesce(p_cause_id, ''), true),
           set_config('senate.actor', coalesce(p_actor, ''), true),
           set_config('senate.note', coalesce(p_note, ''), true);
$$;
COMMENT ON FUNCTION senate.set_change_cause(text, text, text, text) IS
  'Names the cause, actor and note that the ledger triggers record for the budget and reserve '
  'changes that follow in this transaction. Call senate.clear_change_cause() afterwards.';

CREATE OR REPLACE FUNCTION senate.clear_change_cause()
RETURNS void
LANGUAGE sql VOLATILE
AS $$
    SELECT senate.set_change_cause(NULL, NULL, NULL, NULL);
$$;
COMMENT ON FUNCTION senate.clear_change_cause() IS
  'Forgets the cause set by senate.set_change_cause(); later writes are recorded as direct_write.';

CREATE OR REPLACE FUNCTION senate.current_change_cause(
    OUT cause_type text, OUT cause_id text, OUT actor text, OUT note text)
LANGUAGE sql STABLE
AS $$
    SELECT coalesce(nullif(current_setting('senate.cause_type', true), ''), 'direct_write'),
           nullif(current_setting('senate.cause_id', true), ''),
           coalesce(nullif(current_setting('senate.actor', true), ''), session_user::text),
           nullif(current_setting('senate.note', true), '');
$$;
COMMENT ON FUNCTION senate.current_change_cause() IS
  'The cause, actor and note the ledger triggers record now (direct_write by the session user by default).';

GRANT EXECUTE ON FUNCTION senate.set_change_cause(text, text, text, text) TO PUBLIC;
GRANT EXECUTE ON FUNCTION senate.clear_change_cause() TO PUBLIC;
CREATE OR REPLACE FUNCTION senate.apply_approved_proposal()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public, senate, pg_temp
AS $$
DECLARE
    v_amount numeric := NEW.requested_tokens::numeric;
    v_column text;
    v_unit text;
    v_balance numeric;
    v_prior_cause text[] := ARRAY[current_setting('senate.cause_type', true),
                                  current_setting('senate.cause_id', true),
                                  current_setting('senate.actor', true),
                                  current_setting('senate.note', true)];
BEGIN
    IF senate.legacy_proposal_writes_allowed() THEN
        RETURN NULL;  -- a legacy consumer's approval records a decision and moves nothing
    END IF;
    SELECT r.budget_column, r.unit INTO v_column, v_unit
    FROM public.resource_types AS r WHERE r.resource_type = NEW.resource_type;

    PERFORM senate.set_change_cause(
        'proposal_approval', NEW.id::text,
        coalesce(NEW.reviewer::text, (senate.current_change_cause()).actor),
        coalesce(NEW.decision_note, format('proposal %s approved', NEW.id)));

    -- 1. The entity's envelope (created if absent), credited in the requested class.
    INSERT INTO public.resource_budgets AS b
        (entity_type, entity_id, token_budget, cpu_budget, storage_budget_gb, api_call_budget)
    VALUES (NEW.entity_type::text, NEW.entity_id::text,
            CASE v_column WHEN 'token_budget' THEN v_amount ELSE 0 END,
            CASE v_column WHEN 'cpu_budget' THEN v_amount ELSE 0 END,
            CASE v_column WHEN 'storage_budget_gb' THEN v_amount ELSE 0 END,
            CASE v_column WHEN 'api_call_budget' THEN v_amount ELSE 0 END)
    ON CONFLICT (entity_type, entity_id) DO UPDATE
    SET token_budget = b.token_budget + excluded.token_budget,
        cpu_budget = b.cpu_budget + excluded.cpu_budget,
        storage_budget_gb = b.storage_budget_gb + excluded.storage_budget_gb,
        api_call_budget = b.api_call_budget + excluded.api_call_budget,
        updated_at = now();

    -- 2. The reserve, debited only if it still covers the amount on the row
    --    version this UPDATE locks (a concurrent approval may just have drawn it).
    UPDATE public.senate_reserve AS r
    SET balance = r.balance - v_amount, updated_at = now()
    WHERE r.resource_type = NEW.resource_type AND r.balance >= v_amount;
    IF NOT FOUND THEN
        SELECT r.balance INTO v_balance
        FROM public.senate_reserve AS r WHERE r.resource_type = NEW.resource_type;
        PERFORM senate.raise_error('S2029',
            format('proposal %s needs %s %s of %s, but the Senate reserve holds %s',
                   NEW.id, v_amount, v_unit, NEW.resource_type, coalesce(v_balance, 0)));
    END IF;

    PERFORM senate.set_change_cause(nullif(v_prior_cause[1], ''), nullif(v_prior_cause[2], ''),
                                    nullif(v_prior_cause[3], ''), nullif(v_prior_cause[4], ''));
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION senate.apply_approved_proposal() IS
  'Row trigger on allocation_proposals, on the transition to approved: credits the entity''s '
  'resource_budgets row (created if absent) with the requested amount in the requested class and '
  'debits the Senate reserve by the same amount (S2029 when it does not cover it), with ledger '
  'cause proposal_approval and cause_id the proposal id. Locks the budget row, then the reserve row. '
  'Does nothing for a session with senate.legacy_proposal_writes on.';
DROP TABLE IF EXISTS senate.change_causes;
DROP TRIGGER IF EXISTS t99_stamp_vote_recorder ON public.allocation_votes;
DROP TRIGGER IF EXISTS t99_stamp_session_login ON senate.settings_log;
DROP TRIGGER IF EXISTS t99_stamp_session_login ON public.allocation_proposal_transitions;
DROP TRIGGER IF EXISTS t99_stamp_session_login ON public.budget_ledger;
DROP FUNCTION IF EXISTS senate.stamp_vote_recorder();
DROP FUNCTION IF EXISTS senate.stamp_session_login();
ALTER TABLE senate.settings_log DROP COLUMN IF EXISTS session_login;
ALTER TABLE public.allocation_proposal_transitions DROP COLUMN IF EXISTS session_login;
ALTER TABLE public.budget_ledger DROP COLUMN IF EXISTS session_login;
DO $$
BEGIN
    PERFORM senate.grant_role_privileges();
END;
$$;

-- Trigger functions on the deployed tables run with the owner's rights from the migration that
-- defines them (issue 14 point 9): a legacy writer holding only its grants on the deployed
-- tables keeps working after every migration, not only once 0099/0126 have run. Their bodies
-- name every object schema-qualified; the path is pinned to the catalog.
ALTER FUNCTION senate.apply_approved_proposal() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
