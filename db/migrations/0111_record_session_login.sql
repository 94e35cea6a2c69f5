-- Why: the trail must say who acted. Until now budget_ledger, the proposal
-- transitions and settings_log stored a claimed actor (an argument, or the
-- settings senate.cause_type / cause_id / actor / note, which any session can
-- SET), so an operator's direct UPDATE of resource_budgets could read as a
-- proposal approval in explain_budget.
--
-- 1. Every row of budget_ledger (entity budgets, tier caps, throttle status
--    and the reserve), allocation_proposal_transitions, senate.settings_log
--    and allocation_votes records the login: session_user, the role that
--    connected (SECURITY DEFINER functions change current_user, never
--    session_user). A BEFORE INSERT trigger, last of the row triggers,
--    overwrites the column whatever the INSERT says. Rows recorded before this
--    migration keep NULL there: the login was not recorded then.
-- 2. The cause of budget and reserve changes is a row of senate.change_causes,
--    keyed by backend pid and top-level transaction id, written only by
--    senate.set_change_cause(), which only the owner may execute (the
--    project's SECURITY DEFINER functions run as the owner). No setting is
--    read any more: a change made outside the project's functions is ledgered
--    as what it is, cause direct_write, actor the login.
-- 3. explain_budget() returns the login of each change.
SET lock_timeout = '5s';

-- 1. The login on every trail row ------------------------------------------------------
ALTER TABLE public.budget_ledger ADD COLUMN IF NOT EXISTS session_login text;
ALTER TABLE public.budget_ledger ALTER COLUMN session_login SET DEFAULT session_user;
COMMENT ON COLUMN public.budget_ledger.session_login IS
  'Login that made the change (session_user), set by trigger t99_stamp_session_login whatever '
  'the INSERT says; NULL for rows recorded before migration 0111.';
ALTER TABLE public.allocation_proposal_transitions ADD COLUMN IF NOT EXISTS session_login text;
ALTER TABLE public.allocation_proposal_transitions ALTER COLUMN session_login SET DEFAULT session_user;
COMMENT ON COLUMN public.allocation_proposal_transitions.session_login IS
  'Login that made the transition (session_user); for the filing row, the login that filed the '
  'proposal. Set by trigger t99_stamp_session_login; NULL for rows recorded before migration 0111.';
ALTER TABLE senate.settings_log ADD COLUMN IF NOT EXISTS session_login text;
ALTER TABLE senate.settings_log ALTER COLUMN session_login SET DEFAULT session_user;
COMMENT ON COLUMN senate.settings_log.session_login IS
  'Login that changed the setting (session_user), set by trigger t99_stamp_session_login; NULL '
  'for rows recorded before migration 0111.';

CREATE OR REPLACE FUNCTION senate.stamp_session_login()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    NEW.session_login := pg_catalog."session_user"()::text;
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION senate.stamp_session_login() IS
  'BEFORE INSERT row trigger: sets session_login to session_user, whatever the INSERT gave.';

CREATE OR REPLACE FUNCTION senate.stamp_vote_recorder()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    NEW.recorded_by := pg_catalog."session_user"()::text;
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION senate.stamp_vote_recorder() IS
  'BEFORE INSERT row trigger on allocation_votes: sets recorded_by to session_user, whatever the '
  'INSERT gave.';

DROP TRIGGER IF EXISTS t99_stamp_session_login ON public.budget_ledger;
CREATE TRIGGER t99_stamp_session_login
    BEFORE INSERT ON public.budget_ledger
    FOR EACH ROW EXECUTE FUNCTION senate.stamp_session_login();
COMMENT ON TRIGGER t99_stamp_session_login ON public.budget_ledger IS
  'Each ledger row records the login that made the change.';
DROP TRIGGER IF EXISTS t99_stamp_session_login ON public.allocation_proposal_transitions;
CREATE TRIGGER t99_stamp_session_login
    BEFORE INSERT ON public.allocation_proposal_transitions
    FOR EACH ROW EXECUTE FUNCTION senate.stamp_session_login();
COMMENT ON TRIGGER t99_stamp_session_login ON public.allocation_proposal_transitions IS
  'Each transition records the login that made it.';
DROP TRIGGER IF EXISTS t99_stamp_session_login ON senate.settings_log;
CREATE TRIGGER t99_stamp_session_login
    BEFORE INSERT ON senate.settings_log
    FOR EACH ROW EXECUTE FUNCTION senate.stamp_session_login();
COMMENT ON TRIGGER t99_stamp_session_login ON senate.settings_log IS
  'Each settings change records the login that made it.';
DROP TRIGGER IF EXISTS t99_stamp_vote_recorder ON public.allocation_votes;
CREATE TRIGGER t99_stamp_vote_recorder
    BEFORE INSERT ON public.allocation_votes
    FOR EACH ROW EXECUTE FUNCTION senate.stamp_vote_recorder();
COMMENT ON TRIGGER t99_stamp_vote_recorder ON public.allocation_votes IS
  'Each vote records the login that cast it (recorded_by).';

-- 2. Causes written only by the project's functions ---------------------------------------
CREATE TABLE IF NOT EXISTS senate.change_causes (
    backend_pid     integer NOT NULL,
    transaction_id  xid8 NOT NULL,
    cause_type      text NOT NULL,
    cause_id        text,
    actor           text,
    note            text,
    set_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (backend_pid, transaction_id)
);
COMMENT ON TABLE senate.change_causes IS
  'The cause the ledger triggers record for the budget and reserve changes of one transaction '
  '(backend pid and top-level transaction id), written only by senate.set_change_cause(), which '
  'only the owner (and so only the project''s SECURITY DEFINER functions) may execute. A '
  'transaction''s row is removed by senate.clear_change_cause() or by its backend''s next cause.';
COMMENT ON COLUMN senate.change_causes.backend_pid IS 'Backend (pg_backend_pid()) of the transaction.';
COMMENT ON COLUMN senate.change_causes.transaction_id IS 'Top-level transaction (pg_current_xact_id()).';
COMMENT ON COLUMN senate.change_causes.cause_type IS 'What causes the changes: proposal_approval, rebalance, reserve_funding, ...';
COMMENT ON COLUMN senate.change_causes.cause_id IS 'Identifier of the cause (proposal id, run id, ...), if any.';
COMMENT ON COLUMN senate.change_causes.actor IS 'Actor named by the function (a senator id, the scheduler''s name); NULL: the login.';
COMMENT ON COLUMN senate.change_causes.note IS 'Free-text reason.';
COMMENT ON COLUMN senate.change_causes.set_at IS 'When the cause was set (clock time).';
REVOKE ALL ON senate.change_causes FROM PUBLIC;

CREATE OR REPLACE FUNCTION senate.set_change_cause(
    p_cause_type text, p_cause_id text, p_actor text, p_note text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_xact xid8 := pg_catalog.pg_current_xact_id();
BEGIN
    -- Rows this backend left behind in earlier transactions (committed without a clear).
    DELETE FROM senate.change_causes AS c
    WHERE c.backend_pid = pg_catalog.pg_backend_pid() AND c.transaction_id <> v_xact;
    IF nullif(p_cause_type, '') IS NULL THEN
        DELETE FROM senate.change_causes AS c
        WHERE c.backend_pid = pg_catalog.pg_backend_pid() AND c.transaction_id = v_xact;
        RETURN;
    END IF;
    INSERT INTO senate.change_causes AS c
        (backend_pid, transaction_id, cause_type, cause_id, actor, note)
    VALUES (pg_catalog.pg_backend_pid(), v_xact, p_cause_type, nullif(p_cause_id, ''),
            nullif(p_actor, ''), nullif(p_note, ''))
    ON CONFLICT (backend_pid, transaction_id) DO UPDATE
    SET cause_type = excluded.cause_type, cause_id = excluded.cause_id,
        actor = excluded.actor, note = excluded.note, set_at = excluded.set_at;
END;
$$;
COMMENT ON FUNCTION senate.set_change_cause(text, text, text, text) IS
  'Names the cause, actor and note that the ledger triggers record for the budget and reserve '
  'changes that follow in this transaction (a row of senate.change_causes; a NULL cause_type '
  'clears it). Owner only: the project''s SECURITY DEFINER functions call it; nothing a caller '
  'can SET is read. Call senate.clear_change_cause() afterwards.';
REVOKE EXECUTE ON FUNCTION senate.set_change_cause(text, text, text, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION senate.clear_change_cause()
RETURNS void
LANGUAGE sql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT senate.set_change_cause(NULL, NULL, NULL, NULL);
$$;
COMMENT ON FUNCTION senate.clear_change_cause() IS
  'Forgets the cause set by senate.set_change_cause(); later writes are recorded as direct_write. '
  'Owner only.';
REVOKE EXECUTE ON FUNCTION senate.clear_change_cause() FROM PUBLIC;

CREATE OR REPLACE FUNCTION senate.current_change_cause(
    OUT cause_type text, OUT cause_id text, OUT actor text, OUT note text)
LANGUAGE sql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, public, senate, pg_temp
AS $$
    SELECT coalesce(c.cause_type, 'direct_write'),
           c.cause_id,
           coalesce(c.actor, pg_catalog."session_user"()::text),
           c.note
    FROM (SELECT 1) AS one
    LEFT JOIN senate.change_causes AS c
      ON c.backend_pid = pg_catalog.pg_backend_pid()
     AND c.transaction_id = pg_catalog.pg_current_xact_id_if_assigned()
$$;
COMMENT ON FUNCTION senate.current_change_cause() IS
  'The cause, actor and note the ledger triggers record now: the row senate.set_change_cause() '
  'wrote for this transaction, else direct_write by the login (session_user). SECURITY DEFINER so '
  'that triggers running as any writer can read it; it shows only the calling transaction''s cause.';

-- The approval trigger saves and restores the caller's cause around its own (from the
-- table now, no longer from settings).
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
    v_prior senate.change_causes;
BEGIN
    IF senate.legacy_proposal_writes_allowed() THEN
        RETURN NULL;  -- a legacy consumer's approval records a decision and moves nothing
    END IF;
    SELECT r.budget_column, r.unit INTO v_column, v_unit
    FROM public.resource_types AS r WHERE r.resource_type = NEW.resource_type;

    SELECT c.* INTO v_prior FROM senate.change_causes AS c
    WHERE c.backend_pid = pg_catalog.pg_backend_pid()
      AND c.transaction_id = pg_catalog.pg_current_xact_id_if_assigned();
    PERFORM senate.set_change_cause(
        'proposal_approval', NEW.id::text,
        coalesce(NEW.reviewer::text, (senate.current_change_cause()).actor),
        coalesce(NEW.decision_note, pg_catalog.format('proposal %s approved', NEW.id)));

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
        updated_at = pg_catalog.now();

    -- 2. The reserve, debited only if it still covers the amount on the row
    --    version this UPDATE locks (a concurrent approval may just have drawn it).
    UPDATE public.senate_reserve AS r
    SET balance = r.balance - v_amount, updated_at = pg_catalog.now()
    WHERE r.resource_type = NEW.resource_type AND r.balance >= v_amount;
    IF NOT FOUND THEN
        SELECT r.balance INTO v_balance
        FROM public.senate_reserve AS r WHERE r.resource_type = NEW.resource_type;
        PERFORM senate.raise_error('S2029',
            pg_catalog.format('proposal %s needs %s %s of %s, but the Senate reserve holds %s',
                              NEW.id, v_amount, v_unit, NEW.resource_type,
                              coalesce(v_balance, 0)));
    END IF;

    PERFORM senate.set_change_cause(v_prior.cause_type, v_prior.cause_id, v_prior.actor,
                                    v_prior.note);
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION senate.apply_approved_proposal() IS
  'Row trigger on allocation_proposals, on the transition to approved: credits the entity''s '
  'resource_budgets row (created if absent) with the requested amount in the requested class and '
  'debits the Senate reserve by the same amount (S2029 when it does not cover it), with ledger '
  'cause proposal_approval and cause_id the proposal id (then restores the caller''s cause). '
  'Locks the budget row, then the reserve row. Does nothing for a session with '
  'senate.legacy_proposal_writes on.';

-- 3. explain_budget shows the login (its result gains a column: dropped and recreated).
-- squawk-ignore ban-drop-function
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
    explanation     text,
    login           text)
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
    PERFORM senate.grant_role_privileges();
END;
$$;

-- Trigger functions on the deployed tables run with the owner's rights from the migration that
-- defines them (issue 14 point 9): a legacy writer holding only its grants on the deployed
-- tables keeps working after every migration, not only once 0099/0126 have run. Their bodies
-- name every object schema-qualified; the path is pinned to the catalog.
ALTER FUNCTION senate.apply_approved_proposal() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
