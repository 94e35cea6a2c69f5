-- Why: approval is the only way a budget grows, so its rules must hold on
-- every path and its effect must happen exactly once. On the transition to
-- approved (by decide_allocation_proposal() or a direct UPDATE) a row trigger
-- re-checks the strict justification rule and counts the votes under the
-- policy version recorded on the proposal (quorum of non-abstaining votes,
-- more approve than reject votes); an AFTER trigger then, in the same
-- transaction, credits the entity's resource_budgets row (created if absent)
-- with the requested amount in the requested class and debits the Senate
-- reserve, naming the cause proposal_approval so the ledger explains it.
-- Because approved is final (0026), the credit cannot happen twice.
--
-- Legacy consumers (sessions with senate.legacy_proposal_writes on, see 0025)
-- keep the meaning an approval had before governance existed: the status is
-- recorded, no budget moves. decide_allocation_proposal() always runs with
-- the setting off, so its approvals are checked and credited whatever the
-- session says.
--
-- Locking: the proposal row first (FOR UPDATE in the functions, the row lock
-- of a direct UPDATE), then the entity's resource_budgets row, then the
-- reserve row. Every writer that touches budgets and the reserve takes them
-- in this order (budgets sorted by entity, then reserve rows sorted by class).
-- A reviewer who loses a race for the same proposal gets S2021; an approval
-- that loses a race for the last of the reserve gets S2029 (the reserve
-- UPDATE re-checks the balance on the row version it locked).
SET lock_timeout = '5s';

CREATE OR REPLACE FUNCTION senate.check_proposal_approval()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_tally record;
BEGIN
    IF NEW.status IS DISTINCT FROM 'approved' OR OLD.status IS NOT DISTINCT FROM 'approved' THEN
        RETURN NEW;
    END IF;
    IF senate.legacy_proposal_writes_allowed() THEN
        -- A legacy consumer records its decision as it always did; it moves no budget
        -- (senate.apply_approved_proposal skips it too), so no governance rule is needed.
        NEW.decision_note := coalesce(NEW.decision_note,
            'legacy write (senate.legacy_proposal_writes): recorded without governance checks, '
            'no budget change');
        RETURN NEW;
    END IF;
    PERFORM senate.check_proposal_evidence(NEW.justification, NEW.evidence);
    -- A proposal filed before governance may name a kind of entity that has no budgets.
    PERFORM senate.require_entity(NEW.entity_type::text, NEW.entity_id::text);

    SELECT pol.policy_version, pol.quorum,
           count(*) FILTER (WHERE v.e ->> 'vote' = 'approve') AS approvals,
           count(*) FILTER (WHERE v.e ->> 'vote' = 'reject') AS rejections,
           count(*) FILTER (WHERE v.e ->> 'vote' = 'abstain') AS abstentions
    INTO v_tally
    FROM public.economics_policy AS pol
    LEFT JOIN jsonb_array_elements(CASE WHEN jsonb_typeof(NEW.votes) = 'array' THEN NEW.votes
                                        ELSE '[]'::jsonb END) AS v (e) ON true
    WHERE pol.policy_version = senate.proposal_policy_version(NEW.policy_version, NEW.created_at)
    GROUP BY pol.policy_version, pol.quorum;

    IF v_tally.quorum IS NULL THEN
        PERFORM senate.raise_error('S2027',
            format('proposal %s: no economics_policy version to judge its votes by', NEW.id));
    END IF;
    IF v_tally.approvals + v_tally.rejections < v_tally.quorum THEN
        PERFORM senate.raise_error('S2027',
            format('proposal %s has %s non-abstaining votes (%s approve, %s reject, %s abstain); '
                   'policy version %s requires a quorum of %s',
                   NEW.id, v_tally.approvals + v_tally.rejections, v_tally.approvals,
                   v_tally.rejections, v_tally.abstentions, v_tally.policy_version,
                   v_tally.quorum));
    END IF;
    IF v_tally.approvals <= v_tally.rejections THEN
        PERFORM senate.raise_error('S2028',
            format('proposal %s has %s approve and %s reject votes: approval needs more approve '
                   'than reject votes', NEW.id, v_tally.approvals, v_tally.rejections));
    END IF;
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION senate.check_proposal_approval() IS
  'Row trigger on allocation_proposals: a transition to approved needs the strict justification '
  '(S2001-S2005), a known kind of entity (S2007), a quorum of non-abstaining votes (S2027) and '
  'more approve than reject votes (S2028), judged by the policy version recorded on the proposal. '
  'A session with senate.legacy_proposal_writes on records its approval unchecked, and it moves '
  'no budget.';

