-- db/definitions/30_policy.sql -- Economics policy: the active policy, its validation, time zone and period boundaries, settings.
--
-- The current definition of each function and view below; the post-apply hook
-- (db/migrations/post-apply_definitions.py) applies an object whenever its text here
-- changes. Each object starts at its '-- define' line. See README, "Adding a migration".

-- define function public.active_economics_policy()
CREATE OR REPLACE FUNCTION public.active_economics_policy()
 RETURNS public.economics_policy
 LANGUAGE sql
 STABLE PARALLEL SAFE
AS $function$
    SELECT p FROM public.economics_policy AS p WHERE p.is_active
$function$;
COMMENT ON FUNCTION public.active_economics_policy() IS 'The economics_policy row in force (exactly one is active).';

-- define function senate.policy_time_zone()
CREATE OR REPLACE FUNCTION senate.policy_time_zone()
 RETURNS text
 LANGUAGE plpgsql
 STABLE PARALLEL SAFE
AS $function$
BEGIN
    RETURN coalesce((SELECT p.time_zone FROM public.economics_policy AS p WHERE p.is_active),
                    'UTC');
END;
$function$;
COMMENT ON FUNCTION senate.policy_time_zone() IS 'Time zone in which usage days begin (active policy; UTC if none). PL/pgSQL so that its query plan is cached per session (a SQL function with a subquery is re-planned by every calling statement). Callers that evaluate it per row should wrap it as a scalar subquery, (SELECT senate.policy_time_zone()), so it runs once per statement.';

-- define function senate.period_bounds(timestamp with time zone,text,text)
CREATE OR REPLACE FUNCTION senate.period_bounds(p_as_of timestamp with time zone, p_budget_period text, p_time_zone text)
 RETURNS TABLE(period_start date, period_end date, starts_at timestamp with time zone, ends_at timestamp with time zone)
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE ROWS 1
AS $function$
    SELECT d.first_day, d.next_first_day,
           d.first_day::timestamp AT TIME ZONE p_time_zone,
           d.next_first_day::timestamp AT TIME ZONE p_time_zone
    FROM (
        SELECT s.first_day,
               s.first_day + CASE p_budget_period WHEN 'day' THEN 1 WHEN 'week' THEN 7 END
                   AS next_first_day
        FROM (
            SELECT CASE p_budget_period
                       WHEN 'day' THEN l.local_day
                       WHEN 'week' THEN l.local_day - (extract(isodow FROM l.local_day)::integer - 1)
                   END AS first_day
            FROM (SELECT (p_as_of AT TIME ZONE p_time_zone)::date AS local_day) AS l
        ) AS s
    ) AS d
$function$;
COMMENT ON FUNCTION senate.period_bounds(timestamp with time zone,text,text) IS 'Budget period containing p_as_of for a period kind (day | week, ISO week from Monday) in a time zone: [period_start, period_end) as local dates, [starts_at, ends_at) as instants. NULLs for an unknown period kind.';

-- define function public.budget_period_bounds(timestamp with time zone)
CREATE OR REPLACE FUNCTION public.budget_period_bounds(as_of timestamp with time zone DEFAULT now())
 RETURNS TABLE(period_start date, period_end date, starts_at timestamp with time zone, ends_at timestamp with time zone)
 LANGUAGE sql
 STABLE PARALLEL SAFE ROWS 1
AS $function$
    SELECT b.period_start, b.period_end, b.starts_at, b.ends_at
    FROM (SELECT coalesce(max(p.budget_period), 'week') AS budget_period,
                 coalesce(max(p.time_zone), 'UTC') AS time_zone
          FROM public.economics_policy AS p WHERE p.is_active) AS a
    CROSS JOIN LATERAL senate.period_bounds(as_of, a.budget_period, a.time_zone) AS b
$function$;
COMMENT ON FUNCTION public.budget_period_bounds(timestamp with time zone) IS 'The budget period containing as_of under the active policy (budget_period day | week, ISO weeks start Monday, in the policy time_zone). Half-open: period_start is the first day, period_end the first day of the next period (dates); starts_at / ends_at the same bounds as instants (timestamptz).';

