-- Why: a proposal's status is the Senate's decision, and it must mean the same
-- whatever wrote it: the governance functions, a service's direct INSERT, an
-- administrator's UPDATE in psql. A row trigger enforces the state machine
--     (new) -> pending -> approved | rejected | deferred;  deferred -> pending
-- (approved and rejected are final), stamps what every transition implies
-- (decided_at, reviewer, revisit date of a deferral), records the policy
-- version in force when a proposal is filed and keeps the fields a decision
-- rests on fixed. Every transition, with who made it and why, is appended to
-- allocation_proposal_transitions, so a proposal's history survives deferral
-- and reopening.
--
-- Direct writes that set status to its current value are not transitions and
-- pass (ORMs rewrite whole rows); the governance functions report them as
-- S2021 instead.
SET lock_timeout = '5s';

CREATE OR REPLACE FUNCTION senate.proposal_policy_version(
    p_recorded_version bigint, p_filed_at timestamptz)
RETURNS bigint
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT coalesce(
        p_recorded_version,
        (SELECT max(p.policy_version) FROM public.economics_policy AS p
         WHERE p.created_at <= p_filed_at),
        (SELECT min(p.policy_version) FROM public.economics_policy AS p))
$$;
COMMENT ON FUNCTION senate.proposal_policy_version(bigint, timestamptz) IS
  'The policy version a proposal is judged by: the one recorded when it was filed; for rows filed '
  'before governance recorded it, the latest version adopted at or before the filing time (the '
  'first version when the proposal predates every policy).';

-- The transition log: proposal_id takes the type of allocation_proposals.id,
-- which a deployment may have made uuid or integer rather than bigint.
CALL senate.claim('0026', 'table', 'public.allocation_proposal_transitions');
DO $$
BEGIN
    EXECUTE format($ddl$
        CREATE TABLE IF NOT EXISTS public.allocation_proposal_transitions (
            transition_id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            proposal_id     %s NOT NULL REFERENCES public.allocation_proposals (id),
            from_status     text CHECK (from_status IN ('pending', 'approved', 'rejected', 'deferred')),
            to_status       text NOT NULL CHECK (to_status IN ('pending', 'approved', 'rejected', 'deferred')),
            actor           text NOT NULL,
            note            text,
            revisit_at      timestamptz,
            recorded_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
            transaction_id  bigint NOT NULL DEFAULT txid_current()
        )$ddl$,
        (SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute AS a
         WHERE a.attrelid = 'public.allocation_proposals'::regclass AND a.attname = 'id'));
END;
$$;
COMMENT ON TABLE public.allocation_proposal_transitions IS
  'Append-only history of every allocation proposal status change (filing, decision, deferral and '
  'its postponements, reopening), whatever path wrote it, with actor and note.';
COMMENT ON COLUMN public.allocation_proposal_transitions.transition_id IS 'Order of recording.';
COMMENT ON COLUMN public.allocation_proposal_transitions.proposal_id IS 'The proposal (allocation_proposals.id).';
COMMENT ON COLUMN public.allocation_proposal_transitions.from_status IS 'Status before (NULL when the proposal was filed).';
COMMENT ON COLUMN public.allocation_proposal_transitions.to_status IS 'Status after.';
COMMENT ON COLUMN public.allocation_proposal_transitions.actor IS 'Who made the change: the proposer for a filing, else the reviewer.';
COMMENT ON COLUMN public.allocation_proposal_transitions.note IS 'The reviewer''s note, if any.';
COMMENT ON COLUMN public.allocation_proposal_transitions.revisit_at IS 'For a deferral: when the proposal is due for review again.';
COMMENT ON COLUMN public.allocation_proposal_transitions.recorded_at IS 'When the change was recorded (clock time).';
COMMENT ON COLUMN public.allocation_proposal_transitions.transaction_id IS 'Transaction that made the change (matches budget_ledger.transaction_id of an approval''s budget entries).';
-- The table is created just above, in this transaction (squawk cannot see into the DO
-- block): it is empty and no one else can write it yet, so a plain CREATE INDEX blocks nobody.
CALL senate.claim('0026', 'index', 'public.allocation_proposal_transitions_proposal_idx');
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX IF NOT EXISTS allocation_proposal_transitions_proposal_idx
    ON public.allocation_proposal_transitions (proposal_id, transition_id);
COMMENT ON INDEX public.allocation_proposal_transitions_proposal_idx IS 'A proposal''s history, in order.';

DROP TRIGGER IF EXISTS t10_refuse_transition_log_changes ON public.allocation_proposal_transitions;
CREATE TRIGGER t10_refuse_transition_log_changes
    BEFORE UPDATE OR DELETE ON public.allocation_proposal_transitions
    FOR EACH STATEMENT EXECUTE FUNCTION senate.refuse_ledger_change();
