-- Why (issue 15, "Poison rows"): amounts were unbounded numerics. One usage row of 1e8000
-- made check_spend_alerts() fail (its NOTIFY payload grew past 8000 bytes) and with it
-- run_daily_check() for every entity; two rows of 9e131071 made every sum over them overflow
-- numeric (budget_status, the report views, run_rebalance, record_economy_snapshot,
-- can_spend). fund_reserve(..., 1e400) and a request of 1e400 were accepted.
--
-- Every amount now has a bound in its unit, recorded as data in senate.value_bounds (one row
-- per column, with its unit and reason) so that psql shows it and tests read it:
--   * per event, 1e15 (tokens, CPU-seconds, GB-hours or calls): one usage row, one
--     reservation, one requested amount on a proposal. A quadrillion tokens is ~10^6 times
--     the largest real spend of a whole deployment.
--   * per stored envelope, 1e18: budgets (each class), tier caps, daily allowances, the
--     reserve balance of a class. Envelopes grow by approvals and rebalances, which move
--     amounts of at most 1e15 each; 1e18 leaves room for 1000 of them stacked.
--   * cost per usage row, 1e9 USD.
--   * at most 18 decimal places on every amount and cost.
-- Arithmetic: a rollup row sums at most 2^63 usage rows (bigint ids), so |sum| <= 9.3e33
-- tokens and 9.3e27 USD; products with prices (<= 1e9 USD per unit would still be < 1e43)
-- and ratios stay far below numeric's 1e131072 and print in < 60 characters: no view, cycle
-- or report can overflow whatever writers insert within the bounds.
--
-- Enforcement, on every write path (INSERT, multi-row, INSERT ... SELECT, COPY, functions):
--   * resource_usage: in its one statement-level ingest trigger (migration 0121), so a
--     single-row insert still costs one read; that also bounds the usage time window and the
--     size of metadata, provider and the text columns.
--   * the other tables: BEFORE INSERT / BEFORE UPDATE row triggers t05_bound_values_* whose
--     WHEN clause tests the bounds (no function call unless a value is out of bound), built
--     from senate.value_bounds by senate.apply_value_bounds(). Triggers, not CHECKs: nothing
--     is scanned or rewritten, and a legacy row already beyond a bound keeps working (an
--     UPDATE of it, e.g. by a rebalance or a priority refresh, is not refused); only a write
--     that takes a value from within the bound to beyond it, or inserts one beyond it, is.
-- Errors: 22003 (numeric_value_out_of_range) for an amount, 22001 (string_data_right_truncation)
-- for a text or JSON too large, naming table, column and (truncated) value.
SET lock_timeout = '5s';

INSERT INTO senate.error_codes (sqlstate, error_name, meaning, hint) VALUES
  ('S5031', 'usage_time_out_of_window',
   'A usage row''s created_at is infinite, more than economics_policy.usage_max_clock_skew ahead '
   'of now, or more than economics_policy.usage_max_age in the past.',
   'Record the time the spend happened; an operator widens the window with '
   'adopt_economics_policy when older usage must be imported.'),
  ('S5032', 'too_many_open_holds',
   'The calling login already holds economics_policy.max_open_holds_per_login open spend '
   'reservations.',
   'Settle or release open reservations first (or let them expire).')
ON CONFLICT (sqlstate) DO NOTHING;

-- Usage time window and hold cap: versioned policy data (adopt_economics_policy copies every
-- column, 0019). Constant defaults: catalog-only ADD COLUMN; the CHECKs scan a handful of rows.
ALTER TABLE public.economics_policy
    ADD COLUMN IF NOT EXISTS usage_max_clock_skew interval NOT NULL DEFAULT '10 minutes'
        CONSTRAINT economics_policy_usage_max_clock_skew_range
        CHECK (usage_max_clock_skew >= interval '0' AND usage_max_clock_skew <= interval '1 day');
ALTER TABLE public.economics_policy
    ADD COLUMN IF NOT EXISTS usage_max_age interval NOT NULL DEFAULT '10 years'
        CONSTRAINT economics_policy_usage_max_age_range
        CHECK (usage_max_age >= interval '1 day' AND usage_max_age <= interval '100 years');
