-- Why: a deployment's proposal workflow has its own status vocabulary ('PENDING', 'Approved',
-- 'withdrawn' ...) and its transitions; governance knows four states (pending, approved,
-- rejected, deferred) and refused the rest (S2020), so the deployment's own writers stopped
-- working (issue 14, point 8).
--
-- senate.proposal_status_vocabulary maps each spelling (compared lower-cased and trimmed) onto a
-- governance state; the table below is the documented mapping, and operators extend it. The
-- state machine judges OLD and NEW through it: a deployment's row in 'PENDING' may be approved,
-- 'Approved' is final like approved. Writing a spelling that is not one of the four is for
-- registered legacy writers only (senate.legacy_proposal_writers, 0126); their approvals move no
-- budget, as before governance. Everyone else writes the four states, so a direct 'Approved'
-- cannot slip past the quorum check that guards 'approved'. The stored status stays as written:
-- the deployment's readers see their own vocabulary; the transition log records states.
--
-- The two trigger functions this changes keep their previous definitions in
-- senate.replaced_definitions (0126), and the rollback restores them from there (no copied
-- bodies).
SET lock_timeout = '5s';

-- The vocabulary ----------------------------------------------------------------------------
CREATE TABLE IF NOT EXISTS senate.proposal_status_vocabulary (
    status             text PRIMARY KEY CHECK (status = lower(btrim(status)) AND length(status) BETWEEN 1 AND 100),
    governance_status  text NOT NULL CHECK (governance_status IN ('pending', 'approved', 'rejected', 'deferred')),
    description        text NOT NULL CHECK (length(btrim(description)) BETWEEN 1 AND 500)
);
COMMENT ON TABLE senate.proposal_status_vocabulary IS
  'How allocation_proposals.status spellings map onto the four governance states: a status is '
  'looked up lower-cased and trimmed (''PENDING'', '' Pending'' -> pending). Only registered legacy '
  'writers may write a spelling other than the four; the state machine judges every row by its '
  'state. Operators (senate_admin) add a deployment''s own spellings.';
COMMENT ON COLUMN senate.proposal_status_vocabulary.status IS 'A status spelling, lower-case and trimmed (1-100 characters).';
COMMENT ON COLUMN senate.proposal_status_vocabulary.governance_status IS 'The governance state it means: pending, approved, rejected or deferred.';
COMMENT ON COLUMN senate.proposal_status_vocabulary.description IS 'Why it means that (1-500 characters).';

INSERT INTO senate.proposal_status_vocabulary (status, governance_status, description) VALUES
  ('pending', 'pending', 'The governance state itself.'),
  ('approved', 'approved', 'The governance state itself.'),
  ('rejected', 'rejected', 'The governance state itself.'),
  ('deferred', 'deferred', 'The governance state itself.'),
  ('open', 'pending', 'Awaiting review.'),
  ('submitted', 'pending', 'Awaiting review.'),
  ('proposed', 'pending', 'Awaiting review.'),
  ('new', 'pending', 'Awaiting review.'),
  ('in_review', 'pending', 'Under review, not decided.'),
  ('accepted', 'approved', 'Granted: final.'),
  ('granted', 'approved', 'Granted: final.'),
  ('funded', 'approved', 'Granted and funded: final.'),
  ('denied', 'rejected', 'Refused: final.'),
  ('declined', 'rejected', 'Refused: final.'),
  ('withdrawn', 'rejected', 'Withdrawn by its proposer: closed without funding, final.'),
  ('cancelled', 'rejected', 'Closed without funding: final.'),
  ('canceled', 'rejected', 'Closed without funding: final.'),
  ('postponed', 'deferred', 'Set aside to be reviewed again.'),
  ('on_hold', 'deferred', 'Set aside to be reviewed again.'),
  ('on hold', 'deferred', 'Set aside to be reviewed again.')
ON CONFLICT (status) DO NOTHING;

