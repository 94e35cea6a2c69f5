-- db/definitions/85_ledgers.sql -- Ledgers: every budget, reserve, throttle and tier change recorded with its cause and login; the ledger invariant.
--
-- The current definition of each function and view below; the post-apply hook
-- (db/migrations/post-apply_definitions.py) applies an object whenever its text here
-- changes. Each object starts at its '-- define' line. See README, "Adding a migration".

-- define function senate.set_change_cause(text,text,text,text)
CREATE OR REPLACE FUNCTION senate.set_change_cause(p_cause_type text, p_cause_id text, p_actor text, p_note text DEFAULT NULL::text)
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;
COMMENT ON FUNCTION senate.set_change_cause(text,text,text,text) IS 'Names the cause, actor and note that the ledger triggers record for the budget and reserve changes that follow in this transaction (a row of senate.change_causes; a NULL cause_type clears it). Owner only: the project''s SECURITY DEFINER functions call it; nothing a caller can SET is read. Call senate.clear_change_cause() afterwards.';

-- define function senate.clear_change_cause()
CREATE OR REPLACE FUNCTION senate.clear_change_cause()
 RETURNS void
 LANGUAGE sql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
    SELECT senate.set_change_cause(NULL, NULL, NULL, NULL);
$function$;
COMMENT ON FUNCTION senate.clear_change_cause() IS 'Forgets the cause set by senate.set_change_cause(); later writes are recorded as direct_write. Owner only.';

-- define function senate.current_change_cause()
CREATE OR REPLACE FUNCTION senate.current_change_cause(OUT cause_type text, OUT cause_id text, OUT actor text, OUT note text)
 RETURNS record
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
    SELECT coalesce(c.cause_type, 'direct_write'),
           c.cause_id,
           coalesce(c.actor, pg_catalog."session_user"()::text),
           c.note
    FROM (SELECT 1) AS one
    LEFT JOIN senate.change_causes AS c
      ON c.backend_pid = pg_catalog.pg_backend_pid()
     AND c.transaction_id = pg_catalog.pg_current_xact_id_if_assigned()
$function$;
COMMENT ON FUNCTION senate.current_change_cause() IS 'The cause, actor and note the ledger triggers record now: the row senate.set_change_cause() wrote for this transaction, else direct_write by the login (session_user). SECURITY DEFINER so that triggers running as any writer can read it; it shows only the calling transaction''s cause.';

-- define function senate.record_budget_changes()
CREATE OR REPLACE FUNCTION senate.record_budget_changes()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
                                   ('api_calls', n.api_call_budget),
                                   ('usd', n.cost_budget_usd)) AS v (resource_type, amount)
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
            ('api_calls', o.api_call_budget, n.api_call_budget),
            ('usd', o.cost_budget_usd, n.cost_budget_usd)) AS v (resource_type, before, after)
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
                                   ('api_calls', o.api_call_budget),
                                   ('usd', o.cost_budget_usd)) AS v (resource_type, amount)
        CROSS JOIN senate.current_change_cause() AS c
        WHERE v.amount <> 0
        ORDER BY o.entity_type, o.entity_id, v.resource_type;
    END IF;
    RETURN NULL;
END;
$function$;
COMMENT ON FUNCTION senate.record_budget_changes() IS 'Statement-level trigger: writes one budget_ledger row per changed budget column of resource_budgets (the cost budget as class usd, in USD; NULL counts as 0), with the cause from senate.current_change_cause().';

-- define function senate.record_reserve_changes()
CREATE OR REPLACE FUNCTION senate.record_reserve_changes()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;
COMMENT ON FUNCTION senate.record_reserve_changes() IS 'Statement-level trigger: writes one budget_ledger row (account reserve) per changed reserve balance.';

-- define function senate.refuse_ledger_change()
CREATE OR REPLACE FUNCTION senate.refuse_ledger_change()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    RAISE EXCEPTION USING
        ERRCODE = 'S4001',
        MESSAGE = format('%s on %I.%I refused: the table is an append-only ledger',
                         TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME),
        HINT = 'Ledgers are never changed; record a correcting entry instead.';
END;
$function$;
COMMENT ON FUNCTION senate.refuse_ledger_change() IS 'Trigger: refuses UPDATE, DELETE and TRUNCATE on append-only ledgers (SQLSTATE S4001).';

