-- Why: the spec's task contract names resource_usage.amount_used and "timestamp", and
-- allocation_proposals.requested_amount, proposer and votes, while the deployed consumers
-- read and write the canonical columns amount, created_at, requested_tokens, proposer_id and
-- proposer_agent. Both must keep working, on the same rows, forever. This migration adds the
-- compatibility columns where they are missing (same type as their canonical column, found in
-- the catalog: deployed tables use integer, bigint or numeric amounts, timestamp or
-- timestamptz, text, uuid or bigint ids) and row-level BEFORE triggers (t20_*) that keep each
-- pair equal in both directions. Existing rows are backfilled in batches by 0005.
--
-- Live-database safety: every column is added nullable, or with a constant default (a
-- catalog-only change since PostgreSQL 11), so no ADD COLUMN rewrites or scans a table; the
-- votes CHECK is added NOT VALID (new rows are checked at once; 0005 validates the old ones
-- under a lock that does not block writers). The ACCESS EXCLUSIVE locks taken here are held
-- for catalog updates only, and lock_timeout makes the migration fail fast instead of queueing
-- writers behind it.
--
-- Brownfield: a compatibility column that the deployed table already has is adopted (kept in
-- sync) when its type equals the canonical column's, and left alone otherwise. Every column
-- this migration itself adds is recorded in senate.compatibility_columns, and the rollback
-- drops only those: never a deployed table, a deployed column or its data.
SET lock_timeout = '5s';

CREATE TABLE IF NOT EXISTS senate.compatibility_columns (
    table_name         text NOT NULL CHECK (table_name IN ('resource_usage', 'allocation_proposals')),
    column_name        text NOT NULL CHECK (length(column_name) BETWEEN 1 AND 63),
    canonical_columns  text[] NOT NULL,
    added_by_senate    boolean NOT NULL,
    is_synced          boolean NOT NULL,
    PRIMARY KEY (table_name, column_name)
);
COMMENT ON TABLE senate.compatibility_columns IS
  'Registry of the task-contract compatibility columns on the deployed tables (public schema): '
  'which canonical columns each mirrors, whether this project added it (rollback of 0004 drops '
  'exactly those) and whether the t20 triggers keep it in sync.';
COMMENT ON COLUMN senate.compatibility_columns.table_name IS 'Deployed table in schema public: resource_usage or allocation_proposals.';
COMMENT ON COLUMN senate.compatibility_columns.column_name IS 'The compatibility column (amount_used, timestamp, requested_amount, proposer, votes).';
COMMENT ON COLUMN senate.compatibility_columns.canonical_columns IS 'Canonical column(s) it mirrors, in rule order (proposer: proposer_id then proposer_agent); empty for votes, which mirrors nothing.';
COMMENT ON COLUMN senate.compatibility_columns.added_by_senate IS 'True when migration 0004 added the column; false when the deployed table already had it (then rollback keeps it).';
COMMENT ON COLUMN senate.compatibility_columns.is_synced IS 'True when the t20 triggers keep the column equal to its canonical column(s); false for votes and for a pre-existing column of another type.';

-- The compatibility columns are the same type as their canonical columns on THIS database,
-- so the ALTERs are built from the catalog (format_type keeps typmods such as numeric(12,2)).
DO $do$
DECLARE
    p record;
    v_canonical_type text;
    v_compat_type text;
    v_added boolean;
    v_synced boolean;