DROP TRIGGER IF EXISTS t13_check_proposal_approval ON public.allocation_proposals;
CREATE TRIGGER t13_check_proposal_approval
    BEFORE UPDATE OF status ON public.allocation_proposals
    FOR EACH ROW EXECUTE FUNCTION senate.check_proposal_approval();
COMMENT ON TRIGGER t13_check_proposal_approval ON public.allocation_proposals IS
  'Approval rules (justification, quorum, majority) for every path that approves a proposal.';

CREATE OR REPLACE FUNCTION senate.apply_approved_proposal()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
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

DROP TRIGGER IF EXISTS t50_apply_approved_proposal ON public.allocation_proposals;
CREATE TRIGGER t50_apply_approved_proposal
    AFTER UPDATE OF status ON public.allocation_proposals
    FOR EACH ROW
    WHEN (NEW.status = 'approved' AND OLD.status IS DISTINCT FROM 'approved')
    EXECUTE FUNCTION senate.apply_approved_proposal();
COMMENT ON TRIGGER t50_apply_approved_proposal ON public.allocation_proposals IS
  'An approval moves the requested amount from the Senate reserve to the entity''s budget, once, '
  'in the same transaction.';

CREATE OR REPLACE FUNCTION senate.lock_proposal(
    p_proposal_id public.allocation_proposals.id%TYPE, p_expected_status text)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_row record;
BEGIN
    SELECT p.status, p.reviewer, p.decided_at INTO v_row
    FROM public.allocation_proposals AS p WHERE p.id = p_proposal_id
    FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM senate.raise_error('S2023',
            format('allocation proposal %s does not exist', coalesce(p_proposal_id::text, 'NULL')));
    END IF;
    IF v_row.status IS DISTINCT FROM p_expected_status THEN
        IF p_expected_status = 'deferred' THEN
            PERFORM senate.raise_error('S2022',
                format('proposal %s is %s, not deferred: only a deferred proposal can be reopened',
                       p_proposal_id, v_row.status));
        END IF;
        PERFORM senate.raise_error('S2021',
            format('proposal %s is already %s%s', p_proposal_id, v_row.status,
                   CASE WHEN v_row.status <> 'pending'
                        THEN format(' (by %s at %s)', coalesce(v_row.reviewer::text, 'unknown'),
                                    coalesce(v_row.decided_at::text, 'unknown time'))
                        ELSE '' END));
    END IF;
END;
$$;
COMMENT ON FUNCTION senate.lock_proposal(public.allocation_proposals.id%TYPE, text) IS
  'Locks the proposal row FOR UPDATE (waiting for a concurrent decision to finish) and raises S2023 '
  'when it does not exist, S2022 when reopening a proposal that is not deferred, S2021 when it is '
  'not in the expected status (for example decided by someone else meanwhile).';

CREATE OR REPLACE FUNCTION public.decide_allocation_proposal(
    p_proposal_id public.allocation_proposals.id%TYPE,
    p_decision text,
    p_reviewer text,
    p_note text DEFAULT NULL,
    p_revisit_at timestamptz DEFAULT NULL)
RETURNS TABLE (proposal_id public.allocation_proposals.id%TYPE, status text, reviewer text,
               decided_at timestamptz, revisit_at timestamptz, resource_type text,
               amount numeric, budget_after numeric, reserve_after numeric)
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_reviewer text := senate.require_actor('reviewer', p_reviewer);
    v_note text := senate.require_short_text('note', p_note, 2000);