-- define function senate.record_tier_budget_changes()
CREATE OR REPLACE FUNCTION senate.record_tier_budget_changes()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO public.budget_ledger
            (account, entity_type, entity_id, resource_type, model_tier, balance_before,
             balance_after, cause_type, cause_id, actor, note)
        SELECT 'entity_tier_budget', n.entity_type, n.entity_id, 'llm_tokens', n.model_tier, 0,
               n.token_budget, c.cause_type, c.cause_id, c.actor, c.note
        FROM new_rows AS n CROSS JOIN senate.current_change_cause() AS c
        WHERE n.token_budget <> 0
        ORDER BY n.entity_type, n.entity_id, n.model_tier;
    ELSIF TG_OP = 'UPDATE' THEN
        INSERT INTO public.budget_ledger
            (account, entity_type, entity_id, resource_type, model_tier, balance_before,
             balance_after, cause_type, cause_id, actor, note)
        SELECT 'entity_tier_budget', entity_type, entity_id, 'llm_tokens', model_tier,
               coalesce(o.token_budget, 0), coalesce(n.token_budget, 0),
               c.cause_type, c.cause_id, c.actor, c.note
        FROM old_rows AS o
        FULL JOIN new_rows AS n USING (entity_type, entity_id, model_tier)
        CROSS JOIN senate.current_change_cause() AS c
        WHERE coalesce(o.token_budget, 0) <> coalesce(n.token_budget, 0)
        ORDER BY entity_type, entity_id, model_tier;
    ELSE
        INSERT INTO public.budget_ledger
            (account, entity_type, entity_id, resource_type, model_tier, balance_before,
             balance_after, cause_type, cause_id, actor, note)
        SELECT 'entity_tier_budget', o.entity_type, o.entity_id, 'llm_tokens', o.model_tier,
               o.token_budget, 0, c.cause_type, c.cause_id, c.actor, c.note
        FROM old_rows AS o CROSS JOIN senate.current_change_cause() AS c
        WHERE o.token_budget <> 0
        ORDER BY o.entity_type, o.entity_id, o.model_tier;
    END IF;
    RETURN NULL;
END;
$function$;
COMMENT ON FUNCTION senate.record_tier_budget_changes() IS 'Statement-level trigger: one budget_ledger row (account entity_tier_budget) per changed tier cap, with the cause from senate.current_change_cause().';

-- define function public.check_ledger_invariant()
CREATE OR REPLACE FUNCTION public.check_ledger_invariant()
 RETURNS TABLE(account text, entity_type text, entity_id text, resource_type text, ledger_total numeric, current_balance numeric, difference numeric)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;
COMMENT ON FUNCTION public.check_ledger_invariant() IS 'Proves the budget ledger complete: returns every (account, entity, resource class) whose current balance (resource_budgets column, or senate_reserve balance) differs from the sum of its ledger deltas, with the difference. No rows means every budget and reserve balance is explained by the ledger. Reads the whole ledger: an audit, not a hot-path call.';

-- define function senate.record_throttle_changes()
CREATE OR REPLACE FUNCTION senate.record_throttle_changes()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO public.budget_ledger
            (account, entity_type, entity_id, resource_type, balance_before, balance_after,
             cause_type, cause_id, actor, note)
        SELECT 'entity_status', n.entity_type, n.entity_id, n.resource_type,
               coalesce(senate.budget_amount(b, n.resource_type), 0),
               coalesce(senate.budget_amount(b, n.resource_type), 0),
               'throttle', n.throttle_id::text, c.actor, n.reason
        FROM new_rows AS n
        LEFT JOIN public.resource_budgets AS b
          ON b.entity_type = n.entity_type AND b.entity_id = n.entity_id
        CROSS JOIN senate.current_change_cause() AS c
        ORDER BY n.throttle_id;
    ELSE
        INSERT INTO public.budget_ledger
            (account, entity_type, entity_id, resource_type, balance_before, balance_after,
             cause_type, cause_id, actor, note)
        SELECT 'entity_status', n.entity_type, n.entity_id, n.resource_type,
               coalesce(senate.budget_amount(b, n.resource_type), 0),
               coalesce(senate.budget_amount(b, n.resource_type), 0),
               'release', n.throttle_id::text, c.actor, n.release_reason
        FROM old_rows AS o
        JOIN new_rows AS n USING (throttle_id)
        LEFT JOIN public.resource_budgets AS b
          ON b.entity_type = n.entity_type AND b.entity_id = n.entity_id
        CROSS JOIN senate.current_change_cause() AS c
        WHERE o.released_at IS NULL AND n.released_at IS NOT NULL
        ORDER BY n.throttle_id;
    END IF;
    RETURN NULL;
END;
$function$;
COMMENT ON FUNCTION senate.record_throttle_changes() IS 'Statement-level trigger on spend_throttles: one budget_ledger row (account entity_status, delta 0, balance = the class''s current base budget) per throttle placed (cause throttle, note the reason) and per throttle released (cause release, note the release reason).';

