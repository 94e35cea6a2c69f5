-- Why: "weak or low-yield work is throttled". The daily check (run_daily_check,
-- migration 0037) throttles an entity for a resource class when it passes its daily
-- allowance (spend on a calendar day > allowance for that day) or its period budget
-- (spend in the budget period > effective budget). A throttle makes can_spend refuse and
-- reserve_spend raise S3002 for that entity and class until it is released.
--
-- A throttle holds for the window it was measured over: the day (daily_allowance) or
-- the budget period (period_budget). It is released
--   * when that window ends - a new day or a new period starts (the throttle stops
--     counting at throttled_until at once; the next daily check records the release), or
--   * as soon as the entity's budget or allowance rises so that the window's spend is
--     within it again: statement-level triggers on resource_budgets and
--     resource_daily_allowances re-measure the active throttles of the entities a
--     statement touched (any write path: approval, rebalance, direct UPDATE).
--
-- Every throttle and release reaches budget_ledger (account entity_status, delta 0,
-- cause_type throttle | release, cause_id the throttle id, note the reason) through a
-- statement-level trigger, like every other budget event. Throttles are history: only
-- the one-time release may be written; no UPDATE otherwise, no DELETE, no TRUNCATE.
SET lock_timeout = '5s';

CALL senate.claim('0032', 'table', 'public.spend_throttles');
CREATE TABLE IF NOT EXISTS public.spend_throttles (
    throttle_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entity_type      text NOT NULL,
    entity_id        text NOT NULL,
    resource_type    text NOT NULL REFERENCES public.resource_types (resource_type),
    kind             text NOT NULL CHECK (kind IN ('daily_allowance', 'period_budget')),
    window_start     date NOT NULL,
    window_end       date NOT NULL,
    spent            numeric NOT NULL,
    spent_cost_usd   numeric NOT NULL DEFAULT 0,
    allowance        numeric NOT NULL,
    reason           text NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
    throttled_at     timestamptz NOT NULL DEFAULT now(),
    throttled_until  timestamptz NOT NULL,
    released_at      timestamptz,
    release_reason   text CHECK (length(release_reason) <= 2000),
    CONSTRAINT spend_throttles_window_ordered CHECK (window_end > window_start),
    CONSTRAINT spend_throttles_release_complete CHECK ((released_at IS NULL) = (release_reason IS NULL))
);
COMMENT ON TABLE public.spend_throttles IS
  'Throttles placed by the daily check: while a throttle is active (released_at IS NULL and '
  'now() < throttled_until) can_spend refuses and reserve_spend raises S3002 for the entity and '
  'resource class. History: only the one-time release is ever written.';
COMMENT ON COLUMN public.spend_throttles.throttle_id IS 'Surrogate key; the cause_id of its ledger entries.';
COMMENT ON COLUMN public.spend_throttles.entity_type IS 'Kind of entity throttled.';
COMMENT ON COLUMN public.spend_throttles.entity_id IS 'Entity throttled.';
COMMENT ON COLUMN public.spend_throttles.resource_type IS 'Resource class throttled (other classes are not affected).';
COMMENT ON COLUMN public.spend_throttles.kind IS 'daily_allowance (a day''s spend passed the daily allowance) or period_budget (the period''s spend passed the effective budget).';
COMMENT ON COLUMN public.spend_throttles.window_start IS 'First day of the window measured (the day, or the budget period), policy time zone.';
COMMENT ON COLUMN public.spend_throttles.window_end IS 'First day after the window measured (exclusive).';
COMMENT ON COLUMN public.spend_throttles.spent IS 'Spend in the window when throttled, in the unit of the class (tokens, CPU-seconds, GB-hours, calls).';
COMMENT ON COLUMN public.spend_throttles.spent_cost_usd IS 'Cost of that spend, in USD.';
COMMENT ON COLUMN public.spend_throttles.allowance IS 'Allowance it passed (daily allowance or effective budget), in the unit of the class.';
COMMENT ON COLUMN public.spend_throttles.reason IS 'Why it was throttled (also the ledger note).';
COMMENT ON COLUMN public.spend_throttles.throttled_at IS 'When the throttle was placed.';
COMMENT ON COLUMN public.spend_throttles.throttled_until IS 'End of the window (start of the next day or period): the throttle stops counting then.';
COMMENT ON COLUMN public.spend_throttles.released_at IS 'When the release was recorded (NULL while not recorded).';
COMMENT ON COLUMN public.spend_throttles.release_reason IS 'Why it was released: window ended, or budget/allowance rose (also the ledger note).';