BEGIN
    FOR p IN
        SELECT * FROM (VALUES
            ('resource_usage', 'amount_used', 'amount',
             'Task-contract name of amount: amount used, in the unit of the resource class '
             '(tokens, CPU-seconds, GB-hours, calls). Same type as amount; kept equal to it by '
             'trigger t20 in both directions.'),
            ('resource_usage', 'timestamp', 'created_at',
             'Task-contract name of created_at: time of the spend. Same type as created_at; kept '
             'equal to it by trigger t20 in both directions.'),
            ('allocation_proposals', 'requested_amount', 'requested_tokens',
             'Task-contract name of requested_tokens: requested amount, in the unit of the '
             'requested resource class (tokens for llm_tokens). Same type as requested_tokens; '
             'kept equal to it by trigger t20 in both directions.')
        ) AS v (table_name, column_name, canonical_column, comment_text)
    LOOP
        SELECT format_type(a.atttypid, a.atttypmod) INTO v_canonical_type
        FROM pg_attribute AS a
        WHERE a.attrelid = format('public.%I', p.table_name)::regclass
          AND a.attname = p.canonical_column AND a.attnum > 0 AND NOT a.attisdropped;
        IF v_canonical_type IS NULL THEN
            RAISE NOTICE 'public.% has no column %: % is not added', p.table_name,
                p.canonical_column, p.column_name;
            CONTINUE;
        END IF;

        SELECT format_type(a.atttypid, a.atttypmod) INTO v_compat_type
        FROM pg_attribute AS a
        WHERE a.attrelid = format('public.%I', p.table_name)::regclass
          AND a.attname = p.column_name AND a.attnum > 0 AND NOT a.attisdropped;
        v_added := v_compat_type IS NULL;
        IF v_added THEN
            -- Nullable, no default: a catalog-only change, no rewrite, no scan.
            EXECUTE format('ALTER TABLE public.%I ADD COLUMN %I %s',
                           p.table_name, p.column_name, v_canonical_type);
            EXECUTE format('COMMENT ON COLUMN public.%I.%I IS %L',
                           p.table_name, p.column_name, p.comment_text);
            v_synced := true;
        ELSE
            v_synced := v_compat_type = v_canonical_type;
            IF NOT v_synced THEN
                RAISE NOTICE 'public.%.% already exists as % (not %): left alone, not kept in sync',
                    p.table_name, p.column_name, v_compat_type, v_canonical_type;
            END IF;
        END IF;

        INSERT INTO senate.compatibility_columns AS c
            (table_name, column_name, canonical_columns, added_by_senate, is_synced)
        VALUES (p.table_name, p.column_name, ARRAY[p.canonical_column], v_added, v_synced)
        ON CONFLICT (table_name, column_name) DO UPDATE
            SET added_by_senate = c.added_by_senate OR excluded.added_by_senate,
                is_synced = excluded.is_synced
            WHERE (c.added_by_senate OR excluded.added_by_senate, excluded.is_synced)
                  IS DISTINCT FROM (c.added_by_senate, c.is_synced);
    END LOOP;

    -- proposer mirrors coalesce(proposer_id::text, proposer_agent). It is text whatever the
    -- type of proposer_id (text, uuid, bigint): text holds every one of them and every agent
    -- name, and the id side is compared through its canonical text form.
    SELECT format_type(a.atttypid, a.atttypmod) INTO v_compat_type
    FROM pg_attribute AS a
    WHERE a.attrelid = 'public.allocation_proposals'::regclass
      AND a.attname = 'proposer' AND a.attnum > 0 AND NOT a.attisdropped;
    v_added := v_compat_type IS NULL;
    IF v_added THEN
        ALTER TABLE public.allocation_proposals ADD COLUMN proposer text;
        COMMENT ON COLUMN public.allocation_proposals.proposer IS
          'Task-contract proposer: always coalesce(proposer_id::text, proposer_agent), kept by '
          'trigger t20. Writing it alone fills proposer_agent on INSERT (and on UPDATE of a row '
          'without proposer_id); on UPDATE of a row with a proposer_id it moves proposer_id '
          '(cast to its type: a uuid or bigint id must be given in a form that type accepts).';
        v_synced := true;
    ELSE
        v_synced := v_compat_type IN ('text', 'character varying');
        IF NOT v_synced THEN
            RAISE NOTICE 'public.allocation_proposals.proposer already exists as %: left alone', v_compat_type;
        END IF;
    END IF;
    INSERT INTO senate.compatibility_columns AS c
        (table_name, column_name, canonical_columns, added_by_senate, is_synced)
    VALUES ('allocation_proposals', 'proposer',
            ARRAY(SELECT a.attname::text FROM pg_attribute AS a
                  WHERE a.attrelid = 'public.allocation_proposals'::regclass
                    AND a.attname IN ('proposer_id', 'proposer_agent')
                    AND a.attnum > 0 AND NOT a.attisdropped
                  ORDER BY a.attname DESC),  -- proposer_id, then proposer_agent
            v_added, v_synced)
    ON CONFLICT (table_name, column_name) DO UPDATE
        SET added_by_senate = c.added_by_senate OR excluded.added_by_senate,
            canonical_columns = excluded.canonical_columns,
            is_synced = excluded.is_synced
        WHERE (c.added_by_senate OR excluded.added_by_senate, excluded.canonical_columns,
               excluded.is_synced)
              IS DISTINCT FROM (c.added_by_senate, c.canonical_columns, c.is_synced);

    -- votes: structured vote records, added with a constant default (catalog-only on PG 11+).
    -- A votes column the deployment already has is its own: no constraint is added to it (its
    -- writers may use another format, and a CHECK would break their UPDATEs of old rows).
    v_added := NOT EXISTS (
        SELECT 1 FROM pg_attribute AS a
        WHERE a.attrelid = 'public.allocation_proposals'::regclass
          AND a.attname = 'votes' AND a.attnum > 0 AND NOT a.attisdropped);
    IF v_added THEN
        ALTER TABLE public.allocation_proposals ADD COLUMN votes jsonb NOT NULL DEFAULT '[]'::jsonb;
        COMMENT ON COLUMN public.allocation_proposals.votes IS
          'Senate vote records, a JSON array of {"voter": text, "vote": "approve"|"reject"|'
          '"abstain", "cast_at": ISO-8601 timestamp with offset, "rationale": text (optional)}, '
          'oldest first; checked by senate.check_votes().';
    ELSIF NOT EXISTS (SELECT 1 FROM senate.compatibility_columns
                      WHERE table_name = 'allocation_proposals' AND column_name = 'votes'
                        AND added_by_senate) THEN
        RAISE NOTICE 'public.allocation_proposals.votes already exists: kept as the deployment defined it';
    END IF;
    INSERT INTO senate.compatibility_columns AS c
        (table_name, column_name, canonical_columns, added_by_senate, is_synced)
    VALUES ('allocation_proposals', 'votes', '{}', v_added, false)
    ON CONFLICT (table_name, column_name) DO UPDATE
        SET added_by_senate = c.added_by_senate OR excluded.added_by_senate
        WHERE NOT c.added_by_senate AND excluded.added_by_senate;