DROP TRIGGER IF EXISTS t10_refuse_transition_log_truncate ON public.allocation_proposal_transitions;
CREATE TRIGGER t10_refuse_transition_log_truncate
    BEFORE TRUNCATE ON public.allocation_proposal_transitions
    FOR EACH STATEMENT EXECUTE FUNCTION senate.refuse_ledger_change();
COMMENT ON TRIGGER t10_refuse_transition_log_changes ON public.allocation_proposal_transitions IS
  'The transition log is append-only: UPDATE and DELETE are refused (S4001).';
COMMENT ON TRIGGER t10_refuse_transition_log_truncate ON public.allocation_proposal_transitions IS
  'The transition log is append-only: TRUNCATE is refused (S4001).';
REVOKE UPDATE, DELETE, TRUNCATE ON public.allocation_proposal_transitions FROM PUBLIC;

CREATE OR REPLACE FUNCTION senate.guard_proposal_state()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_active bigint;
    v_old jsonb;
    v_new jsonb;
    v_changed text;
    v_voting_began boolean;
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.status IS DISTINCT FROM 'pending' THEN
            PERFORM senate.raise_error('S2020',
                format('a new allocation proposal starts pending, got status %s',
                       coalesce(quote_literal(NEW.status), 'NULL')),
                'Decisions are recorded on filed proposals with decide_allocation_proposal().');
        END IF;
        SELECT p.policy_version INTO v_active FROM public.economics_policy AS p WHERE p.is_active;
        IF NEW.policy_version IS NULL THEN
            NEW.policy_version := v_active;
        ELSIF NEW.policy_version IS DISTINCT FROM v_active THEN
            PERFORM senate.raise_error('S2030',
                format('policy_version %s given, but version %s is in force: a proposal is '
                       'judged by the policy in force when it is filed',
                       NEW.policy_version, coalesce(v_active::text, 'none')));
        END IF;
        NEW.decided_at := NULL;
        NEW.revisit_at := NULL;
        NEW.reviewer := NULL;
        NEW.decision_note := NULL;
        RETURN NEW;
    END IF;

    -- UPDATE
    IF NEW.policy_version IS DISTINCT FROM OLD.policy_version THEN
        PERFORM senate.raise_error('S2030',
            format('proposal %s: policy_version is fixed at %s (got %s)',
                   OLD.id, coalesce(OLD.policy_version::text, 'NULL'),
                   coalesce(NEW.policy_version::text, 'NULL')));
    END IF;

    IF NEW.status IS DISTINCT FROM OLD.status
       AND (OLD.status, NEW.status) NOT IN (('pending', 'approved'), ('pending', 'rejected'),
                                            ('pending', 'deferred'), ('deferred', 'pending')) THEN
        PERFORM senate.raise_error('S2020',
            format('proposal %s cannot go from %s to %s', OLD.id, OLD.status,
                   coalesce(NEW.status, 'NULL')),
            CASE WHEN OLD.status IN ('approved', 'rejected')
                 THEN format('%s is final; file a new proposal instead.', OLD.status) END);
    END IF;

    -- What a decision rests on stays fixed. Compatibility columns (0004) are read
    -- through to_jsonb so this guard works before and after they exist; a
    -- compatibility column may be set to the canonical value (backfill).
    v_old := to_jsonb(OLD);
    v_new := to_jsonb(NEW);
    v_voting_began := CASE WHEN jsonb_typeof(v_old -> 'votes') = 'array'
                           THEN jsonb_array_length(v_old -> 'votes') > 0 ELSE false END;
    IF OLD.status <> 'pending' OR v_voting_began THEN
        SELECT string_agg(k, ', ') INTO v_changed
        FROM unnest(ARRAY['entity_type', 'entity_id', 'resource_type', 'requested_tokens']) AS k
        WHERE v_new -> k IS DISTINCT FROM v_old -> k;
        IF v_changed IS NULL AND v_new ? 'requested_amount'
           AND v_new -> 'requested_amount' IS DISTINCT FROM v_old -> 'requested_amount'
           AND v_new -> 'requested_amount' IS DISTINCT FROM v_old -> 'requested_tokens' THEN
            v_changed := 'requested_amount';
        END IF;
        IF v_changed IS NOT NULL THEN
            PERFORM senate.raise_error('S2030',
                format('proposal %s is %s%s: %s cannot change', OLD.id, OLD.status,
                       CASE WHEN OLD.status = 'pending' THEN ' with votes cast' ELSE '' END,
                       v_changed));
        END IF;
    END IF;
    IF OLD.status IN ('approved', 'rejected')
       AND (NEW.justification IS DISTINCT FROM OLD.justification
            OR NEW.evidence IS DISTINCT FROM OLD.evidence) THEN
        PERFORM senate.raise_error('S2030',
            format('proposal %s is %s: its justification and evidence cannot change',
                   OLD.id, OLD.status));
    END IF;

    IF NEW.status IS DISTINCT FROM OLD.status THEN
        -- A write that does not name the reviewer or note of this transition gets
        -- the actor and note of the change cause (senate.set_change_cause), else
        -- the session user and no note: never the previous transition's.
        IF NEW.reviewer IS NOT DISTINCT FROM OLD.reviewer THEN
            NEW.reviewer := (senate.current_change_cause()).actor;
        END IF;
        IF NEW.decision_note IS NOT DISTINCT FROM OLD.decision_note THEN
            NEW.decision_note := (senate.current_change_cause()).note;
        END IF;
        NEW.decided_at := CASE WHEN NEW.status = 'pending' THEN NULL ELSE now() END;
        NEW.updated_at := now();
    END IF;

    IF NEW.status = 'deferred' THEN
        IF NEW.revisit_at IS NULL
           OR (NEW.status IS DISTINCT FROM OLD.status
               AND NEW.revisit_at IS NOT DISTINCT FROM OLD.revisit_at) THEN
            NEW.revisit_at := now() + (
                SELECT p.deferral_period FROM public.economics_policy AS p
                WHERE p.policy_version = senate.proposal_policy_version(OLD.policy_version,
                                                                        OLD.created_at));
        ELSIF NEW.revisit_at IS DISTINCT FROM OLD.revisit_at AND NEW.revisit_at <= now() THEN
            PERFORM senate.raise_error('S2031',
                format('proposal %s: revisit_at %s is not in the future', OLD.id, NEW.revisit_at));
        END IF;
    ELSE
        IF NEW.revisit_at IS NOT NULL AND NEW.revisit_at IS DISTINCT FROM OLD.revisit_at THEN
            PERFORM senate.raise_error('S2031',
                format('proposal %s is %s: only a deferred proposal has a revisit date',
                       OLD.id, NEW.status));
        END IF;
        NEW.revisit_at := NULL;
    END IF;
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION senate.guard_proposal_state() IS
  'Row trigger on allocation_proposals enforcing the state machine (S2020), the fixed fields '
  '(S2030) and the revisit date of deferrals (S2031); stamps policy_version on filing and '
  'decided_at, reviewer and decision_note (defaults: actor and note of the change cause, else the '
  'session user) and revisit_at (default: now + the policy deferral_period) on transitions.';

