-- db/definitions/42_prices.sql -- Prices: the dated unit prices of models and providers, setting a new
-- price and correcting a past window's prices (the rollups are repriced, never resource_usage).
--
-- The current definition of each function and view below; the post-apply hook
-- (db/migrations/post-apply_definitions.py) applies an object whenever its text here
-- changes. Each object starts at its '-- define' line. See README, "Adding a migration".
-- senate.record_price_writes() is also created by 0162, which wires its triggers.

-- define function senate.usage_price_at(text,text,timestamp with time zone)
CREATE OR REPLACE FUNCTION senate.usage_price_at(p_resource_type text, p_priced_name text, p_at timestamp with time zone)
 RETURNS numeric
 LANGUAGE sql
 STABLE PARALLEL SAFE STRICT
AS $function$
    SELECT q.usd_per_unit
    FROM senate.price_periods AS q
    WHERE q.resource_type = p_resource_type AND q.priced_name = p_priced_name
      AND q.effective_from <= p_at
    ORDER BY q.effective_from DESC
    LIMIT 1
$function$;
COMMENT ON FUNCTION senate.usage_price_at(text,text,timestamp with time zone) IS 'The unit price (USD per token or per call) of a model (llm_tokens) or provider (api_calls) in force at p_at: one primary-key probe of senate.price_periods; NULL when none. Called only for usage older than the current price''s price_effective_from.';

-- define view public.usage_price_periods
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
COMMENT ON VIEW public.usage_price_periods IS 'The unit prices of models (llm_tokens) and providers (api_calls) over time: each price with the time it took effect and the time the next one did. Usage without a cost is priced at the period containing its created_at.';
COMMENT ON COLUMN public.usage_price_periods.resource_type IS 'llm_tokens (a model''s price per token) or api_calls (a provider''s price per call).';
COMMENT ON COLUMN public.usage_price_periods.priced_name IS 'The model or provider.';
COMMENT ON COLUMN public.usage_price_periods.unit IS 'Unit of usd_per_unit: USD per token or USD per call.';
COMMENT ON COLUMN public.usage_price_periods.valid_from IS 'When the price took effect (inclusive; -infinity: from the beginning).';
COMMENT ON COLUMN public.usage_price_periods.valid_until IS 'When the next price took effect (exclusive); NULL for the current price.';
COMMENT ON COLUMN public.usage_price_periods.usd_per_unit IS 'The price, in unit.';
COMMENT ON COLUMN public.usage_price_periods.change_id IS 'The price_changes entry that set it (NULL: the price before dated prices, or a new model''s first price).';

-- define function senate.record_price_writes()
CREATE OR REPLACE FUNCTION senate.record_price_writes()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;
COMMENT ON FUNCTION senate.record_price_writes() IS 'Row trigger on llm_models and api_providers (BEFORE INSERT OR UPDATE): a new model or provider''s price becomes its first period in senate.price_periods; a direct UPDATE of the price (not made by set_usage_price / correct_usage_price) becomes a new price from now() + usage_max_clock_skew (no recorded usage changes price), with a price_changes entry naming the login; price_effective_from is set by these only.';

-- define function senate.lock_priced_subject(text,text,text,numeric,text)
CREATE OR REPLACE FUNCTION senate.lock_priced_subject(p_function text, p_resource_type text, p_priced_name text, p_usd_per_unit numeric, p_reason text, OUT current_price numeric, OUT current_from timestamp with time zone)
 RETURNS record
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;
COMMENT ON FUNCTION senate.lock_priced_subject(text,text,text,numeric,text) IS 'Checks of set_usage_price / correct_usage_price: class with unit prices (S3011), price (S3010), reason (22023), the model or provider exists (S3011); locks its llm_models / api_providers row and returns its current price and price_effective_from.';

-- define function public.set_usage_price(text,text,numeric,text,timestamp with time zone)
CREATE OR REPLACE FUNCTION public.set_usage_price(resource_type text, priced_name text, usd_per_unit numeric, reason text, effective_from timestamp with time zone DEFAULT NULL::timestamp with time zone)
 RETURNS public.price_changes
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
 SET lock_timeout TO '5s'
AS $function$
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
$function$;
COMMENT ON FUNCTION public.set_usage_price(text,text,numeric,text,timestamp with time zone) IS 'A new unit price of a model (resource_type llm_tokens, USD per token) or provider (api_calls, USD per call) from effective_from on (default and earliest: now() + economics_policy.usage_max_clock_skew, so no usage already recorded changes price; a later time announces a change). Records the price period and a price_changes entry (set, who = session_user, why = reason) and makes it the current price. Returns the entry. Errors: S3010 bad price, S3011 unknown model or provider or class, S3012 effective_from too early or not after the latest change, 22023 reason missing or over 2000 characters.';

-- define function public.correct_usage_price(text,text,numeric,timestamp with time zone,timestamp with time zone,text)
CREATE OR REPLACE FUNCTION public.correct_usage_price(resource_type text, priced_name text, usd_per_unit numeric, window_start timestamp with time zone, window_end timestamp with time zone, reason text)
 RETURNS public.price_changes
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
 SET lock_timeout TO '5s'
AS $function$
#variable_conflict use_column
DECLARE
    v_current numeric;
    v_old numeric;
    v_next timestamptz;
    v_rows bigint;
    v_keys bigint;
    v_delta numeric;
    v_change public.price_changes;
    v_shard smallint;
    v_jit text := pg_catalog.current_setting('jit');
BEGIN
    SELECT s.current_price INTO v_current
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
    SELECT q.usd_per_unit INTO v_old
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
$function$;
COMMENT ON FUNCTION public.correct_usage_price(text,text,numeric,timestamp with time zone,timestamp with time zone,text) IS 'A price correction: the unit price of a model (llm_tokens) or provider (api_calls) during the past window [window_start, window_end) was usd_per_unit. Splits that price period (usage_price_periods), reprices the cost of the rollups of the usage without a cost created in the window by the difference (resource_usage, append-only, is only read), and records a price_changes entry (correction: who = session_user, why = reason, usage rows and rollup keys repriced, cost delta in USD). reconcile_usage_rollups() stays clean. Returns the entry, or NULL when that was already the price (nothing written). Reads the usage rows of the class (a sequential scan). Errors: S3010 bad price, S3011 unknown model or provider or class, S3012 the window spans a price change, S3013 window NULL, infinite, empty or not over, 22023 reason missing or over 2000 characters.';
