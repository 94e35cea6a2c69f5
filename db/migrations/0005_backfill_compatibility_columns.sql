-- transactional: false
-- Why: 0004 added the compatibility columns and the triggers that fill them on every new write;
-- the rows a deployment already holds still have them NULL. This fills them, on tables that
-- may hold millions of rows, without taking the tables away from their writers: batches of
-- p_batch_size rows (10 000 by default) in primary-key order, each batch its own transaction
-- (COMMIT between batches, hence "transactional: false" above: yoyo runs this file outside a
-- transaction so the procedure may commit). Each batch locks only its own rows, and only for
-- the batch; a batch that meets a row lock held longer than lock_timeout is retried.
--
-- Idempotent: only rows whose compatibility column is NULL while its canonical value is not
-- are touched, so running it again (or after an interrupted run) does the remaining work only;
-- a table with nothing missing is read once and not written. It ends by checking that no row
-- is left missing (S0002 otherwise). Rows written while it runs are filled by the t20 triggers.
--
-- Triggers: by default each batch runs with session_replication_role = replica, so ordinary
-- triggers do not fire for these UPDATEs: the deployment's own triggers (an updated_at bump,
-- an audit row per change) would otherwise record a million non-changes, and the usage rollup
-- triggers t80_* would do work that nets to zero (a backfill never changes amount, created_at
-- or an entity). Setting it needs superuser or, on PostgreSQL 15+, GRANT SET ON PARAMETER
-- session_replication_role; without that the procedure says so (NOTICE) and runs with
-- triggers on, which is also correct: the t20 update trigger is skipped by its WHEN clause
-- (the pair is equal after the fill) and the rollup triggers net every batch to zero.
-- Then it validates the votes CHECK that 0004 added NOT VALID (a scan under SHARE UPDATE
-- EXCLUSIVE, which does not block readers or writers).
SET lock_timeout = '5s';

INSERT INTO senate.error_codes (sqlstate, error_name, meaning, hint) VALUES
  ('S0002', 'compatibility_backfill_incomplete',
   'The compatibility backfill finished but rows are still missing a compatibility value.',
   'Check for a trigger or writer that clears the compatibility columns, then CALL senate.backfill_compatibility_columns() again.'),
  ('S0030', 'backfill_rows_hidden_by_row_security',
   'Row-level security applies to the role running the compatibility backfill: its batches and its final count would see only part of the rows.',
   'Run the migration (or CALL senate.backfill_compatibility_columns()) as a role with BYPASSRLS or a superuser; see senate-db check.')
ON CONFLICT (sqlstate) DO NOTHING;

CREATE OR REPLACE PROCEDURE senate.backfill_compatibility_columns(
    p_batch_size integer DEFAULT 10000,
    p_quiet_triggers boolean DEFAULT true)
LANGUAGE plpgsql
AS $proc$
DECLARE
    t record;
    c record;
    v_rel regclass;
    v_set text[];
    v_missing text[];
    v_key text;
    v_key_type text;
    v_next_sql text;
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
$proc$;
COMMENT ON PROCEDURE senate.backfill_compatibility_columns(integer, boolean) IS
  'Fills NULL compatibility columns (amount_used, timestamp, requested_amount, proposer) of existing '
  'rows from their canonical columns, p_batch_size rows per transaction in primary-key order, '
  'committing between batches; p_quiet_triggers runs the batches with session_replication_role = '
  'replica (when permitted) so no other trigger fires for them. Idempotent; raises S0002 if rows are '
  'left missing. CALL it outside a transaction block when a table needs more than one batch.';

-- It runs with the caller's rights (a procedure that commits cannot be SECURITY DEFINER);
-- only the migration owner and operators it grants to need it.
REVOKE ALL ON PROCEDURE senate.backfill_compatibility_columns(integer, boolean) FROM PUBLIC;

CALL senate.backfill_compatibility_columns();

DO $do$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_constraint
               WHERE conrelid = 'public.allocation_proposals'::regclass
                 AND conname = 'allocation_proposals_votes_valid' AND NOT convalidated) THEN
        ALTER TABLE public.allocation_proposals VALIDATE CONSTRAINT allocation_proposals_votes_valid;
    END IF;
END
$do$;
