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

CREATE OR REPLACE FUNCTION senate.usage_price_at(
    p_resource_type text, p_priced_name text, p_at timestamptz)
RETURNS numeric
LANGUAGE sql STABLE STRICT PARALLEL SAFE
AS $$
    SELECT q.usd_per_unit
    FROM senate.price_periods AS q
    WHERE q.resource_type = p_resource_type AND q.priced_name = p_priced_name
      AND q.effective_from <= p_at
    ORDER BY q.effective_from DESC
    LIMIT 1
$$;
COMMENT ON FUNCTION senate.usage_price_at(text, text, timestamptz) IS
  'The unit price (USD per token or per call) of a model (llm_tokens) or provider (api_calls) in '
  'force at p_at: one primary-key probe of senate.price_periods; NULL when none. Called only for '
  'usage older than the current price''s price_effective_from.';

CREATE OR REPLACE VIEW public.usage_price_periods AS
SELECT q.resource_type,
       q.priced_name,
       CASE q.resource_type WHEN 'llm_tokens' THEN 'USD per token' ELSE 'USD per call' END
           AS unit,
       q.effective_from AS valid_from,
       lead(q.effective_from) OVER w AS valid_until,
       q.usd_per_unit,
       q.change_id
FROM senate.price_periods AS q
WINDOW w AS (PARTITION BY q.resource_type, q.priced_name ORDER BY q.effective_from);
COMMENT ON VIEW public.usage_price_periods IS
  'The unit prices of models (llm_tokens) and providers (api_calls) over time: each price with '
  'the time it took effect and the time the next one did. Usage without a cost is priced at the '
  'period containing its created_at.';
COMMENT ON COLUMN public.usage_price_periods.resource_type IS 'llm_tokens (a model''s price per token) or api_calls (a provider''s price per call).';
COMMENT ON COLUMN public.usage_price_periods.priced_name IS 'The model or provider.';
COMMENT ON COLUMN public.usage_price_periods.unit IS 'Unit of usd_per_unit: USD per token or USD per call.';
COMMENT ON COLUMN public.usage_price_periods.valid_from IS 'When the price took effect (inclusive; -infinity: from the beginning).';
COMMENT ON COLUMN public.usage_price_periods.valid_until IS 'When the next price took effect (exclusive); NULL for the current price.';
COMMENT ON COLUMN public.usage_price_periods.usd_per_unit IS 'The price, in unit.';
COMMENT ON COLUMN public.usage_price_periods.change_id IS 'The price_changes entry that set it (NULL: the price before dated prices, or a new model''s first price).';

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
CREATE OR REPLACE FUNCTION senate.lock_priced_subject(
    p_function text, p_resource_type text, p_priced_name text, p_usd_per_unit numeric,
    p_reason text, OUT current_price numeric, OUT current_from timestamptz)
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF p_resource_type IS NULL OR p_resource_type NOT IN ('llm_tokens', 'api_calls') THEN
        RAISE EXCEPTION USING ERRCODE = 'S3011', COLUMN = 'resource_type',
            MESSAGE = pg_catalog.format('%s: resource_type %s has no unit prices', p_function,
                                        coalesce(pg_catalog.quote_literal(pg_catalog.left(p_resource_type, 80)), 'NULL')),
            HINT = 'Only llm_tokens (per token, by model) and api_calls (per call, by provider) are priced per unit.';
    END IF;
    IF p_usd_per_unit IS NULL OR p_usd_per_unit < 0 OR p_usd_per_unit IN ('NaN', 'Infinity')
       OR p_usd_per_unit >= (CASE p_resource_type WHEN 'llm_tokens' THEN 1 ELSE 100 END) THEN
        RAISE EXCEPTION USING ERRCODE = 'S3010', COLUMN = 'usd_per_unit',
            MESSAGE = pg_catalog.format('%s: usd_per_unit %s is not a price of %s', p_function,
                                        coalesce(p_usd_per_unit::text, 'NULL'), p_resource_type),
            DETAIL = CASE p_resource_type WHEN 'llm_tokens'
                          THEN 'A price per token is >= 0 and below 1 USD.'
                          ELSE 'A price per call is >= 0 and below 100 USD.' END,
            HINT = (SELECT e.hint FROM senate.error_codes AS e WHERE e.sqlstate = 'S3010');
    END IF;
    IF p_reason IS NULL OR pg_catalog.length(pg_catalog.btrim(p_reason)) NOT BETWEEN 1 AND 2000 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', COLUMN = 'reason',
            MESSAGE = pg_catalog.format('%s: reason must say why the price changes (1 to 2000 characters)',
                                        p_function);
    END IF;
    IF p_resource_type = 'llm_tokens' THEN
        SELECT m.usd_per_token, m.price_effective_from INTO current_price, current_from
        FROM public.llm_models AS m WHERE m.model = p_priced_name FOR NO KEY UPDATE;
    ELSE
        SELECT a.usd_per_call, a.price_effective_from INTO current_price, current_from
        FROM public.api_providers AS a WHERE a.provider = p_priced_name FOR NO KEY UPDATE;
    END IF;
    IF NOT FOUND THEN
        RAISE EXCEPTION USING ERRCODE = 'S3011', COLUMN = 'priced_name',
            MESSAGE = pg_catalog.format('%s: priced_name %s is not a %s in %s', p_function,
                                        coalesce(pg_catalog.quote_literal(pg_catalog.left(p_priced_name, 80)), 'NULL'),
                                        CASE p_resource_type WHEN 'llm_tokens' THEN 'model' ELSE 'provider' END,
                                        CASE p_resource_type WHEN 'llm_tokens' THEN 'llm_models' ELSE 'api_providers' END),
            HINT = (SELECT e.hint FROM senate.error_codes AS e WHERE e.sqlstate = 'S3011');
    END IF;
END;
$$;
COMMENT ON FUNCTION senate.lock_priced_subject(text, text, text, numeric, text) IS
  'Checks of set_usage_price / correct_usage_price: class with unit prices (S3011), price (S3010), '
  'reason (22023), the model or provider exists (S3011); locks its llm_models / api_providers row '
  'and returns its current price and price_effective_from.';

CREATE OR REPLACE FUNCTION public.set_usage_price(
    resource_type text, priced_name text, usd_per_unit numeric, reason text,
    effective_from timestamptz DEFAULT NULL)
RETURNS public.price_changes
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s'
AS $$
#variable_conflict use_column
DECLARE
    v_current numeric;
    v_current_from timestamptz;
    v_earliest timestamptz;
    v_from timestamptz;
    v_change public.price_changes;
