-- Why: two protections of resource_usage depend on the deployment, not on
-- Senate policy: the append-only guard (legacy consumers of a deployed table
-- may still UPDATE or DELETE usage rows) and strict validation of inserted
-- usage (deployed writers may write models or providers this project does not
-- know yet). They live in one small table, senate.settings, rather than in the
-- versioned economics_policy: they do not change how proposals are judged, a
-- trigger reads them on every statement, and every change is logged with who
-- and why in senate.settings_log (append-only).
--
-- Initial values, decided once when this migration runs:
--   1. an explicit choice wins: a database-level setting made BEFORE
--      migrating, e.g.  ALTER DATABASE scidex SET senate.usage_append_only = off;
--      (also senate.usage_strict_validation);
--   2. otherwise a fresh install (resource_usage holds no rows) gets both ON;
--      a deployed database (resource_usage already holds rows, so consumers
--      exist) gets both OFF, so migrating never breaks a running consumer.
--      The operator turns them on when the consumers are ready:
--        SELECT set_senate_setting('usage_append_only', true, 'ops', 'consumers migrated');
SET lock_timeout = '5s';

INSERT INTO senate.error_codes (sqlstate, error_name, meaning, hint) VALUES
  ('S4002', 'usage_row_immutable',
   'An UPDATE, DELETE or TRUNCATE of resource_usage was refused: usage is append-only while '
   'senate.settings.usage_append_only is on.',
   'Correct a usage row with correct_resource_usage(usage_id, corrected_amount, reason, actor), '
   'which writes a reversal row with the reason.'),
  ('S4003', 'usage_row_not_found',
   'A correction named a resource_usage row that does not exist.',
   'Pass the id of an existing usage row.'),
  ('S4004', 'correction_of_correction',
   'A correction named a row that is itself a correction.',
   'Correct the original row (corrects_usage_id of the correction); a correction sets its new total.'),
  ('S4005', 'idempotency_key_reused',
   'A usage write reused an idempotency key already recorded for a different usage '
   '(other entity, resource class or amount).',
   'An idempotency key identifies one usage event: use a new key for a new event.')
ON CONFLICT (sqlstate) DO NOTHING;

CREATE TABLE IF NOT EXISTS senate.settings (
    singleton                boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    usage_append_only        boolean NOT NULL,
    usage_strict_validation  boolean NOT NULL,
    changed_at               timestamptz NOT NULL DEFAULT now(),
    changed_by               text NOT NULL CHECK (length(changed_by) BETWEEN 1 AND 200),
    change_reason            text NOT NULL CHECK (length(btrim(change_reason)) BETWEEN 1 AND 2000)
);
COMMENT ON TABLE senate.settings IS
  'Deployment settings of the Senate layer''s integrity guards (exactly one row). Change them '
  'with set_senate_setting(setting, value, actor, reason); every change is logged in '
  'senate.settings_log.';
COMMENT ON COLUMN senate.settings.singleton IS 'Always true: the table holds one row.';
COMMENT ON COLUMN senate.settings.usage_append_only IS
  'When on (fresh installs), UPDATE, DELETE and TRUNCATE of resource_usage are refused '
  '(SQLSTATE S4002) and corrections go through correct_resource_usage(). Turn off for a '
  'deployment whose legacy consumers still update usage rows (the compatibility triggers keep '
  'each column pair in sync and the rollup triggers keep totals exact either way).';
COMMENT ON COLUMN senate.settings.usage_strict_validation IS
  'When on (fresh installs), inserted usage rows must name a known entity type, resource class, '
  'model (llm_tokens rows that name one) and provider (api_calls rows that name one), and a '
  'non-negative finite amount (only correction rows are negative). Off for deployments whose '
  'writers may write names the reference tables do not hold yet.';
COMMENT ON COLUMN senate.settings.changed_at IS 'When the settings last changed.';
COMMENT ON COLUMN senate.settings.changed_by IS 'Who last changed them.';
COMMENT ON COLUMN senate.settings.change_reason IS 'Why they were last changed.';

