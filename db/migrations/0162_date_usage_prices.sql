-- Why (issue 18, point 5, "Dated prices"): each model and provider had one undated price
-- (llm_models.usd_per_token, api_providers.usd_per_call) applied when usage was recorded, so a
-- price change silently repriced history for reconcile_usage_rollups() (which priced every row at
-- today's price) but not for the rollups, and a wrong price could not be corrected for the usage
-- already recorded. Now a price has a history:
--   * senate.price_periods: per class (llm_tokens: a model; api_calls: a provider) the prices
--     with the time each took effect; the price in force at time t is the period with the
--     latest effective_from <= t. Seeded with today's prices from the beginning of time
--     ('-infinity'), so nothing recorded changes cost by this migration. public.usage_price_periods
--     shows them with their end (valid_until).
--   * llm_models / api_providers keep the current (latest) price, and price_effective_from says
--     since when: the insert trigger prices a usage row at that price when created_at is at or
--     after it (the common case: no extra read), and looks the period up in senate.price_periods
--     only for usage older than the latest change.
--   * usage without a cost is priced at the price in force at its created_at everywhere: the
--     insert trigger (one row and batches: a batch may straddle a change), the rollup trigger
--     for updates and deletes, reconcile_usage_rollups().
--   * set_usage_price(resource_type, priced_name, usd_per_unit, reason, effective_from) adds a
--     price from effective_from on (default and earliest: now() + the policy's
--     usage_max_clock_skew, so that no usage already recorded, nor any being recorded
--     concurrently, changes price; later times announce a change). A direct UPDATE of
--     llm_models.usd_per_token / api_providers.usd_per_call does the same (trigger), recorded
--     with its login.
--   * correct_usage_price(resource_type, priced_name, usd_per_unit, window_start, window_end,
--     reason) says the price during a past window [window_start, window_end) was another: the
--     window's price period is split, and the rollups of the usage in the window are repriced
--     by the difference (cost_total_usd only; resource_usage, append-only, is read, never
--     written). reconcile_usage_rollups() stays clean.
--   * public.price_changes: the ledger of both (who: session_user; why: reason; window, old and
--     new price, usage rows and rollup keys repriced, cost delta), append-only.
-- Bad input writes nothing: S3010 price_invalid (negative, NaN, infinite, at or above 1 USD per
-- token / 100 USD per call), S3011 price_subject_unknown (no such model or provider, or a class
-- without unit prices), S3012 price_period_overlap (a correction window spanning a price
-- change; a new price not after the latest change or before now() + clock skew), S3013
-- price_window_invalid (NULL, infinite, empty, or not over by now), 22023 a reason missing or
-- over 2000 characters.
--
-- Cost: the single-row insert path reads the same row of llm_models / api_providers as
-- before and compares one timestamp more (measured with senate-db bench --size tiny before and
-- after: see the commit). A correction reads the usage rows of its class (no index on
-- created_at: a sequential scan, like reconcile_usage_rollups()) and upserts one rollup row per
-- affected key. Concurrency: a correction and a writer recording usage backdated INTO the
-- corrected window at the same moment may leave that writer's rows at the old price
-- (reconcile_usage_rollups() shows them); price changes of one model or provider are serialized
-- on its llm_models / api_providers row.
--
-- Functions replaced (previous bodies saved for the rollback): senate.account_usage_inserts
-- (0121), senate.roll_up_usage (0042), public.reconcile_usage_rollups (0009).
-- The functions and views of dated prices are in db/definitions/42_prices.sql, the replaced
-- ingest bodies in 40_usage_ingest.sql (saved here for the rollback); the trigger function
-- senate.record_price_writes() is created here too, as CREATE TRIGGER needs it.
SET lock_timeout = '5s';

INSERT INTO senate.error_codes (sqlstate, error_name, meaning, hint) VALUES
  ('S3010', 'price_invalid',
   'A unit price is missing, negative, NaN, infinite, or at or above its bound (1 USD per token, '
   '100 USD per call).',
   'Pass a price >= 0 in USD per unit of the class (per token for llm_tokens, per call for '
   'api_calls).'),
  ('S3011', 'price_subject_unknown',
   'The model (llm_tokens) or provider (api_calls) whose price was given has no llm_models / '
   'api_providers row, or the class has no unit prices (cpu_seconds, storage_gb_hours).',
   'Register the model in llm_models or the provider in api_providers first; only llm_tokens and '
   'api_calls are priced per unit.'),
  ('S3012', 'price_period_overlap',
   'A price change overlaps another: a correction window spans a price change, or a new price '
   'would start before the latest change or before usage may already have been recorded '
   '(now() + usage_max_clock_skew).',
   'Correct each price period separately (SELECT * FROM usage_price_periods); use '
   'correct_usage_price for a time usage may already have been recorded at.'),
  ('S3013', 'price_window_invalid',
   'A price correction window is NULL, infinite, empty (window_start >= window_end) or not over '
   'yet (window_end after now()).',
   'Pass a past window: window_start < window_end <= now().')
ON CONFLICT (sqlstate) DO NOTHING;

-- The current price's start, beside the current price (catalog-only: a constant default).
CALL senate.claim('0162', 'column', 'public.llm_models', 'price_effective_from');
ALTER TABLE public.llm_models
    ADD COLUMN IF NOT EXISTS price_effective_from timestamptz NOT NULL DEFAULT '-infinity';
CALL senate.claim('0162', 'column', 'public.api_providers', 'price_effective_from');
ALTER TABLE public.api_providers
    ADD COLUMN IF NOT EXISTS price_effective_from timestamptz NOT NULL DEFAULT '-infinity';
COMMENT ON COLUMN public.llm_models.price_effective_from IS
  'When usd_per_token took effect (-infinity: always). Usage created at or after it is priced at '
  'usd_per_token; older usage at its period of senate.price_periods (usage_price_periods). Set by '
  'set_usage_price / correct_usage_price / a direct UPDATE of the price (0162).';
COMMENT ON COLUMN public.api_providers.price_effective_from IS
  'When usd_per_call took effect (-infinity: always). Usage created at or after it is priced at '
  'usd_per_call; older usage at its period of senate.price_periods (usage_price_periods). Set by '
  'set_usage_price / correct_usage_price / a direct UPDATE of the price (0162).';
COMMENT ON COLUMN public.llm_models.usd_per_token IS
  'Current blended cost in USD per token (since price_effective_from), used when a usage row '
  'carries no cost; earlier usage is priced by its period (usage_price_periods).';
COMMENT ON COLUMN public.api_providers.usd_per_call IS
  'Current cost in USD per call (since price_effective_from), used when a usage row carries no '
  'cost; earlier usage is priced by its period (usage_price_periods).';

-- The ledger of price changes.
CALL senate.claim('0162', 'table', 'public.price_changes');
CREATE TABLE IF NOT EXISTS public.price_changes (
    change_id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    resource_type        text NOT NULL CHECK (resource_type IN ('llm_tokens', 'api_calls')),
    priced_name          text NOT NULL CHECK (length(priced_name) BETWEEN 1 AND 200),
    change_kind          text NOT NULL CHECK (change_kind IN ('set', 'correction')),
    window_start         timestamptz NOT NULL,
    window_end           timestamptz,
    old_usd_per_unit     numeric NOT NULL,
    new_usd_per_unit     numeric NOT NULL,
    usage_rows_repriced  bigint NOT NULL DEFAULT 0,
    rollup_keys_repriced bigint NOT NULL DEFAULT 0,
    cost_delta_usd       numeric NOT NULL DEFAULT 0,
    reason               text NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
    actor                text NOT NULL DEFAULT session_user,
    recorded_at          timestamptz NOT NULL DEFAULT clock_timestamp(),
    CONSTRAINT price_changes_window_ordered CHECK (window_end IS NULL OR window_end > window_start),
    CONSTRAINT price_changes_set_is_open CHECK ((change_kind = 'set') = (window_end IS NULL))
);
COMMENT ON TABLE public.price_changes IS
  'Ledger of unit-price changes (append-only): set (a new price from window_start on, by '
  'set_usage_price or a direct UPDATE of llm_models / api_providers) and correction (the price '
  'during a past window [window_start, window_end) was another, by correct_usage_price, which '
  'repriced that window''s rollups). Who (actor = session_user) and why (reason).';
COMMENT ON COLUMN public.price_changes.change_id IS 'Surrogate key, in order of recording; the change_id of the price periods it wrote.';
COMMENT ON COLUMN public.price_changes.resource_type IS 'Class priced: llm_tokens (per token, by model) or api_calls (per call, by provider).';
COMMENT ON COLUMN public.price_changes.priced_name IS 'The model (llm_models.model) or provider (api_providers.provider).';
COMMENT ON COLUMN public.price_changes.change_kind IS 'set (a new price from window_start on) or correction (a past window repriced).';
COMMENT ON COLUMN public.price_changes.window_start IS 'Start of the time the price applies to (inclusive).';
COMMENT ON COLUMN public.price_changes.window_end IS 'End of a correction''s window (exclusive); NULL for set (until a later change).';
COMMENT ON COLUMN public.price_changes.old_usd_per_unit IS 'Price in force over the window before the change, in USD per token or per call.';
COMMENT ON COLUMN public.price_changes.new_usd_per_unit IS 'Price in force over the window after the change, in USD per token or per call.';
COMMENT ON COLUMN public.price_changes.usage_rows_repriced IS 'Usage rows without a cost in the window whose rollup cost was repriced (0 for set), in rows.';
COMMENT ON COLUMN public.price_changes.rollup_keys_repriced IS 'Rollup keys (entity, class, day, tier or provider) whose cost changed (0 for set), in keys.';
COMMENT ON COLUMN public.price_changes.cost_delta_usd IS 'Total change of the rollups'' cost, in USD (0 for set).';
COMMENT ON COLUMN public.price_changes.reason IS 'Why the price changed (1 to 2000 characters).';
COMMENT ON COLUMN public.price_changes.actor IS 'Login that made the change (session_user).';
COMMENT ON COLUMN public.price_changes.recorded_at IS 'When the change was recorded (clock time).';
COMMENT ON CONSTRAINT price_changes_window_ordered ON public.price_changes IS 'A correction window ends after it starts.';
COMMENT ON CONSTRAINT price_changes_set_is_open ON public.price_changes IS 'A set is open-ended; a correction has a window end.';

DROP TRIGGER IF EXISTS t10_refuse_price_change_edits ON public.price_changes;
CREATE TRIGGER t10_refuse_price_change_edits
    BEFORE UPDATE OR DELETE ON public.price_changes
    FOR EACH ROW EXECUTE FUNCTION senate.refuse_ledger_change();
COMMENT ON TRIGGER t10_refuse_price_change_edits ON public.price_changes IS
  'The price ledger is append-only: UPDATE and DELETE are refused (S4001).';
DROP TRIGGER IF EXISTS t10_refuse_price_change_truncate ON public.price_changes;
CREATE TRIGGER t10_refuse_price_change_truncate
    BEFORE TRUNCATE ON public.price_changes
    FOR EACH STATEMENT EXECUTE FUNCTION senate.refuse_ledger_change();
COMMENT ON TRIGGER t10_refuse_price_change_truncate ON public.price_changes IS
  'The price ledger is append-only: TRUNCATE is refused (S4001).';

-- The price's history.
CALL senate.claim('0162', 'table', 'senate.price_periods');
CREATE TABLE IF NOT EXISTS senate.price_periods (
    resource_type  text NOT NULL CHECK (resource_type IN ('llm_tokens', 'api_calls')),
    priced_name    text NOT NULL,
    effective_from timestamptz NOT NULL,
    usd_per_unit   numeric NOT NULL,
    change_id      bigint REFERENCES public.price_changes (change_id),
    PRIMARY KEY (resource_type, priced_name, effective_from),
    CONSTRAINT price_periods_price_range CHECK (
        usd_per_unit >= 0
        AND usd_per_unit < CASE resource_type WHEN 'llm_tokens' THEN 1 ELSE 100 END)
);
COMMENT ON TABLE senate.price_periods IS
  'Unit prices with the time each took effect, per class and model (llm_tokens) or provider '
  '(api_calls): the price in force at t is the row with the latest effective_from <= t. Written '
  'only by set_usage_price, correct_usage_price and the llm_models / api_providers triggers; the '
  'latest row of each equals llm_models.usd_per_token / api_providers.usd_per_call and their '
  'price_effective_from. Read it through usage_price_periods.';
COMMENT ON COLUMN senate.price_periods.resource_type IS 'llm_tokens (price per token of a model) or api_calls (price per call of a provider).';
COMMENT ON COLUMN senate.price_periods.priced_name IS 'The model or provider.';
COMMENT ON COLUMN senate.price_periods.effective_from IS 'When this price took effect (-infinity: from the beginning); it lasts until the next row''s effective_from.';
COMMENT ON COLUMN senate.price_periods.usd_per_unit IS 'Price in USD per token or per call (>= 0, below 1 per token and 100 per call).';
COMMENT ON COLUMN senate.price_periods.change_id IS 'The price_changes entry that wrote it; NULL for the prices seeded by 0162 or a new model''s first price.';
COMMENT ON CONSTRAINT price_periods_price_range ON senate.price_periods IS
  'A unit price is >= 0 and below 1 USD per token or 100 USD per call (as llm_models / api_providers).';
REVOKE ALL ON senate.price_periods FROM PUBLIC;

-- Today's prices, from the beginning: nothing already recorded changes cost.
INSERT INTO senate.price_periods (resource_type, priced_name, effective_from, usd_per_unit)
SELECT 'llm_tokens', m.model, m.price_effective_from, m.usd_per_token
FROM public.llm_models AS m
UNION ALL
SELECT 'api_calls', p.provider, p.price_effective_from, p.usd_per_call
FROM public.api_providers AS p
ORDER BY 1, 2
ON CONFLICT DO NOTHING;

-- Direct writes of llm_models / api_providers keep the history: a new model or provider's
-- first price, and a direct UPDATE of the price as a new price from now() + clock skew.
CREATE OR REPLACE FUNCTION senate.record_price_writes()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_class text := CASE TG_TABLE_NAME WHEN 'llm_models' THEN 'llm_tokens' ELSE 'api_calls' END;
    v_name_key text := CASE TG_TABLE_NAME WHEN 'llm_models' THEN 'model' ELSE 'provider' END;
    v_price_key text := CASE TG_TABLE_NAME WHEN 'llm_models' THEN 'usd_per_token'
                                           ELSE 'usd_per_call' END;
    v_name text := pg_catalog.to_jsonb(NEW) ->> v_name_key;
    v_price numeric := (pg_catalog.to_jsonb(NEW) ->> v_price_key)::numeric;
    v_old_price numeric;
    v_from timestamptz;
    v_change bigint;
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO senate.price_periods (resource_type, priced_name, effective_from, usd_per_unit)
        VALUES (v_class, v_name, NEW.price_effective_from, v_price)
        ON CONFLICT DO NOTHING;
        RETURN NEW;
    END IF;
    -- Written by set_usage_price / correct_usage_price: the row is the latest period.
    IF EXISTS (SELECT 1 FROM senate.price_periods AS q
               WHERE q.resource_type = v_class AND q.priced_name = v_name
                 AND q.effective_from = NEW.price_effective_from AND q.usd_per_unit = v_price)
       AND NOT EXISTS (SELECT 1 FROM senate.price_periods AS q
                       WHERE q.resource_type = v_class AND q.priced_name = v_name
                         AND q.effective_from > NEW.price_effective_from) THEN
        RETURN NEW;
    END IF;
    v_old_price := (pg_catalog.to_jsonb(OLD) ->> v_price_key)::numeric;
    IF v_price IS NOT DISTINCT FROM v_old_price THEN
        NEW.price_effective_from := OLD.price_effective_from;  -- only the function moves it
        RETURN NEW;
    END IF;
    -- A direct UPDATE of the price: a new price from the earliest time no recorded usage has.
    v_from := greatest(
        pg_catalog.now() + coalesce((SELECT e.usage_max_clock_skew FROM public.economics_policy AS e
                                     WHERE e.is_active), interval '10 minutes'),
        OLD.price_effective_from);
    INSERT INTO public.price_changes
        (resource_type, priced_name, change_kind, window_start, old_usd_per_unit,
         new_usd_per_unit, reason)
    VALUES (v_class, v_name, 'set', v_from, v_old_price, v_price,
            pg_catalog.format('direct UPDATE of %s.%s', TG_TABLE_NAME, v_price_key))
    RETURNING change_id INTO v_change;
    INSERT INTO senate.price_periods AS q
        (resource_type, priced_name, effective_from, usd_per_unit, change_id)
    VALUES (v_class, v_name, v_from, v_price, v_change)
    ON CONFLICT (resource_type, priced_name, effective_from)
    DO UPDATE SET usd_per_unit = excluded.usd_per_unit, change_id = excluded.change_id;
    NEW.price_effective_from := v_from;
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION senate.record_price_writes() IS
  'Row trigger on llm_models and api_providers (BEFORE INSERT OR UPDATE): a new model or '
  'provider''s price becomes its first period in senate.price_periods; a direct UPDATE of the '
  'price (not made by set_usage_price / correct_usage_price) becomes a new price from now() + '
  'usage_max_clock_skew (no recorded usage changes price), with a price_changes entry naming '
  'the login; price_effective_from is set by these only.';

DROP TRIGGER IF EXISTS t40_record_price_writes ON public.llm_models;
CREATE TRIGGER t40_record_price_writes
    BEFORE INSERT OR UPDATE ON public.llm_models
    FOR EACH ROW EXECUTE FUNCTION senate.record_price_writes();
COMMENT ON TRIGGER t40_record_price_writes ON public.llm_models IS
  'Keeps the price history (senate.price_periods) and price_changes for direct writes of a model''s price.';
DROP TRIGGER IF EXISTS t40_record_price_writes ON public.api_providers;
CREATE TRIGGER t40_record_price_writes
    BEFORE INSERT OR UPDATE ON public.api_providers
    FOR EACH ROW EXECUTE FUNCTION senate.record_price_writes();
COMMENT ON TRIGGER t40_record_price_writes ON public.api_providers IS
  'Keeps the price history (senate.price_periods) and price_changes for direct writes of a provider''s price.';

-- Shared checks of the two price functions; returns the current price and its start, with the
-- subject's row locked (price changes of one model or provider are serialized).
-- Usage priced at the price in force at its time: the insert trigger, the rollup trigger for
-- updates and deletes, the reconciliation.
DO $$
BEGIN
    PERFORM senate.save_definition('0162', 'senate.account_usage_inserts()');
    PERFORM senate.save_definition('0162', 'senate.roll_up_usage()');
    PERFORM senate.save_definition('0162', 'public.reconcile_usage_rollups()');
END;
$$;

INSERT INTO senate.function_access
    (function_name, granted_to, security_definer, revoke_from_public, description) VALUES
  ('public.set_usage_price', '{senate_admin}', true, true,
   'Administrators: a new unit price of a model or provider, from now on.'),
  ('public.correct_usage_price', '{senate_admin}', true, true,
   'Administrators: correct a past window''s unit price and reprice its rollups.')
ON CONFLICT (function_name) DO NOTHING;

INSERT INTO senate.table_access (relation_name, role_name, privilege) VALUES
  ('public.usage_price_periods', 'senate_reader', 'SELECT'),
  ('public.usage_price_periods', 'senate_owner', 'SELECT'),
  ('public.usage_price_periods', 'senate_admin', 'SELECT'),
  ('public.price_changes', 'senate_reader', 'SELECT'),
  ('public.price_changes', 'senate_admin', 'SELECT'),
  ('public.price_changes', 'senate_owner', 'SELECT'),
  ('public.price_changes', 'senate_owner', 'INSERT'),
  ('senate.price_periods', 'senate_owner', 'SELECT'),
  ('senate.price_periods', 'senate_owner', 'INSERT'),
  ('senate.price_periods', 'senate_owner', 'UPDATE')
ON CONFLICT DO NOTHING;

DO $$
BEGIN
    PERFORM senate.grant_role_privileges();
END;
$$;

CALL senate.settle_comments('0162');