CALL senate.claim('0032', 'index', 'public.spend_throttles_one_active_idx');
CREATE UNIQUE INDEX IF NOT EXISTS spend_throttles_one_active_idx
    ON public.spend_throttles (entity_type, entity_id, resource_type, kind)
    WHERE released_at IS NULL;
CALL senate.claim('0032', 'index', 'public.spend_throttles_entity_idx');
CREATE INDEX IF NOT EXISTS spend_throttles_entity_idx
    ON public.spend_throttles (entity_type, entity_id, throttle_id);
COMMENT ON INDEX public.spend_throttles_one_active_idx IS
  'At most one unreleased throttle per entity, class and kind; "is it throttled?" is one probe.';
COMMENT ON INDEX public.spend_throttles_entity_idx IS 'Throttle history of an entity.';

CREATE OR REPLACE FUNCTION senate.guard_spend_throttles()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.released_at IS NULL
       AND to_jsonb(NEW) - 'released_at' - 'release_reason'
           = to_jsonb(OLD) - 'released_at' - 'release_reason' THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION USING
        ERRCODE = 'S4001',
        MESSAGE = format('%s of spend throttle %s refused: throttles are history; only an '
                         'unreleased throttle may be released, once', TG_OP, OLD.throttle_id),
        HINT = 'Throttles are released by run_daily_check() or by a budget rise.';
END;
$$;
COMMENT ON FUNCTION senate.guard_spend_throttles() IS
  'Row trigger on spend_throttles: allows only writing the release of an unreleased throttle; '
  'refuses other updates and deletes (S4001).';

DROP TRIGGER IF EXISTS t10_guard_spend_throttles ON public.spend_throttles;
CREATE TRIGGER t10_guard_spend_throttles
    BEFORE UPDATE OR DELETE ON public.spend_throttles
    FOR EACH ROW EXECUTE FUNCTION senate.guard_spend_throttles();
COMMENT ON TRIGGER t10_guard_spend_throttles ON public.spend_throttles IS
  'Throttles are history: only the one-time release may be written.';
DROP TRIGGER IF EXISTS t10_refuse_spend_throttle_truncate ON public.spend_throttles;
CREATE TRIGGER t10_refuse_spend_throttle_truncate
    BEFORE TRUNCATE ON public.spend_throttles
    FOR EACH STATEMENT EXECUTE FUNCTION senate.refuse_ledger_change();
COMMENT ON TRIGGER t10_refuse_spend_throttle_truncate ON public.spend_throttles IS
  'Throttles are history: TRUNCATE is refused (S4001).';

CREATE OR REPLACE FUNCTION senate.record_throttle_changes()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
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
$$;
COMMENT ON FUNCTION senate.record_throttle_changes() IS
  'Statement-level trigger on spend_throttles: one budget_ledger row (account entity_status, '
  'delta 0, balance = the class''s current base budget) per throttle placed (cause throttle, note '
  'the reason) and per throttle released (cause release, note the release reason).';

DROP TRIGGER IF EXISTS t50_record_throttle_inserts ON public.spend_throttles;
CREATE TRIGGER t50_record_throttle_inserts
    AFTER INSERT ON public.spend_throttles
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION senate.record_throttle_changes();
DROP TRIGGER IF EXISTS t50_record_throttle_releases ON public.spend_throttles;
CREATE TRIGGER t50_record_throttle_releases
    AFTER UPDATE ON public.spend_throttles
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION senate.record_throttle_changes();
COMMENT ON TRIGGER t50_record_throttle_inserts ON public.spend_throttles IS 'Ledger rows (cause throttle) for new throttles.';
COMMENT ON TRIGGER t50_record_throttle_releases ON public.spend_throttles IS 'Ledger rows (cause release) for released throttles.';