BEGIN
    SELECT s.current_price, s.current_from INTO v_current, v_current_from
    FROM senate.lock_priced_subject('set_usage_price', $1, $2, $3, $4) AS s;
    v_earliest := pg_catalog.now()
                  + coalesce((SELECT e.usage_max_clock_skew FROM public.economics_policy AS e
                              WHERE e.is_active), interval '10 minutes');
    v_from := coalesce($5, v_earliest);
    IF NOT pg_catalog.isfinite(v_from) OR v_from < v_earliest OR v_from <= v_current_from THEN
        RAISE EXCEPTION USING ERRCODE = 'S3012', COLUMN = 'effective_from',
            MESSAGE = pg_catalog.format(
                'set_usage_price: effective_from %s is too early for a new price of %s', v_from, $2),
            DETAIL = pg_catalog.format(
                'It must start after the latest price change (%s) and no earlier than now() + '
                'the policy''s usage_max_clock_skew (%s), when no recorded usage can be.',
                v_current_from, v_earliest),
            HINT = 'Omit effective_from for the earliest time; correct_usage_price reprices a past window.';
    END IF;
    INSERT INTO public.price_changes AS c
        (resource_type, priced_name, change_kind, window_start, old_usd_per_unit,
         new_usd_per_unit, reason)
    VALUES ($1, $2, 'set', v_from, v_current, $3, pg_catalog.btrim($4))
    RETURNING c.* INTO v_change;
    INSERT INTO senate.price_periods
        (resource_type, priced_name, effective_from, usd_per_unit, change_id)
    VALUES ($1, $2, v_from, $3, v_change.change_id);
    IF $1 = 'llm_tokens' THEN
        UPDATE public.llm_models AS m SET usd_per_token = $3, price_effective_from = v_from
        WHERE m.model = $2;
    ELSE
        UPDATE public.api_providers AS a SET usd_per_call = $3, price_effective_from = v_from
        WHERE a.provider = $2;
    END IF;
    RETURN v_change;
END;
$$;
COMMENT ON FUNCTION public.set_usage_price(text, text, numeric, text, timestamptz) IS
  'A new unit price of a model (resource_type llm_tokens, USD per token) or provider (api_calls, '
  'USD per call) from effective_from on (default and earliest: now() + '
  'economics_policy.usage_max_clock_skew, so no usage already recorded changes price; a later '
  'time announces a change). Records the price period and a price_changes entry (set, who = '
  'session_user, why = reason) and makes it the current price. Returns the entry. Errors: S3010 '
  'bad price, S3011 unknown model or provider or class, S3012 effective_from too early or not '
  'after the latest change, 22023 reason missing or over 2000 characters.';

CREATE OR REPLACE FUNCTION public.correct_usage_price(
    resource_type text, priced_name text, usd_per_unit numeric, window_start timestamptz,
    window_end timestamptz, reason text)
RETURNS public.price_changes
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
SET lock_timeout = '5s'
AS $$
#variable_conflict use_column
DECLARE
    v_current numeric;
    v_current_from timestamptz;
    v_period_from timestamptz;
    v_old numeric;
    v_next timestamptz;
    v_rows bigint;
    v_keys bigint;
    v_delta numeric;
    v_change public.price_changes;
    v_shard smallint;
    v_jit text := pg_catalog.current_setting('jit');
BEGIN
    SELECT s.current_price, s.current_from INTO v_current, v_current_from
    FROM senate.lock_priced_subject('correct_usage_price', $1, $2, $3, $6) AS s;
    IF $4 IS NULL OR $5 IS NULL OR NOT pg_catalog.isfinite($4) OR NOT pg_catalog.isfinite($5)
       OR $4 >= $5 OR $5 > pg_catalog.now() THEN
        RAISE EXCEPTION USING ERRCODE = 'S3013',
            COLUMN = CASE WHEN $4 IS NULL OR NOT pg_catalog.isfinite($4) THEN 'window_start'
                          ELSE 'window_end' END,
            MESSAGE = pg_catalog.format(
                'correct_usage_price: window_start %s .. window_end %s is not a past window',
                coalesce($4::text, 'NULL'), coalesce($5::text, 'NULL')),
            HINT = (SELECT e.hint FROM senate.error_codes AS e WHERE e.sqlstate = 'S3013');
    END IF;
    -- The price period holding the window: it may not span a price change.
    SELECT q.effective_from, q.usd_per_unit INTO v_period_from, v_old
    FROM senate.price_periods AS q
    WHERE q.resource_type = $1 AND q.priced_name = $2 AND q.effective_from <= $4
    ORDER BY q.effective_from DESC LIMIT 1;
    IF NOT FOUND THEN
        v_old := v_current;  -- no history (a row written around the triggers): the current price
    END IF;
    SELECT min(q.effective_from) INTO v_next
    FROM senate.price_periods AS q
    WHERE q.resource_type = $1 AND q.priced_name = $2 AND q.effective_from > $4;
    IF v_next IS NOT NULL AND $5 > v_next THEN
        RAISE EXCEPTION USING ERRCODE = 'S3012', COLUMN = 'window_end',
            MESSAGE = pg_catalog.format(
                'correct_usage_price: window_start %s .. window_end %s of %s spans the price '
                'change at %s', $4, $5, $2, v_next),
            DETAIL = 'A correction replaces the price of one price period (or part of it).',
            HINT = (SELECT e.hint FROM senate.error_codes AS e WHERE e.sqlstate = 'S3012');
    END IF;
    IF v_old = $3 THEN
        RETURN NULL;  -- that was the price: nothing to correct, nothing written
    END IF;
    PERFORM pg_catalog.set_config('jit', 'off', true);
    v_shard := senate.usage_rollup_shard();

    -- The window's usage rows without a cost, repriced by the difference, into the rollups
    -- (the shard this transaction holds, like the ingest trigger); resource_usage is read only.
    WITH affected AS (
        SELECT u.entity_type::text AS entity_type, u.entity_id::text AS entity_id,
               u.resource_type::text AS resource_type,
               (u.created_at::timestamptz AT TIME ZONE senate.policy_time_zone())::date
                   AS usage_day,
               CASE $1 WHEN 'llm_tokens' THEN coalesce(m.model_tier, 'unknown')
                       ELSE u.provider::text END AS resource_subclass,
               sum(u.amount::numeric) AS amount,
               count(*) AS usage_rows
        FROM public.resource_usage AS u
        LEFT JOIN public.llm_models AS m ON $1 = 'llm_tokens' AND m.model = u.model::text
        WHERE u.resource_type::text = $1
          AND (CASE $1 WHEN 'llm_tokens' THEN u.model::text ELSE u.provider::text END) = $2
          AND u.cost IS NULL
          AND u.created_at::timestamptz >= $4 AND u.created_at::timestamptz < $5
          AND u.entity_type IS NOT NULL AND u.entity_id IS NOT NULL AND u.amount IS NOT NULL
        GROUP BY 1, 2, 3, 4, 5
    ), repriced AS (
        INSERT INTO senate.usage_rollups AS r
            (entity_type, entity_id, resource_type, usage_day, resource_subclass, shard,
             amount_total, cost_total_usd, usage_rows)
        SELECT a.entity_type, a.entity_id, a.resource_type, a.usage_day, a.resource_subclass,
               v_shard, 0, a.amount * ($3 - v_old), 0
        FROM affected AS a
        ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (entity_type, entity_id, resource_type, usage_day, resource_subclass, shard)
        DO UPDATE SET cost_total_usd = r.cost_total_usd + excluded.cost_total_usd
        RETURNING 1
    )
    SELECT coalesce(sum(a.usage_rows), 0), count(*), coalesce(sum(a.amount * ($3 - v_old)), 0)
    INTO v_rows, v_keys, v_delta
    FROM affected AS a;

    INSERT INTO public.price_changes AS c
        (resource_type, priced_name, change_kind, window_start, window_end, old_usd_per_unit,
         new_usd_per_unit, usage_rows_repriced, rollup_keys_repriced, cost_delta_usd, reason)
    VALUES ($1, $2, 'correction', $4, $5, v_old, $3, v_rows, v_keys, v_delta,
            pg_catalog.btrim($6))
    RETURNING c.* INTO v_change;

    -- The period is split: [window_start, window_end) at the corrected price, then the old
    -- price again until the next change.
    INSERT INTO senate.price_periods AS q
        (resource_type, priced_name, effective_from, usd_per_unit, change_id)
    VALUES ($1, $2, $4, $3, v_change.change_id)
    ON CONFLICT (resource_type, priced_name, effective_from)
    DO UPDATE SET usd_per_unit = excluded.usd_per_unit, change_id = excluded.change_id;
    IF v_next IS NULL OR $5 < v_next THEN
        INSERT INTO senate.price_periods
            (resource_type, priced_name, effective_from, usd_per_unit, change_id)
        VALUES ($1, $2, $5, v_old, v_change.change_id);
    END IF;
    -- A window in the current period: the current price now starts at window_end.
    IF v_next IS NULL THEN
        IF $1 = 'llm_tokens' THEN
            UPDATE public.llm_models AS m SET price_effective_from = $5 WHERE m.model = $2;
        ELSE
            UPDATE public.api_providers AS a SET price_effective_from = $5 WHERE a.provider = $2;
        END IF;
    END IF;
    PERFORM pg_catalog.set_config('jit', v_jit, true);
    RETURN v_change;