ALTER TABLE public.economics_policy
    ADD COLUMN IF NOT EXISTS max_open_holds_per_login integer NOT NULL DEFAULT 1000
        CONSTRAINT economics_policy_max_open_holds_per_login_range
        CHECK (max_open_holds_per_login BETWEEN 1 AND 1000000);
COMMENT ON COLUMN public.economics_policy.usage_max_clock_skew IS
  'How far ahead of the clock a usage row''s created_at may be (writers'' clock skew; default 10 '
  'minutes, at most 1 day). Later rows are refused (S5031): they would count in no current period.';
COMMENT ON COLUMN public.economics_policy.usage_max_age IS
  'How far in the past a usage row''s created_at may be (default 10 years, 1 day to 100 years). '
  'Older rows are refused (S5031). Narrow it to the ingest lag: a back-dated row counts in its own '
  '(past) period, not the current one.';
COMMENT ON COLUMN public.economics_policy.max_open_holds_per_login IS
  'Most open spend reservations one login (session_user) may hold at once (default 1000, 1 to '
  '1000000); reserve_spend refuses more (S5032).';
COMMENT ON CONSTRAINT economics_policy_usage_max_clock_skew_range ON public.economics_policy IS
  'The clock skew allowed to usage writers is 0 to 1 day.';
COMMENT ON CONSTRAINT economics_policy_usage_max_age_range ON public.economics_policy IS
  'Usage may be at most 1 day to 100 years old.';
COMMENT ON CONSTRAINT economics_policy_max_open_holds_per_login_range ON public.economics_policy IS
  'One login may hold 1 to 1000000 open reservations.';

CREATE TABLE IF NOT EXISTS senate.value_bounds (
    relation_name  text NOT NULL CHECK (relation_name ~ '^(public|senate)\.[a-z_][a-z0-9_]*$'),
    column_name    text NOT NULL CHECK (column_name ~ '^[a-z_][a-z0-9_]*$'),
    kind           text NOT NULL CHECK (kind IN ('amount', 'text', 'json', 'time')),
    max_value      numeric CHECK (max_value > 0),
    unit           text NOT NULL CHECK (length(unit) BETWEEN 1 AND 200),
    enforced_by    text NOT NULL CHECK (enforced_by IN ('row_trigger', 'usage_ingest')),
    why            text NOT NULL CHECK (length(why) BETWEEN 1 AND 2000),
    PRIMARY KEY (relation_name, column_name),
    CHECK ((kind = 'time') = (max_value IS NULL))
);
COMMENT ON TABLE senate.value_bounds IS
  'The documented bound of every amount, text and JSON value writers supply (issue 15): an '
  'amount is at most max_value in absolute value with at most 18 decimal places (22003 '
  'otherwise); a text at most max_value characters and a JSON value at most max_value bytes as '
  'text (22001). row_trigger bounds are applied by senate.apply_value_bounds(); usage_ingest ones '
  'are tested by senate.account_usage_inserts() (migration 0121).';
COMMENT ON COLUMN senate.value_bounds.relation_name IS 'Schema-qualified table.';
COMMENT ON COLUMN senate.value_bounds.column_name IS 'Column bounded.';
COMMENT ON COLUMN senate.value_bounds.kind IS
  'amount (numeric: |value| <= max_value, scale <= 18; NaN and infinities are refused by the '
  'tables'' CHECKs), text (characters), json (bytes of its '
  'text form), time (the usage window of economics_policy: no max_value).';
COMMENT ON COLUMN senate.value_bounds.max_value IS 'The bound, in unit; NULL for kind time.';
COMMENT ON COLUMN senate.value_bounds.unit IS 'Unit of max_value.';
COMMENT ON COLUMN senate.value_bounds.enforced_by IS
  'row_trigger: t05_bound_values_insert / _update on the table; usage_ingest: the statement '
  'trigger t80_account_usage_inserts on resource_usage.';
COMMENT ON COLUMN senate.value_bounds.why IS 'Why this bound.';