-- Releases the unreleased throttles of the listed entities (parallel arrays; both NULL:
-- every entity) whose window ended by p_as_of, or whose window's spend is now within the
-- allowance (budget, market weight or explicit allowance rose). Rows are locked in
-- throttle_id order. Returns the released throttles.
CREATE OR REPLACE FUNCTION senate.release_lifted_throttles(
    p_entity_types text[], p_entity_ids text[], p_as_of timestamptz)
RETURNS SETOF public.spend_throttles
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_jit text := current_setting('jit');
BEGIN
    -- Planner settings for this call only (restored below; an error rolls them back):
    -- JIT compilation costs seconds per call and buys nothing at these sizes.
    PERFORM set_config('jit', 'off', true);
    RETURN QUERY
    WITH p AS (
        SELECT e.* FROM public.economics_policy AS e WHERE e.is_active
    ), candidates AS (
        SELECT t.throttle_id
        FROM public.spend_throttles AS t
        WHERE t.released_at IS NULL
          AND (p_entity_types IS NULL
               OR (t.entity_type, t.entity_id) IN (
                      SELECT u.entity_type, u.entity_id
                      FROM unnest(p_entity_types, p_entity_ids) AS u (entity_type, entity_id)))
        ORDER BY t.throttle_id
        FOR UPDATE OF t
    ), measured AS (
        SELECT t.throttle_id,
               CASE WHEN t.throttled_until <= p_as_of THEN
                        format('window %s..%s ended: a new %s began', t.window_start,
                               t.window_end - 1,
                               CASE t.kind WHEN 'daily_allowance' THEN 'day' ELSE 'budget period' END)
                    WHEN b.entity_id IS NOT NULL AND s.spent <= x.allowance THEN
                        format('%s rose: spent %s of %s in %s..%s is within it again',
                               CASE t.kind WHEN 'daily_allowance' THEN 'daily allowance'
                                           ELSE 'effective budget' END,
                               s.spent, round(x.allowance, 6), t.window_start, t.window_end - 1)
               END AS release_reason
        FROM candidates AS c
        JOIN public.spend_throttles AS t ON t.throttle_id = c.throttle_id
        CROSS JOIN p
        LEFT JOIN public.resource_budgets AS b
          ON b.entity_type = t.entity_type AND b.entity_id = t.entity_id
        LEFT JOIN public.resource_daily_allowances AS a
          ON a.entity_type = t.entity_type AND a.entity_id = t.entity_id
         AND a.resource_type = t.resource_type
        CROSS JOIN LATERAL senate.period_bounds(t.window_start::timestamp AT TIME ZONE p.time_zone,
                                                p.budget_period, p.time_zone) AS pb
        CROSS JOIN LATERAL (
            SELECT coalesce(sum(r.amount_total), 0) AS spent
            FROM senate.usage_rollups AS r
            WHERE r.entity_type = t.entity_type AND r.entity_id = t.entity_id
              AND r.resource_type = t.resource_type
              AND r.usage_day >= t.window_start AND r.usage_day < t.window_end) AS s
        CROSS JOIN LATERAL (
            SELECT CASE t.kind
                       WHEN 'period_budget' THEN senate.effective_class_budget(b, t.resource_type, p)
                       ELSE coalesce(a.daily_allowance,
                                     senate.derived_daily_allowance(
                                         senate.effective_class_budget(b, t.resource_type, p),
                                         pb.period_start, pb.period_end))
                   END AS allowance) AS x
    )
    UPDATE public.spend_throttles AS t
    SET released_at = greatest(now(), t.throttled_at), release_reason = m.release_reason
    FROM measured AS m
    WHERE t.throttle_id = m.throttle_id AND m.release_reason IS NOT NULL
    RETURNING t.*;
    PERFORM set_config('jit', v_jit, true);
END;
$$;
COMMENT ON FUNCTION senate.release_lifted_throttles(text[], text[], timestamptz) IS
  'Releases unreleased throttles of the listed entities (parallel arrays, or all when NULL) whose '
  'window ended by p_as_of, or whose window''s spend is within the current allowance again (daily '
  'allowance or effective budget). Locks throttles in id order; returns the released throttles.';