-- define function public.roi_window_bounds(timestamp with time zone)
CREATE OR REPLACE FUNCTION public.roi_window_bounds(as_of timestamp with time zone DEFAULT now())
 RETURNS TABLE(window_start date, window_end date, starts_at timestamp with time zone, ends_at timestamp with time zone)
 LANGUAGE sql
 STABLE PARALLEL SAFE ROWS 1
AS $function$
    SELECT w.window_end - w.days, w.window_end,
           (w.window_end - w.days)::timestamp AT TIME ZONE w.time_zone,
           w.window_end::timestamp AT TIME ZONE w.time_zone
    FROM (SELECT (as_of AT TIME ZONE a.time_zone)::date + 1 AS window_end,
                 greatest(1, ceil(extract(epoch FROM a.roi_window) / 86400))::integer AS days,
                 a.time_zone
          FROM (SELECT coalesce(max(p.time_zone), 'UTC') AS time_zone,
                       coalesce(max(p.roi_window), interval '7 days') AS roi_window
                FROM public.economics_policy AS p WHERE p.is_active) AS a) AS w
$function$;
COMMENT ON FUNCTION public.roi_window_bounds(timestamp with time zone) IS 'The ROI window ending with as_of''s day under the active policy: the ceil(roi_window / 1 day) calendar days (policy time zone) up to and including as_of''s day. Half-open: [window_start, window_end) as dates, [starts_at, ends_at) as instants. One row (an inlinable SQL function).';

-- define function senate.guard_economics_policy()
CREATE OR REPLACE FUNCTION senate.guard_economics_policy()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    IF TG_OP = 'UPDATE'
       AND to_jsonb(NEW) - 'is_active' = to_jsonb(OLD) - 'is_active'
       AND (NEW.is_active = OLD.is_active OR (OLD.is_active AND NOT NEW.is_active)) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION USING
        ERRCODE = 'S1006',
        MESSAGE = format('%s of economics_policy refused: policy versions are immutable '
                         '(only is_active may flip from true to false)', TG_OP),
        HINT = 'Adopt a new version with adopt_economics_policy(changes, adopted_by, reason).';
END;
$function$;
COMMENT ON FUNCTION senate.guard_economics_policy() IS 'Trigger on economics_policy: refuses UPDATE (except deactivating the active version), DELETE and TRUNCATE with S1006.';

-- define function senate.validate_economics_policy()
CREATE OR REPLACE FUNCTION senate.validate_economics_policy()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_previous_zone text;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_timezone_names AS z WHERE z.name = NEW.time_zone) THEN
        RAISE EXCEPTION USING
            ERRCODE = '22023',
            MESSAGE = format('economics_policy: time_zone = %L is not a known time zone', NEW.time_zone),
            COLUMN = 'time_zone',
            TABLE = 'economics_policy',
            DETAIL = 'time_zone must be a name listed in pg_timezone_names.',
            HINT = 'Use an IANA zone name such as UTC or Europe/Berlin.';
    END IF;
    SELECT p.time_zone INTO v_previous_zone
    FROM public.economics_policy AS p
    ORDER BY p.policy_version DESC
    LIMIT 1;
    IF FOUND AND v_previous_zone IS DISTINCT FROM NEW.time_zone
       AND EXISTS (SELECT 1 FROM senate.usage_rollups) THEN
        PERFORM senate.raise_error('S1008',
            format('economics_policy: time_zone cannot change from %s to %s: usage is already '
                   'rolled up by day in %s', v_previous_zone, NEW.time_zone, v_previous_zone));
    END IF;
    RETURN NEW;
END;
$function$;
COMMENT ON FUNCTION senate.validate_economics_policy() IS 'Row trigger before INSERT on economics_policy: time_zone must be in pg_timezone_names (22023) and may not differ from the previous version''s once usage is rolled up (S1008).';