END
$do$;

-- Vote validation as an IMMUTABLE function behind a CHECK constraint rather than a trigger:
-- the rule depends on the value alone (no clock, no settings, no other rows), so a CHECK is
-- truthful (PostgreSQL requires CHECK expressions to be immutable); it holds on every path
-- (INSERT, UPDATE, COPY, upserts, other triggers' changes, since it is tested after all
-- BEFORE triggers), it cannot be bypassed by disabling triggers or by session_replication_role,
-- and \d shows it. The constraint short-circuits the common empty array without calling the
-- function. The function raises a check_violation (23514) whose message names the element,
-- the field and the bad value, instead of returning false, so callers learn what is wrong.
-- (A CHECK is not re-tested when the rule changes; a future looser rule needs no revalidation,
-- a stricter one would be a new constraint added NOT VALID and validated.)
CREATE OR REPLACE FUNCTION senate.check_votes(p_votes jsonb)
RETURNS boolean
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
    v_vote jsonb;
    v_index integer := 0;
    v_key text;
    v_text text;
    v_parts text[];
BEGIN
    IF p_votes IS NULL THEN
        RETURN true;  -- NOT NULL is the column's business
    END IF;
    IF jsonb_typeof(p_votes) <> 'array' THEN
        RAISE EXCEPTION USING ERRCODE = 'check_violation',
            MESSAGE = format('votes must be a JSON array of vote records, got a JSON %s',
                             jsonb_typeof(p_votes)),
            HINT = 'Use ''[]'' for no votes.';
    END IF;
    FOR v_vote IN SELECT e FROM jsonb_array_elements(p_votes) AS e LOOP
        IF jsonb_typeof(v_vote) <> 'object' THEN
            RAISE EXCEPTION USING ERRCODE = 'check_violation',
                MESSAGE = format('votes[%s] must be a JSON object, got %s', v_index, left(v_vote::text, 200)),
                HINT = 'Each vote is {"voter", "vote", "cast_at", "rationale"?}.';
        END IF;
        FOR v_key IN SELECT k FROM jsonb_object_keys(v_vote) AS k LOOP
            IF v_key NOT IN ('voter', 'vote', 'cast_at', 'rationale') THEN
                RAISE EXCEPTION USING ERRCODE = 'check_violation',
                    MESSAGE = format('votes[%s] has unknown field %s', v_index, left(quote_ident(v_key), 100)),
                    HINT = 'Allowed fields: voter, vote, cast_at, rationale.';
            END IF;
        END LOOP;
        v_text := v_vote ->> 'voter';
        IF jsonb_typeof(v_vote -> 'voter') IS DISTINCT FROM 'string'
           OR length(btrim(v_text)) NOT BETWEEN 1 AND 200 THEN
            RAISE EXCEPTION USING ERRCODE = 'check_violation',
                MESSAGE = format('votes[%s].voter must be a non-empty string of at most 200 characters, got %s',
                                 v_index, coalesce(left((v_vote -> 'voter')::text, 200), 'nothing')),
                HINT = 'voter names the Senate member casting the vote.';
        END IF;
        IF jsonb_typeof(v_vote -> 'vote') IS DISTINCT FROM 'string'
           OR (v_vote ->> 'vote') NOT IN ('approve', 'reject', 'abstain') THEN
            RAISE EXCEPTION USING ERRCODE = 'check_violation',
                MESSAGE = format('votes[%s].vote must be approve, reject or abstain, got %s',
                                 v_index, coalesce(left((v_vote -> 'vote')::text, 200), 'nothing')),
                HINT = 'vote is one of approve, reject, abstain.';
        END IF;
        -- cast_at: ISO 8601 with an explicit UTC offset, checked without a text-to-timestamptz
        -- cast (which depends on the session's TimeZone and DateStyle, so is not immutable).
        v_text := v_vote ->> 'cast_at';
        v_parts := regexp_match(v_text,
            '^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2})(:\d{2}(\.\d{1,6})?)?(Z|[+-]\d{2}(:?\d{2})?)$');
        IF jsonb_typeof(v_vote -> 'cast_at') IS DISTINCT FROM 'string'
           OR v_parts IS NULL
           OR v_parts[1]::int < 1
           OR v_parts[2]::int NOT BETWEEN 1 AND 12
           OR v_parts[3]::int < 1
           OR v_parts[3]::int > extract(day from (make_date(v_parts[1]::int, v_parts[2]::int, 1)
                                                   + interval '1 month - 1 day'))
           OR v_parts[4]::int > 23 OR v_parts[5]::int > 59
           OR coalesce(substr(v_parts[6], 2, 2)::int, 0) > 59 THEN
            RAISE EXCEPTION USING ERRCODE = 'check_violation',
                MESSAGE = format('votes[%s].cast_at must be an ISO 8601 timestamp with a UTC offset, got %s',
                                 v_index, coalesce(left((v_vote -> 'cast_at')::text, 200), 'nothing')),
                HINT = 'For example "2026-04-24T08:34:00Z" or "2026-04-24 08:34:00+02:00".';
        END IF;
        IF v_vote ? 'rationale' AND jsonb_typeof(v_vote -> 'rationale') NOT IN ('string', 'null') THEN
            RAISE EXCEPTION USING ERRCODE = 'check_violation',
                MESSAGE = format('votes[%s].rationale must be a string or null, got %s',
                                 v_index, left((v_vote -> 'rationale')::text, 200)),
                HINT = 'rationale is free text explaining the vote.';
        END IF;
        v_index := v_index + 1;
    END LOOP;
    RETURN true;
END;
$$;
-- EXECUTE stays granted to PUBLIC, deliberately: PostgreSQL checks it for every role that
-- INSERTs or UPDATEs allocation_proposals (the CHECK calls it), and it reads nothing.
GRANT EXECUTE ON FUNCTION senate.check_votes(jsonb) TO PUBLIC;
COMMENT ON FUNCTION senate.check_votes(jsonb) IS
  'True when p_votes is a JSON array of vote records {voter, vote: approve|reject|abstain, '
  'cast_at: ISO 8601 with offset, rationale?: text}; otherwise raises check_violation (23514) '
  'naming the element, field and value. IMMUTABLE (depends on the value only), so it backs the '
  'CHECK constraint allocation_proposals_votes_valid.';

DO $do$
BEGIN
    IF EXISTS (SELECT 1 FROM senate.compatibility_columns
               WHERE table_name = 'allocation_proposals' AND column_name = 'votes' AND added_by_senate)
       AND NOT EXISTS (SELECT 1 FROM pg_constraint
                       WHERE conrelid = 'public.allocation_proposals'::regclass
                         AND conname = 'allocation_proposals_votes_valid') THEN
        -- NOT VALID: no scan under the ACCESS EXCLUSIVE lock; 0005 validates existing rows.
        ALTER TABLE public.allocation_proposals
            ADD CONSTRAINT allocation_proposals_votes_valid CHECK (votes = '[]'::jsonb OR senate.check_votes(votes)) NOT VALID;
        COMMENT ON CONSTRAINT allocation_proposals_votes_valid ON public.allocation_proposals IS
          'Every vote record is {voter, vote: approve|reject|abstain, cast_at, rationale?} (senate.check_votes).';
    END IF;
END
$do$;

CREATE OR REPLACE FUNCTION senate.column_default_test(p_table regclass, p_column text, p_value text)
RETURNS text
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
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
$$;
COMMENT ON FUNCTION senate.column_default_test(regclass, text, text) IS
  'Code generator helper: a PL/pgSQL boolean expression telling whether p_value (e.g. NEW.created_at) '
  'holds the column''s default, i.e. the writer most likely did not set it. ''false'' without a '
  'default; ''true'' for a volatile default (clock_timestamp(), nextval(), ...) whose value cannot '
  'be recomputed; otherwise the default re-evaluated (now() is the same within a transaction).';

CREATE OR REPLACE FUNCTION senate.install_compatibility_sync()
RETURNS void
LANGUAGE plpgsql
-- pg_catalog only: pg_get_expr then schema-qualifies every non-catalog function in a default,
-- so the generated trigger code does not depend on the caller's search_path.
SET search_path = pg_catalog, pg_temp
AS $install$
DECLARE
    t record;
    p record;
    v_rel regclass;
    v_insert text;
    v_update text;
    v_when text[];
    v_id text;
    v_agent text;
    v_id_type text;
    v_derived text;
    v_old_derived text;
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
                SELECT format_type(a.atttypid, a.atttypmod) INTO v_id_type
                FROM pg_attribute AS a WHERE a.attrelid = v_rel AND a.attname = 'proposer_id';
                v_derived := CASE
                    WHEN v_id IS NOT NULL AND v_agent IS NOT NULL
                        THEN 'coalesce(NEW.proposer_id::text, NEW.proposer_agent::text)'
                    WHEN v_id IS NOT NULL THEN 'NEW.proposer_id::text'
                    ELSE 'NEW.proposer_agent::text' END;
                v_old_derived := replace(v_derived, 'NEW.', 'OLD.');
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
$install$;
COMMENT ON FUNCTION senate.install_compatibility_sync() IS
  '(Re)generates the t20 compatibility triggers and their functions from senate.compatibility_columns '
  'and the catalog (column names, types, defaults). Idempotent. Run again after changing the default '
  'of a canonical column on a deployed table.';
REVOKE ALL ON FUNCTION senate.install_compatibility_sync() FROM PUBLIC;

DO $do$ BEGIN PERFORM senate.install_compatibility_sync(); END $do$;

CREATE OR REPLACE FUNCTION public.reconcile_compatibility_columns()
RETURNS TABLE (table_name text, column_name text, canonical_columns text[],
               rows_missing bigint, rows_different bigint)
LANGUAGE plpgsql STABLE
-- An audit that reads internal tables: SECURITY DEFINER with a pinned search_path, EXECUTE
-- for whom the grants migration (0099) names, as for reconcile_usage_rollups().
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
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
        RETURN QUERY EXECUTE format(
            'SELECT %L::text, %L::text, %L::text[], '
            'count(*) FILTER (WHERE %2$I IS NULL AND %4$s IS NOT NULL), '
            'count(*) FILTER (WHERE %2$I IS DISTINCT FROM %4$s AND NOT (%2$I IS NULL AND %4$s IS NOT NULL)) '
            'FROM public.%1$I HAVING count(*) FILTER (WHERE %2$I IS DISTINCT FROM %4$s) > 0',
            c.table_name, c.column_name, c.canonical_columns, v_canonical);
    END LOOP;
END;
$$;
COMMENT ON FUNCTION public.reconcile_compatibility_columns() IS
  'Proves every compatibility column equals its canonical column(s): returns each (table, column) '
  'with rows still missing a value (NULL while the canonical value is set) or holding a different '
  'value. No rows means reconciled. Reads the whole tables: an audit, not a hot-path call.';
REVOKE ALL ON FUNCTION public.reconcile_compatibility_columns() FROM PUBLIC;