BEGIN
    -- A governance decision is never a legacy write, whatever the session says. Local to
    -- this call: a function with a SET clause restores every setting it changed on exit.
    PERFORM set_config('senate.legacy_proposal_writes', 'off', true);
    IF p_decision IS NULL OR p_decision NOT IN ('approved', 'rejected', 'deferred') THEN
        PERFORM senate.raise_error('S2026',
            format('decision must be approved, rejected or deferred, got %s',
                   coalesce(quote_literal(left(p_decision, 80)), 'NULL')));
    END IF;
    IF p_revisit_at IS NOT NULL AND p_decision <> 'deferred' THEN
        PERFORM senate.raise_error('S2031',
            format('revisit_at %s given for decision %s: only a deferral has a revisit date',
                   p_revisit_at, p_decision));
    END IF;
    IF p_revisit_at IS NOT NULL AND (p_revisit_at <= now() OR p_revisit_at = 'infinity') THEN
        PERFORM senate.raise_error('S2031',
            format('revisit_at %s is not a future date', p_revisit_at));
    END IF;

    PERFORM senate.lock_proposal(p_proposal_id, 'pending');
    PERFORM senate.set_change_cause('proposal_decision', p_proposal_id::text, v_reviewer, v_note);
    UPDATE public.allocation_proposals AS p
    SET status = p_decision, reviewer = v_reviewer, decision_note = v_note,
        revisit_at = p_revisit_at, updated_at = now()
    WHERE p.id = p_proposal_id;
    PERFORM senate.clear_change_cause();

    RETURN QUERY
    SELECT p.id, p.status::text, p.reviewer::text, p.decided_at::timestamptz, p.revisit_at,
           p.resource_type, p.requested_tokens::numeric,
           senate.budget_amount(b, p.resource_type), r.balance
    FROM public.allocation_proposals AS p
    LEFT JOIN public.resource_budgets AS b
        ON b.entity_type = p.entity_type::text AND b.entity_id = p.entity_id::text
    LEFT JOIN public.senate_reserve AS r ON r.resource_type = p.resource_type
    WHERE p.id = p_proposal_id;
END;
$$;
COMMENT ON FUNCTION public.decide_allocation_proposal(public.allocation_proposals.id%TYPE, text, text, text, timestamptz) IS
  'Records the Senate''s decision on a pending proposal: approved (needs quorum and majority under '
  'the policy version recorded on the proposal and a reserve that covers the amount; moves the '
  'amount from the reserve to the entity''s budget, once, in this transaction), rejected (final) '
  'or deferred (until p_revisit_at, default now + the policy deferral_period; reopen with '
  'reopen_allocation_proposal). Returns the proposal''s new status with the entity''s budget and '
  'the reserve of the class after it. Errors: S2026 bad decision, S2010 reviewer missing, S2011 '
  'note too long, S2031 bad revisit date, S2023 no such proposal, S2021 not pending (e.g. decided '
  'concurrently), S2027 quorum, S2028 majority, S2029 reserve, S2001-S2005 evidence.';
REVOKE EXECUTE ON FUNCTION public.decide_allocation_proposal(public.allocation_proposals.id%TYPE, text, text, text, timestamptz)
    FROM PUBLIC;

CREATE OR REPLACE FUNCTION public.reopen_allocation_proposal(
    p_proposal_id public.allocation_proposals.id%TYPE,
    p_reviewer text,
    p_note text DEFAULT NULL)
RETURNS TABLE (proposal_id public.allocation_proposals.id%TYPE, status text, reviewer text,
               decided_at timestamptz, revisit_at timestamptz, resource_type text,
               amount numeric, budget_after numeric, reserve_after numeric)
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_reviewer text := senate.require_actor('reviewer', p_reviewer);
    v_note text := senate.require_short_text('note', p_note, 2000);
