-- Why: "why does this entity have this budget?" must be answerable from the
-- database. Every change to resource_budgets and to the Senate reserve, by any
-- path (a function, a rebalance, an administrator's direct UPDATE), is written
-- to an append-only ledger by statement-level triggers, with before and after
-- values, the cause and the actor. Callers never have to remember to log.
-- Functions name the cause of their changes with senate.set_change_cause();
-- a write without one is recorded as cause_type 'direct_write'.
SET lock_timeout = '5s';

INSERT INTO senate.error_codes (sqlstate, error_name, meaning, hint) VALUES
  ('S4001', 'append_only_violation',
   'An UPDATE, DELETE or TRUNCATE was attempted on an append-only ledger.',
   'Ledgers are never changed; record a correcting entry instead.')
ON CONFLICT (sqlstate) DO NOTHING;

CALL senate.claim('0008', 'table', 'public.senate_reserve');
CREATE TABLE IF NOT EXISTS public.senate_reserve (
    resource_type  text PRIMARY KEY REFERENCES public.resource_types (resource_type),
    balance        numeric NOT NULL DEFAULT 0
        CHECK (balance >= 0 AND balance NOT IN ('NaN'::numeric, 'Infinity'::numeric)),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE public.senate_reserve IS
  'The Senate reserve: per resource class, the pool from which approvals are funded and into '
  'which reclaimed budgets return. New resources enter only through fund_reserve().';
COMMENT ON COLUMN public.senate_reserve.resource_type IS 'Resource class of the pool.';
COMMENT ON COLUMN public.senate_reserve.balance IS 'Unallocated amount in the unit of the class (tokens, CPU-seconds, GB-hours, calls); never negative.';
COMMENT ON COLUMN public.senate_reserve.updated_at IS 'When the balance last changed.';

INSERT INTO public.senate_reserve (resource_type, balance)
SELECT resource_type, 0 FROM public.resource_types
ON CONFLICT (resource_type) DO NOTHING;

CALL senate.claim('0008', 'table', 'public.budget_ledger');
CREATE TABLE IF NOT EXISTS public.budget_ledger (
    ledger_id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    account         text NOT NULL CHECK (account IN ('entity_budget', 'reserve', 'entity_status')),
    entity_type     text,
    entity_id       text,
    resource_type   text NOT NULL,
    balance_before  numeric NOT NULL,
    balance_after   numeric NOT NULL,
    delta           numeric GENERATED ALWAYS AS (balance_after - balance_before) STORED,
    cause_type      text NOT NULL,
    cause_id        text,
    actor           text NOT NULL,
    note            text,
    recorded_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    transaction_id  bigint NOT NULL DEFAULT txid_current(),
    CONSTRAINT budget_ledger_reserve_has_no_entity CHECK (
        (account = 'reserve') = (entity_type IS NULL AND entity_id IS NULL))
);
COMMENT ON TABLE public.budget_ledger IS
  'Append-only ledger of every change to resource_budgets (account entity_budget), to the Senate '
  'reserve (account reserve) and of throttle status changes (account entity_status, delta 0). '
  'Invariant: per account, entity and resource class, the deltas add up to the current balance.';
COMMENT ON COLUMN public.budget_ledger.ledger_id IS 'Order of recording.';
COMMENT ON COLUMN public.budget_ledger.account IS 'entity_budget, reserve or entity_status.';
COMMENT ON COLUMN public.budget_ledger.entity_type IS 'Kind of entity (NULL for the reserve).';
COMMENT ON COLUMN public.budget_ledger.entity_id IS 'Entity identifier (NULL for the reserve).';
COMMENT ON COLUMN public.budget_ledger.resource_type IS 'Resource class whose balance changed.';
COMMENT ON COLUMN public.budget_ledger.balance_before IS 'Balance before the change, in the unit of the class.';
COMMENT ON COLUMN public.budget_ledger.balance_after IS 'Balance after the change, in the unit of the class.';
COMMENT ON COLUMN public.budget_ledger.delta IS 'balance_after - balance_before, in the unit of the class.';
COMMENT ON COLUMN public.budget_ledger.cause_type IS 'What caused the change: proposal_approval, rebalance, reserve_funding, throttle, release, direct_write, ...';
COMMENT ON COLUMN public.budget_ledger.cause_id IS 'Identifier of the cause (proposal id, rebalance run id, ...), if any.';
COMMENT ON COLUMN public.budget_ledger.actor IS 'Who made the change (the named actor, else the session user).';
COMMENT ON COLUMN public.budget_ledger.note IS 'Free-text reason.';
COMMENT ON COLUMN public.budget_ledger.recorded_at IS 'When the change was recorded (clock time).';
COMMENT ON COLUMN public.budget_ledger.transaction_id IS 'Transaction that made the change; entries of one transaction belong together.';

CALL senate.claim('0008', 'index', 'public.budget_ledger_entity_idx');
CREATE INDEX IF NOT EXISTS budget_ledger_entity_idx
    ON public.budget_ledger (entity_type, entity_id, ledger_id);
CALL senate.claim('0008', 'index', 'public.budget_ledger_cause_idx');
CREATE INDEX IF NOT EXISTS budget_ledger_cause_idx
    ON public.budget_ledger (cause_type, cause_id);

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

CREATE OR REPLACE FUNCTION senate.record_budget_changes()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO public.budget_ledger
            (account, entity_type, entity_id, resource_type, balance_before, balance_after,
             cause_type, cause_id, actor, note)
        SELECT 'entity_budget', n.entity_type, n.entity_id, v.resource_type, 0, v.amount,
               c.cause_type, c.cause_id, c.actor, c.note
        FROM new_rows AS n
        CROSS JOIN LATERAL (VALUES ('llm_tokens', n.token_budget), ('cpu_seconds', n.cpu_budget),
                                   ('storage_gb_hours', n.storage_budget_gb),
                                   ('api_calls', n.api_call_budget)) AS v (resource_type, amount)
        CROSS JOIN senate.current_change_cause() AS c
        WHERE v.amount <> 0
        ORDER BY n.entity_type, n.entity_id, v.resource_type;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO public.budget_ledger
            (account, entity_type, entity_id, resource_type, balance_before, balance_after,
             cause_type, cause_id, actor, note)
        SELECT 'entity_budget', coalesce(n.entity_type, o.entity_type),
               coalesce(n.entity_id, o.entity_id), v.resource_type,
               coalesce(v.before, 0), coalesce(v.after, 0),
               c.cause_type, c.cause_id, c.actor, c.note
        FROM old_rows AS o
        FULL JOIN new_rows AS n USING (entity_type, entity_id)
        CROSS JOIN LATERAL (VALUES
            ('llm_tokens', o.token_budget, n.token_budget),
            ('cpu_seconds', o.cpu_budget, n.cpu_budget),
            ('storage_gb_hours', o.storage_budget_gb, n.storage_budget_gb),
            ('api_calls', o.api_call_budget, n.api_call_budget)) AS v (resource_type, before, after)
        CROSS JOIN senate.current_change_cause() AS c
        WHERE coalesce(v.before, 0) <> coalesce(v.after, 0)
        ORDER BY 2, 3, 4;
    ELSE
        INSERT INTO public.budget_ledger
            (account, entity_type, entity_id, resource_type, balance_before, balance_after,
             cause_type, cause_id, actor, note)
        SELECT 'entity_budget', o.entity_type, o.entity_id, v.resource_type, v.amount, 0,
               c.cause_type, c.cause_id, c.actor, c.note
        FROM old_rows AS o
        CROSS JOIN LATERAL (VALUES ('llm_tokens', o.token_budget), ('cpu_seconds', o.cpu_budget),
                                   ('storage_gb_hours', o.storage_budget_gb),
                                   ('api_calls', o.api_call_budget)) AS v (resource_type, amount)
        CROSS JOIN senate.current_change_cause() AS c
        WHERE v.amount <> 0
        ORDER BY o.entity_type, o.entity_id, v.resource_type;
    END IF;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION senate.record_budget_changes() IS
  'Statement-level trigger: writes one budget_ledger row per changed budget column of '
  'resource_budgets, with the cause from senate.current_change_cause().';

CREATE OR REPLACE FUNCTION senate.record_reserve_changes()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO public.budget_ledger
            (account, resource_type, balance_before, balance_after, cause_type, cause_id, actor, note)
        SELECT 'reserve', n.resource_type, 0, n.balance, c.cause_type, c.cause_id, c.actor, c.note
        FROM new_rows AS n CROSS JOIN senate.current_change_cause() AS c
        WHERE n.balance <> 0
        ORDER BY n.resource_type;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO public.budget_ledger
            (account, resource_type, balance_before, balance_after, cause_type, cause_id, actor, note)
        SELECT 'reserve', coalesce(n.resource_type, o.resource_type),
               coalesce(o.balance, 0), coalesce(n.balance, 0),
               c.cause_type, c.cause_id, c.actor, c.note
        FROM old_rows AS o
        FULL JOIN new_rows AS n USING (resource_type)
        CROSS JOIN senate.current_change_cause() AS c
        WHERE coalesce(o.balance, 0) <> coalesce(n.balance, 0)
        ORDER BY 2;
    ELSE
        INSERT INTO public.budget_ledger
            (account, resource_type, balance_before, balance_after, cause_type, cause_id, actor, note)
        SELECT 'reserve', o.resource_type, o.balance, 0, c.cause_type, c.cause_id, c.actor, c.note
        FROM old_rows AS o CROSS JOIN senate.current_change_cause() AS c
        WHERE o.balance <> 0
        ORDER BY o.resource_type;
    END IF;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION senate.record_reserve_changes() IS
  'Statement-level trigger: writes one budget_ledger row (account reserve) per changed reserve balance.';

CREATE OR REPLACE FUNCTION senate.refuse_ledger_change()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION USING
        ERRCODE = 'S4001',
        MESSAGE = format('%s on %I.%I refused: the table is an append-only ledger',
                         TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME),
        HINT = 'Ledgers are never changed; record a correcting entry instead.';
END;
$$;
COMMENT ON FUNCTION senate.refuse_ledger_change() IS
  'Trigger: refuses UPDATE, DELETE and TRUNCATE on append-only ledgers (SQLSTATE S4001).';

DROP TRIGGER IF EXISTS t50_record_budget_inserts ON public.resource_budgets;
CREATE TRIGGER t50_record_budget_inserts
    AFTER INSERT ON public.resource_budgets
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION senate.record_budget_changes();
DROP TRIGGER IF EXISTS t50_record_budget_updates ON public.resource_budgets;
CREATE TRIGGER t50_record_budget_updates
    AFTER UPDATE ON public.resource_budgets
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION senate.record_budget_changes();
DROP TRIGGER IF EXISTS t50_record_budget_deletes ON public.resource_budgets;
CREATE TRIGGER t50_record_budget_deletes
    AFTER DELETE ON public.resource_budgets
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION senate.record_budget_changes();
COMMENT ON TRIGGER t50_record_budget_inserts ON public.resource_budgets IS 'Ledger rows for new envelopes.';
COMMENT ON TRIGGER t50_record_budget_updates ON public.resource_budgets IS 'Ledger rows for changed budget columns.';
COMMENT ON TRIGGER t50_record_budget_deletes ON public.resource_budgets IS 'Ledger rows for removed envelopes.';

DROP TRIGGER IF EXISTS t50_record_reserve_inserts ON public.senate_reserve;
CREATE TRIGGER t50_record_reserve_inserts
    AFTER INSERT ON public.senate_reserve
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION senate.record_reserve_changes();
DROP TRIGGER IF EXISTS t50_record_reserve_updates ON public.senate_reserve;
CREATE TRIGGER t50_record_reserve_updates
    AFTER UPDATE ON public.senate_reserve
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION senate.record_reserve_changes();
DROP TRIGGER IF EXISTS t50_record_reserve_deletes ON public.senate_reserve;
CREATE TRIGGER t50_record_reserve_deletes
    AFTER DELETE ON public.senate_reserve
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION senate.record_reserve_changes();
COMMENT ON TRIGGER t50_record_reserve_inserts ON public.senate_reserve IS 'Ledger rows for new reserve pools.';
COMMENT ON TRIGGER t50_record_reserve_updates ON public.senate_reserve IS 'Ledger rows for changed reserve balances.';
COMMENT ON TRIGGER t50_record_reserve_deletes ON public.senate_reserve IS 'Ledger rows for removed reserve pools.';

DROP TRIGGER IF EXISTS t10_refuse_ledger_changes ON public.budget_ledger;
CREATE TRIGGER t10_refuse_ledger_changes
    BEFORE UPDATE OR DELETE ON public.budget_ledger
    FOR EACH STATEMENT EXECUTE FUNCTION senate.refuse_ledger_change();
DROP TRIGGER IF EXISTS t10_refuse_ledger_truncate ON public.budget_ledger;
CREATE TRIGGER t10_refuse_ledger_truncate
    BEFORE TRUNCATE ON public.budget_ledger
    FOR EACH STATEMENT EXECUTE FUNCTION senate.refuse_ledger_change();
COMMENT ON TRIGGER t10_refuse_ledger_changes ON public.budget_ledger IS 'The ledger is append-only: UPDATE and DELETE are refused.';
COMMENT ON TRIGGER t10_refuse_ledger_truncate ON public.budget_ledger IS 'The ledger is append-only: TRUNCATE is refused.';
REVOKE UPDATE, DELETE, TRUNCATE ON public.budget_ledger FROM PUBLIC;

CALL senate.settle_comments('0008');
