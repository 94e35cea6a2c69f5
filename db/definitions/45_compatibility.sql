-- db/definitions/45_compatibility.sql -- Compatibility columns: the triggers that keep the deployment's columns and ours equal, their backfill and reconciliation.
--
-- The current definition of each function and view below; the post-apply hook
-- (db/migrations/post-apply_definitions.py) applies an object whenever its text here
-- changes. Each object starts at its '-- define' line. See README, "Adding a migration".
--
-- The four sync trigger functions (senate.sync_usage_compatibility_on_insert/_update,
-- senate.sync_proposal_compatibility_on_insert/_update) are not here: their bodies depend on
-- the deployment's columns, and senate.install_compatibility_sync() below generates them.

-- define function senate.column_default_test(regclass,text,text)
CREATE OR REPLACE FUNCTION senate.column_default_test(p_table regclass, p_column text, p_value text)
 RETURNS text
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    v_default text;
    v_type text;
BEGIN
    SELECT pg_get_expr(d.adbin, d.adrelid), format_type(a.atttypid, a.atttypmod)
    INTO v_default, v_type
    FROM pg_attribute AS a
    JOIN pg_attrdef AS d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
    WHERE a.attrelid = p_table AND a.attname = p_column AND a.attgenerated = '';
    IF v_default IS NULL THEN
        RETURN 'false';
    END IF;
    IF EXISTS (SELECT 1
               FROM regexp_matches(v_default, '([A-Za-z_][A-Za-z0-9_$]*)\s*\(', 'g') AS m
               JOIN pg_proc AS f ON f.proname = lower(m[1])
               WHERE f.provolatile = 'v') THEN
        RETURN 'true';
    END IF;
    RETURN format('%s = (%s)::%s', p_value, v_default, v_type);
END;
$function$;
COMMENT ON FUNCTION senate.column_default_test(regclass,text,text) IS 'Code generator helper: a PL/pgSQL boolean expression telling whether p_value (e.g. NEW.created_at) holds the column''s default, i.e. the writer most likely did not set it. ''false'' without a default; ''true'' for a volatile default (clock_timestamp(), nextval(), ...) whose value cannot be recomputed; otherwise the default re-evaluated (now() is the same within a transaction).';

-- define function senate.install_compatibility_sync()
CREATE OR REPLACE FUNCTION senate.install_compatibility_sync()
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    t record;
    p record;
    v_rel regclass;
    v_insert text;
    v_update text;
    v_when text[];
    v_id text;
    v_agent text;
    v_derived text;
    v_target text;
    v_prefix text;
    v_conflict text;
    v_compat_default text;
    v_canonical_default text;
    v_both_differ text;
    v_fast_test text[];
    v_fast_fill text[];
