-- Why: a vote is the session's member's, and it must cost the same whatever the
-- number of voters before it.
--
-- Rules (every path that writes allocation_proposals.votes; votes are recorded
-- under the senator id of senate.senate_members, 0110):
--   * cast_allocation_vote(), decide_allocation_proposal() and
--     reopen_allocation_proposal() act as the session's member (session_user
--     mapped through senate.senate_members): a login with no mapping is refused
--     (S5010); the voter / reviewer argument is kept for compatibility and may
--     be NULL, but a name other than the session's senator id or login name is
--     refused (S5011).
--   * A vote is replaced only by its voter's own session (S5012): re-voting
--     your own vote replaces it (the earlier one stays in allocation_votes),
--     nobody overwrites another's. A direct write adding a vote under the name
--     of a current member other than the session's is refused too (S5011).
--   * Quorum and majority count the current votes of current members only
--     (distinct: one vote per voter, one login per senator id). A vote written
--     under any other name (legacy data) is kept but does not count; a removed
--     senator's votes stop counting.
--   * A proposer never decides their own proposal (S5013): not the login that
--     filed it (the session_login of its filing transition, 0111) and not the
--     senator named as its proposer. Voting on it and reopening it are allowed.
--   * A proposal holds at most max_votes_per_proposal votes (new column of the
--     versioned policy, default 1000), judged by the policy version recorded on
--     it (S5014); replacing a vote never counts against the cap.
-- Cost: the vote array is read a constant number of times per vote, each a
-- set operation (hash aggregate, EXCEPT, hash semi-join): linear in the number
-- of votes, where the old element-by-element comparisons were quadratic
-- (3,000 voters: 0.79 s a vote before, see README Performance).
SET lock_timeout = '5s';

ALTER TABLE public.economics_policy
    ADD COLUMN IF NOT EXISTS max_votes_per_proposal integer NOT NULL DEFAULT 1000
        CONSTRAINT economics_policy_max_votes_per_proposal_range
        CHECK (max_votes_per_proposal BETWEEN 1 AND 100000 AND max_votes_per_proposal >= quorum);
COMMENT ON COLUMN public.economics_policy.max_votes_per_proposal IS
  'Most votes (voters) a proposal filed under this version may hold (default 1000, 1 to 100000, '
  'at least the quorum): a vote beyond it is refused (S5014).';
COMMENT ON CONSTRAINT economics_policy_max_votes_per_proposal_range ON public.economics_policy IS
  'The vote cap is between 1 and 100000 and never below the quorum.';

CREATE OR REPLACE FUNCTION senate.guard_proposal_votes()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_voter text;
    v_me text;
    v_new_count bigint;
    v_old_count bigint;
    v_cap integer;
    v_old jsonb;