END;
$$;
COMMENT ON FUNCTION public.correct_usage_price(text, text, numeric, timestamptz, timestamptz, text) IS
  'A price correction: the unit price of a model (llm_tokens) or provider (api_calls) during the '
  'past window [window_start, window_end) was usd_per_unit. Splits that price period '
  '(usage_price_periods), reprices the cost of the rollups of the usage without a cost created '
  'in the window by the difference (resource_usage, append-only, is only read), and records a '
  'price_changes entry (correction: who = session_user, why = reason, usage rows and rollup keys '
  'repriced, cost delta in USD). reconcile_usage_rollups() stays clean. Returns the entry, or '
  'NULL when that was already the price (nothing written). Reads the usage rows of the class (a '
  'sequential scan). Errors: S3010 bad price, S3011 unknown model or provider or class, S3012 the '
  'window spans a price change, S3013 window NULL, infinite, empty or not over, 22023 reason '
  'missing or over 2000 characters.';

-- Usage priced at the price in force at its time: the insert trigger, the rollup trigger for
-- updates and deletes, the reconciliation.
DO $$
BEGIN
    PERFORM senate.save_definition('0162', 'senate.account_usage_inserts()');
    PERFORM senate.save_definition('0162', 'senate.roll_up_usage()');
    PERFORM senate.save_definition('0162', 'public.reconcile_usage_rollups()');
END;
$$;

CREATE OR REPLACE FUNCTION senate.account_usage_inserts()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    v_check_references boolean := TG_NARGS > 0 AND TG_ARGV[0] = 'check_references';
    v record;
    v_bad record;
    v_shard smallint;
