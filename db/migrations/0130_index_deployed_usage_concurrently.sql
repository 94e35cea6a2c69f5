-- transactional: false
-- Why: resource_usage_entity_created_idx serves every "spend of this entity over a period"
-- read. 0003 creates it only on an empty table (a fresh install) or adopts the deployment's
-- own; on a deployed table holding rows a plain CREATE INDEX would block every writer for the
-- whole build (2.3 s at 2 M rows), so it is built here CONCURRENTLY: writers keep inserting
-- (issue 14 point 10). CONCURRENTLY cannot run inside a transaction, hence the first line.
--
-- Idempotent, also after a failure: a CONCURRENTLY build that failed (for example on
-- lock_timeout) leaves an INVALID index behind, which IF NOT EXISTS would then keep forever;
-- the DO block drops such a leftover first (a catalog change that never waits on the data).
-- The index is recorded as 0130's only when 0130 creates it, so the rollback drops only that.
SET lock_timeout = '5s';

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_index AS i
               WHERE i.indexrelid = to_regclass('public.resource_usage_entity_created_idx')
                 AND NOT i.indisvalid)
       AND EXISTS (SELECT 1 FROM senate.schema_registry AS g
                   WHERE g.object_kind = 'index'
                     AND g.relation = 'public.resource_usage_entity_created_idx'
                     AND g.migration = '0130' AND g.action = 'created') THEN
        DROP INDEX public.resource_usage_entity_created_idx;
    END IF;
END;
$$;

CALL senate.claim('0130', 'index', 'public.resource_usage_entity_created_idx');

-- Not in a transaction (first line of the file).
-- squawk-ignore ban-concurrent-index-creation-in-transaction
CREATE INDEX CONCURRENTLY IF NOT EXISTS resource_usage_entity_created_idx
    ON public.resource_usage (entity_type, entity_id, created_at);

CALL senate.settle_comments('0130');