BEGIN
    IF TG_OP = 'UPDATE' THEN
        IF NEW.votes IS NOT DISTINCT FROM OLD.votes THEN
            RETURN NEW;
        END IF;
        IF OLD.status <> 'pending' OR NEW.status <> 'pending' THEN
            PERFORM senate.raise_error('S2021',
                pg_catalog.format('proposal %s is %s: votes are cast only while it is pending',
                       OLD.id, CASE WHEN OLD.status <> 'pending' THEN OLD.status
                                    ELSE 'being decided' END));
        END IF;
    END IF;
    -- The shape of each vote record is the CHECK constraint allocation_proposals_votes_valid
    -- of migration 0004 (SQLSTATE 23514, tested after this trigger); here only the rules
    -- that need more than one record or the previous value. Each is one set operation.
    IF pg_catalog.jsonb_typeof(NEW.votes) IS DISTINCT FROM 'array' THEN
        RETURN NEW;
    END IF;
    SELECT x.voter INTO v_voter
    FROM (SELECT e ->> 'voter' AS voter
          FROM pg_catalog.jsonb_array_elements(NEW.votes) AS e
          WHERE pg_catalog.jsonb_typeof(e) = 'object' AND e ? 'voter'
          GROUP BY e ->> 'voter' HAVING count(*) > 1) AS x
    LIMIT 1;
    IF FOUND THEN
        PERFORM senate.raise_error('S2025',
            pg_catalog.format('proposal %s: voter %s has more than one vote; one vote per voter '
                              '(voting again replaces the earlier vote)',
                              NEW.id, coalesce(pg_catalog.quote_literal(v_voter), 'NULL')));
    END IF;
    v_new_count := pg_catalog.jsonb_array_length(NEW.votes);
    v_old := CASE WHEN TG_OP = 'UPDATE' AND pg_catalog.jsonb_typeof(OLD.votes) = 'array'
                  THEN OLD.votes ELSE '[]'::jsonb END;
    v_me := senate.session_senator();

    IF TG_OP = 'UPDATE' THEN
        SELECT x.voter INTO v_voter
        FROM (SELECT o ->> 'voter' AS voter FROM pg_catalog.jsonb_array_elements(v_old) AS o
              WHERE pg_catalog.jsonb_typeof(o) = 'object'
              EXCEPT
              SELECT n ->> 'voter' FROM pg_catalog.jsonb_array_elements(NEW.votes) AS n
              WHERE pg_catalog.jsonb_typeof(n) = 'object') AS x
        LIMIT 1;
        IF FOUND THEN
            PERFORM senate.raise_error('S2025',
                pg_catalog.format('proposal %s: the vote of %s would be removed; votes can be '
                                  'replaced, never withdrawn',
                                  OLD.id, coalesce(pg_catalog.quote_literal(v_voter), 'NULL')));
        END IF;
        -- Every voter of OLD is still there, so an OLD record missing verbatim from NEW
        -- is a replaced vote: only its voter's session replaces it.
        SELECT x.o ->> 'voter' INTO v_voter
        FROM (SELECT o FROM pg_catalog.jsonb_array_elements(v_old) AS o
              EXCEPT
              SELECT n FROM pg_catalog.jsonb_array_elements(NEW.votes) AS n) AS x (o)
        WHERE (x.o ->> 'voter') IS DISTINCT FROM v_me
        LIMIT 1;
        IF FOUND THEN
            PERFORM senate.raise_error('S5012',
                pg_catalog.format('proposal %s: the vote of %s can be replaced only by its voter '
                                  '(login %s is %s)',
                                  OLD.id, pg_catalog.quote_literal(v_voter),
                                  pg_catalog.quote_ident(pg_catalog."session_user"()::text),
                                  coalesce('senator ' || pg_catalog.quote_literal(v_me),
                                           'no senator')));
        END IF;
    END IF;

    -- New records under the name of a current member are that member's own.
    SELECT x.n ->> 'voter' INTO v_voter
    FROM (SELECT n FROM pg_catalog.jsonb_array_elements(NEW.votes) AS n
          WHERE pg_catalog.jsonb_typeof(n) = 'object'
          EXCEPT
          SELECT o FROM pg_catalog.jsonb_array_elements(v_old) AS o) AS x (n)
    WHERE (x.n ->> 'voter') IS DISTINCT FROM v_me
      AND EXISTS (SELECT 1 FROM senate.senate_members AS m
                  WHERE m.senator_id = x.n ->> 'voter' AND m.removed_at IS NULL)
    LIMIT 1;
    IF FOUND THEN
        PERFORM senate.raise_error('S5011',
            pg_catalog.format('proposal %s: a vote of senator %s can be cast only by that '
                              'senator''s login (login %s is %s)',
                              NEW.id, pg_catalog.quote_literal(v_voter),
                              pg_catalog.quote_ident(pg_catalog."session_user"()::text),
                              coalesce('senator ' || pg_catalog.quote_literal(v_me), 'no senator')));
    END IF;

    -- The policy cap, counted on voters; replacing a vote never adds one.
    v_old_count := pg_catalog.jsonb_array_length(v_old);
    IF v_new_count > v_old_count THEN
        SELECT pol.max_votes_per_proposal INTO v_cap
        FROM public.economics_policy AS pol
        WHERE pol.policy_version = senate.proposal_policy_version(NEW.policy_version,
                                                                  NEW.created_at);
        IF v_new_count > v_cap THEN
            PERFORM senate.raise_error('S5014',
                pg_catalog.format('proposal %s would hold %s votes; policy version %s allows at '
                                  'most %s votes per proposal (max_votes_per_proposal)',
                                  NEW.id, v_new_count,
                                  senate.proposal_policy_version(NEW.policy_version, NEW.created_at),
                                  v_cap));
        END IF;
    END IF;
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION senate.guard_proposal_votes() IS
  'Row trigger on allocation_proposals: votes change only while the proposal is and stays pending '
  '(S2021), hold one vote per voter and never lose one (S2025); a vote is replaced only by its '
  'voter''s session (S5012) and a new vote under a current member''s senator id only by that '
  'member''s session (S5011); at most max_votes_per_proposal votes (S5014). Set-based: linear in '
  'the number of votes. The shape of each record is checked by the constraint '
  'allocation_proposals_votes_valid (0004, SQLSTATE 23514).';

