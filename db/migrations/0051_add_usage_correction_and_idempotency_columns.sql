-- Why: resource_usage is an append-only record, so a wrong row is corrected by
-- a reversal row that names the row it corrects and why (corrects_usage_id,
-- correction_reason, correction_actor, corrected_at), and a writer that
-- retries after a timeout must not record the same spend twice
-- (idempotency_key, unique where present: its index is built CONCURRENTLY by
-- 0052, outside a transaction, so a big deployed table stays writable).
--
-- Every column is nullable without a default: adding it to a deployed table is
-- a catalog-only change (no rewrite, no scan). corrects_usage_id takes the type
-- of the deployed id column (bigint, uuid, text, ...). No foreign key: legacy
-- consumers that may still DELETE usage rows (usage_append_only off) must not
-- start failing; correct_resource_usage() checks the target instead.
-- The CHECK constraints are NOT VALID: they bind every new or updated row at
-- once, and existing rows hold NULL in these new columns, so there is nothing
-- to validate (no scan of the deployed table).
SET lock_timeout = '5s';

CALL senate.claim('0051', 'column', 'public.resource_usage', 'idempotency_key');
ALTER TABLE public.resource_usage ADD COLUMN IF NOT EXISTS idempotency_key text;
CALL senate.claim('0051', 'column', 'public.resource_usage', 'correction_reason');
ALTER TABLE public.resource_usage ADD COLUMN IF NOT EXISTS correction_reason text;
CALL senate.claim('0051', 'column', 'public.resource_usage', 'correction_actor');
ALTER TABLE public.resource_usage ADD COLUMN IF NOT EXISTS correction_actor text;
CALL senate.claim('0051', 'column', 'public.resource_usage', 'corrected_at');
ALTER TABLE public.resource_usage ADD COLUMN IF NOT EXISTS corrected_at timestamptz;

DO $$
DECLARE
    v_id_type text;
BEGIN
    SELECT format_type(a.atttypid, a.atttypmod) INTO STRICT v_id_type
    FROM pg_attribute AS a
    WHERE a.attrelid = 'public.resource_usage'::regclass AND a.attname = 'id' AND NOT a.attisdropped;
    CALL senate.claim('0051', 'column', 'public.resource_usage', 'corrects_usage_id');
    EXECUTE format('ALTER TABLE public.resource_usage ADD COLUMN IF NOT EXISTS corrects_usage_id %s',
                   v_id_type);

    CALL senate.claim('0051', 'constraint', 'public.resource_usage', 'resource_usage_idempotency_key_check');
    IF NOT EXISTS (SELECT 1 FROM pg_constraint
                   WHERE conrelid = 'public.resource_usage'::regclass
                     AND conname = 'resource_usage_idempotency_key_check') THEN
        ALTER TABLE public.resource_usage ADD CONSTRAINT resource_usage_idempotency_key_check
            CHECK (length(idempotency_key) BETWEEN 1 AND 200) NOT VALID;
    END IF;
    CALL senate.claim('0051', 'constraint', 'public.resource_usage', 'resource_usage_correction_check');
    IF NOT EXISTS (SELECT 1 FROM pg_constraint
                   WHERE conrelid = 'public.resource_usage'::regclass
                     AND conname = 'resource_usage_correction_check') THEN
        ALTER TABLE public.resource_usage ADD CONSTRAINT resource_usage_correction_check
            CHECK ((corrects_usage_id IS NULL AND correction_reason IS NULL
                    AND correction_actor IS NULL AND corrected_at IS NULL)
                OR (corrects_usage_id IS NOT NULL
                    AND length(btrim(correction_reason)) BETWEEN 1 AND 2000
                    AND length(btrim(correction_actor)) BETWEEN 1 AND 200
                    AND corrected_at IS NOT NULL)) NOT VALID;
    END IF;
END;
$$;

COMMENT ON COLUMN public.resource_usage.idempotency_key IS
  'Writer-chosen key of one usage event (1 to 200 characters), unique where present: a retried '
  'write with the same key records nothing twice (see record_resource_usage). NULL: no key.';
COMMENT ON COLUMN public.resource_usage.corrects_usage_id IS
  'For a correction row: id of the usage row it corrects. Its amount is the change (negative '
  'when the original overstated). Written only by correct_resource_usage(). NULL otherwise.';
COMMENT ON COLUMN public.resource_usage.correction_reason IS 'For a correction row: why the original was wrong.';
COMMENT ON COLUMN public.resource_usage.correction_actor IS 'For a correction row: who corrected it.';
COMMENT ON COLUMN public.resource_usage.corrected_at IS
  'For a correction row: when the correction was recorded (created_at keeps the time of the '
  'original spend, so the correction counts in the original''s day and budget period).';
COMMENT ON CONSTRAINT resource_usage_idempotency_key_check ON public.resource_usage IS
  'An idempotency key has 1 to 200 characters.';
COMMENT ON CONSTRAINT resource_usage_correction_check ON public.resource_usage IS
  'A correction row carries the corrected row id, a reason, an actor and a time; other rows none of them.';

CALL senate.settle_comments('0051');