CREATE OR REPLACE FUNCTION senate.governance_status(p_status text)
RETURNS text
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT CASE WHEN p_status IN ('pending', 'approved', 'rejected', 'deferred') THEN p_status
                ELSE (SELECT v.governance_status FROM senate.proposal_status_vocabulary AS v
                      WHERE v.status = pg_catalog.lower(pg_catalog.btrim(p_status))) END
$$;
COMMENT ON FUNCTION senate.governance_status(text) IS
  'The governance state (pending, approved, rejected, deferred) a proposal status means, through '
  'senate.proposal_status_vocabulary; NULL for a spelling it does not know.';

INSERT INTO senate.table_access (relation_name, role_name, privilege) VALUES
  ('senate.proposal_status_vocabulary', 'senate_reader', 'SELECT'),
  ('senate.proposal_status_vocabulary', 'senate_admin', 'INSERT'),
  ('senate.proposal_status_vocabulary', 'senate_admin', 'UPDATE')
ON CONFLICT DO NOTHING;

-- The state machine and its log, judged by state ------------------------------------------
DO $$
BEGIN
    PERFORM senate.save_definition('0127', 'senate.guard_proposal_state()');
    PERFORM senate.save_definition('0127', 'senate.record_proposal_transition()');
END;
$$;

CREATE OR REPLACE FUNCTION senate.guard_proposal_state()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $function$
DECLARE
    v_from text;  -- governance state of OLD.status (through the vocabulary)
    v_to text;    -- governance state of NEW.status
    v_active bigint;
    v_old jsonb;
    v_new jsonb;
    v_changed text;
    v_voting_began boolean;
