-- Undoes 0112: the vote and decision functions, the vote triggers and the tally view of
-- 0027/0028 are restored; the vote cap column and the own-proposal check are removed.
SET lock_timeout = '5s';
DELETE FROM senate.function_access
WHERE function_name IN ('senate.guard_proposal_votes', 'senate.check_proposal_approval');
-- Their senate.function_hardening rows stay: 0099 recorded them (both predate it), and its
-- rollback gives them back their owner and path.
CREATE OR REPLACE FUNCTION senate.check_proposal_approval()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public, senate, pg_temp
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

CREATE OR REPLACE FUNCTION senate.guard_proposal_votes()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public, senate, pg_temp
AS $$
DECLARE
    v_voter text;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.votes IS NOT DISTINCT FROM OLD.votes THEN
            RETURN NEW;
        END IF;
        IF OLD.status <> 'pending' OR NEW.status <> 'pending' THEN
            PERFORM senate.raise_error('S2021',
                format('proposal %s is %s: votes are cast only while it is pending',
                       OLD.id, CASE WHEN OLD.status <> 'pending' THEN OLD.status
                                    ELSE 'being decided' END));
        END IF;
    END IF;
    -- The shape of each vote record is the CHECK constraint allocation_proposals_votes_valid
    -- of migration 0004 (SQLSTATE 23514, tested after this trigger); here only the rules
    -- that need more than one record or the previous value.
    IF jsonb_typeof(NEW.votes) IS DISTINCT FROM 'array' THEN
        RETURN NEW;
    END IF;
    SELECT e ->> 'voter' INTO v_voter
    FROM jsonb_array_elements(NEW.votes) AS e
    WHERE jsonb_typeof(e) = 'object' AND e ? 'voter'
    GROUP BY e ->> 'voter' HAVING count(*) > 1
    LIMIT 1;
    IF v_voter IS NOT NULL THEN
        PERFORM senate.raise_error('S2025',
            format('proposal %s: voter %s has more than one vote; one vote per voter (voting '
                   'again replaces the earlier vote)', NEW.id, quote_literal(v_voter)));
    END IF;
    IF TG_OP = 'UPDATE' AND jsonb_typeof(OLD.votes) = 'array' THEN
        SELECT o ->> 'voter' INTO v_voter
        FROM jsonb_array_elements(OLD.votes) AS o
        WHERE jsonb_typeof(o) = 'object'
          AND NOT EXISTS (SELECT 1 FROM jsonb_array_elements(NEW.votes) AS n
                          WHERE jsonb_typeof(n) = 'object' AND n ->> 'voter' = o ->> 'voter')
        LIMIT 1;
        IF v_voter IS NOT NULL THEN
            PERFORM senate.raise_error('S2025',
                format('proposal %s: the vote of %s would be removed; votes can be replaced, '
                       'never withdrawn', OLD.id, quote_literal(v_voter)));
        END IF;
    END IF;
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION senate.guard_proposal_votes() IS
  'Row trigger on allocation_proposals: votes change only while the proposal is and stays pending '
  '(S2021), hold one vote per voter and never lose one (S2025). The shape of each record is '
  'checked by the constraint allocation_proposals_votes_valid (0004, SQLSTATE 23514).';

DROP TRIGGER IF EXISTS t12_guard_proposal_votes ON public.allocation_proposals;
CREATE TRIGGER t12_guard_proposal_votes
    BEFORE INSERT OR UPDATE OF votes ON public.allocation_proposals
    FOR EACH ROW EXECUTE FUNCTION senate.guard_proposal_votes();
COMMENT ON TRIGGER t12_guard_proposal_votes ON public.allocation_proposals IS
  'Votes written by any path: one per voter, never removed, and only while pending.';