INSERT INTO senate.settings
    (usage_append_only, usage_strict_validation, changed_by, change_reason)
SELECT coalesce(nullif(current_setting('senate.usage_append_only', true), '')::boolean,
                NOT d.deployed),
       coalesce(nullif(current_setting('senate.usage_strict_validation', true), '')::boolean,
                NOT d.deployed),
       'senate-db migration 0050',
       CASE WHEN d.deployed
            THEN 'Initial values: resource_usage already held rows (a deployment with consumers).'
            ELSE 'Initial values: fresh install.' END
FROM (SELECT EXISTS (SELECT 1 FROM public.resource_usage) AS deployed) AS d
ON CONFLICT (singleton) DO NOTHING;

CREATE TABLE IF NOT EXISTS senate.settings_log (
    log_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    setting     text NOT NULL,
    old_value   boolean,
    new_value   boolean NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    changed_by  text NOT NULL,
    reason      text NOT NULL
);
COMMENT ON TABLE senate.settings_log IS
  'Append-only history of changes to senate.settings: which guard was turned on or off, by whom and why.';
COMMENT ON COLUMN senate.settings_log.log_id IS 'Order of recording.';
COMMENT ON COLUMN senate.settings_log.setting IS 'Name of the setting (a column of senate.settings).';
COMMENT ON COLUMN senate.settings_log.old_value IS 'Value before the change.';
COMMENT ON COLUMN senate.settings_log.new_value IS 'Value after the change.';
COMMENT ON COLUMN senate.settings_log.changed_at IS 'When the change was made (clock time).';
COMMENT ON COLUMN senate.settings_log.changed_by IS 'Actor named by the caller.';
COMMENT ON COLUMN senate.settings_log.reason IS 'Why the change was made.';

DROP TRIGGER IF EXISTS t10_refuse_settings_log_changes ON senate.settings_log;
CREATE TRIGGER t10_refuse_settings_log_changes
    BEFORE UPDATE OR DELETE ON senate.settings_log
    FOR EACH STATEMENT EXECUTE FUNCTION senate.refuse_ledger_change();
DROP TRIGGER IF EXISTS t10_refuse_settings_log_truncate ON senate.settings_log;
CREATE TRIGGER t10_refuse_settings_log_truncate
    BEFORE TRUNCATE ON senate.settings_log
    FOR EACH STATEMENT EXECUTE FUNCTION senate.refuse_ledger_change();
COMMENT ON TRIGGER t10_refuse_settings_log_changes ON senate.settings_log IS
  'The settings log is append-only: UPDATE and DELETE are refused (S4001).';
COMMENT ON TRIGGER t10_refuse_settings_log_truncate ON senate.settings_log IS
  'The settings log is append-only: TRUNCATE is refused (S4001).';

CREATE OR REPLACE FUNCTION senate.usage_append_only()
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce((SELECT s.usage_append_only FROM senate.settings AS s), true)
$$;
COMMENT ON FUNCTION senate.usage_append_only() IS
  'Whether resource_usage is append-only now (senate.settings; on when the row is missing).';

CREATE OR REPLACE FUNCTION senate.usage_strict_validation()
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT coalesce((SELECT s.usage_strict_validation FROM senate.settings AS s), true)
$$;
COMMENT ON FUNCTION senate.usage_strict_validation() IS
  'Whether inserted usage rows are strictly validated now (senate.settings; on when the row is missing).';

CREATE OR REPLACE FUNCTION public.set_senate_setting(
    p_setting text, p_value boolean, p_actor text, p_reason text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
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
$$;
COMMENT ON FUNCTION public.set_senate_setting(text, boolean, text, text) IS
  'Turns a deployment guard on or off (usage_append_only, usage_strict_validation), logging '
  'who and why in senate.settings_log; returns the previous value. Administrators only.';