-- define function senate.stamp_session_login()
CREATE OR REPLACE FUNCTION senate.stamp_session_login()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
BEGIN
    NEW.session_login := pg_catalog."session_user"()::text;
    RETURN NEW;
END;
$function$;
COMMENT ON FUNCTION senate.stamp_session_login() IS 'BEFORE INSERT row trigger: sets session_login to session_user, whatever the INSERT gave.';

-- define function senate.set_change_as_of(timestamp with time zone)
CREATE OR REPLACE FUNCTION senate.set_change_as_of(p_as_of timestamp with time zone)
 RETURNS timestamp with time zone
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    v_xact xid8 := pg_catalog.pg_current_xact_id();
    v_prior timestamptz;
BEGIN
    -- Rows this backend left behind in earlier transactions (committed without a clear).
    DELETE FROM senate.change_as_of AS c
    WHERE c.backend_pid = pg_catalog.pg_backend_pid() AND c.transaction_id <> v_xact;
    SELECT c.as_of INTO v_prior
    FROM senate.change_as_of AS c
    WHERE c.backend_pid = pg_catalog.pg_backend_pid() AND c.transaction_id = v_xact;
    IF p_as_of IS NULL THEN
        DELETE FROM senate.change_as_of AS c
        WHERE c.backend_pid = pg_catalog.pg_backend_pid() AND c.transaction_id = v_xact;
    ELSE
        INSERT INTO senate.change_as_of AS c (backend_pid, transaction_id, as_of)
        VALUES (pg_catalog.pg_backend_pid(), v_xact, p_as_of)
        ON CONFLICT (backend_pid, transaction_id) DO UPDATE
        SET as_of = excluded.as_of, set_at = excluded.set_at;
    END IF;
    RETURN v_prior;
END;
$function$;
COMMENT ON FUNCTION senate.set_change_as_of(timestamp with time zone) IS 'Declares the economy time (as_of) of the budget, reserve, throttle and alert changes that follow in this transaction (budget_ledger.as_of, spend_throttles.throttled_as_of and released_as_of); NULL forgets it (changes are then as of the time they are written). Returns the as_of it replaces (NULL if none), for the caller to put back. Owner only.';

-- define function senate.current_change_as_of()
CREATE OR REPLACE FUNCTION senate.current_change_as_of()
 RETURNS timestamp with time zone
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
    SELECT c.as_of
    FROM senate.change_as_of AS c
    WHERE c.backend_pid = pg_catalog.pg_backend_pid()
      AND c.transaction_id = pg_catalog.pg_current_xact_id_if_assigned()
$function$;
COMMENT ON FUNCTION senate.current_change_as_of() IS 'The as_of senate.set_change_as_of() declared for this transaction, else NULL. SECURITY DEFINER so that the stamping triggers, running as any writer, can read it; it shows only the calling transaction''s own.';

-- define function senate.stamp_ledger_as_of()
CREATE OR REPLACE FUNCTION senate.stamp_ledger_as_of()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
BEGIN
    NEW.as_of := coalesce(senate.current_change_as_of(), NEW.recorded_at);
    RETURN NEW;
END;
$function$;
COMMENT ON FUNCTION senate.stamp_ledger_as_of() IS 'BEFORE INSERT row trigger on budget_ledger: as_of := the transaction''s declared as_of (senate.current_change_as_of()), else recorded_at, whatever the INSERT gave.';

-- define function senate.stamp_throttle_as_of()
CREATE OR REPLACE FUNCTION senate.stamp_throttle_as_of()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
BEGIN
    IF TG_OP = 'INSERT' THEN
        NEW.throttled_as_of := coalesce(senate.current_change_as_of(), NEW.throttled_at);
        NEW.released_as_of := CASE WHEN NEW.released_at IS NOT NULL THEN
                                       greatest(coalesce(senate.current_change_as_of(),
                                                         NEW.released_at), NEW.throttled_as_of)
                                   END;
    ELSIF OLD.released_at IS NULL AND NEW.released_at IS NOT NULL THEN
        NEW.released_as_of := greatest(coalesce(senate.current_change_as_of(), NEW.released_at),
                                       OLD.throttled_as_of);
    END IF;
    RETURN NEW;
END;
$function$;
COMMENT ON FUNCTION senate.stamp_throttle_as_of() IS 'BEFORE INSERT OR UPDATE row trigger on spend_throttles (after t10_guard_spend_throttles, which refuses any other change): throttled_as_of on placement and released_as_of on release := the transaction''s declared as_of (senate.current_change_as_of()), else the wall-clock column.';