BEGIN
    IF TG_OP = 'INSERT' THEN
        -- A registered legacy writer may file in the deployment's own spelling of pending.
        IF NEW.status IS DISTINCT FROM 'pending'
           AND NOT (senate.governance_status(NEW.status) = 'pending'
                    AND senate.legacy_proposal_writes_allowed()) THEN
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

    -- Statuses are judged as governance states: the four themselves, and (for the deployment's
    -- rows and its registered legacy writers) any spelling in senate.proposal_status_vocabulary.
    -- Only a registered legacy writer may write a status that is not one of the four.
    v_from := senate.governance_status(OLD.status);
    v_to := senate.governance_status(NEW.status);
    IF NEW.status IS DISTINCT FROM OLD.status THEN
        IF NEW.status IS NULL
           OR (NEW.status NOT IN ('pending', 'approved', 'rejected', 'deferred')
               AND (v_to IS NULL OR NOT senate.legacy_proposal_writes_allowed())) THEN
            PERFORM senate.raise_error('S2020',
                format('proposal %s: status %s is not a governance state', OLD.id,
                       coalesce(quote_literal(NEW.status), 'NULL')),
                CASE WHEN v_to IS NULL
                     THEN 'Write pending, approved, rejected or deferred (a deployment''s own '
                          'spellings are mapped in senate.proposal_status_vocabulary).'
                     ELSE format('Only a registered legacy writer writes the deployment''s '
                                 'spelling %s; write %s.', quote_literal(NEW.status), v_to) END);
        END IF;
        IF v_from IS NULL
           OR (v_from IS DISTINCT FROM v_to
               AND (v_from, v_to) NOT IN (('pending', 'approved'), ('pending', 'rejected'),
                                          ('pending', 'deferred'), ('deferred', 'pending'))) THEN
            PERFORM senate.raise_error('S2020',
                format('proposal %s cannot go from %s to %s', OLD.id, OLD.status,
                       coalesce(NEW.status, 'NULL')),
                CASE WHEN v_from IN ('approved', 'rejected')
                     THEN format('%s is final; file a new proposal instead.', OLD.status)
                     WHEN v_from IS NULL
                     THEN format('Status %s is in no row of senate.proposal_status_vocabulary.',
                                 quote_literal(OLD.status)) END);
        END IF;
    END IF;
    -- A respelling of the same state is no transition; only a legacy writer's is stored (so a
    -- direct 'approved' over a legacy 'Approved' cannot reach the approval and budget triggers).
    IF NEW.status IS DISTINCT FROM OLD.status AND v_from = v_to
       AND NOT senate.legacy_proposal_writes_allowed() THEN
        NEW.status := OLD.status;
    END IF;

    -- What a decision rests on stays fixed. Compatibility columns (0004) are read
    -- through to_jsonb so this guard works before and after they exist; a
    -- compatibility column may be set to the canonical value (backfill).
    v_old := to_jsonb(OLD);
    v_new := to_jsonb(NEW);
    v_voting_began := CASE WHEN jsonb_typeof(v_old -> 'votes') = 'array'
                           THEN jsonb_array_length(v_old -> 'votes') > 0 ELSE false END;
    IF v_from IS DISTINCT FROM 'pending' OR v_voting_began THEN
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
                       CASE WHEN v_from = 'pending' THEN ' with votes cast' ELSE '' END,
                       v_changed));
        END IF;
    END IF;
    IF v_from IN ('approved', 'rejected')
       AND (NEW.justification IS DISTINCT FROM OLD.justification
            OR NEW.evidence IS DISTINCT FROM OLD.evidence) THEN
        PERFORM senate.raise_error('S2030',
            format('proposal %s is %s: its justification and evidence cannot change',
                   OLD.id, OLD.status));
    END IF;

    IF v_to IS DISTINCT FROM v_from THEN
        -- A write that does not name the reviewer or note of this transition gets
        -- the actor and note of the change cause (senate.set_change_cause), else
        -- the session user and no note: never the previous transition's.
        IF NEW.reviewer IS NOT DISTINCT FROM OLD.reviewer THEN
            NEW.reviewer := (senate.current_change_cause()).actor;
        END IF;
        IF NEW.decision_note IS NOT DISTINCT FROM OLD.decision_note THEN
            NEW.decision_note := (senate.current_change_cause()).note;
        END IF;
        NEW.decided_at := CASE WHEN v_to = 'pending' THEN NULL ELSE now() END;
        NEW.updated_at := now();
    END IF;

    IF v_to = 'deferred' THEN
        IF NEW.revisit_at IS NULL
           OR (v_to IS DISTINCT FROM v_from
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
$function$;
COMMENT ON FUNCTION senate.guard_proposal_state() IS
  'Row trigger on allocation_proposals enforcing the state machine (S2020) on governance states '
  '(statuses mapped through senate.proposal_status_vocabulary; spellings other than the four only '
  'from registered legacy writers), the fixed fields (S2030) and the revisit date of deferrals '
  '(S2031); stamps policy_version on filing and decided_at, reviewer and decision_note (defaults: '
  'actor and note of the change cause, else the session user) and revisit_at (default: now + the '
  'policy deferral_period) on transitions.';

CREATE OR REPLACE FUNCTION senate.record_proposal_transition()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_to text := senate.governance_status(NEW.status);
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO public.allocation_proposal_transitions
            (proposal_id, from_status, to_status, actor, note)
        VALUES (NEW.id, NULL, v_to,
                coalesce(NEW.proposer_agent::text, NEW.proposer_id::text,
                         to_jsonb(NEW) ->> 'proposer', session_user::text),
                'filed');
    ELSIF v_to IS DISTINCT FROM senate.governance_status(OLD.status)
          OR (v_to = 'deferred' AND NEW.revisit_at IS DISTINCT FROM OLD.revisit_at) THEN
        INSERT INTO public.allocation_proposal_transitions
            (proposal_id, from_status, to_status, actor, note, revisit_at)
        VALUES (NEW.id, senate.governance_status(OLD.status), v_to,
                coalesce(NEW.reviewer::text, (senate.current_change_cause()).actor),
                NEW.decision_note, NEW.revisit_at);
    END IF;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION senate.record_proposal_transition() IS
  'Row trigger on allocation_proposals: appends filings, changes of governance state (statuses '
  'mapped through senate.proposal_status_vocabulary; a respelling is no transition) and postponed '
  'revisit dates to allocation_proposal_transitions.';

DO $$
BEGIN
    PERFORM senate.grant_role_privileges();
END;
$$;