CREATE OR REPLACE FUNCTION senate.record_proposal_votes()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, public, senate, pg_temp
AS $$
BEGIN
    INSERT INTO public.allocation_votes (proposal_id, voter, vote, rationale, cast_at)
    SELECT NEW.id, n.e ->> 'voter', n.e ->> 'vote', n.e ->> 'rationale',
           (n.e ->> 'cast_at')::timestamptz
    FROM jsonb_array_elements(CASE WHEN jsonb_typeof(NEW.votes) = 'array' THEN NEW.votes
                                   ELSE '[]'::jsonb END) WITH ORDINALITY AS n (e, position)
    WHERE jsonb_typeof(n.e) = 'object'
      AND (TG_OP = 'INSERT'
           OR NOT EXISTS (SELECT 1
                          FROM jsonb_array_elements(CASE WHEN jsonb_typeof(OLD.votes) = 'array'
                                                         THEN OLD.votes ELSE '[]'::jsonb END) AS o
                          WHERE o = n.e))
    ORDER BY n.position;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION senate.record_proposal_votes() IS
  'Row trigger on allocation_proposals: appends every new or replaced element of votes to '
  'allocation_votes.';

DROP TRIGGER IF EXISTS t50_record_proposal_votes ON public.allocation_proposals;
CREATE TRIGGER t50_record_proposal_votes
    AFTER INSERT OR UPDATE OF votes ON public.allocation_proposals
    FOR EACH ROW EXECUTE FUNCTION senate.record_proposal_votes();
COMMENT ON TRIGGER t50_record_proposal_votes ON public.allocation_proposals IS
  'Keeps the history of every vote cast in allocation_votes.';

CREATE OR REPLACE VIEW public.allocation_proposal_tallies AS
SELECT p.id AS proposal_id,
       p.status,
       p.entity_type,
       p.entity_id,
       p.resource_type,
       p.requested_tokens AS requested_amount,
       pol.policy_version,
       pol.quorum,
       t.approvals,
       t.rejections,
       t.abstentions,
       t.approvals + t.rejections >= pol.quorum AS quorum_met,
       t.approvals > t.rejections AS majority_reached,
       p.status = 'pending' AND t.approvals + t.rejections >= pol.quorum
           AND t.approvals > t.rejections AS approvable
FROM public.allocation_proposals AS p
LEFT JOIN public.economics_policy AS pol
    ON pol.policy_version = senate.proposal_policy_version(p.policy_version, p.created_at)
CROSS JOIN LATERAL (
    SELECT count(*) FILTER (WHERE v.e ->> 'vote' = 'approve') AS approvals,
           count(*) FILTER (WHERE v.e ->> 'vote' = 'reject') AS rejections,
           count(*) FILTER (WHERE v.e ->> 'vote' = 'abstain') AS abstentions
    FROM jsonb_array_elements(
        CASE WHEN jsonb_typeof(p.votes) = 'array' THEN p.votes ELSE '[]'::jsonb END) AS v (e)
) AS t;
COMMENT ON VIEW public.allocation_proposal_tallies IS
  'Current votes of each proposal counted under the policy version recorded on it: approval needs '
  'quorum (approve + reject votes >= quorum; abstentions do not count) and majority (more approve '
  'than reject votes).';
COMMENT ON COLUMN public.allocation_proposal_tallies.proposal_id IS 'The proposal.';
COMMENT ON COLUMN public.allocation_proposal_tallies.status IS 'Its status.';
COMMENT ON COLUMN public.allocation_proposal_tallies.entity_type IS 'Kind of entity it is for.';
COMMENT ON COLUMN public.allocation_proposal_tallies.entity_id IS 'Entity it is for.';
COMMENT ON COLUMN public.allocation_proposal_tallies.resource_type IS 'Resource class requested.';
COMMENT ON COLUMN public.allocation_proposal_tallies.requested_amount IS 'Amount requested, in the unit of the class (tokens, CPU-seconds, GB-hours, calls).';
COMMENT ON COLUMN public.allocation_proposal_tallies.policy_version IS 'Policy version it is judged by (recorded at filing).';
COMMENT ON COLUMN public.allocation_proposal_tallies.quorum IS 'Non-abstaining votes that version requires.';
COMMENT ON COLUMN public.allocation_proposal_tallies.approvals IS 'Current approve votes.';
COMMENT ON COLUMN public.allocation_proposal_tallies.rejections IS 'Current reject votes.';
COMMENT ON COLUMN public.allocation_proposal_tallies.abstentions IS 'Current abstain votes.';
COMMENT ON COLUMN public.allocation_proposal_tallies.quorum_met IS 'approvals + rejections >= quorum.';
COMMENT ON COLUMN public.allocation_proposal_tallies.majority_reached IS 'approvals > rejections.';
COMMENT ON COLUMN public.allocation_proposal_tallies.approvable IS 'Pending, quorum met and majority reached (the reserve is checked at decision time).';

