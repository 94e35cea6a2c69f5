-- Why: policy is data, and a change of policy must be a new version that says
-- who and why, with the old versions kept as history and exactly one in force.
-- 0007 created the versioned table; this migration makes the rules hold:
--   * adopt_economics_policy(changes, adopted_by, reason) copies the active
--     version, applies the changed fields, deactivates the old version and
--     activates the new one in one transaction, then brings the derived values
--     (priority_score, market_weight, roi_score) up to the new policy;
--   * versions are immutable: the only write allowed to an existing row is the
--     is_active flip from true to false (adoption does it); no DELETE, no TRUNCATE;
--   * exactly one version is active at every commit (deferred constraint trigger;
--     the unique partial index of 0007 already forbids two);
--   * time_zone must be a name in pg_timezone_names, and cannot change once usage
--     has been rolled up: senate.usage_rollups.usage_day is a day in the zone in
--     force when the usage was written, so changing it later would misalign
--     budget periods with recorded spend (the zone is set once, at install).
-- Adoption works column-generically (to_jsonb / jsonb_populate_record over the
-- table's columns), so columns that later migrations add to economics_policy are
-- carried over to new versions and can be changed the same way.
SET lock_timeout = '5s';

INSERT INTO senate.error_codes (sqlstate, error_name, meaning, hint) VALUES
  ('S1006', 'policy_immutable',
   'An economics_policy version was changed or deleted; versions are history.',
   'Adopt a new version with adopt_economics_policy(changes, adopted_by, reason).'),
  ('S1007', 'invalid_policy_change',
   'adopt_economics_policy was given something other than a JSON object of changeable policy fields.',
   'Pass a JSON object whose keys are economics_policy columns other than policy_version, is_active, created_at, created_by and reason.'),
  ('S1008', 'time_zone_change_refused',
   'The policy time zone cannot change once usage has been rolled up in the current zone.',
   'The time zone is set once, at install, before any usage is recorded.')
ON CONFLICT (sqlstate) DO NOTHING;

CREATE OR REPLACE FUNCTION senate.guard_economics_policy()
RETURNS trigger
LANGUAGE plpgsql
AS $$
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
$$;
COMMENT ON FUNCTION senate.guard_economics_policy() IS
  'Trigger on economics_policy: refuses UPDATE (except deactivating the active version), DELETE '
  'and TRUNCATE with S1006.';

DROP TRIGGER IF EXISTS t10_guard_economics_policy ON public.economics_policy;
CREATE TRIGGER t10_guard_economics_policy
    BEFORE UPDATE OR DELETE ON public.economics_policy
    FOR EACH ROW EXECUTE FUNCTION senate.guard_economics_policy();
COMMENT ON TRIGGER t10_guard_economics_policy ON public.economics_policy IS
  'Policy versions are immutable; only the is_active flip from true to false is allowed.';
DROP TRIGGER IF EXISTS t10_refuse_economics_policy_truncate ON public.economics_policy;
CREATE TRIGGER t10_refuse_economics_policy_truncate
    BEFORE TRUNCATE ON public.economics_policy
    FOR EACH STATEMENT EXECUTE FUNCTION senate.guard_economics_policy();
COMMENT ON TRIGGER t10_refuse_economics_policy_truncate ON public.economics_policy IS
  'Policy history is kept: TRUNCATE is refused (S1006).';

CREATE OR REPLACE FUNCTION senate.validate_economics_policy()
RETURNS trigger
LANGUAGE plpgsql
AS $$
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
$$;
COMMENT ON FUNCTION senate.validate_economics_policy() IS
  'Row trigger before INSERT on economics_policy: time_zone must be in pg_timezone_names (22023) '
  'and may not differ from the previous version''s once usage is rolled up (S1008).';

DROP TRIGGER IF EXISTS t10_validate_economics_policy ON public.economics_policy;
CREATE TRIGGER t10_validate_economics_policy
    BEFORE INSERT ON public.economics_policy
    FOR EACH ROW EXECUTE FUNCTION senate.validate_economics_policy();
COMMENT ON TRIGGER t10_validate_economics_policy ON public.economics_policy IS
  'A new policy version names a known time zone, and keeps the zone once usage is rolled up.';

CREATE OR REPLACE FUNCTION senate.require_one_active_policy()
RETURNS trigger
LANGUAGE plpgsql
AS $$
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
$$;
COMMENT ON FUNCTION senate.require_one_active_policy() IS
  'Deferred constraint trigger on economics_policy: at commit exactly one version is active (S1002).';

DROP TRIGGER IF EXISTS t10_require_one_active_policy ON public.economics_policy;
CREATE CONSTRAINT TRIGGER t10_require_one_active_policy
    AFTER INSERT OR UPDATE ON public.economics_policy
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION senate.require_one_active_policy();
COMMENT ON TRIGGER t10_require_one_active_policy ON public.economics_policy IS
  'Exactly one policy version is active when the transaction commits.';

CREATE OR REPLACE FUNCTION public.adopt_economics_policy(
    changes jsonb, adopted_by text, reason text)
RETURNS public.economics_policy
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_old public.economics_policy;
    v_new public.economics_policy;
    v_key text;
    v_columns text;
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

    -- Every column except the identity, so later-added columns are carried over.
    SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO v_columns
    FROM pg_catalog.pg_attribute AS a
    WHERE a.attrelid = 'public.economics_policy'::regclass AND a.attnum > 0
      AND NOT a.attisdropped AND a.attidentity = '' AND a.attgenerated = ''
      AND a.attname <> 'policy_version';
    EXECUTE format('INSERT INTO public.economics_policy (%1$s) '
                   'SELECT %1$s FROM jsonb_populate_record(NULL::public.economics_policy, $1) '
                   'RETURNING *', v_columns)
    INTO v_new
    USING to_jsonb(v_new);

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
$$;
COMMENT ON FUNCTION public.adopt_economics_policy(jsonb, text, text) IS
  'Adopts a new economics_policy version: copies the active version, applies changes (a JSON object '
  'of field -> new value, e.g. {"max_market_boost": 0.3}), records adopted_by and reason, '
  'deactivates the old version and activates the new one in one transaction, then refreshes '
  'priority scores, market weights and ROI scores as the changed fields require. Returns the new '
  'version. S1007 for a non-object or an unknown or protected field; CHECK violations (23514, for '
  'example weights not summing to 1) and bad values (22xxx) as the table reports them.';