INSERT INTO senate.value_bounds
    (relation_name, column_name, kind, max_value, unit, enforced_by, why) VALUES
  ('public.resource_usage', 'amount', 'amount', 1e15, 'unit of the class per row',
   'usage_ingest', 'One spend event; sums of 2^63 rows stay below 1e34.'),
  ('public.resource_usage', 'cost', 'amount', 1e9, 'USD per row',
   'usage_ingest', 'One spend event''s cost.'),
  ('public.resource_usage', 'created_at', 'time', NULL,
   'economics_policy.usage_max_clock_skew ahead, usage_max_age back',
   'usage_ingest', 'Usage outside the window counts in no current period.'),
  ('public.resource_usage', 'metadata', 'json', 16384, 'bytes',
   'usage_ingest', 'Free-form writer context; append-only rows are kept forever.'),
  ('public.resource_usage', 'provider', 'text', 200, 'characters', 'usage_ingest', 'A name.'),
  ('public.resource_usage', 'entity_id', 'text', 200, 'characters', 'usage_ingest', 'A name.'),
  ('public.resource_usage', 'model', 'text', 200, 'characters', 'usage_ingest', 'A name.'),
  ('public.resource_usage', 'artifact_type', 'text', 200, 'characters', 'usage_ingest', 'A name.'),
  ('public.resource_usage', 'artifact_id', 'text', 200, 'characters', 'usage_ingest', 'A name.'),
  ('public.resource_usage', 'analysis_id', 'text', 200, 'characters', 'usage_ingest', 'A name.'),
  ('public.resource_usage', 'task_id', 'text', 200, 'characters', 'usage_ingest', 'A name.'),
  ('public.resource_usage', 'idempotency_key', 'text', 200, 'characters', 'usage_ingest', 'A key.'),
  ('public.resource_usage', 'correction_reason', 'text', 2000, 'characters', 'usage_ingest',
   'A sentence.'),
  ('public.resource_budgets', 'token_budget', 'amount', 1e18, 'tokens per period',
   'row_trigger', 'Stored envelope: 1000 maximal approvals stacked.'),
  ('public.resource_budgets', 'cpu_budget', 'amount', 1e18, 'CPU-seconds per period',
   'row_trigger', 'Stored envelope.'),
  ('public.resource_budgets', 'storage_budget_gb', 'amount', 1e18, 'GB-hours per period',
   'row_trigger', 'Stored envelope.'),
  ('public.resource_budgets', 'api_call_budget', 'amount', 1e18, 'calls per period',
   'row_trigger', 'Stored envelope.'),
  ('public.resource_budget_tiers', 'token_budget', 'amount', 1e18, 'tokens per period',
   'row_trigger', 'Stored tier cap.'),
  ('public.resource_daily_allowances', 'daily_allowance', 'amount', 1e18, 'unit of the class per day',
   'row_trigger', 'Stored envelope.'),
  ('public.resource_daily_allowances', 'note', 'text', 2000, 'characters', 'row_trigger',
   'A sentence.'),
  ('public.senate_reserve', 'balance', 'amount', 1e18, 'unit of the class',
   'row_trigger', 'Stored reserve of a class: fund_reserve(1e400) is refused here.'),
  ('public.spend_reservations', 'amount', 'amount', 1e15, 'unit of the class',
   'row_trigger', 'One hold (one spend event).'),
  ('public.allocation_proposals', 'requested_tokens', 'amount', 1e15,
   'unit of the requested class', 'row_trigger', 'One request (one event).'),
  ('public.allocation_proposals', 'requested_amount', 'amount', 1e15,
   'unit of the requested class', 'row_trigger', 'One request (one event).'),
  ('public.allocation_proposals', 'evidence', 'json', 65536, 'bytes', 'row_trigger',
   'Evidence references (pmids, figures), not the papers.')
ON CONFLICT (relation_name, column_name) DO NOTHING;

-- Raises the error for the first out-of-bound column of NEW (called only when the trigger's
-- WHEN clause found one). TG_ARGV: kind:column:max_value, as in senate.value_bounds.
CREATE OR REPLACE FUNCTION senate.refuse_out_of_bound_value()
RETURNS trigger
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_new jsonb := pg_catalog.to_jsonb(NEW);
    v_old jsonb := CASE WHEN TG_OP = 'UPDATE' THEN pg_catalog.to_jsonb(OLD) END;
    v_spec text;
    v_kind text;
    v_column text;
    v_max numeric;
    v_text text;
    v_old_text text;
    v_amount numeric;
    v_old_amount numeric;
    v_size bigint;
