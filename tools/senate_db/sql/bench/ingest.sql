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