CREATE OR REPLACE FUNCTION senate.release_throttles_of_changed_envelopes()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_types text[];
    v_ids text[];
BEGIN
    -- Cheap exit for the common case (a rebalance of many envelopes, none throttled).
    IF NOT EXISTS (SELECT 1 FROM public.spend_throttles AS t WHERE t.released_at IS NULL) THEN
        RETURN NULL;
    END IF;
    SELECT array_agg(x.entity_type), array_agg(x.entity_id) INTO v_types, v_ids
    FROM (SELECT DISTINCT n.entity_type::text AS entity_type, n.entity_id::text AS entity_id
          FROM new_rows AS n
          WHERE EXISTS (SELECT 1 FROM public.spend_throttles AS t
                        WHERE t.entity_type = n.entity_type::text
                          AND t.entity_id = n.entity_id::text AND t.released_at IS NULL)) AS x;
    IF v_types IS NOT NULL THEN
        PERFORM 1 FROM senate.release_lifted_throttles(v_types, v_ids, now());
    END IF;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION senate.release_throttles_of_changed_envelopes() IS
  'Statement-level trigger on resource_budgets (UPDATE) and resource_daily_allowances (INSERT, '
  'UPDATE): re-measures the active throttles of the entities the statement touched and releases '
  'those whose spend is within the new budget or allowance.';

CREATE OR REPLACE FUNCTION senate.release_throttles_of_removed_allowances()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_types text[];
    v_ids text[];
BEGIN
    SELECT array_agg(x.entity_type), array_agg(x.entity_id) INTO v_types, v_ids
    FROM (SELECT DISTINCT o.entity_type, o.entity_id
          FROM old_rows AS o
          WHERE EXISTS (SELECT 1 FROM public.spend_throttles AS t
                        WHERE t.entity_type = o.entity_type AND t.entity_id = o.entity_id
                          AND t.released_at IS NULL)) AS x;
    IF v_types IS NOT NULL THEN
        PERFORM 1 FROM senate.release_lifted_throttles(v_types, v_ids, now());
    END IF;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION senate.release_throttles_of_removed_allowances() IS
  'Statement-level trigger on resource_daily_allowances (DELETE): removing an explicit allowance '
  'returns to the derived one, which may lift a throttle.';

DROP TRIGGER IF EXISTS t60_release_lifted_throttles ON public.resource_budgets;
CREATE TRIGGER t60_release_lifted_throttles
    AFTER UPDATE ON public.resource_budgets
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION senate.release_throttles_of_changed_envelopes();
COMMENT ON TRIGGER t60_release_lifted_throttles ON public.resource_budgets IS
  'A budget or market-weight rise releases the throttles it lifts, in the same transaction.';

DROP TRIGGER IF EXISTS t60_release_lifted_throttles_on_insert ON public.resource_daily_allowances;
CREATE TRIGGER t60_release_lifted_throttles_on_insert
    AFTER INSERT ON public.resource_daily_allowances
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION senate.release_throttles_of_changed_envelopes();
DROP TRIGGER IF EXISTS t60_release_lifted_throttles_on_update ON public.resource_daily_allowances;
CREATE TRIGGER t60_release_lifted_throttles_on_update
    AFTER UPDATE ON public.resource_daily_allowances
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION senate.release_throttles_of_changed_envelopes();
DROP TRIGGER IF EXISTS t60_release_lifted_throttles_on_delete ON public.resource_daily_allowances;
CREATE TRIGGER t60_release_lifted_throttles_on_delete
    AFTER DELETE ON public.resource_daily_allowances
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION senate.release_throttles_of_removed_allowances();
COMMENT ON TRIGGER t60_release_lifted_throttles_on_insert ON public.resource_daily_allowances IS
  'A new explicit allowance releases the daily throttles it lifts.';
COMMENT ON TRIGGER t60_release_lifted_throttles_on_update ON public.resource_daily_allowances IS
  'A raised explicit allowance releases the daily throttles it lifts.';
COMMENT ON TRIGGER t60_release_lifted_throttles_on_delete ON public.resource_daily_allowances IS
  'Removing an explicit allowance (back to the derived one) releases the throttles that lifts.';

CALL senate.settle_comments('0032');