BEGIN
    FOREACH v_spec IN ARRAY TG_ARGV LOOP
        v_kind := pg_catalog.split_part(v_spec, ':', 1);
        v_column := pg_catalog.split_part(v_spec, ':', 2);
        v_max := pg_catalog.split_part(v_spec, ':', 3)::numeric;
        v_text := v_new ->> v_column;
        v_old_text := v_old ->> v_column;
        CONTINUE WHEN v_text IS NULL;
        IF v_kind = 'amount' THEN
            v_amount := v_text::numeric;
            v_old_amount := v_old_text::numeric;
            -- NaN and infinities are left to the tables' own CHECKs (23514, 0057).
            IF (pg_catalog.abs(v_amount) > v_max AND pg_catalog.abs(v_amount) < 'Infinity'::numeric
                OR pg_catalog.scale(v_amount) > 18)
               AND NOT coalesce(pg_catalog.abs(v_old_amount) > v_max
                                OR pg_catalog.scale(v_old_amount) > 18, false) THEN
                RAISE EXCEPTION USING ERRCODE = '22003', TABLE = TG_TABLE_NAME, COLUMN = v_column,
                    MESSAGE = pg_catalog.format(
                        '%s.%s = %s is out of range: at most %s in absolute value, with at most '
                        '18 decimal places', TG_TABLE_NAME, v_column,
                        CASE WHEN pg_catalog.length(v_text) > 40
                             THEN pg_catalog.left(v_text, 20) || '...(' ||
                                  pg_catalog.length(v_text) || ' characters)'
                             ELSE v_text END, v_max),
                    DETAIL = 'The bounds are listed in senate.value_bounds.',
                    HINT = 'Amounts are in the unit of the resource class; no real value is '
                           'this large.';
            END IF;
        ELSIF v_kind IN ('text', 'json') THEN
            v_size := CASE v_kind WHEN 'text' THEN pg_catalog.length(v_text)
                                  ELSE pg_catalog.octet_length(v_text) END;
            IF v_size > v_max AND v_text IS DISTINCT FROM v_old_text THEN
                RAISE EXCEPTION USING ERRCODE = '22001', TABLE = TG_TABLE_NAME, COLUMN = v_column,
                    MESSAGE = pg_catalog.format(
                        '%s.%s is too long: %s %s, at most %s', TG_TABLE_NAME, v_column,
                        v_size,
                        CASE v_kind WHEN 'text' THEN 'characters' ELSE 'bytes' END, v_max),
                    DETAIL = 'The bounds are listed in senate.value_bounds.',
                    HINT = 'Store a reference to large content, not the content.';
            END IF;
        END IF;
    END LOOP;
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION senate.refuse_out_of_bound_value() IS
  'BEFORE INSERT / UPDATE row trigger (t05_bound_values_*), fired only when its WHEN clause found '
  'a value beyond its bound in senate.value_bounds: raises 22003 for an amount (naming table, '
  'column and value) or 22001 for a text or JSON value too large. An UPDATE of a legacy value '
  'already beyond the bound is let through.';

-- (Re)creates the t05_bound_values_insert / _update triggers of every table with row_trigger
-- bounds, for the columns that exist. Re-runnable; another migration adds rows and calls it.
CREATE OR REPLACE FUNCTION senate.apply_value_bounds()
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET client_min_messages = warning
AS $$
DECLARE
    t record;
    v_tables integer := 0;
