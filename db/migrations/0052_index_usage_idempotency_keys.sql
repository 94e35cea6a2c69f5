-- transactional: false
-- Why: idempotency keys must be unique where present, and correct_resource_usage()
-- must find the corrections of a row without scanning the table. On a deployed
-- resource_usage with millions of rows a plain CREATE INDEX would block every
-- writer for the whole build, so both partial indexes are built CONCURRENTLY
-- (writers keep inserting), which cannot run inside a transaction: this
-- migration runs statement by statement (first line of the file).
--
-- Idempotent, also after a failure: a CONCURRENTLY build that failed (for
-- example on lock_timeout) leaves an INVALID index behind, which IF NOT EXISTS
-- would then keep forever; the DO blocks drop such a leftover first. Dropping an
-- invalid index is a catalog change that never waits on the data.
SET lock_timeout = '5s';

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_index AS i
               WHERE i.indexrelid = to_regclass('public.resource_usage_idempotency_key_idx')
                 AND NOT i.indisvalid) THEN
        DROP INDEX public.resource_usage_idempotency_key_idx;
    END IF;
END;
$$;

-- squawk assumes every file runs in a transaction (.squawk.toml); this one does
-- not (first line), which is what CONCURRENTLY needs.
-- squawk-ignore ban-concurrent-index-creation-in-transaction
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS resource_usage_idempotency_key_idx
    ON public.resource_usage (idempotency_key)
    WHERE idempotency_key IS NOT NULL;

COMMENT ON INDEX public.resource_usage_idempotency_key_idx IS
  'An idempotency key is recorded once (partial: rows without a key are not indexed); the arbiter '
  'of record_resource_usage''s ON CONFLICT DO NOTHING.';

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_index AS i
               WHERE i.indexrelid = to_regclass('public.resource_usage_corrects_usage_id_idx')
                 AND NOT i.indisvalid) THEN
        DROP INDEX public.resource_usage_corrects_usage_id_idx;
    END IF;
END;
$$;

-- Not in a transaction (first line of the file).
-- squawk-ignore ban-concurrent-index-creation-in-transaction
CREATE INDEX CONCURRENTLY IF NOT EXISTS resource_usage_corrects_usage_id_idx
    ON public.resource_usage (corrects_usage_id)
    WHERE corrects_usage_id IS NOT NULL;

COMMENT ON INDEX public.resource_usage_corrects_usage_id_idx IS
  'Finds the correction rows of a usage row (partial: only correction rows are indexed).';