BEGIN
    FOR t IN SELECT * FROM (VALUES ('resource_usage', 'usage'), ('allocation_proposals', 'proposal'))
                 AS x (table_name, short_name)
    LOOP
        v_rel := format('public.%I', t.table_name)::regclass;
        v_insert := '';
        v_update := '';
        v_when := '{}';
        v_fast_test := '{}';
        v_fast_fill := '{}';
        FOR p IN
            SELECT c.column_name, c.canonical_columns
            FROM senate.compatibility_columns AS c
            JOIN pg_attribute AS a ON a.attrelid = v_rel AND a.attname = c.column_name
                                  AND a.attnum > 0 AND NOT a.attisdropped
            WHERE c.table_name = t.table_name AND c.is_synced
            ORDER BY c.column_name
        LOOP
            IF p.column_name <> 'proposer' THEN
                v_conflict := format(
                    $f$RAISE EXCEPTION USING ERRCODE = 'S0001',
                MESSAGE = format('%%s.%%s (%%s) and %%s.%%s (%%s) were set to different values', TG_TABLE_NAME, %L, NEW.%I, TG_TABLE_NAME, %L, NEW.%I),
                DETAIL = %L,
                HINT = 'Set only one of the two columns, or set both to the same value.';$f$,
                    p.column_name, p.column_name, p.canonical_columns[1], p.canonical_columns[1],
                    format('%s is a compatibility column kept equal to its canonical column %s.',
                           p.column_name, p.canonical_columns[1]));
                -- INSERT: fill whichever side is missing; when both are given and differ, a side
                -- that merely holds its column default was not written by the caller (the other
                -- side wins); otherwise it is a conflict.
                v_compat_default := senate.column_default_test(v_rel, p.column_name,
                                                              format('NEW.%I', p.column_name));
                v_canonical_default := senate.column_default_test(v_rel, p.canonical_columns[1],
                                                                 format('NEW.%I', p.canonical_columns[1]));
                v_both_differ := v_conflict;
                IF v_canonical_default <> 'false' THEN
                    v_both_differ := format($f$IF %s THEN
            NEW.%I := NEW.%I;
        ELSE
            %s
        END IF;$f$, v_canonical_default, p.canonical_columns[1], p.column_name, v_both_differ);
                END IF;
                IF v_compat_default <> 'false' THEN
                    v_both_differ := format($f$IF %s THEN
            NEW.%I := NEW.%I;
        ELSE
            %s
        END IF;$f$, v_compat_default, p.column_name, p.canonical_columns[1], v_both_differ);
                END IF;
                v_fast_test := v_fast_test || format('NEW.%I IS NULL', p.column_name);
                v_fast_fill := v_fast_fill || format('NEW.%I := NEW.%I;', p.column_name,
                                                     p.canonical_columns[1]);
                v_insert := v_insert || format($f$
    IF NEW.%1$I IS NULL THEN
        NEW.%1$I := NEW.%2$I;
    ELSIF NEW.%2$I IS NULL THEN
        NEW.%2$I := NEW.%1$I;
    ELSIF NEW.%1$I <> NEW.%2$I THEN
        %3$s
    END IF;$f$,
                    p.column_name, p.canonical_columns[1], v_both_differ);
                -- UPDATE (called only when the pair differs): the side the statement changed
                -- wins; a row that was out of step (not yet backfilled) takes the canonical value.
                v_update := v_update || format($f$
    IF NEW.%1$I IS DISTINCT FROM NEW.%2$I THEN
        IF NEW.%1$I IS NOT DISTINCT FROM OLD.%1$I THEN
            NEW.%1$I := NEW.%2$I;
        ELSIF NEW.%2$I IS NOT DISTINCT FROM OLD.%2$I THEN
            NEW.%2$I := NEW.%1$I;
        ELSE
            %3$s
        END IF;
    END IF;$f$,
                    p.column_name, p.canonical_columns[1], v_conflict);
                v_when := v_when || format('NEW.%I IS DISTINCT FROM NEW.%I',
                                           p.column_name, p.canonical_columns[1]);
            ELSE
                -- proposer = coalesce(proposer_id::text, proposer_agent).
                v_id := CASE WHEN 'proposer_id' = ANY (p.canonical_columns) THEN 'proposer_id' END;
                v_agent := CASE WHEN 'proposer_agent' = ANY (p.canonical_columns) THEN 'proposer_agent' END;
                IF v_id IS NULL AND v_agent IS NULL THEN
                    CONTINUE;
                END IF;
                v_derived := CASE
                    WHEN v_id IS NOT NULL AND v_agent IS NOT NULL
                        THEN 'coalesce(NEW.proposer_id::text, NEW.proposer_agent::text)'
                    WHEN v_id IS NOT NULL THEN 'NEW.proposer_id::text'
                    ELSE 'NEW.proposer_agent::text' END;
                -- Where a proposer written alone goes: proposer_agent (an agent name or any
                -- free text), unless the row is identified by proposer_id.
                v_target := coalesce(v_agent, v_id);
                v_conflict := format(
                    $f$RAISE EXCEPTION USING ERRCODE = 'S0001',
                MESSAGE = format('%%s.proposer (%%L) and %%s.%s (%%L) were set to different values', TG_TABLE_NAME, NEW.proposer, TG_TABLE_NAME, %s),
                DETAIL = 'proposer is a compatibility column kept equal to coalesce(proposer_id::text, proposer_agent).',
                HINT = 'Set only one of the two sides, or set both to the same value.';$f$,
                    array_to_string(p.canonical_columns, '/'), v_derived);
                v_compat_default := senate.column_default_test(v_rel, 'proposer', 'NEW.proposer');
                v_both_differ := v_conflict;
                IF v_compat_default <> 'false' THEN
                    v_both_differ := format($f$IF %s THEN
            NEW.proposer := %s;
        ELSE
            %s
        END IF;$f$, v_compat_default, v_derived, v_conflict);
                END IF;
                v_fast_test := v_fast_test || 'NEW.proposer IS NULL'::text;
                v_fast_fill := v_fast_fill || format('NEW.proposer := %s;', v_derived);
                v_insert := v_insert || format($f$
    IF NEW.proposer IS NULL THEN
        NEW.proposer := %1$s;
    ELSIF %1$s IS NULL THEN
        NEW.%2$I := NEW.proposer;
        NEW.proposer := %1$s;
    ELSIF NEW.proposer <> %1$s THEN
        %3$s
    END IF;$f$,
                    v_derived, v_target, v_both_differ);
                v_prefix := CASE WHEN v_id IS NOT NULL AND v_agent IS NOT NULL THEN
                    'IF NEW.proposer_id IS NOT NULL THEN
                NEW.proposer_id := NEW.proposer;
            ELSE
                NEW.proposer_agent := NEW.proposer;
            END IF;'
                    ELSE format('NEW.%I := NEW.proposer;', v_target) END;
                v_update := v_update || format($f$
    IF NEW.proposer IS DISTINCT FROM %1$s THEN
        IF NEW.proposer IS NOT DISTINCT FROM OLD.proposer THEN
            NEW.proposer := %1$s;
        ELSIF %2$s IS NOT DISTINCT FROM %3$s THEN
            %4$s
            NEW.proposer := %1$s;
        ELSE
            %5$s
        END IF;
    END IF;$f$,
                    v_derived,
                    CASE WHEN v_id IS NOT NULL AND v_agent IS NOT NULL
                         THEN 'ROW(NEW.proposer_id, NEW.proposer_agent)'
                         ELSE format('NEW.%I', v_target) END,
                    CASE WHEN v_id IS NOT NULL AND v_agent IS NOT NULL
                         THEN 'ROW(OLD.proposer_id, OLD.proposer_agent)'
                         ELSE format('OLD.%I', v_target) END,
                    v_prefix, v_conflict);
                v_when := v_when || format('NEW.proposer IS DISTINCT FROM %s', v_derived);
            END IF;
        END LOOP;

        IF v_insert = '' THEN
            EXECUTE format('DROP TRIGGER IF EXISTS t20_sync_compatibility_on_insert ON public.%I', t.table_name);
            EXECUTE format('DROP TRIGGER IF EXISTS t20_sync_compatibility_on_update ON public.%I', t.table_name);
            EXECUTE format('DROP FUNCTION IF EXISTS senate.sync_%s_compatibility_on_insert()', t.short_name);
            EXECUTE format('DROP FUNCTION IF EXISTS senate.sync_%s_compatibility_on_update()', t.short_name);
            CONTINUE;
        END IF;

        -- Generated, not generic: the column names and defaults are compiled in, so a row costs
        -- a handful of IS NULL tests and assignments, with no catalog lookup and no query. The
        -- hot path, a legacy writer that set no compatibility column, is one test.
        EXECUTE format($f$CREATE OR REPLACE FUNCTION senate.sync_%s_compatibility_on_insert()
RETURNS trigger
LANGUAGE plpgsql
AS $body$
BEGIN
    IF %s THEN
        %s
        RETURN NEW;
    END IF;%s
    RETURN NEW;
END;
$body$$f$, t.short_name, array_to_string(v_fast_test, ' AND '),
           array_to_string(v_fast_fill, E'\n        '), v_insert);
        EXECUTE format($f$CREATE OR REPLACE FUNCTION senate.sync_%s_compatibility_on_update()
RETURNS trigger
LANGUAGE plpgsql
AS $body$
BEGIN%s
    RETURN NEW;
END;
$body$$f$, t.short_name, v_update);
        EXECUTE format('COMMENT ON FUNCTION senate.sync_%s_compatibility_on_insert() IS %L', t.short_name,
            format('BEFORE INSERT row trigger on public.%s (generated by senate.install_compatibility_sync '
                   'from the catalog): fills each compatibility column from its canonical column and '
                   'back; both set to different values raises S0001 naming both columns.', t.table_name));
        EXECUTE format('COMMENT ON FUNCTION senate.sync_%s_compatibility_on_update() IS %L', t.short_name,
            format('BEFORE UPDATE row trigger on public.%s (generated by senate.install_compatibility_sync): '
                   'the side an UPDATE changed moves the other; both changed to different values raises '
                   'S0001; a row out of step takes its canonical value.', t.table_name));

        EXECUTE format($f$CREATE OR REPLACE TRIGGER t20_sync_compatibility_on_insert
    BEFORE INSERT ON public.%I
    FOR EACH ROW EXECUTE FUNCTION senate.sync_%s_compatibility_on_insert()$f$,
            t.table_name, t.short_name);
        -- WHEN: an UPDATE that leaves every pair equal (a legacy UPDATE of other columns, a
        -- backfill that writes compat = canonical) never calls the function.
        EXECUTE format($f$CREATE OR REPLACE TRIGGER t20_sync_compatibility_on_update
    BEFORE UPDATE ON public.%I
    FOR EACH ROW WHEN (%s)
    EXECUTE FUNCTION senate.sync_%s_compatibility_on_update()$f$,
            t.table_name, array_to_string(v_when, ' OR '), t.short_name);
        EXECUTE format('COMMENT ON TRIGGER t20_sync_compatibility_on_insert ON public.%I IS %L', t.table_name,
            'Keeps the task-contract compatibility columns equal to their canonical columns on INSERT '
            '(and COPY), before NOT NULL and CHECK constraints are tested.');
        EXECUTE format('COMMENT ON TRIGGER t20_sync_compatibility_on_update ON public.%I IS %L', t.table_name,
            'Keeps the task-contract compatibility columns equal to their canonical columns on UPDATE; '
            'fires only for rows where a pair differs.');
    END LOOP;