BEGIN
    PERFORM senate.lock_proposal(p_proposal_id, 'deferred');
    PERFORM senate.set_change_cause('proposal_reopen', p_proposal_id::text, v_reviewer, v_note);
    UPDATE public.allocation_proposals AS p
    SET status = 'pending', reviewer = v_reviewer, decision_note = v_note, updated_at = now()
    WHERE p.id = p_proposal_id;
    PERFORM senate.clear_change_cause();

    RETURN QUERY
    SELECT p.id, p.status::text, p.reviewer::text, p.decided_at::timestamptz, p.revisit_at,
           p.resource_type, p.requested_tokens::numeric,
           senate.budget_amount(b, p.resource_type), r.balance
    FROM public.allocation_proposals AS p
    LEFT JOIN public.resource_budgets AS b
        ON b.entity_type = p.entity_type::text AND b.entity_id = p.entity_id::text
    LEFT JOIN public.senate_reserve AS r ON r.resource_type = p.resource_type
    WHERE p.id = p_proposal_id;
END;
$$;
COMMENT ON FUNCTION public.reopen_allocation_proposal(public.allocation_proposals.id%TYPE, text, text) IS
  'Returns a deferred proposal to pending so that votes and a decision can follow; its votes are '
  'kept. Errors: S2010 reviewer missing, S2011 note too long, S2023 no such proposal, S2022 not '
  'deferred.';
REVOKE EXECUTE ON FUNCTION public.reopen_allocation_proposal(public.allocation_proposals.id%TYPE, text, text)
    FROM PUBLIC;

CREATE OR REPLACE VIEW public.proposals_due_for_review AS
SELECT p.id AS proposal_id,
       p.entity_type,
       p.entity_id,
       p.resource_type,
       p.requested_tokens AS requested_amount,
       coalesce(p.proposer_agent::text, p.proposer_id::text) AS proposer,
       p.reviewer AS deferred_by,
       p.decided_at AS deferred_at,
       p.revisit_at,
       now() - p.revisit_at AS overdue_by,
       p.decision_note
FROM public.allocation_proposals AS p
WHERE p.status = 'deferred' AND p.revisit_at <= now();
COMMENT ON VIEW public.proposals_due_for_review IS
  'Deferred proposals whose revisit date has passed, most overdue first when ordered by revisit_at: '
  'reopen them with reopen_allocation_proposal() (or reject them after reopening).';
COMMENT ON COLUMN public.proposals_due_for_review.proposal_id IS 'The proposal.';
COMMENT ON COLUMN public.proposals_due_for_review.entity_type IS 'Kind of entity it is for.';
COMMENT ON COLUMN public.proposals_due_for_review.entity_id IS 'Entity it is for.';
COMMENT ON COLUMN public.proposals_due_for_review.resource_type IS 'Resource class requested.';
COMMENT ON COLUMN public.proposals_due_for_review.requested_amount IS 'Amount requested, in the unit of the class (tokens, CPU-seconds, GB-hours, calls).';
COMMENT ON COLUMN public.proposals_due_for_review.proposer IS 'Who filed it.';
COMMENT ON COLUMN public.proposals_due_for_review.deferred_by IS 'Reviewer who deferred it.';
COMMENT ON COLUMN public.proposals_due_for_review.deferred_at IS 'When it was deferred.';
COMMENT ON COLUMN public.proposals_due_for_review.revisit_at IS 'When it became due for review.';
COMMENT ON COLUMN public.proposals_due_for_review.overdue_by IS 'How long ago it became due.';
COMMENT ON COLUMN public.proposals_due_for_review.decision_note IS 'The reviewer''s note on the deferral.';

-- Trigger functions on the deployed tables run with the owner's rights from the migration that
-- defines them (issue 14 point 9): a legacy writer holding only its grants on the deployed
-- tables keeps working after every migration, not only once 0099/0126 have run. Their bodies
-- name every object schema-qualified; the path is pinned to the catalog.
ALTER FUNCTION senate.apply_approved_proposal() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION senate.check_proposal_approval() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