-- define function senate.require_one_active_policy()
CREATE OR REPLACE FUNCTION senate.require_one_active_policy()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
DECLARE
    v_active bigint;
BEGIN
    SELECT count(*) INTO v_active FROM public.economics_policy AS p WHERE p.is_active;
    IF v_active <> 1 THEN
        PERFORM senate.raise_error('S1002',
            format('economics_policy: %s versions would be active at commit; exactly one must be',
                   v_active));
    END IF;
    RETURN NULL;
END;
$function$;
COMMENT ON FUNCTION senate.require_one_active_policy() IS 'Deferred constraint trigger on economics_policy: at commit exactly one version is active (S1002).';

-- define function public.adopt_economics_policy(jsonb,text,text)
CREATE OR REPLACE FUNCTION public.adopt_economics_policy(changes jsonb, adopted_by text, reason text)
 RETURNS public.economics_policy
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    v_old public.economics_policy;
    v_new public.economics_policy;
    v_key text;
    v_changed text[];
BEGIN
    IF changes IS NULL OR jsonb_typeof(changes) <> 'object' THEN
        PERFORM senate.raise_error('S1007',
            format('adopt_economics_policy: changes must be a JSON object, got %s',
                   coalesce(jsonb_typeof(changes), 'NULL')));
    END IF;
    FOR v_key IN SELECT k FROM jsonb_object_keys(changes) AS k ORDER BY k LOOP
        IF v_key IN ('policy_version', 'is_active', 'created_at', 'created_by', 'reason') THEN
            PERFORM senate.raise_error('S1007',
                format('adopt_economics_policy: field %s cannot be changed', v_key),
                'policy_version, is_active and created_at are set by adoption; who and why are '
                'the adopted_by and reason arguments.');
        END IF;
        IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_attribute AS a
                       WHERE a.attrelid = 'public.economics_policy'::regclass
                         AND a.attname = v_key AND a.attnum > 0 AND NOT a.attisdropped) THEN
            PERFORM senate.raise_error('S1007',
                format('adopt_economics_policy: %s is not an economics_policy field', v_key));
        END IF;
    END LOOP;

    -- One adoption at a time; readers are not blocked.
    LOCK TABLE public.economics_policy IN SHARE ROW EXCLUSIVE MODE;
    SELECT * INTO v_old FROM public.economics_policy AS p WHERE p.is_active;
    IF NOT FOUND THEN
        PERFORM senate.raise_error('S1002', 'adopt_economics_policy: no economics_policy is active');
    END IF;

    v_new := jsonb_populate_record(v_old, changes);
    v_new.is_active := true;
    v_new.created_at := now();
    v_new.created_by := adopted_by;
    v_new.reason := reason;

    SELECT array_agg(o.key ORDER BY o.key) INTO v_changed
    FROM jsonb_each(to_jsonb(v_old)) AS o
    JOIN jsonb_each(to_jsonb(v_new)) AS n ON n.key = o.key
    WHERE o.value IS DISTINCT FROM n.value
      AND o.key NOT IN ('is_active', 'created_at', 'created_by', 'reason');

    UPDATE public.economics_policy AS p SET is_active = false
    WHERE p.policy_version = v_old.policy_version;

    -- Every column, so later-added columns are carried over; the identity policy_version is
    -- numbered anew (OVERRIDING USER VALUE ignores the copied one).
    INSERT INTO public.economics_policy OVERRIDING USER VALUE
    SELECT (v_new).*
    RETURNING * INTO v_new;

    -- Bring derived values up to the new policy.
    IF v_changed && ARRAY['weight_evidence_strength', 'weight_novelty',
                          'weight_strategic_alignment', 'weight_community_interest'] THEN
        PERFORM public.refresh_priority_scores();
    END IF;
    IF v_changed && ARRAY['weight_evidence_strength', 'weight_novelty',
                          'weight_strategic_alignment', 'weight_community_interest',
                          'min_priority_for_market_weight', 'max_market_boost',
                          'max_market_penalty', 'market_signal_window'] THEN
        PERFORM public.refresh_market_weights(now());
    END IF;
    IF v_changed && ARRAY['roi_window', 'time_zone'] THEN
        PERFORM public.refresh_roi_scores(now());
    END IF;
    RETURN v_new;
