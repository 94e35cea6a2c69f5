-- Why: Senate votes are the basis of approval, so they must be one per voter,
-- cast only while a proposal is pending, and never lost (their shape is
-- checked by 0004's constraint allocation_proposals_votes_valid). The
-- current votes live where the spec puts them, in allocation_proposals.votes
-- (a JSON array of {voter, vote, cast_at, rationale?}); voting again replaces
-- the voter's element. Every vote ever cast, including the replaced ones, is
-- appended to allocation_votes by trigger, whatever path wrote the array.
-- allocation_proposal_tallies counts the current votes against the quorum of
-- the policy version recorded on each proposal.
SET lock_timeout = '5s';

CALL senate.claim('0027', 'table', 'public.allocation_votes');
DO $$
BEGIN
    EXECUTE format($ddl$
        CREATE TABLE IF NOT EXISTS public.allocation_votes (
            vote_id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            proposal_id     %s NOT NULL REFERENCES public.allocation_proposals (id),
            voter           text NOT NULL CHECK (length(voter) BETWEEN 1 AND 200),
            vote            text NOT NULL CHECK (vote IN ('approve', 'reject', 'abstain')),
            rationale       text CHECK (length(rationale) <= 2000),
            cast_at         timestamptz NOT NULL,
            recorded_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
            recorded_by     text NOT NULL DEFAULT session_user,
            transaction_id  bigint NOT NULL DEFAULT txid_current()
        )$ddl$,
        (SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute AS a
         WHERE a.attrelid = 'public.allocation_proposals'::regclass AND a.attname = 'id'));
END;
$$;
COMMENT ON TABLE public.allocation_votes IS
  'Append-only history of every Senate vote ever cast on an allocation proposal, including votes '
  'later replaced by the same voter. The current votes are allocation_proposals.votes.';
COMMENT ON COLUMN public.allocation_votes.vote_id IS 'Order of recording.';
COMMENT ON COLUMN public.allocation_votes.proposal_id IS 'The proposal voted on (allocation_proposals.id).';
COMMENT ON COLUMN public.allocation_votes.voter IS 'Who voted.';
COMMENT ON COLUMN public.allocation_votes.vote IS 'approve, reject or abstain.';
COMMENT ON COLUMN public.allocation_votes.rationale IS 'The voter''s reason, if given (at most 2000 characters).';
COMMENT ON COLUMN public.allocation_votes.cast_at IS 'When the vote was cast (cast_at of the votes element).';
COMMENT ON COLUMN public.allocation_votes.recorded_at IS 'When the vote was recorded here (clock time).';
COMMENT ON COLUMN public.allocation_votes.recorded_by IS 'Session user that wrote the vote.';
COMMENT ON COLUMN public.allocation_votes.transaction_id IS 'Transaction that wrote the vote.';
-- The table is created just above, in this transaction (squawk cannot see into the DO
-- block): it is empty and no one else can write it yet, so a plain CREATE INDEX blocks nobody.
CALL senate.claim('0027', 'index', 'public.allocation_votes_proposal_idx');
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX IF NOT EXISTS allocation_votes_proposal_idx
    ON public.allocation_votes (proposal_id, vote_id);
COMMENT ON INDEX public.allocation_votes_proposal_idx IS 'A proposal''s vote history, in order.';

DROP TRIGGER IF EXISTS t10_refuse_vote_history_changes ON public.allocation_votes;
CREATE TRIGGER t10_refuse_vote_history_changes
    BEFORE UPDATE OR DELETE ON public.allocation_votes
    FOR EACH STATEMENT EXECUTE FUNCTION senate.refuse_ledger_change();
DROP TRIGGER IF EXISTS t10_refuse_vote_history_truncate ON public.allocation_votes;
CREATE TRIGGER t10_refuse_vote_history_truncate
    BEFORE TRUNCATE ON public.allocation_votes
    FOR EACH STATEMENT EXECUTE FUNCTION senate.refuse_ledger_change();
COMMENT ON TRIGGER t10_refuse_vote_history_changes ON public.allocation_votes IS
  'Vote history is append-only: UPDATE and DELETE are refused (S4001).';
COMMENT ON TRIGGER t10_refuse_vote_history_truncate ON public.allocation_votes IS
  'Vote history is append-only: TRUNCATE is refused (S4001).';
REVOKE UPDATE, DELETE, TRUNCATE ON public.allocation_votes FROM PUBLIC;

CREATE OR REPLACE FUNCTION senate.guard_proposal_votes()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
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
SET search_path = pg_catalog, pg_temp
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
SET search_path = pg_catalog, pg_temp
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


-- Trigger functions on the deployed tables run with the owner's rights from the migration that
-- defines them (issue 14 point 9): a legacy writer holding only its grants on the deployed
-- tables keeps working after every migration, not only once 0099/0126 have run. Their bodies
-- name every object schema-qualified; the path is pinned to the catalog.
ALTER FUNCTION senate.record_proposal_votes() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION senate.guard_proposal_votes() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CALL senate.settle_comments('0027');