END;
$function$;
COMMENT ON FUNCTION senate.install_compatibility_sync() IS '(Re)generates the t20 compatibility triggers and their functions from senate.compatibility_columns and the catalog (column names, types, defaults). Idempotent. Run again after changing the default of a canonical column on a deployed table.';

-- define function public.reconcile_compatibility_columns()
CREATE OR REPLACE FUNCTION public.reconcile_compatibility_columns()
 RETURNS TABLE(table_name text, column_name text, canonical_columns text[], rows_missing bigint, rows_different bigint)
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    c record;
    v_canonical text;
BEGIN
    FOR c IN SELECT r.table_name, r.column_name, r.canonical_columns
             FROM senate.compatibility_columns AS r
             WHERE r.is_synced AND cardinality(r.canonical_columns) > 0
             ORDER BY r.table_name, r.column_name
    LOOP
        v_canonical := CASE WHEN c.column_name = 'proposer'
            THEN format('coalesce(%s)', (SELECT string_agg(format('%I::text', x), ', ')
                                          FROM unnest(c.canonical_columns) AS x))
            ELSE quote_ident(c.canonical_columns[1]) END;
        table_name := c.table_name;
        column_name := c.column_name;
        canonical_columns := c.canonical_columns;
        EXECUTE format(
            'SELECT count(*) FILTER (WHERE %1$I IS NULL AND %2$s IS NOT NULL), '
            'count(*) FILTER (WHERE %1$I IS DISTINCT FROM %2$s AND NOT (%1$I IS NULL AND %2$s IS NOT NULL)) '
            'FROM public.%3$I',
            c.column_name, v_canonical, c.table_name)
        INTO rows_missing, rows_different;
        IF rows_missing + rows_different > 0 THEN
            RETURN NEXT;
        END IF;
    END LOOP;