END;
$function$;
COMMENT ON FUNCTION public.adopt_economics_policy(jsonb,text,text) IS 'Adopts a new economics_policy version: copies the active version, applies changes (a JSON object of field -> new value, e.g. {"max_market_boost": 0.3}), records adopted_by and reason, deactivates the old version and activates the new one in one transaction, then refreshes priority scores, market weights and ROI scores as the changed fields require. Returns the new version. S1007 for a non-object or an unknown or protected field; CHECK violations (23514, for example weights not summing to 1) and bad values (22xxx) as the table reports them.';

-- define function public.set_senate_setting(text,boolean,text,text)
CREATE OR REPLACE FUNCTION public.set_senate_setting(p_setting text, p_value boolean, p_actor text, p_reason text)
 RETURNS boolean
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    v_old boolean;
BEGIN
    IF p_setting IS NULL OR p_setting NOT IN ('usage_append_only', 'usage_strict_validation') THEN
        RAISE EXCEPTION USING ERRCODE = '22023', COLUMN = 'setting',
            MESSAGE = format('setting %L is unknown', p_setting),
            HINT = 'Known settings: usage_append_only, usage_strict_validation.';
    END IF;
    IF p_value IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', COLUMN = 'value',
            MESSAGE = format('value of setting %s must be true or false, not NULL', p_setting);
    END IF;
    IF p_actor IS NULL OR length(btrim(p_actor)) NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', COLUMN = 'actor',
            MESSAGE = 'actor must name who changes the setting (1 to 200 characters)';
    END IF;
    IF p_reason IS NULL OR length(btrim(p_reason)) NOT BETWEEN 1 AND 2000 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', COLUMN = 'reason',
            MESSAGE = 'reason must say why the setting changes (1 to 2000 characters)';
    END IF;

    SELECT CASE p_setting WHEN 'usage_append_only' THEN s.usage_append_only
                          ELSE s.usage_strict_validation END
    INTO v_old
    FROM senate.settings AS s
    FOR UPDATE;

    UPDATE senate.settings AS s
    SET usage_append_only = CASE WHEN p_setting = 'usage_append_only' THEN p_value
                                 ELSE s.usage_append_only END,
        usage_strict_validation = CASE WHEN p_setting = 'usage_strict_validation' THEN p_value
                                       ELSE s.usage_strict_validation END,
        changed_at = now(),
        changed_by = btrim(p_actor),
        change_reason = btrim(p_reason);

    INSERT INTO senate.settings_log (setting, old_value, new_value, changed_by, reason)
    VALUES (p_setting, v_old, p_value, btrim(p_actor), btrim(p_reason));
    RETURN v_old;
END;
$function$;
COMMENT ON FUNCTION public.set_senate_setting(text,boolean,text,text) IS 'Turns a deployment guard on or off (usage_append_only, usage_strict_validation), logging who and why in senate.settings_log; returns the previous value. Administrators only.';

-- define function senate.rebalance_window(timestamp with time zone)
CREATE OR REPLACE FUNCTION senate.rebalance_window(p_as_of timestamp with time zone)
 RETURNS TABLE(window_start date, window_end date)
 LANGUAGE sql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
    SELECT b.period_start - greatest(1, ceil(extract(epoch FROM p.roi_window) / 86400))::integer,
           b.period_start
    FROM public.economics_policy AS p
    CROSS JOIN LATERAL senate.period_bounds(p_as_of, p.budget_period, p.time_zone) AS b
    WHERE p.is_active
$function$;
COMMENT ON FUNCTION senate.rebalance_window(timestamp with time zone) IS 'The review window of a rebalance run at p_as_of under the active policy: [window_start, window_end) as local dates, window_end = the start of p_as_of''s budget period, window_start = window_end - roi_window in whole days. No row without an active policy.';