CREATE OR REPLACE FUNCTION senate.record_proposal_votes()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    INSERT INTO public.allocation_votes (proposal_id, voter, vote, rationale, cast_at)
    SELECT NEW.id, n.e ->> 'voter', n.e ->> 'vote', n.e ->> 'rationale',
           (n.e ->> 'cast_at')::timestamptz
    FROM pg_catalog.jsonb_array_elements(
             CASE WHEN pg_catalog.jsonb_typeof(NEW.votes) = 'array' THEN NEW.votes
                  ELSE '[]'::jsonb END) WITH ORDINALITY AS n (e, position)
    WHERE pg_catalog.jsonb_typeof(n.e) = 'object'
      AND (TG_OP = 'INSERT'
           OR n.e NOT IN (SELECT o.e
                          FROM pg_catalog.jsonb_array_elements(
                                   CASE WHEN pg_catalog.jsonb_typeof(OLD.votes) = 'array'
                                        THEN OLD.votes ELSE '[]'::jsonb END) AS o (e)))
    ORDER BY n.position;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION senate.record_proposal_votes() IS
  'Row trigger on allocation_proposals: appends every new or replaced element of votes to '
  'allocation_votes (set-based: one hashed NOT IN against the previous votes, linear in their number).';

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
    FROM pg_catalog.jsonb_array_elements(
        CASE WHEN pg_catalog.jsonb_typeof(p.votes) = 'array' THEN p.votes ELSE '[]'::jsonb END)
        AS v (e)
    WHERE (v.e ->> 'voter') IN (SELECT m.senator_id FROM senate.senate_members AS m
                                WHERE m.removed_at IS NULL)
) AS t;
COMMENT ON VIEW public.allocation_proposal_tallies IS
  'Current votes of each proposal counted under the policy version recorded on it: approval needs '
  'quorum (approve + reject votes >= quorum; abstentions do not count) and majority (more approve '
  'than reject votes). Only votes of current members (senate.senate_members) count: one per '
  'senator, and a senator is one login.';
COMMENT ON COLUMN public.allocation_proposal_tallies.approvals IS 'Current approve votes of current members.';
COMMENT ON COLUMN public.allocation_proposal_tallies.rejections IS 'Current reject votes of current members.';
COMMENT ON COLUMN public.allocation_proposal_tallies.abstentions IS 'Current abstain votes of current members.';

CREATE OR REPLACE FUNCTION public.cast_allocation_vote(
    p_proposal_id public.allocation_proposals.id%TYPE,
    p_voter text,
    p_vote text,
    p_rationale text DEFAULT NULL)
RETURNS public.allocation_proposal_tallies
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_voter text := senate.require_session_senator('voter', p_voter);
    v_rationale text := senate.require_short_text('rationale', p_rationale, 2000);
    v_status text;
    v_votes jsonb;
    v_tally public.allocation_proposal_tallies;
