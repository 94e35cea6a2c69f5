-- senate-db bench: ingest into resource_usage against its bare copies (format: setup.sql).
-- The six columns every ingest path writes are bench_sql.INGEST_COLUMNS, in this order.

-- name: create_bare_copy
-- A table like resource_usage (columns, defaults, CHECKs, indexes) with no trigger and no
-- foreign key, numbered from the bench's own sequence.
CREATE TABLE {table} (LIKE public.resource_usage
                      INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES);
ALTER TABLE {table} ALTER COLUMN id SET DEFAULT nextval('bench.bare_id_seq');
COMMENT ON TABLE {table} IS {comment}

-- name: create_partitioned_copy
-- The bare copy partitioned by month of created_at (a design option the breakdown measures).
CREATE TABLE {table} (LIKE public.resource_usage INCLUDING DEFAULTS INCLUDING CONSTRAINTS)
    PARTITION BY RANGE (created_at);
ALTER TABLE {table} ADD PRIMARY KEY (id, created_at);
CREATE INDEX ON {table} (entity_type, entity_id, created_at);
ALTER TABLE {table} ALTER COLUMN id SET DEFAULT nextval('bench.bare_id_seq');
COMMENT ON TABLE {table} IS {comment};
SELECT bench.create_monthly_partitions({name})

-- name: insert_usage_row
INSERT INTO {table} (entity_type, entity_id, resource_type, amount, model, provider)
VALUES (%s, %s, %s, %s, %s, %s)

-- name: insert_usage_rows
-- The head of a multi-row INSERT; the driver appends the rows' literal tuples.
INSERT INTO {table} (entity_type, entity_id, resource_type, amount, model, provider) VALUES

-- name: copy_usage
COPY {table} (entity_type, entity_id, resource_type, amount, model, provider) FROM STDIN

-- name: usage_insert_components
-- What resource_usage carries beyond its bare copy, one row per part: its foreign keys (one
-- part, checked per row) and each trigger that fires on INSERT. ddl creates the part; the
-- driver replaces the text {table} in it (not composed) with the copy's name.
SELECT label, ddl
FROM (
    SELECT 0 AS part, format('%s foreign keys (checked per row)', count(*)) AS label,
           string_agg(format('ALTER TABLE {table} ADD CONSTRAINT %I %s',
                             c.conname, pg_get_constraintdef(c.oid)), '; ' ORDER BY c.conname)
               AS ddl
    FROM pg_catalog.pg_constraint AS c
    WHERE c.conrelid = 'public.resource_usage'::regclass AND c.contype = 'f'
    HAVING count(*) > 0
    UNION ALL
    SELECT 1, 'trigger ' || t.tgname,
           replace(pg_get_triggerdef(t.oid), ' ON public.resource_usage ', ' ON {table} ')
    FROM pg_catalog.pg_trigger AS t
    WHERE t.tgrelid = 'public.resource_usage'::regclass AND NOT t.tgisinternal
      AND t.tgenabled <> 'D' AND (t.tgtype & 4) <> 0  -- fires on INSERT
) AS parts
ORDER BY part, label

-- name: forget_breakdown_rollups
-- The breakdown's copies with the rollup trigger wrote rollups for rows resource_usage does not
-- hold (their entities are tagged bd*): remove them, so that the rollups still reconcile.
DELETE FROM senate.usage_rollups WHERE starts_with(entity_id, 'bd')

-- name: drop_table
DROP TABLE {table}

-- name: empty_table
TRUNCATE {table}