CREATE OR REPLACE FUNCTION public.cast_allocation_vote(
    p_proposal_id public.allocation_proposals.id%TYPE,
    p_voter text,
    p_vote text,
    p_rationale text DEFAULT NULL)
RETURNS public.allocation_proposal_tallies
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, public, senate, pg_temp
AS $$
DECLARE
    v_voter text := senate.require_actor('voter', p_voter);
    v_rationale text := senate.require_short_text('rationale', p_rationale, 2000);
    v_status text;
    v_votes jsonb;
    v_tally public.allocation_proposal_tallies;
BEGIN
    IF p_vote IS NULL OR p_vote NOT IN ('approve', 'reject', 'abstain') THEN
        PERFORM senate.raise_error('S2024',
            format('vote must be approve, reject or abstain, got %s',
                   coalesce(quote_literal(left(p_vote, 80)), 'NULL')));
    END IF;
    SELECT p.status, p.votes INTO v_status, v_votes
    FROM public.allocation_proposals AS p WHERE p.id = p_proposal_id
    FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM senate.raise_error('S2023',
            format('allocation proposal %s does not exist', coalesce(p_proposal_id::text, 'NULL')));
    END IF;
    IF v_status <> 'pending' THEN
        PERFORM senate.raise_error('S2021',
            format('proposal %s is %s: votes are cast only while it is pending',
                   p_proposal_id, v_status));
    END IF;
    IF v_votes IS NOT NULL AND jsonb_typeof(v_votes) <> 'array' THEN
        PERFORM senate.raise_error('S2025',
            format('proposal %s holds votes in another format (%s), not a vote array',
                   p_proposal_id, left(v_votes::text, 100)));
    END IF;

    UPDATE public.allocation_proposals AS p
    SET votes = coalesce((SELECT jsonb_agg(e ORDER BY position)
                          FROM jsonb_array_elements(coalesce(p.votes, '[]'::jsonb))
                               WITH ORDINALITY AS o (e, position)
                          WHERE e ->> 'voter' <> v_voter), '[]'::jsonb)
                || jsonb_build_array(jsonb_strip_nulls(jsonb_build_object(
                       'voter', v_voter, 'vote', p_vote, 'cast_at', now(),
                       'rationale', v_rationale))),
        updated_at = now()
    WHERE p.id = p_proposal_id;

    SELECT t.* INTO v_tally FROM public.allocation_proposal_tallies AS t
    WHERE t.proposal_id = p_proposal_id;
    RETURN v_tally;
END;
$$;
COMMENT ON FUNCTION public.cast_allocation_vote(public.allocation_proposals.id%TYPE, text, text, text) IS
  'Records voter''s vote (approve, reject or abstain) on a pending proposal in '
  'allocation_proposals.votes, replacing that voter''s earlier vote (the history is kept in '
  'allocation_votes), and returns the proposal''s tally. Errors: S2024 bad vote, S2010 voter '
  'missing, S2011 rationale over 2000 characters, S2023 no such proposal, S2021 not pending.';
REVOKE EXECUTE ON FUNCTION public.cast_allocation_vote(public.allocation_proposals.id%TYPE, text, text, text)
    FROM PUBLIC;

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
SET search_path = pg_catalog, public, senate, pg_temp
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
SET search_path = pg_catalog, public, senate, pg_temp
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
DROP FUNCTION IF EXISTS senate.refuse_own_proposal(public.allocation_proposals.id%TYPE, text);
ALTER TABLE public.economics_policy DROP COLUMN IF EXISTS max_votes_per_proposal;
DO $$
BEGIN
    PERFORM senate.grant_role_privileges();
END;
$$;

-- Trigger functions on the deployed tables run with the owner's rights from the migration that
-- defines them (issue 14 point 9): a legacy writer holding only its grants on the deployed
-- tables keeps working after every migration, not only once 0099/0126 have run. Their bodies
-- name every object schema-qualified; the path is pinned to the catalog.
ALTER FUNCTION senate.record_proposal_votes() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION senate.check_proposal_approval() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION senate.guard_proposal_votes() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