DROP TRIGGER IF EXISTS t10_guard_proposal_state ON public.allocation_proposals;
CREATE TRIGGER t10_guard_proposal_state
    BEFORE INSERT OR UPDATE ON public.allocation_proposals
    FOR EACH ROW EXECUTE FUNCTION senate.guard_proposal_state();
COMMENT ON TRIGGER t10_guard_proposal_state ON public.allocation_proposals IS
  'State machine and fixed fields of allocation proposals, for every write path.';

CREATE OR REPLACE FUNCTION senate.record_proposal_transition()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO public.allocation_proposal_transitions
            (proposal_id, from_status, to_status, actor, note)
        VALUES (NEW.id, NULL, NEW.status,
                coalesce(NEW.proposer_agent::text, NEW.proposer_id::text,
                         to_jsonb(NEW) ->> 'proposer', session_user::text),
                'filed');
    ELSIF NEW.status IS DISTINCT FROM OLD.status
          OR (NEW.status = 'deferred' AND NEW.revisit_at IS DISTINCT FROM OLD.revisit_at) THEN
        INSERT INTO public.allocation_proposal_transitions
            (proposal_id, from_status, to_status, actor, note, revisit_at)
        VALUES (NEW.id, OLD.status, NEW.status,
                coalesce(NEW.reviewer::text, (senate.current_change_cause()).actor),
                NEW.decision_note, NEW.revisit_at);
    END IF;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION senate.record_proposal_transition() IS
  'Row trigger on allocation_proposals: appends filings, status changes and postponed revisit '
  'dates to allocation_proposal_transitions.';

DROP TRIGGER IF EXISTS t50_record_proposal_transitions ON public.allocation_proposals;
CREATE TRIGGER t50_record_proposal_transitions
    AFTER INSERT OR UPDATE OF status, revisit_at ON public.allocation_proposals
    FOR EACH ROW EXECUTE FUNCTION senate.record_proposal_transition();
COMMENT ON TRIGGER t50_record_proposal_transitions ON public.allocation_proposals IS
  'History of every proposal status change in allocation_proposal_transitions.';


-- Trigger functions on the deployed tables run with the owner's rights from the migration that
-- defines them (issue 14 point 9): a legacy writer holding only its grants on the deployed
-- tables keeps working after every migration, not only once 0099/0126 have run. Their bodies
-- name every object schema-qualified; the path is pinned to the catalog.
ALTER FUNCTION senate.guard_proposal_state() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION senate.record_proposal_transition() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CALL senate.settle_comments('0026');