-- name: create_single_row_parts
-- The parts of senate.account_usage_inserts()'s one-row path, each alone in a statement-level
-- trigger function of its own (issue 20 point 3), so that the breakdown prices each one: the
-- trigger call with its transition table; the same as SECURITY DEFINER with SET search_path
-- (what the real one is, to write the rollups and lock the kinds as their owner); the read of
-- the row with its price row, policy and settings (the trigger's first statement); the lock
-- of its kind and class FOR KEY SHARE; the rollup upsert with its shard claim. The last two
-- read only the row's own columns first.
CREATE FUNCTION bench.part_call() RETURNS trigger LANGUAGE plpgsql
AS $fn$ BEGIN RETURN NULL; END $fn$;
COMMENT ON FUNCTION bench.part_call() IS 'Breakdown part: an empty statement trigger.';
CREATE FUNCTION bench.part_definer() RETURNS trigger LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
AS $fn$ BEGIN RETURN NULL; END $fn$;
COMMENT ON FUNCTION bench.part_definer() IS
    'Breakdown part: an empty statement trigger, SECURITY DEFINER with SET search_path.';
CREATE FUNCTION bench.part_read() RETURNS trigger LANGUAGE plpgsql
AS $fn$
DECLARE
    v record;
BEGIN
    SELECT n.entity_type::text AS entity_type, n.entity_id::text AS entity_id,
           n.resource_type::text AS resource_type, n.model::text AS model,
           n.provider::text AS provider, n.amount::numeric AS amount,
           n.cost::numeric AS cost_usd, n.created_at::timestamptz AS created_at,
           n.corrects_usage_id IS NULL AS not_correction,
           n.artifact_type::text AS artifact_type, n.artifact_id::text AS artifact_id,
           n.analysis_id::text AS analysis_id, n.task_id::text AS task_id,
           n.idempotency_key::text AS idempotency_key,
           n.correction_reason::text AS correction_reason, n.metadata,
           (SELECT m FROM public.llm_models AS m WHERE m.model = n.model::text) AS m,
           (SELECT p FROM public.api_providers AS p WHERE p.provider = n.provider::text) AS p,
           (SELECT e FROM public.economics_policy AS e WHERE e.is_active) AS pol,
           coalesce((SELECT s.usage_strict_validation FROM senate.settings AS s), true)
               AS strict_validation,
           (SELECT pg_catalog.count(*) FROM (SELECT FROM new_rows LIMIT 20001) AS x)
               AS statement_rows
    INTO v
    FROM new_rows AS n
    LIMIT 1;
    RETURN NULL;
END
$fn$;
COMMENT ON FUNCTION bench.part_read() IS
    'Breakdown part: the read of account_usage_inserts() (row, price rows, policy, settings).';
CREATE FUNCTION bench.part_lock() RETURNS trigger LANGUAGE plpgsql
AS $fn$
DECLARE
    v record;
BEGIN
    SELECT n.entity_type::text AS entity_type, n.resource_type::text AS resource_type
    INTO v FROM new_rows AS n LIMIT 1;
    PERFORM FROM public.entity_types AS e, public.resource_types AS t
    WHERE e.entity_type = v.entity_type AND t.resource_type = v.resource_type
    FOR KEY SHARE;
    RETURN NULL;
END
$fn$;
COMMENT ON FUNCTION bench.part_lock() IS
    'Breakdown part: the row''s kind and class locked FOR KEY SHARE.';
CREATE FUNCTION bench.part_upsert() RETURNS trigger LANGUAGE plpgsql
AS $fn$
DECLARE
    v record;
    v_shard smallint;
BEGIN
    SELECT n.entity_type::text AS entity_type, n.entity_id::text AS entity_id,
           n.resource_type::text AS resource_type, n.amount::numeric AS amount,
           n.created_at::timestamptz AS created_at
    INTO v FROM new_rows AS n LIMIT 1;
    v_shard := senate.usage_rollup_shard();
    INSERT INTO senate.usage_rollups AS r
        (entity_type, entity_id, resource_type, usage_day, resource_subclass, shard,
         amount_total, cost_total_usd, usage_rows)
    VALUES (v.entity_type, v.entity_id, v.resource_type,
            (v.created_at AT TIME ZONE 'UTC')::date, '', v_shard, v.amount, 0, 1)
    ON CONFLICT (entity_type, entity_id, resource_type, usage_day, resource_subclass, shard)
    DO UPDATE SET amount_total = r.amount_total + excluded.amount_total,
                  cost_total_usd = r.cost_total_usd + excluded.cost_total_usd,
                  usage_rows = r.usage_rows + excluded.usage_rows;
    RETURN NULL;
END
$fn$;
COMMENT ON FUNCTION bench.part_upsert() IS
    'Breakdown part: the rollup upsert into the transaction''s shard.';

-- name: single_row_parts
-- The parts above as (label, ddl) rows, ddl in the form of usage_insert_components.
SELECT label, format('CREATE TRIGGER part AFTER INSERT ON {table} REFERENCING NEW TABLE AS '
                     'new_rows FOR EACH STATEMENT EXECUTE FUNCTION bench.%s()', fn) AS ddl
FROM (VALUES
    (1, 'part_call', 'one-row part: an empty statement trigger (the call, its transition table)'),
    (2, 'part_definer', 'one-row part: the same, SECURITY DEFINER with SET search_path'),
    (3, 'part_read', 'one-row part: read the row with its price row, policy and settings'),
    (4, 'part_lock', 'one-row part: lock its kind and class FOR KEY SHARE'),
    (5, 'part_upsert', 'one-row part: upsert its rollup into the shard')
) AS p (n, fn, label)
ORDER BY n