BEGIN
    FOR t IN
        SELECT b.relation_name, c.oid AS relid,
               pg_catalog.array_agg(b.kind || ':' || b.column_name || ':' || b.max_value::text
                                    ORDER BY b.column_name) AS specs,
               pg_catalog.string_agg(
                   CASE b.kind
                       WHEN 'amount' THEN pg_catalog.format(
                           '(pg_catalog.abs(NEW.%1$I::numeric) > %2$s '
                           'AND pg_catalog.abs(NEW.%1$I::numeric) < ''Infinity''::numeric '
                           'OR pg_catalog.scale(NEW.%1$I::numeric) > 18)', b.column_name, b.max_value)
                       WHEN 'text' THEN pg_catalog.format(
                           'pg_catalog.length(NEW.%1$I::text) > %2$s', b.column_name, b.max_value)
                       ELSE pg_catalog.format(
                           'pg_catalog.octet_length(NEW.%1$I::text) > %2$s', b.column_name,
                           b.max_value) END,
                   ' OR ' ORDER BY b.column_name) AS insert_when,
               pg_catalog.string_agg(
                   CASE b.kind
                       WHEN 'amount' THEN pg_catalog.format(
                           '((pg_catalog.abs(NEW.%1$I::numeric) > %2$s '
                           'AND pg_catalog.abs(NEW.%1$I::numeric) < ''Infinity''::numeric '
                           'OR pg_catalog.scale(NEW.%1$I::numeric) > 18) '
                           'AND NOT coalesce(pg_catalog.abs(OLD.%1$I::numeric) > %2$s '
                           'OR pg_catalog.scale(OLD.%1$I::numeric) > 18, false))',
                           b.column_name, b.max_value)
                       WHEN 'text' THEN pg_catalog.format(
                           '(pg_catalog.length(NEW.%1$I::text) > %2$s '
                           'AND NEW.%1$I IS DISTINCT FROM OLD.%1$I)', b.column_name, b.max_value)
                       ELSE pg_catalog.format(
                           '(pg_catalog.octet_length(NEW.%1$I::text) > %2$s '
                           'AND NEW.%1$I::text IS DISTINCT FROM OLD.%1$I::text)',
                           b.column_name, b.max_value) END,
                   ' OR ' ORDER BY b.column_name) AS update_when
        FROM senate.value_bounds AS b
        JOIN pg_catalog.pg_class AS c ON c.oid = pg_catalog.to_regclass(b.relation_name)
        JOIN pg_catalog.pg_attribute AS a
          ON a.attrelid = c.oid AND a.attname = b.column_name AND a.attnum > 0
         AND NOT a.attisdropped
        WHERE b.enforced_by = 'row_trigger' AND c.relkind IN ('r', 'p')
        GROUP BY b.relation_name, c.oid
        ORDER BY b.relation_name
    LOOP
        EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS t05_bound_values_insert ON %s',
                                  t.relid::regclass);
        EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS t05_bound_values_update ON %s',
                                  t.relid::regclass);
        EXECUTE pg_catalog.format(
            'CREATE TRIGGER t05_bound_values_insert BEFORE INSERT ON %s FOR EACH ROW WHEN (%s) '
            'EXECUTE FUNCTION senate.refuse_out_of_bound_value(%s)',
            t.relid::regclass, t.insert_when,
            (SELECT pg_catalog.string_agg(pg_catalog.quote_literal(s), ', ')
             FROM pg_catalog.unnest(t.specs) AS s));
        EXECUTE pg_catalog.format(
            'CREATE TRIGGER t05_bound_values_update BEFORE UPDATE ON %s FOR EACH ROW WHEN (%s) '
            'EXECUTE FUNCTION senate.refuse_out_of_bound_value(%s)',
            t.relid::regclass, t.update_when,
            (SELECT pg_catalog.string_agg(pg_catalog.quote_literal(s), ', ')
             FROM pg_catalog.unnest(t.specs) AS s));
        EXECUTE pg_catalog.format(
            'COMMENT ON TRIGGER t05_bound_values_insert ON %s IS %L', t.relid::regclass,
            'Refuses a row with a value beyond its bound in senate.value_bounds (22003 amount, '
            '22001 text / JSON size).');
        EXECUTE pg_catalog.format(
            'COMMENT ON TRIGGER t05_bound_values_update ON %s IS %L', t.relid::regclass,
            'Refuses an update taking a value beyond its bound in senate.value_bounds (22003 / '
            '22001); a legacy value already beyond it is let through.');
        v_tables := v_tables + 1;
    END LOOP;
    RETURN v_tables;
END;
$$;
COMMENT ON FUNCTION senate.apply_value_bounds() IS
  'Creates (again) the t05_bound_values_insert / _update triggers from the row_trigger rows of '
  'senate.value_bounds, for the columns each table has; returns how many tables it bounded. '
  'Re-runnable: add a row and call it.';
REVOKE EXECUTE ON FUNCTION senate.apply_value_bounds() FROM PUBLIC;

DO $$ BEGIN PERFORM senate.apply_value_bounds(); END $$;