BEGIN
    IF p_vote IS NULL OR p_vote NOT IN ('approve', 'reject', 'abstain') THEN
        PERFORM senate.raise_error('S2024',
            pg_catalog.format('vote must be approve, reject or abstain, got %s',
                   coalesce(pg_catalog.quote_literal(pg_catalog.left(p_vote, 80)), 'NULL')));
    END IF;
    SELECT p.status, p.votes INTO v_status, v_votes
    FROM public.allocation_proposals AS p WHERE p.id = p_proposal_id
    FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM senate.raise_error('S2023',
            pg_catalog.format('allocation proposal %s does not exist',
                              coalesce(p_proposal_id::text, 'NULL')));
    END IF;
    IF v_status <> 'pending' THEN
        PERFORM senate.raise_error('S2021',
            pg_catalog.format('proposal %s is %s: votes are cast only while it is pending',
                   p_proposal_id, v_status));
    END IF;
    IF v_votes IS NOT NULL AND pg_catalog.jsonb_typeof(v_votes) <> 'array' THEN
        PERFORM senate.raise_error('S2025',
            pg_catalog.format('proposal %s holds votes in another format (%s), not a vote array',
                   p_proposal_id, pg_catalog.left(v_votes::text, 100)));
    END IF;

    -- One pass: every other voter's record as it was, then this voter's (re-voting replaces).
    UPDATE public.allocation_proposals AS p
    SET votes = coalesce((SELECT pg_catalog.jsonb_agg(o.e ORDER BY o.position)
                          FROM pg_catalog.jsonb_array_elements(coalesce(p.votes, '[]'::jsonb))
                               WITH ORDINALITY AS o (e, position)
                          WHERE (o.e ->> 'voter') IS DISTINCT FROM v_voter), '[]'::jsonb)
                || pg_catalog.jsonb_build_array(pg_catalog.jsonb_strip_nulls(
                       pg_catalog.jsonb_build_object('voter', v_voter, 'vote', p_vote,
                                                     'cast_at', pg_catalog.now(),
                                                     'rationale', v_rationale))),
        updated_at = pg_catalog.now()
    WHERE p.id = p_proposal_id;

    SELECT t.* INTO v_tally FROM public.allocation_proposal_tallies AS t
    WHERE t.proposal_id = p_proposal_id;
    RETURN v_tally;
END;
$$;
COMMENT ON FUNCTION public.cast_allocation_vote(public.allocation_proposals.id%TYPE, text, text, text) IS
  'Records the session''s senator''s vote (approve, reject or abstain) on a pending proposal in '
  'allocation_proposals.votes, replacing that senator''s own earlier vote (the history is kept in '
  'allocation_votes), and returns the proposal''s tally. The voter is session_user mapped through '
  'senate.senate_members; p_voter is kept for compatibility: NULL, or the session''s own senator id '
  'or login name. Errors: S5010 login is no senator, S5011 p_voter names someone else, S2024 bad '
  'vote, S2011 rationale over 2000 characters, S2023 no such proposal, S2021 not pending, S5014 '
  'vote cap of the policy reached.';
REVOKE EXECUTE ON FUNCTION public.cast_allocation_vote(public.allocation_proposals.id%TYPE, text, text, text)
    FROM PUBLIC;

CREATE OR REPLACE FUNCTION senate.refuse_own_proposal(
    p_proposal_id public.allocation_proposals.id%TYPE, p_senator text)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_filer text;
    v_proposer text;
BEGIN
    SELECT t.session_login INTO v_filer
    FROM public.allocation_proposal_transitions AS t
    WHERE t.proposal_id = p_proposal_id AND t.from_status IS NULL
    ORDER BY t.transition_id
    LIMIT 1;
    SELECT coalesce(p.proposer_agent::text, p.proposer_id::text,
                    pg_catalog.to_jsonb(p) ->> 'proposer') INTO v_proposer
    FROM public.allocation_proposals AS p WHERE p.id = p_proposal_id;
    IF v_filer = pg_catalog."session_user"()::text OR v_proposer = p_senator THEN
        PERFORM senate.raise_error('S5013',
            pg_catalog.format('proposal %s was filed by %s: a proposer does not decide their own '
                              'proposal',
                              p_proposal_id,
                              CASE WHEN v_filer = pg_catalog."session_user"()::text
                                   THEN 'login ' || pg_catalog.quote_ident(v_filer)
                                   ELSE 'senator ' || pg_catalog.quote_literal(v_proposer) END));
    END IF;
END;
$$;
COMMENT ON FUNCTION senate.refuse_own_proposal(public.allocation_proposals.id%TYPE, text) IS
  'Raises S5013 when the session''s login filed the proposal (session_login of its filing '
  'transition) or p_senator is the proposer named on it.';

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
    v_reviewer text := senate.require_session_senator('reviewer', p_reviewer);
    v_note text := senate.require_short_text('note', p_note, 2000);