BEGIN
    -- One query reads the statement's first row with everything it needs (kind and class
    -- looked up and locked, prices, settings) and whether the statement holds more rows.
    SELECT u.entity_type::text AS entity_type, u.entity_id::text AS entity_id,
           u.resource_type::text AS resource_type, u.model::text AS model,
           u.provider::text AS provider, u.amount::numeric AS amount, u.cost::numeric AS cost_usd,
           (u.created_at::timestamptz AT TIME ZONE coalesce(pol.time_zone, 'UTC'))::date
               AS usage_day,
           u.created_at::timestamptz AS created_at,
           -- Bounds (senate.value_bounds), tested whatever strict validation says.
           coalesce(pg_catalog.abs(u.amount::numeric) > 1e15
                    OR pg_catalog.scale(u.amount::numeric) > 18, false) AS amount_out_of_range,
           coalesce(pg_catalog.abs(u.cost::numeric) > 1e9
                    OR pg_catalog.scale(u.cost::numeric) > 18, false) AS cost_out_of_range,
           u.corrects_usage_id IS NULL
               AND coalesce(u.created_at::timestamptz
                                > pg_catalog.clock_timestamp()
                                  + coalesce(pol.usage_max_clock_skew, interval '10 minutes')
                            OR u.created_at::timestamptz
                                < pg_catalog.now() - coalesce(pol.usage_max_age, interval '10 years'),
                            false) AS created_at_out_of_window,
           CASE WHEN pg_catalog.length(u.provider::text) > 200
                    THEN 'provider:' || pg_catalog.length(u.provider::text) || ' characters:200'
                WHEN pg_catalog.octet_length(u.metadata::text) > 16384
                    THEN 'metadata:' || pg_catalog.octet_length(u.metadata::text)
                         || ' bytes:16384 bytes'
                WHEN pg_catalog.length(u.entity_id::text) > 200
                    THEN 'entity_id:' || pg_catalog.length(u.entity_id::text) || ' characters:200'
                WHEN pg_catalog.length(u.model::text) > 200
                    THEN 'model:' || pg_catalog.length(u.model::text) || ' characters:200'
                WHEN pg_catalog.length(u.artifact_type::text) > 200
                    THEN 'artifact_type:' || pg_catalog.length(u.artifact_type::text)
                         || ' characters:200'
                WHEN pg_catalog.length(u.artifact_id::text) > 200
                    THEN 'artifact_id:' || pg_catalog.length(u.artifact_id::text)
                         || ' characters:200'
                WHEN pg_catalog.length(u.analysis_id::text) > 200
                    THEN 'analysis_id:' || pg_catalog.length(u.analysis_id::text)
                         || ' characters:200'
                WHEN pg_catalog.length(u.task_id::text) > 200
                    THEN 'task_id:' || pg_catalog.length(u.task_id::text) || ' characters:200'
                WHEN pg_catalog.length(u.idempotency_key::text) > 200
                    THEN 'idempotency_key:' || pg_catalog.length(u.idempotency_key::text)
                         || ' characters:200'
                WHEN pg_catalog.length(u.correction_reason::text) > 2000
                    THEN 'correction_reason:' || pg_catalog.length(u.correction_reason::text)
                         || ' characters:2000'
           END AS too_large,
           u.corrects_usage_id IS NULL
               AND (u.amount::numeric < 0 OR u.amount::numeric IN ('NaN', 'Infinity'))
               AS bad_amount,
           m.model IS NOT NULL AS model_known, m.model_tier, m.usd_per_token,
           m.price_effective_from AS model_price_from,
           p.provider IS NOT NULL AS provider_known, p.usd_per_call,
           p.price_effective_from AS provider_price_from,
           et.known IS NOT NULL AS entity_type_known,
           rt.known IS NOT NULL AS resource_type_known,
           coalesce((SELECT s.usage_strict_validation FROM senate.settings AS s), true)
               AS strict_validation,
           pol.time_zone, pol.usage_max_clock_skew, pol.usage_max_age,
           -- one row or more: stops reading after two, so a batch is not counted in full
           (SELECT pg_catalog.count(*) FROM (SELECT FROM new_rows LIMIT 2) AS n) AS statement_rows
    INTO v
    FROM new_rows AS u
    LEFT JOIN LATERAL (SELECT e.time_zone, e.usage_max_clock_skew, e.usage_max_age
                       FROM public.economics_policy AS e WHERE e.is_active) AS pol ON true
    LEFT JOIN public.llm_models AS m ON m.model = u.model::text
    LEFT JOIN public.api_providers AS p ON p.provider = u.provider::text
    -- The kind and class are locked FOR KEY SHARE, as a foreign key would: a kind or class
    -- cannot be removed under a writer that names it.
    LEFT JOIN LATERAL (SELECT true AS known FROM public.entity_types AS e
                       WHERE e.entity_type = u.entity_type::text FOR KEY SHARE) AS et ON true
    LEFT JOIN LATERAL (SELECT true AS known FROM public.resource_types AS t
                       WHERE t.resource_type = u.resource_type::text FOR KEY SHARE) AS rt ON true
    LIMIT 1;
    IF NOT FOUND THEN
        RETURN NULL;  -- an INSERT of no rows
    END IF;

    IF v.statement_rows = 1 THEN
        -- The common case, a service recording one row: checked here, one upsert.
        IF v_check_references AND v.entity_type IS NOT NULL AND NOT v.entity_type_known THEN
            PERFORM senate.raise_usage_insert_error('missing_entity_type', v.entity_type);
        ELSIF v_check_references AND v.resource_type IS NOT NULL
              AND NOT v.resource_type_known THEN
            PERFORM senate.raise_usage_insert_error('missing_resource_type', v.resource_type);
        ELSIF v.strict_validation AND v.bad_amount THEN
            PERFORM senate.raise_usage_insert_error('bad_amount', v.amount::text);
        ELSIF v.amount_out_of_range THEN
            PERFORM senate.raise_usage_insert_error('amount_out_of_range', v.amount::text);
        ELSIF v.cost_out_of_range THEN
            PERFORM senate.raise_usage_insert_error('cost_out_of_range', v.cost_usd::text);
        ELSIF v.created_at_out_of_window THEN
            PERFORM senate.raise_usage_insert_error('created_at_out_of_window', v.created_at::text);
        ELSIF v.too_large IS NOT NULL THEN
            PERFORM senate.raise_usage_insert_error('too_large', v.too_large);
        ELSIF v.strict_validation THEN
            IF NOT v.entity_type_known THEN
                PERFORM senate.raise_usage_insert_error('bad_entity_type', v.entity_type);
            ELSIF NOT v.resource_type_known THEN
                PERFORM senate.raise_usage_insert_error('bad_resource_type', v.resource_type);
            ELSIF v.resource_type = 'llm_tokens' AND v.model IS NOT NULL
                  AND NOT v.model_known THEN
                PERFORM senate.raise_usage_insert_error('bad_model', v.model);
            ELSIF v.resource_type = 'api_calls' AND v.provider IS NOT NULL
                  AND NOT v.provider_known THEN
                PERFORM senate.raise_usage_insert_error('bad_provider', v.provider);
            END IF;
        END IF;
        IF v.entity_type IS NULL OR v.entity_id IS NULL OR v.resource_type IS NULL
           OR v.usage_day IS NULL OR v.amount IS NULL THEN
            RETURN NULL;  -- not countable (a deployed table without NOT NULLs)
        END IF;
        -- The price in force at created_at (0162): the current price just read, unless the
        -- usage is older than the latest price change; then one probe of the price's history.
        IF v.cost_usd IS NULL AND v.created_at < v.model_price_from THEN
            v.usd_per_token := coalesce(
                senate.usage_price_at('llm_tokens', v.model, v.created_at), v.usd_per_token);
        END IF;
        IF v.cost_usd IS NULL AND v.created_at < v.provider_price_from THEN
            v.usd_per_call := coalesce(
                senate.usage_price_at('api_calls', v.provider, v.created_at), v.usd_per_call);
        END IF;
        INSERT INTO senate.usage_rollups AS r
            (entity_type, entity_id, resource_type, usage_day, resource_subclass, shard,
             amount_total, cost_total_usd, usage_rows)
        VALUES (v.entity_type, v.entity_id, v.resource_type, v.usage_day,
                CASE v.resource_type
                    WHEN 'llm_tokens' THEN coalesce(v.model_tier, 'unknown')
                    WHEN 'api_calls' THEN coalesce(v.provider, 'other')
                    ELSE '' END,
                senate.usage_rollup_shard(),
                v.amount,
                coalesce(v.cost_usd,
                         CASE v.resource_type
                             WHEN 'llm_tokens' THEN v.amount * v.usd_per_token
                             WHEN 'api_calls' THEN v.amount * v.usd_per_call END,
                         0),
                1)
        ON CONFLICT (entity_type, entity_id, resource_type, usage_day, resource_subclass, shard)
        DO UPDATE SET amount_total = r.amount_total + excluded.amount_total,
                      cost_total_usd = r.cost_total_usd + excluded.cost_total_usd,
                      usage_rows = r.usage_rows + excluded.usage_rows;
        RETURN NULL;
    END IF;

    v_shard := senate.usage_rollup_shard();
    -- A batch (multi-row INSERT, INSERT ... SELECT, COPY): one statement sums the rows by
    -- rollup key, checks and locks each kind and class once, upserts the rollups in key
    -- order and returns the first invalid group, if any (raising then rolls it all back).
    WITH g AS MATERIALIZED (
        SELECT u.entity_type::text AS entity_type, u.entity_id::text AS entity_id,
               u.resource_type::text AS resource_type,
               (u.created_at::timestamptz AT TIME ZONE coalesce(v.time_zone, 'UTC'))::date
                   AS usage_day,
               u.model::text AS model, u.provider::text AS provider,
               sum(u.amount::numeric) AS amount,
               sum(u.cost::numeric) FILTER (WHERE u.amount IS NOT NULL) AS cost_usd,
               sum(u.amount::numeric) FILTER (WHERE u.cost IS NULL) AS unpriced_amount,
               -- Rows without a cost, priced row by row at the price in force at created_at
               -- (0162): a batch may straddle a price change.
               sum(u.amount::numeric
                   * CASE u.resource_type::text
                         WHEN 'llm_tokens' THEN CASE WHEN pm.model IS NULL THEN NULL
                             WHEN u.created_at::timestamptz >= pm.price_effective_from THEN pm.usd_per_token
                             ELSE coalesce(senate.usage_price_at('llm_tokens', pm.model, u.created_at::timestamptz),
                                           pm.usd_per_token) END
                         WHEN 'api_calls' THEN CASE WHEN pp.provider IS NULL THEN NULL
                             WHEN u.created_at::timestamptz >= pp.price_effective_from THEN pp.usd_per_call
                             ELSE coalesce(senate.usage_price_at('api_calls', pp.provider, u.created_at::timestamptz),
                                           pp.usd_per_call) END END)
                   FILTER (WHERE u.cost IS NULL) AS unpriced_cost,
               count(u.amount) AS usage_rows,
               min(u.amount::numeric) FILTER (
                   WHERE u.corrects_usage_id IS NULL
                     AND (u.amount::numeric < 0 OR u.amount::numeric IN ('NaN', 'Infinity'))
               ) AS bad_amount,
               -- Bounds (senate.value_bounds), tested whatever strict validation says.
               pg_catalog.min(u.amount::numeric) FILTER (
                   WHERE pg_catalog.abs(u.amount::numeric) > 1e15
                      OR pg_catalog.scale(u.amount::numeric) > 18) AS amount_out_of_range,
               pg_catalog.min(u.cost::numeric) FILTER (
                   WHERE pg_catalog.abs(u.cost::numeric) > 1e9
                      OR pg_catalog.scale(u.cost::numeric) > 18) AS cost_out_of_range,
               pg_catalog.min(u.created_at::timestamptz) FILTER (
                   WHERE u.corrects_usage_id IS NULL
                     AND (u.created_at::timestamptz
                              > pg_catalog.clock_timestamp()
                                + coalesce(v.usage_max_clock_skew, interval '10 minutes')
                          OR u.created_at::timestamptz
                              < pg_catalog.now() - coalesce(v.usage_max_age, interval '10 years')))
                   AS created_at_out_of_window,
               pg_catalog.min(CASE
                   WHEN pg_catalog.length(u.provider::text) > 200
                       THEN 'provider:' || pg_catalog.length(u.provider::text) || ' characters:200'
                   WHEN pg_catalog.octet_length(u.metadata::text) > 16384
                       THEN 'metadata:' || pg_catalog.octet_length(u.metadata::text)
                            || ' bytes:16384 bytes'
                   WHEN pg_catalog.length(u.entity_id::text) > 200
                       THEN 'entity_id:' || pg_catalog.length(u.entity_id::text)
                            || ' characters:200'
                   WHEN pg_catalog.length(u.model::text) > 200
                       THEN 'model:' || pg_catalog.length(u.model::text) || ' characters:200'
                   WHEN pg_catalog.length(u.artifact_type::text) > 200
                       THEN 'artifact_type:' || pg_catalog.length(u.artifact_type::text)
                            || ' characters:200'
                   WHEN pg_catalog.length(u.artifact_id::text) > 200
                       THEN 'artifact_id:' || pg_catalog.length(u.artifact_id::text)
                            || ' characters:200'
                   WHEN pg_catalog.length(u.analysis_id::text) > 200
                       THEN 'analysis_id:' || pg_catalog.length(u.analysis_id::text)
                            || ' characters:200'
                   WHEN pg_catalog.length(u.task_id::text) > 200
                       THEN 'task_id:' || pg_catalog.length(u.task_id::text) || ' characters:200'
                   WHEN pg_catalog.length(u.idempotency_key::text) > 200
                       THEN 'idempotency_key:' || pg_catalog.length(u.idempotency_key::text)
                            || ' characters:200'
                   WHEN pg_catalog.length(u.correction_reason::text) > 2000
                       THEN 'correction_reason:' || pg_catalog.length(u.correction_reason::text)
                            || ' characters:2000'
               END) AS too_large
        FROM new_rows AS u
        LEFT JOIN public.llm_models AS pm
          ON u.resource_type::text = 'llm_tokens' AND pm.model = u.model::text
        LEFT JOIN public.api_providers AS pp
          ON u.resource_type::text = 'api_calls' AND pp.provider = u.provider::text
        GROUP BY 1, 2, 3, 4, 5, 6
    ),
    k AS MATERIALIZED (
        -- Each kind and class named, checked and locked FOR KEY SHARE once.
        SELECT d.entity_type, d.resource_type,
               et.known IS NOT NULL AS entity_type_known,
               rt.known IS NOT NULL AS resource_type_known
        FROM (SELECT DISTINCT g.entity_type, g.resource_type FROM g) AS d
        LEFT JOIN LATERAL (SELECT true AS known FROM public.entity_types AS e
                           WHERE e.entity_type = d.entity_type FOR KEY SHARE) AS et ON true
        LEFT JOIN LATERAL (SELECT true AS known FROM public.resource_types AS t
                           WHERE t.resource_type = d.resource_type FOR KEY SHARE) AS rt ON true
    ),
    rolled AS (
        INSERT INTO senate.usage_rollups AS r
            (entity_type, entity_id, resource_type, usage_day, resource_subclass, shard,
             amount_total, cost_total_usd, usage_rows)
        SELECT g.entity_type, g.entity_id, g.resource_type, g.usage_day,
               CASE g.resource_type
                   WHEN 'llm_tokens' THEN coalesce(m.model_tier, 'unknown')
                   WHEN 'api_calls' THEN coalesce(g.provider, 'other')
                   ELSE '' END,
               v_shard,
               sum(g.amount),
               sum(coalesce(g.cost_usd, 0) + coalesce(g.unpriced_cost, 0)),
               sum(g.usage_rows)
        FROM g
        LEFT JOIN public.llm_models AS m ON m.model = g.model
        LEFT JOIN public.api_providers AS p ON p.provider = g.provider
        WHERE g.entity_type IS NOT NULL AND g.entity_id IS NOT NULL
          AND g.resource_type IS NOT NULL AND g.usage_day IS NOT NULL
          AND g.usage_rows > 0
        GROUP BY 1, 2, 3, 4, 5
        ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (entity_type, entity_id, resource_type, usage_day, resource_subclass, shard)
        DO UPDATE SET amount_total = r.amount_total + excluded.amount_total,
                      cost_total_usd = r.cost_total_usd + excluded.cost_total_usd,
                      usage_rows = r.usage_rows + excluded.usage_rows
    )
    SELECT CASE
               WHEN v_check_references AND g.entity_type IS NOT NULL
                    AND NOT k.entity_type_known THEN 1
               WHEN v_check_references AND g.resource_type IS NOT NULL
                    AND NOT k.resource_type_known THEN 2
               WHEN v.strict_validation AND g.bad_amount IS NOT NULL THEN 3
               WHEN g.amount_out_of_range IS NOT NULL THEN 4
               WHEN g.cost_out_of_range IS NOT NULL THEN 5
               WHEN g.created_at_out_of_window IS NOT NULL THEN 6
               WHEN g.too_large IS NOT NULL THEN 7
               WHEN NOT k.entity_type_known THEN 8
               WHEN NOT k.resource_type_known THEN 9
               WHEN g.resource_type = 'llm_tokens' AND g.model IS NOT NULL
                    AND m.model IS NULL THEN 10
               ELSE 11 END AS problem_rank,
           g.entity_type, g.resource_type, g.model, g.provider, g.bad_amount,
           g.amount_out_of_range, g.cost_out_of_range, g.created_at_out_of_window, g.too_large
    INTO v_bad
    FROM g
    JOIN k ON k.entity_type IS NOT DISTINCT FROM g.entity_type
          AND k.resource_type IS NOT DISTINCT FROM g.resource_type
    LEFT JOIN public.llm_models AS m ON m.model = g.model
    LEFT JOIN public.api_providers AS p ON p.provider = g.provider
    WHERE (v_check_references AND g.entity_type IS NOT NULL AND NOT k.entity_type_known)
       OR (v_check_references AND g.resource_type IS NOT NULL AND NOT k.resource_type_known)
       OR g.amount_out_of_range IS NOT NULL OR g.cost_out_of_range IS NOT NULL
       OR g.created_at_out_of_window IS NOT NULL OR g.too_large IS NOT NULL
       OR (v.strict_validation AND (g.bad_amount IS NOT NULL
                         OR NOT k.entity_type_known
                         OR NOT k.resource_type_known
                         OR (g.resource_type = 'llm_tokens' AND g.model IS NOT NULL
                             AND m.model IS NULL)
                         OR (g.resource_type = 'api_calls' AND g.provider IS NOT NULL
                             AND p.provider IS NULL)))
    -- Report in the order the one-row path checks: references, amount, bounds, then names.
    ORDER BY 1
    LIMIT 1;
    IF FOUND THEN
        PERFORM senate.raise_usage_insert_error(
            (ARRAY['missing_entity_type', 'missing_resource_type', 'bad_amount',
                   'amount_out_of_range', 'cost_out_of_range', 'created_at_out_of_window',
                   'too_large', 'bad_entity_type', 'bad_resource_type', 'bad_model',
                   'bad_provider'])[v_bad.problem_rank],
            CASE v_bad.problem_rank
                WHEN 1 THEN v_bad.entity_type
                WHEN 2 THEN v_bad.resource_type
                WHEN 3 THEN v_bad.bad_amount::text
                WHEN 4 THEN v_bad.amount_out_of_range::text
                WHEN 5 THEN v_bad.cost_out_of_range::text
                WHEN 6 THEN v_bad.created_at_out_of_window::text
                WHEN 7 THEN v_bad.too_large
                WHEN 8 THEN v_bad.entity_type
                WHEN 9 THEN v_bad.resource_type
                WHEN 10 THEN v_bad.model
                ELSE v_bad.provider END);
    END IF;
    RETURN NULL;
