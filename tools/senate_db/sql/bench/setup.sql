-- senate-db bench: the scratch database's own objects and the server description.
--
-- Every file in sql/bench holds named statements for the bench (senate_db.bench_sql loads
-- them). A statement starts at a `-- name: NAME` line; the comment lines right after it say
-- what it does and are not sent. Statements are psycopg query text: %s and %(name)s are
-- parameters (in a statement that takes any, a literal percent sign is %%); {name} is an
-- identifier or literal the driver composes in (psycopg.sql), and a composed statement has no
-- other braces. Everything runs in the bench's scratch database, dropped at the end: nothing
-- here is a migration.

-- name: setup
-- Schema bench: the generated population, the baseline tables' id sequence, monthly
-- partitions for the partitioned design option, and the server-side timer.
CREATE SCHEMA bench;
COMMENT ON SCHEMA bench IS 'senate-db bench scratch objects (dropped with the scratch database).';

CREATE SEQUENCE bench.bare_id_seq;
COMMENT ON SEQUENCE bench.bare_id_seq IS
    'Ids of the bench''s baseline and peer tables (not resource_usage''s own sequence).';

-- Entity n of the generated population (skewed: low n are the busy ones).
CREATE FUNCTION bench.entity_type_of(n bigint) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT (ARRAY['hypothesis', 'knowledge_gap', 'analysis', 'entity'])[1 + n % 4] $$;
COMMENT ON FUNCTION bench.entity_type_of(bigint) IS 'Entity kind of generated entity n.';
CREATE FUNCTION bench.entity_id_of(n bigint) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$ SELECT 'bench-' || n $$;
COMMENT ON FUNCTION bench.entity_id_of(bigint) IS 'Entity id of generated entity n.';

CREATE FUNCTION bench.create_monthly_partitions(p_table text) RETURNS void
LANGUAGE plpgsql
AS $fn$
DECLARE
    v_month date;
    v_i integer := 0;
BEGIN
    FOR v_month IN
        SELECT m::date FROM generate_series(date_trunc('month', now() - interval '2 months'),
                                            date_trunc('month', now()), interval '1 month') AS m
    LOOP
        EXECUTE format('CREATE TABLE %s_m%s PARTITION OF %s FOR VALUES FROM (%L) TO (%L)',
                       p_table, v_i, p_table, v_month, (v_month + interval '1 month')::date);
        v_i := v_i + 1;
    END LOOP;
    EXECUTE format('CREATE TABLE %s_default PARTITION OF %s DEFAULT', p_table, p_table);
END;
$fn$;
COMMENT ON FUNCTION bench.create_monthly_partitions(text) IS
    'Partitions of p_table (a schema-qualified name) for the last three months and a default one.';

-- The timer: bench.time_statement(statement, calls) creates, once per statement text, a
-- function that runs the statement `calls` times with its plan cached (as a service's driver
-- runs a prepared statement: no client round trip, no planning) after a warm-up, and returns
-- the p50, p99 and mean of the calls in milliseconds.
CREATE FUNCTION bench.time_statement(p_statement text, p_calls integer)
RETURNS TABLE (p50_ms float8, p99_ms float8, mean_ms float8)
LANGUAGE plpgsql
AS $fn$
DECLARE
    v_name text := 'time_' || md5(p_statement);
BEGIN
    IF to_regprocedure(format('bench.%I(integer)', v_name)) IS NULL THEN
        EXECUTE format($body$
            CREATE FUNCTION bench.%1$I(p_calls integer)
            RETURNS TABLE (p50_ms float8, p99_ms float8, mean_ms float8)
            LANGUAGE plpgsql
            AS $timer$
            DECLARE
                v_t0 timestamptz;
                v_ms float8[] := ARRAY[]::float8[];
            BEGIN
                FOR i IN 1 .. greatest(p_calls / 10, 5) LOOP  -- warm caches; the plan is cached
                    PERFORM * FROM (%2$s) AS q;
                END LOOP;
                FOR i IN 1 .. p_calls LOOP
                    v_t0 := clock_timestamp();
                    PERFORM * FROM (%2$s) AS q;
                    v_ms := v_ms || (extract(epoch FROM clock_timestamp() - v_t0) * 1000)::float8;
                END LOOP;
                RETURN QUERY
                    SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x),
                           percentile_cont(0.99) WITHIN GROUP (ORDER BY x), avg(x)
                    FROM unnest(v_ms) AS x;
            END;
            $timer$;
            COMMENT ON FUNCTION bench.%1$I(integer) IS %3$L;
        $body$, v_name, p_statement, 'bench timer of: ' || left(p_statement, 200));
    END IF;
    RETURN QUERY EXECUTE format('SELECT * FROM bench.%I($1)', v_name) USING p_calls;
END;
$fn$;
COMMENT ON FUNCTION bench.time_statement(text, integer) IS
    'p50, p99 and mean milliseconds of p_calls runs of p_statement, its plan cached.';

-- name: time_statement
SELECT p50_ms, p99_ms FROM bench.time_statement(%s, %s)

-- name: server_version
SELECT version()

-- name: server_settings
-- The settings named in the array, with their current values.
SELECT name, current_setting(name) FROM unnest(%s::text[]) AS name

-- name: reconcile
-- Rollup keys whose totals differ from the usage rows (0 when the rollups are exact).
SELECT count(*) FROM public.reconcile_usage_rollups()

-- name: usage_row_count
SELECT count(*) FROM public.resource_usage
