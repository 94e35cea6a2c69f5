-- Why: a service that times out after writing usage does not know whether the
-- row was committed, so it retries; without a key the retry counts the spend
-- twice. record_resource_usage() records one usage event under the writer's
-- idempotency key with INSERT ... ON CONFLICT DO NOTHING (arbiter: the partial
-- unique index of 0052) and tells the caller whether this call recorded it
-- (recorded = true) or found it already recorded by an earlier attempt
-- (recorded = false, with the id of that row). A key reused for a different
-- event (other entity, class, amount or model) is a caller bug: S4005.
-- A plain INSERT that repeats a key fails with 23505 (unique_violation).
-- Argument types follow the deployed columns (%TYPE), so the function works on
-- deployments with uuid or bigint ids, integer amounts or timestamp columns.
SET lock_timeout = '5s';

CREATE OR REPLACE FUNCTION public.record_resource_usage(
    p_entity_type      public.resource_usage.entity_type%TYPE,
    p_entity_id        public.resource_usage.entity_id%TYPE,
    p_resource_type    public.resource_usage.resource_type%TYPE,
    p_amount           numeric,
    p_idempotency_key  text,
    p_model            public.resource_usage.model%TYPE DEFAULT NULL,
    p_cost             numeric DEFAULT NULL,
    p_provider         public.resource_usage.provider%TYPE DEFAULT NULL,
    p_artifact_type    public.resource_usage.artifact_type%TYPE DEFAULT NULL,
    p_artifact_id      public.resource_usage.artifact_id%TYPE DEFAULT NULL,
    p_analysis_id      public.resource_usage.analysis_id%TYPE DEFAULT NULL,
    p_task_id          public.resource_usage.task_id%TYPE DEFAULT NULL,
    p_created_at       public.resource_usage.created_at%TYPE DEFAULT NULL,
    p_metadata         jsonb DEFAULT NULL)
RETURNS TABLE (usage_id public.resource_usage.id%TYPE, recorded boolean)
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_id public.resource_usage.id%TYPE;
    v_existing record;
BEGIN
    IF p_entity_type IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', COLUMN = 'entity_type',
            MESSAGE = 'entity_type must name the kind of entity charged, not NULL';
    END IF;
    IF p_entity_id IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', COLUMN = 'entity_id',
            MESSAGE = 'entity_id must name the entity charged, not NULL';
    END IF;
    IF p_resource_type IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', COLUMN = 'resource_type',
            MESSAGE = 'resource_type must name the resource class used, not NULL';
    END IF;
    IF p_amount IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22004', COLUMN = 'amount',
            MESSAGE = 'amount must be the amount used, not NULL';
    END IF;
    IF p_amount < 0 OR p_amount IN ('NaN', 'Infinity') THEN
        RAISE EXCEPTION USING ERRCODE = '22023', COLUMN = 'amount',
            MESSAGE = format('amount %s is invalid: usage is finite and >= 0', p_amount);
    END IF;
    IF p_cost < 0 OR p_cost IN ('NaN', 'Infinity') THEN
        RAISE EXCEPTION USING ERRCODE = '22023', COLUMN = 'cost',
            MESSAGE = format('cost %s USD is invalid: a cost is finite and >= 0', p_cost);
    END IF;
    IF length(p_idempotency_key) NOT BETWEEN 1 AND 200 THEN
        RAISE EXCEPTION USING ERRCODE = '22023', COLUMN = 'idempotency_key',
            MESSAGE = format('idempotency_key must have 1 to 200 characters, not %s',
                             length(p_idempotency_key));
    END IF;

    INSERT INTO public.resource_usage AS u
        (entity_type, entity_id, resource_type, amount, cost, model, provider,
         artifact_type, artifact_id, analysis_id, task_id, created_at, metadata, idempotency_key)
    VALUES
        (p_entity_type, p_entity_id, p_resource_type, p_amount, p_cost, p_model, p_provider,
         p_artifact_type, p_artifact_id, p_analysis_id, p_task_id, coalesce(p_created_at, now()),
         coalesce(p_metadata, '{}'::jsonb), p_idempotency_key)
    ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
    RETURNING u.id INTO v_id;

    IF v_id IS NOT NULL THEN
        RETURN QUERY SELECT v_id, true;
        RETURN;
    END IF;

    -- A row with this key exists (committed before the INSERT above, which waited for it).
    SELECT u.id, u.entity_type, u.entity_id, u.resource_type, u.amount, u.model
    INTO v_existing
    FROM public.resource_usage AS u
    WHERE u.idempotency_key = p_idempotency_key;
    IF v_existing.entity_type IS DISTINCT FROM p_entity_type
       OR v_existing.entity_id IS DISTINCT FROM p_entity_id
       OR v_existing.resource_type IS DISTINCT FROM p_resource_type
       OR v_existing.amount::numeric IS DISTINCT FROM p_amount
       OR v_existing.model IS DISTINCT FROM p_model THEN
        RAISE EXCEPTION USING ERRCODE = 'S4005', COLUMN = 'idempotency_key',
            MESSAGE = format('idempotency_key %L is already recorded for a different usage (row %s)',
                             p_idempotency_key, v_existing.id);
    END IF;
    RETURN QUERY SELECT v_existing.id, false;
END;
$$;
COMMENT ON FUNCTION public.record_resource_usage(
    public.resource_usage.entity_type%TYPE, public.resource_usage.entity_id%TYPE,
    public.resource_usage.resource_type%TYPE, numeric, text, public.resource_usage.model%TYPE,
    numeric, public.resource_usage.provider%TYPE, public.resource_usage.artifact_type%TYPE,
    public.resource_usage.artifact_id%TYPE, public.resource_usage.analysis_id%TYPE,
    public.resource_usage.task_id%TYPE, public.resource_usage.created_at%TYPE, jsonb) IS
  'Idempotent ingest of one usage event: (entity_type, entity_id, resource_type, amount in the '
  'unit of the class: tokens, CPU-seconds, GB-hours or calls, idempotency_key, model, cost in '
  'USD, provider, artifact_type, artifact_id, analysis_id, task_id, created_at default now(), '
  'metadata). Returns (usage_id, recorded): recorded is false when a row with this key was '
  'already recorded, and usage_id is then that row. NULL key: always records. Same key for a '
  'different event: S4005. Call with named arguments.';