BEGIN
    -- A governance decision is never a legacy write, whatever the session says. Local to
    -- this call: a function with a SET clause restores every setting it changed on exit.
    PERFORM pg_catalog.set_config('senate.legacy_proposal_writes', 'off', true);
    IF p_decision IS NULL OR p_decision NOT IN ('approved', 'rejected', 'deferred') THEN
        PERFORM senate.raise_error('S2026',
            pg_catalog.format('decision must be approved, rejected or deferred, got %s',
                   coalesce(pg_catalog.quote_literal(pg_catalog.left(p_decision, 80)), 'NULL')));
    END IF;
    IF p_revisit_at IS NOT NULL AND p_decision <> 'deferred' THEN
        PERFORM senate.raise_error('S2031',
            pg_catalog.format('revisit_at %s given for decision %s: only a deferral has a '
                              'revisit date', p_revisit_at, p_decision));
    END IF;
    IF p_revisit_at IS NOT NULL AND (p_revisit_at <= pg_catalog.now() OR p_revisit_at = 'infinity') THEN
        PERFORM senate.raise_error('S2031',
            pg_catalog.format('revisit_at %s is not a future date', p_revisit_at));
    END IF;

    PERFORM senate.lock_proposal(p_proposal_id, 'pending');
    PERFORM senate.refuse_own_proposal(p_proposal_id, v_reviewer);
    PERFORM senate.set_change_cause('proposal_decision', p_proposal_id::text, v_reviewer, v_note);
    UPDATE public.allocation_proposals AS p
    SET status = p_decision, reviewer = v_reviewer, decision_note = v_note,
        revisit_at = p_revisit_at, updated_at = pg_catalog.now()
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
  'Records the Senate''s decision on a pending proposal, as the session''s senator (session_user '
  'mapped through senate.senate_members; p_reviewer is kept for compatibility: NULL, or the '
  'session''s own senator id or login name): approved (needs quorum and majority of current '
  'members'' votes under the policy version recorded on the proposal and a reserve that covers '
  'the amount; moves the amount from the reserve to the entity''s budget, once, in this '
  'transaction), rejected (final) or deferred (until p_revisit_at, default now + the policy '
  'deferral_period; reopen with reopen_allocation_proposal). A proposer never decides their own '
  'proposal. Returns the proposal''s new status with the entity''s budget and the reserve of the '
  'class after it. Errors: S5010 login is no senator, S5011 p_reviewer names someone else, S5013 '
  'own proposal, S2026 bad decision, S2011 note too long, S2031 bad revisit date, S2023 no such '
  'proposal, S2021 not pending (e.g. decided concurrently), S2027 quorum, S2028 majority, S2029 '
  'reserve, S2001-S2005 evidence.';
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
    v_reviewer text := senate.require_session_senator('reviewer', p_reviewer);
    v_note text := senate.require_short_text('note', p_note, 2000);
BEGIN
    PERFORM senate.lock_proposal(p_proposal_id, 'deferred');
    PERFORM senate.set_change_cause('proposal_reopen', p_proposal_id::text, v_reviewer, v_note);
    UPDATE public.allocation_proposals AS p
    SET status = 'pending', reviewer = v_reviewer, decision_note = v_note,
        updated_at = pg_catalog.now()
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
  'kept. Acts as the session''s senator (p_reviewer: NULL, or the session''s own senator id or '
  'login name). Errors: S5010 login is no senator, S5011 p_reviewer names someone else, S2011 '
  'note too long, S2023 no such proposal, S2022 not deferred.';
REVOKE EXECUTE ON FUNCTION public.reopen_allocation_proposal(public.allocation_proposals.id%TYPE, text, text)
    FROM PUBLIC;

-- Approval by any path counts the votes of current members only.
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
                                        ELSE '[]'::jsonb END) AS v (e)
        ON (v.e ->> 'voter') IN (SELECT m.senator_id FROM senate.senate_members AS m
                                 WHERE m.removed_at IS NULL)
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
  'more approve than reject votes (S2028), judged by the policy version recorded on the proposal; '
  'only votes of current members (senate.senate_members) count. '
  'A session with senate.legacy_proposal_writes on records its approval unchecked, and it moves '
  'no budget.';

-- The vote guard and the approval check read the membership for any writer.
INSERT INTO senate.function_access (function_name, granted_to, security_definer, revoke_from_public, description) VALUES
  ('senate.guard_proposal_votes', '{}', true, true, 'Reads the membership for any role writing votes.'),
  ('senate.check_proposal_approval', '{}', true, true, 'Reads the membership for any role approving.')
ON CONFLICT (function_name) DO NOTHING;

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
