-- Why: the spec's accounting model is additive: "usage remains append-only in
-- resource_usage". A changed or deleted usage row rewrites history that
-- budgets, alerts and ROI were computed from. So, while
-- senate.settings.usage_append_only is on, DELETE and TRUNCATE of
-- resource_usage are refused, and so is every UPDATE that changes what a row
-- records (S4002), with a hint naming the documented correction path:
-- correct_resource_usage(usage_id, corrected_amount, reason, actor) writes a
-- correction row (the change, negative when the original overstated) with its
-- reason, so the rollups (t80 triggers) stay exact and the history readable.
--
-- Cost: inserts pay nothing. DELETE and TRUNCATE meet a statement-level BEFORE
-- trigger reading one setting. UPDATE meets a statement-level AFTER trigger
-- (after the row work, before the t80 rollups) that reads the setting and, only
-- while it is on, compares the statement's old and new rows as multisets over
-- every column except the trigger-kept compatibility columns (amount_used,
-- "timestamp"): an UPDATE that records nothing new (a compatibility backfill,
-- a no-op) passes, any other is refused and rolled back. The transition tables
-- are the ones the t80 rollups capture anyway.
-- A deployment whose legacy consumers still update usage rows turns the guard
-- off: SELECT set_senate_setting('usage_append_only', false, actor, reason).
SET lock_timeout = '5s';

CREATE OR REPLACE FUNCTION senate.refuse_usage_change()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF senate.usage_append_only() THEN
        RAISE EXCEPTION USING
            ERRCODE = 'S4002',
            TABLE = TG_TABLE_NAME,
            MESSAGE = format('%s on %I.%I refused: resource_usage is append-only '
                             '(senate.settings.usage_append_only is on)',
                             TG_OP, TG_TABLE_SCHEMA, TG_TABLE_NAME),
            HINT = 'Correct a usage row with correct_resource_usage(usage_id, corrected_amount, '
                   'reason, actor), which writes a reversal row with the reason.';
    END IF;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION senate.refuse_usage_change() IS
  'Statement-level trigger on resource_usage: refuses DELETE and TRUNCATE (S4002) while '
  'senate.settings.usage_append_only is on; does nothing when it is off.';

CREATE OR REPLACE FUNCTION senate.refuse_usage_rewrites()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_rewritten bigint;
BEGIN
    IF NOT senate.usage_append_only() THEN
        RETURN NULL;
    END IF;
    SELECT count(*) INTO v_rewritten
    FROM (SELECT to_jsonb(o) - 'amount_used' - 'timestamp' FROM old_rows AS o
          EXCEPT ALL
          SELECT to_jsonb(n) - 'amount_used' - 'timestamp' FROM new_rows AS n) AS changed;
    IF v_rewritten > 0 THEN
        RAISE EXCEPTION USING
            ERRCODE = 'S4002',
            TABLE = TG_TABLE_NAME,
            MESSAGE = format('UPDATE on %I.%I refused: it rewrites %s usage row(s) and '
                             'resource_usage is append-only (senate.settings.usage_append_only is on)',
                             TG_TABLE_SCHEMA, TG_TABLE_NAME, v_rewritten),
            HINT = 'Correct a usage row with correct_resource_usage(usage_id, corrected_amount, '
                   'reason, actor), which writes a reversal row with the reason.';
    END IF;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION senate.refuse_usage_rewrites() IS
  'Statement-level AFTER UPDATE trigger on resource_usage: while senate.settings.usage_append_only '
  'is on, refuses (S4002) an UPDATE that changes any column of any row other than the '
  'trigger-kept compatibility columns (amount_used, "timestamp"); no-op updates and '
  'compatibility backfills pass.';

DROP TRIGGER IF EXISTS t10_refuse_usage_deletes ON public.resource_usage;
CREATE TRIGGER t10_refuse_usage_deletes
    BEFORE DELETE ON public.resource_usage
    FOR EACH STATEMENT EXECUTE FUNCTION senate.refuse_usage_change();
DROP TRIGGER IF EXISTS t10_refuse_usage_truncate ON public.resource_usage;
CREATE TRIGGER t10_refuse_usage_truncate
    BEFORE TRUNCATE ON public.resource_usage
    FOR EACH STATEMENT EXECUTE FUNCTION senate.refuse_usage_change();
DROP TRIGGER IF EXISTS t10_refuse_usage_rewrites ON public.resource_usage;
CREATE TRIGGER t10_refuse_usage_rewrites
    AFTER UPDATE ON public.resource_usage
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION senate.refuse_usage_rewrites();
COMMENT ON TRIGGER t10_refuse_usage_deletes ON public.resource_usage IS
  'Usage is append-only while senate.settings.usage_append_only is on: DELETE is refused '
  '(S4002); use correct_resource_usage().';
COMMENT ON TRIGGER t10_refuse_usage_truncate ON public.resource_usage IS
  'Usage is append-only while senate.settings.usage_append_only is on: TRUNCATE is refused (S4002).';
COMMENT ON TRIGGER t10_refuse_usage_rewrites ON public.resource_usage IS
  'Usage is append-only while senate.settings.usage_append_only is on: an UPDATE that changes '
  'what a row records is refused (S4002); use correct_resource_usage().';