END;
$function$;
COMMENT ON FUNCTION senate.account_usage_inserts() IS
  'Statement-level AFTER INSERT trigger on resource_usage: locks the named entity kinds and '
  'resource classes FOR KEY SHARE (argument ''check_references'', where 0043 replaced the '
  'foreign keys; 23503 for an unknown one), validates the rows while '
  'senate.settings.usage_strict_validation is on (23514 amount, 23503 entity_type / '
  'resource_type / model / provider), always tests the bounds of senate.value_bounds (22003 '
  'amount / cost, S5031 created_at outside the policy window, 22001 text or metadata too large; '
  'correction rows are exempt from the time window only) and upserts senate.usage_rollups into '
  'the shard this transaction claimed, pricing rows without a cost at the price in force at '
  'their created_at (0162: the current price of llm_models / api_providers from its '
  'price_effective_from, else senate.price_periods). A one-row statement costs one read and one '
  'upsert; a batch, one statement that sums the rows by rollup key first and upserts in key '
  'order.';

CREATE OR REPLACE FUNCTION senate.roll_up_usage()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    v_time_zone text := senate.policy_time_zone();
    v_shard smallint := senate.usage_rollup_shard();
BEGIN
    IF TG_OP = 'INSERT' THEN
      IF (SELECT count(*) FROM new_rows) = 1 THEN
        -- One row (the common single-row INSERT of a service): no grouping needed, and a
        -- plan without aggregation nodes starts up in about half the time.
        INSERT INTO senate.usage_rollups AS r
            (entity_type, entity_id, resource_type, usage_day, resource_subclass, shard,
             amount_total, cost_total_usd, usage_rows)
        SELECT u.entity_type::text, u.entity_id::text, u.resource_type::text,
               (u.created_at::timestamptz AT TIME ZONE v_time_zone)::date,
               CASE u.resource_type::text
                   WHEN 'llm_tokens' THEN coalesce(m.model_tier, 'unknown')
                   WHEN 'api_calls' THEN coalesce(u.provider::text, 'other')
                   ELSE '' END,
               v_shard,
               u.amount::numeric,
               coalesce(u.cost::numeric,
                        CASE u.resource_type::text
                            WHEN 'llm_tokens' THEN u.amount::numeric
                                * CASE WHEN m.model IS NULL THEN NULL
                                      WHEN u.created_at::timestamptz >= m.price_effective_from THEN m.usd_per_token
                                      ELSE coalesce(senate.usage_price_at('llm_tokens', m.model, u.created_at::timestamptz),
                                                    m.usd_per_token) END
                            WHEN 'api_calls' THEN u.amount::numeric
                                * CASE WHEN p.provider IS NULL THEN NULL
                                      WHEN u.created_at::timestamptz >= p.price_effective_from THEN p.usd_per_call
                                      ELSE coalesce(senate.usage_price_at('api_calls', p.provider, u.created_at::timestamptz),
                                                    p.usd_per_call) END END,
                        0),
               1
        FROM new_rows AS u
        LEFT JOIN public.llm_models AS m ON m.model = u.model::text
        LEFT JOIN public.api_providers AS p ON p.provider = u.provider::text
        WHERE u.entity_type IS NOT NULL AND u.entity_id IS NOT NULL
          AND u.resource_type IS NOT NULL AND u.created_at IS NOT NULL
          AND u.amount IS NOT NULL
        ON CONFLICT (entity_type, entity_id, resource_type, usage_day, resource_subclass, shard)
        DO UPDATE SET amount_total = r.amount_total + excluded.amount_total,
                      cost_total_usd = r.cost_total_usd + excluded.cost_total_usd,
                      usage_rows = r.usage_rows + excluded.usage_rows;
      ELSE
        INSERT INTO senate.usage_rollups AS r
            (entity_type, entity_id, resource_type, usage_day, resource_subclass, shard,
             amount_total, cost_total_usd, usage_rows)
        SELECT g.entity_type, g.entity_id, g.resource_type, g.usage_day,
               CASE g.resource_type
                   WHEN 'llm_tokens' THEN coalesce(m.model_tier, 'unknown')
                   WHEN 'api_calls' THEN coalesce(g.provider, 'other')
                   ELSE '' END,
               v_shard,
               sum(g.amount),
               sum(coalesce(g.cost_usd, 0) + coalesce(g.unpriced_cost, 0)),
               sum(g.usage_rows)
        FROM (
            SELECT u.entity_type::text AS entity_type, u.entity_id::text AS entity_id,
                   u.resource_type::text AS resource_type,
                   (u.created_at::timestamptz AT TIME ZONE v_time_zone)::date AS usage_day,
                   u.model::text AS model, u.provider::text AS provider,
                   sum(u.amount::numeric) AS amount,
                   sum(u.cost::numeric) AS cost_usd,
                   sum(u.amount::numeric
                       * CASE u.resource_type::text
                             WHEN 'llm_tokens' THEN CASE WHEN pm.model IS NULL THEN NULL
                                 WHEN u.created_at::timestamptz >= pm.price_effective_from THEN pm.usd_per_token
                                 ELSE coalesce(senate.usage_price_at('llm_tokens', pm.model, u.created_at::timestamptz),
                                               pm.usd_per_token) END
                             WHEN 'api_calls' THEN CASE WHEN pp.provider IS NULL THEN NULL
                                 WHEN u.created_at::timestamptz >= pp.price_effective_from THEN pp.usd_per_call
                                 ELSE coalesce(senate.usage_price_at('api_calls', pp.provider, u.created_at::timestamptz),
                                               pp.usd_per_call) END END)
                       FILTER (WHERE u.cost IS NULL) AS unpriced_cost,
                   count(*) AS usage_rows
            FROM new_rows AS u
            LEFT JOIN public.llm_models AS pm
              ON u.resource_type::text = 'llm_tokens' AND pm.model = u.model::text
            LEFT JOIN public.api_providers AS pp
              ON u.resource_type::text = 'api_calls' AND pp.provider = u.provider::text
            WHERE u.entity_type IS NOT NULL AND u.entity_id IS NOT NULL
              AND u.resource_type IS NOT NULL AND u.created_at IS NOT NULL
              AND u.amount IS NOT NULL
            GROUP BY 1, 2, 3, 4, 5, 6
        ) AS g
        LEFT JOIN public.llm_models AS m ON m.model = g.model
        LEFT JOIN public.api_providers AS p ON p.provider = g.provider
        GROUP BY 1, 2, 3, 4, 5
        ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (entity_type, entity_id, resource_type, usage_day, resource_subclass, shard)
        DO UPDATE SET amount_total = r.amount_total + excluded.amount_total,
                      cost_total_usd = r.cost_total_usd + excluded.cost_total_usd,
                      usage_rows = r.usage_rows + excluded.usage_rows;
      END IF;
      RETURN NULL;
    END IF;

    IF TG_OP = 'UPDATE' THEN
      IF NOT EXISTS (
        SELECT o.entity_type::text, o.entity_id::text, o.resource_type::text,
               o.created_at::timestamptz, o.model::text, o.provider::text,
               o.amount::numeric, o.cost::numeric
        FROM old_rows AS o
        EXCEPT ALL
        SELECT n.entity_type::text, n.entity_id::text, n.resource_type::text,
               n.created_at::timestamptz, n.model::text, n.provider::text,
               n.amount::numeric, n.cost::numeric
        FROM new_rows AS n
      ) THEN
        -- Same multiset of rolled-up columns before and after: every rollup delta is zero.
        RETURN NULL;
      END IF;
    END IF;

    -- UPDATE and DELETE are rare (corrections, legacy consumers): dynamic SQL lets one
    -- query serve both, since a DELETE trigger has no new_rows to name statically.
    EXECUTE format($q$
    INSERT INTO senate.usage_rollups AS r
        (entity_type, entity_id, resource_type, usage_day, resource_subclass, shard,
         amount_total, cost_total_usd, usage_rows)
    SELECT g.entity_type, g.entity_id, g.resource_type, g.usage_day,
           CASE g.resource_type
               WHEN 'llm_tokens' THEN coalesce(m.model_tier, 'unknown')
               WHEN 'api_calls' THEN coalesce(g.provider, 'other')
               ELSE '' END AS resource_subclass,
           $2,
           sum(g.amount) AS amount,
           sum(coalesce(g.cost_usd, 0)
               + coalesce(g.unpriced_cost, 0)) AS cost_usd,
           sum(g.usage_rows) AS usage_rows
    FROM (
        SELECT u.entity_type::text AS entity_type, u.entity_id::text AS entity_id,
               u.resource_type::text AS resource_type,
               (u.created_at::timestamptz AT TIME ZONE $1)::date AS usage_day,
               u.model::text AS model, u.provider::text AS provider,
               sum(u.sign * u.amount::numeric) AS amount,
               sum(u.sign * u.cost::numeric) AS cost_usd,
               sum(u.sign * u.amount::numeric
                   * CASE u.resource_type::text
                         WHEN 'llm_tokens' THEN CASE WHEN pm.model IS NULL THEN NULL
                             WHEN u.created_at::timestamptz >= pm.price_effective_from THEN pm.usd_per_token
                             ELSE coalesce(senate.usage_price_at('llm_tokens', pm.model, u.created_at::timestamptz),
                                           pm.usd_per_token) END
                         WHEN 'api_calls' THEN CASE WHEN pp.provider IS NULL THEN NULL
                             WHEN u.created_at::timestamptz >= pp.price_effective_from THEN pp.usd_per_call
                             ELSE coalesce(senate.usage_price_at('api_calls', pp.provider, u.created_at::timestamptz),
                                           pp.usd_per_call) END END)
                   FILTER (WHERE u.cost IS NULL) AS unpriced_cost,
               sum(u.sign) AS usage_rows
        FROM (%s) AS u
        LEFT JOIN public.llm_models AS pm
          ON u.resource_type::text = 'llm_tokens' AND pm.model = u.model::text
        LEFT JOIN public.api_providers AS pp
          ON u.resource_type::text = 'api_calls' AND pp.provider = u.provider::text
        WHERE u.entity_type IS NOT NULL AND u.entity_id IS NOT NULL
          AND u.resource_type IS NOT NULL AND u.created_at IS NOT NULL
          AND u.amount IS NOT NULL
        GROUP BY 1, 2, 3, 4, 5, 6
    ) AS g
    LEFT JOIN public.llm_models AS m ON m.model = g.model
    LEFT JOIN public.api_providers AS p ON p.provider = g.provider
    GROUP BY 1, 2, 3, 4, 5
    HAVING sum(g.usage_rows) <> 0 OR sum(g.amount) <> 0
        OR sum(coalesce(g.cost_usd, 0)
               + coalesce(g.unpriced_cost, 0)) <> 0
    ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT (entity_type, entity_id, resource_type, usage_day, resource_subclass, shard)
    DO UPDATE SET amount_total = r.amount_total + excluded.amount_total,
                  cost_total_usd = r.cost_total_usd + excluded.cost_total_usd,
                  usage_rows = r.usage_rows + excluded.usage_rows
    $q$,
    CASE TG_OP
        WHEN 'DELETE' THEN
            'SELECT -1 AS sign, entity_type, entity_id, resource_type, created_at, model, provider, amount, cost FROM old_rows'
        ELSE
            'SELECT -1 AS sign, entity_type, entity_id, resource_type, created_at, model, provider, amount, cost FROM old_rows '
            'UNION ALL SELECT 1, entity_type, entity_id, resource_type, created_at, model, provider, amount, cost FROM new_rows'
    END)
    USING v_time_zone, v_shard;
    RETURN NULL;