END;
$function$;
COMMENT ON FUNCTION public.reconcile_compatibility_columns() IS 'Proves every compatibility column equals its canonical column(s): returns each (table, column) with rows still missing a value (NULL while the canonical value is set) or holding a different value. No rows means reconciled. Reads the whole tables: an audit, not a hot-path call.';

-- define function senate.backfill_compatibility_columns(integer,boolean)
CREATE OR REPLACE PROCEDURE senate.backfill_compatibility_columns(IN p_batch_size integer DEFAULT 10000, IN p_quiet_triggers boolean DEFAULT true)
 LANGUAGE plpgsql
AS $procedure$
DECLARE
    t record;
    c record;
    v_rel regclass;
    v_set text[];
    v_missing text[];
    v_key text;
    v_key_type text;
    v_update_sql text;
    v_last text;
    v_high text;
    v_max_block bigint;
    v_block bigint;
    v_blocks_per_batch bigint;
    v_quiet boolean := p_quiet_triggers;
    v_rows bigint;
    v_batch_rows bigint;
    v_batches bigint;
    v_left bigint;
    v_total bigint;
    v_attempt integer;
    v_started timestamptz;
BEGIN
    IF p_batch_size IS NULL OR p_batch_size < 1 THEN
        RAISE EXCEPTION USING ERRCODE = 'invalid_parameter_value',
            MESSAGE = format('p_batch_size must be a positive number of rows, got %s', p_batch_size);
    END IF;
    IF v_quiet THEN
        BEGIN
            PERFORM pg_catalog.set_config('session_replication_role', 'replica', true);
            PERFORM pg_catalog.set_config('session_replication_role', 'origin', true);
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE NOTICE 'backfill runs with triggers enabled: % may not set session_replication_role',
                current_user;
            v_quiet := false;
        END;
    END IF;

    FOR t IN SELECT DISTINCT table_name FROM senate.compatibility_columns WHERE is_synced
             ORDER BY table_name
    LOOP
        v_rel := pg_catalog.format('public.%I', t.table_name)::regclass;
        -- Row-level security applying to this role would hide rows from the batches and from
        -- the final count, and the backfill would end "complete" on a subset: refuse instead.
        IF pg_catalog.row_security_active(v_rel) THEN
            RAISE EXCEPTION USING ERRCODE = 'S0030',
                MESSAGE = pg_catalog.format('row-level security on public.%s applies to %s: the backfill would see only part of its rows',
                                            t.table_name, current_user),
                DETAIL = 'FORCE ROW LEVEL SECURITY applies the policies to the table owner too.',
                HINT = 'Run it as a role with BYPASSRLS or a superuser (senate-db check reports this before migrating).';
        END IF;
        v_set := '{}';
        v_missing := '{}';
        FOR c IN SELECT column_name, canonical_columns FROM senate.compatibility_columns
                 WHERE table_name = t.table_name AND is_synced ORDER BY column_name
        LOOP
            IF c.column_name = 'proposer' THEN
                IF cardinality(c.canonical_columns) = 0 THEN
                    CONTINUE;
                END IF;
                -- proposer = coalesce(proposer_id::text, proposer_agent)
                v_set := v_set || pg_catalog.format(
                    'proposer = CASE WHEN proposer IS NULL THEN coalesce(%s) ELSE proposer END',
                    (SELECT string_agg(pg_catalog.format('%I::text', x), ', ')
                     FROM unnest(c.canonical_columns) AS x));
                v_missing := v_missing || pg_catalog.format(
                    '(proposer IS NULL AND coalesce(%s) IS NOT NULL)',
                    (SELECT string_agg(pg_catalog.format('%I::text', x), ', ')
                     FROM unnest(c.canonical_columns) AS x));
            ELSE
                v_set := v_set || pg_catalog.format(
                    '%1$I = CASE WHEN %1$I IS NULL THEN %2$I ELSE %1$I END',
                    c.column_name, c.canonical_columns[1]);
                v_missing := v_missing || pg_catalog.format(
                    '(%I IS NULL AND %I IS NOT NULL)', c.column_name, c.canonical_columns[1]);
            END IF;
        END LOOP;
        CONTINUE WHEN cardinality(v_set) = 0;

        v_started := clock_timestamp();
        EXECUTE pg_catalog.format('SELECT count(*) FILTER (WHERE %s), count(*) FROM %s',
                                  array_to_string(v_missing, ' OR '), v_rel)
            INTO v_left, v_total;
        IF v_left = 0 THEN
            RAISE NOTICE 'public.%: no compatibility values missing', t.table_name;
            CONTINUE;
        END IF;

        -- A single-column primary key gives keyset batches; a table without one is walked in
        -- ranges of heap blocks (TID range scans).
        SELECT a.attname, pg_catalog.format_type(a.atttypid, a.atttypmod)
        INTO v_key, v_key_type
        FROM pg_catalog.pg_index AS i
        JOIN pg_catalog.pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
        WHERE i.indrelid = v_rel AND i.indisprimary AND i.indnkeyatts = 1;

        v_rows := 0;
        v_batches := 0;
        v_last := NULL;
        v_block := 0;
        IF v_key IS NOT NULL THEN
            v_update_sql := pg_catalog.format(
                'UPDATE %s SET %s WHERE ($1::%s IS NULL OR %I > $1::%s) AND %I <= $2::%s AND (%s)',
                v_rel, array_to_string(v_set, ', '), v_key_type, v_key, v_key_type,
                v_key, v_key_type, array_to_string(v_missing, ' OR '));
        ELSE
            v_update_sql := pg_catalog.format(
                'UPDATE %s SET %s WHERE ctid >= $1::tid AND ctid < $2::tid AND (%s)',
                v_rel, array_to_string(v_set, ', '), array_to_string(v_missing, ' OR '));
            v_max_block := pg_catalog.pg_relation_size(v_rel)
                           / pg_catalog.current_setting('block_size')::bigint;
            -- about p_batch_size rows per batch, from the rows per block just counted
            v_blocks_per_batch := greatest(1, p_batch_size / greatest(1, v_total / greatest(v_max_block, 1)));
        END IF;

        LOOP
            IF v_key IS NOT NULL THEN
                -- The upper key of the next batch: p_batch_size keys after the last one.
                EXECUTE pg_catalog.format(
                    'SELECT batch.k::text AS high FROM (SELECT %1$I AS k FROM %2$s WHERE $1::%3$s IS NULL OR %1$I > $1::%3$s '
                    'ORDER BY %1$I LIMIT $2) AS batch ORDER BY batch.k DESC LIMIT 1', v_key, v_rel, v_key_type)
                    INTO v_high USING v_last, p_batch_size;
                EXIT WHEN v_high IS NULL;
            ELSE
                EXIT WHEN v_block > v_max_block;
                v_last := pg_catalog.format('(%s,0)', v_block);
                v_high := pg_catalog.format('(%s,0)', v_block + v_blocks_per_batch);
            END IF;

            v_attempt := 0;
            LOOP
                BEGIN
                    IF v_quiet THEN
                        PERFORM pg_catalog.set_config('session_replication_role', 'replica', true);
                    END IF;
                    EXECUTE v_update_sql USING v_last, v_high;
                    GET DIAGNOSTICS v_batch_rows = ROW_COUNT;
                    EXIT;
                EXCEPTION WHEN lock_not_available OR deadlock_detected THEN
                    -- Another transaction holds some of these rows: wait and try the batch again.
                    v_attempt := v_attempt + 1;
                    IF v_attempt >= 10 THEN
                        RAISE;
                    END IF;
                    RAISE NOTICE 'public.%: batch after key % waits for a row lock (attempt %)',
                        t.table_name, v_last, v_attempt;
                    PERFORM pg_catalog.pg_sleep(0.2 * v_attempt);
                END;
            END LOOP;
            v_rows := v_rows + v_batch_rows;
            v_batches := v_batches + 1;
            -- Ends the batch's transaction (and SET LOCAL session_replication_role with it).
            -- A table that fits one batch needs no COMMIT, so a small database may also be
            -- backfilled inside a transaction block (psql -1, a test's transaction).
            IF v_left > p_batch_size THEN
                COMMIT;
            ELSIF v_quiet THEN
                PERFORM pg_catalog.set_config('session_replication_role', 'origin', true);
            END IF;
            IF v_key IS NOT NULL THEN
                v_last := v_high;
            ELSE
                v_block := v_block + v_blocks_per_batch;
            END IF;
            IF v_batches % 100 = 0 THEN
                RAISE NOTICE 'public.%: % rows filled in % batches so far', t.table_name, v_rows, v_batches;
            END IF;
        END LOOP;

        EXECUTE pg_catalog.format('SELECT count(*) FROM %s WHERE %s',
                                  v_rel, array_to_string(v_missing, ' OR '))
            INTO v_left;
        IF v_left > 0 THEN
            RAISE EXCEPTION USING ERRCODE = 'S0002',
                MESSAGE = pg_catalog.format('public.%s still has %s rows missing a compatibility value after the backfill',
                                            t.table_name, v_left),
                HINT = 'Check for a trigger or writer that clears the compatibility columns, then CALL senate.backfill_compatibility_columns() again.';
        END IF;
        RAISE NOTICE 'public.%: % rows filled in % batches (% s); none missing',
            t.table_name, v_rows, v_batches,
            round(extract(epoch FROM clock_timestamp() - v_started)::numeric, 1);
    END LOOP;
END;
$procedure$;
COMMENT ON PROCEDURE senate.backfill_compatibility_columns(integer,boolean) IS 'Fills NULL compatibility columns (amount_used, timestamp, requested_amount, proposer) of existing rows from their canonical columns, p_batch_size rows per transaction in primary-key order, committing between batches; p_quiet_triggers runs the batches with session_replication_role = replica (when permitted) so no other trigger fires for them. Idempotent; raises S0002 if rows are left missing. CALL it outside a transaction block when a table needs more than one batch.';