CREATE OR REPLACE FUNCTION public.correct_resource_usage(
    p_usage_id public.resource_usage.id%TYPE,
    p_corrected_amount numeric,
    p_reason text,
    p_actor text)
RETURNS public.resource_usage.id%TYPE
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_original public.resource_usage%ROWTYPE;
    v_current numeric;
    v_delta numeric;
    v_probe public.resource_usage.amount%TYPE;
    v_id public.resource_usage.id%TYPE;
BEGIN
    IF p_usage_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', COLUMN = 'usage_id',
            MESSAGE = 'usage_id must name the usage row to correct, not NULL';
    END IF;
    IF p_corrected_amount IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', COLUMN = 'corrected_amount',
            MESSAGE = 'corrected_amount must be the right amount of the usage row, not NULL';
    END IF;
    IF p_corrected_amount < 0 OR p_corrected_amount IN ('NaN', 'Infinity') THEN
        RAISE EXCEPTION USING ERRCODE = '22023', COLUMN = 'corrected_amount',
            MESSAGE = format('corrected_amount %s is invalid: a usage amount is finite and >= 0',
                             p_corrected_amount);
    END IF;
    BEGIN
        v_probe := p_corrected_amount;
    EXCEPTION WHEN numeric_value_out_of_range THEN
        v_probe := NULL;
    END;
    IF v_probe IS NULL OR v_probe::numeric <> p_corrected_amount THEN
        RAISE EXCEPTION USING ERRCODE = '22023', COLUMN = 'corrected_amount',
            MESSAGE = format('corrected_amount %s does not fit resource_usage.amount (%s)',
                             p_corrected_amount, pg_typeof(v_probe));
    END IF;
    IF p_reason IS NULL OR length(btrim(p_reason)) NOT BETWEEN 1 AND 2000 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', COLUMN = 'reason',
            MESSAGE = 'reason must say why the usage row is wrong (1 to 2000 characters)';
    END IF;
    IF p_actor IS NULL OR length(btrim(p_actor)) NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', COLUMN = 'actor',
            MESSAGE = 'actor must name who corrects the usage row (1 to 200 characters)';
    END IF;

    -- Lock the original: concurrent corrections of one row are applied one after the other,
    -- each against the total the previous one left.
    SELECT * INTO v_original FROM public.resource_usage AS u WHERE u.id = p_usage_id FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'S4003', COLUMN = 'usage_id',
            MESSAGE = format('usage_id %s names no resource_usage row', p_usage_id);
    END IF;
    IF v_original.corrects_usage_id IS NOT NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'S4004', COLUMN = 'usage_id',
            MESSAGE = format('usage_id %s is a correction of row %s; correct the original',
                             p_usage_id, v_original.corrects_usage_id);
    END IF;

    SELECT v_original.amount::numeric + coalesce(sum(c.amount::numeric), 0) INTO v_current
    FROM public.resource_usage AS c
    WHERE c.corrects_usage_id = p_usage_id;
    v_delta := p_corrected_amount - v_current;
    IF v_delta = 0 THEN
        RETURN NULL;  -- already right: nothing to record
    END IF;

    -- Cost: a row priced from the reference tables (cost NULL) gets a correction priced the
    -- same way, so the cost rollup moves exactly with the amount. A row with an explicit cost
    -- keeps it (cost 0 on the correction): resource_usage.cost is never negative.
    INSERT INTO public.resource_usage
        (entity_type, entity_id, resource_type, amount, cost, model, provider,
         artifact_type, artifact_id, analysis_id, task_id, created_at,
         corrects_usage_id, correction_reason, correction_actor, corrected_at)
    VALUES
        (v_original.entity_type, v_original.entity_id, v_original.resource_type, v_delta,
         CASE WHEN v_original.cost IS NULL THEN NULL ELSE 0 END,
         v_original.model, v_original.provider,
         v_original.artifact_type, v_original.artifact_id, v_original.analysis_id,
         v_original.task_id, v_original.created_at,
         p_usage_id, btrim(p_reason), btrim(p_actor), now())
    RETURNING id INTO v_id;
    RETURN v_id;
END;
$$;
COMMENT ON FUNCTION public.correct_resource_usage(public.resource_usage.id%TYPE, numeric, text, text) IS
  'The documented way to correct usage while resource_usage is append-only: sets the amount of '
  'usage row usage_id to corrected_amount (in the unit of its class) by writing one correction '
  'row with the difference (negative when the original overstated), the reason and the actor, '
  'dated at the original spend so it counts in the same day and period. Returns the correction '
  'row id, or NULL when the row already has that amount. Corrections of one row are serialized. '
  'A row with an explicit cost keeps its cost (costs are never negative); a row priced from '
  'llm_models or api_providers is repriced exactly.';

-- Trigger functions on the deployed tables run with the owner's rights from the migration that
-- defines them (issue 14 point 9): a legacy writer holding only its grants on the deployed
-- tables keeps working after every migration, not only once 0099/0126 have run. Their bodies
-- name every object schema-qualified; the path is pinned to the catalog.
ALTER FUNCTION senate.refuse_usage_change() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
ALTER FUNCTION senate.refuse_usage_rewrites() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;