END;
$function$;
COMMENT ON FUNCTION senate.roll_up_usage() IS
  'Statement-level trigger on resource_usage: folds the statement''s inserted, updated or deleted '
  'rows into senate.usage_rollups (rows summed by hashing first, then upserted once per rollup '
  'key, in key order, into the shard this transaction claimed); rows without a cost are priced '
  'at the price in force at their created_at (0162). An UPDATE that leaves every rolled-up '
  'column as it was costs one hashed comparison and writes nothing.';

CREATE OR REPLACE FUNCTION public.reconcile_usage_rollups()
 RETURNS TABLE(entity_type text, entity_id text, resource_type text, usage_day date, resource_subclass text, usage_amount numeric, rollup_amount numeric, usage_cost_usd numeric, rollup_cost_usd numeric, usage_row_count bigint, rollup_row_count bigint)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
    WITH periods AS (
        SELECT q.resource_type, q.priced_name, q.usd_per_unit, q.effective_from AS valid_from,
               coalesce(lead(q.effective_from) OVER (PARTITION BY q.resource_type, q.priced_name
                                                     ORDER BY q.effective_from),
                        'infinity') AS valid_until
        FROM senate.price_periods AS q
    ), from_usage AS (
        SELECT u.entity_type::text AS entity_type, u.entity_id::text AS entity_id,
               u.resource_type::text AS resource_type,
               (u.created_at::timestamptz AT TIME ZONE senate.policy_time_zone())::date AS usage_day,
               CASE u.resource_type::text
                   WHEN 'llm_tokens' THEN coalesce(m.model_tier, 'unknown')
                   WHEN 'api_calls' THEN coalesce(u.provider::text, 'other')
                   ELSE '' END AS resource_subclass,
               sum(u.amount::numeric) AS amount,
               sum(coalesce(u.cost::numeric,
                            CASE u.resource_type::text
                                WHEN 'llm_tokens' THEN u.amount::numeric
                                    * CASE WHEN m.model IS NOT NULL
                                           THEN coalesce(pr.usd_per_unit, m.usd_per_token) END
                                WHEN 'api_calls' THEN u.amount::numeric
                                    * CASE WHEN p.provider IS NOT NULL
                                           THEN coalesce(pr.usd_per_unit, p.usd_per_call) END END,
                            0)) AS cost,
               count(*) AS row_count
        FROM public.resource_usage AS u
        LEFT JOIN public.llm_models AS m ON m.model = u.model::text
        LEFT JOIN public.api_providers AS p ON p.provider = u.provider::text
        -- The price in force at created_at (0162): the period of the price's history that
        -- contains it (a hash join on the priced name, then the few periods of that name).
        LEFT JOIN periods AS pr
          ON pr.resource_type = u.resource_type::text
         AND pr.priced_name = CASE u.resource_type::text WHEN 'llm_tokens' THEN u.model::text
                                                         WHEN 'api_calls' THEN u.provider::text END
         AND u.created_at::timestamptz >= pr.valid_from
         AND u.created_at::timestamptz < pr.valid_until
        WHERE u.entity_type IS NOT NULL AND u.entity_id IS NOT NULL AND u.resource_type IS NOT NULL
          AND u.created_at IS NOT NULL AND u.amount IS NOT NULL
        GROUP BY 1, 2, 3, 4, 5
    ), from_rollups AS (
        SELECT r.entity_type, r.entity_id, r.resource_type, r.usage_day, r.resource_subclass,
               sum(r.amount_total) AS amount, sum(r.cost_total_usd) AS cost,
               sum(r.usage_rows)::bigint AS row_count
        FROM senate.usage_rollups AS r
        GROUP BY 1, 2, 3, 4, 5
        HAVING sum(r.usage_rows) <> 0 OR sum(r.amount_total) <> 0
    )
    SELECT entity_type, entity_id, resource_type, usage_day, resource_subclass,
           coalesce(u.amount, 0), coalesce(r.amount, 0), coalesce(u.cost, 0), coalesce(r.cost, 0),
           coalesce(u.row_count, 0), coalesce(r.row_count, 0)
    FROM from_usage AS u
    FULL JOIN from_rollups AS r
        USING (entity_type, entity_id, resource_type, usage_day, resource_subclass)
    WHERE coalesce(u.amount, 0) <> coalesce(r.amount, 0)
       OR coalesce(u.cost, 0) <> coalesce(r.cost, 0)
       OR coalesce(u.row_count, 0) <> coalesce(r.row_count, 0)
    ORDER BY 1, 2, 3, 4, 5
$function$;
COMMENT ON FUNCTION public.reconcile_usage_rollups() IS
  'Proves the usage rollups equal resource_usage: returns every (entity, class, day, tier or '
  'provider) whose rolled-up amount, cost or row count differs, pricing usage without a cost at '
  'the price in force at its created_at (usage_price_periods, 0162). No rows means reconciled. '
  'Reads the whole usage table: an audit, not a hot-path call.';

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
