-- transactional: false
-- Removes only what 0052 added, without blocking writers.
SET lock_timeout = '5s';

DROP INDEX CONCURRENTLY IF EXISTS public.resource_usage_corrects_usage_id_idx;

DROP INDEX CONCURRENTLY IF EXISTS public.resource_usage_idempotency_key_idx;
