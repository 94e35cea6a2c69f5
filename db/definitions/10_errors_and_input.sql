-- db/definitions/10_errors_and_input.sql -- Errors and input checks: the error catalogue's raising helpers and the bounds every write passes through.
--
-- The current definition of each function and view below; the post-apply hook
-- (db/migrations/post-apply_definitions.py) applies an object whenever its text here
-- changes. Each object starts at its '-- define' line. See README, "Adding a migration".

-- define function senate.raise_error(text,text,text,text)
CREATE OR REPLACE FUNCTION senate.raise_error(p_sqlstate text, p_message text, p_detail text DEFAULT NULL::text, p_hint text DEFAULT NULL::text)
 RETURNS void
 LANGUAGE plpgsql
AS $function$
BEGIN
    RAISE EXCEPTION USING
        ERRCODE = p_sqlstate,
        MESSAGE = p_message,
        DETAIL  = coalesce(p_detail, ''),
        HINT    = coalesce(p_hint,
                   (SELECT e.hint FROM senate.error_codes AS e WHERE e.sqlstate = p_sqlstate), '');
END;
$function$;
COMMENT ON FUNCTION senate.raise_error(text,text,text,text) IS 'Raises an error with the given SQLSTATE and message; the HINT defaults to the one catalogued in senate.error_codes for that SQLSTATE.';

-- define function senate.refuse_value(text,text,text,numeric,text)
CREATE OR REPLACE FUNCTION senate.refuse_value(p_sqlstate text, p_function text, p_argument text, p_value numeric, p_expected text)
 RETURNS numeric
 LANGUAGE plpgsql
 IMMUTABLE PARALLEL SAFE
AS $function$
BEGIN
    RAISE EXCEPTION USING
        ERRCODE = p_sqlstate,
        MESSAGE = format('%s: %s = %s is not allowed', p_function, p_argument,
                         coalesce(p_value::text, 'NULL')),
        COLUMN  = p_argument,
        DETAIL  = format('%s must be %s.', p_argument, p_expected),
        HINT    = format('Pass %s as %s.', p_argument, p_expected);
END;
$function$;
COMMENT ON FUNCTION senate.refuse_value(text,text,text,numeric,text) IS 'Raises SQLSTATE p_sqlstate naming the function, the argument and its value (never returns); the argument name is also in the error''s COLUMN field (psycopg: diag.column_name). IMMUTABLE so that the SQL formulas calling it stay inlinable.';

-- define function senate.require_actor(text,text)
CREATE OR REPLACE FUNCTION senate.require_actor(p_argument text, p_value text)
 RETURNS text
 LANGUAGE plpgsql
 IMMUTABLE PARALLEL SAFE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
BEGIN
    IF p_value IS NULL OR btrim(p_value, E' \t\n\r\f\v') = ''
       OR length(btrim(p_value, E' \t\n\r\f\v')) > 200 THEN
        PERFORM senate.raise_error('S2010',
            format('%s must name who is acting (1-200 characters), got %s',
                   p_argument, coalesce(quote_literal(left(p_value, 80)), 'NULL')));
    END IF;
    RETURN btrim(p_value, E' \t\n\r\f\v');
END;
$function$;
COMMENT ON FUNCTION senate.require_actor(text,text) IS 'Returns the trimmed actor name (proposer, voter, reviewer, actor), or raises S2010 naming the argument when it is missing, blank or longer than 200 characters.';

-- define function senate.require_positive_amount(text,numeric)
CREATE OR REPLACE FUNCTION senate.require_positive_amount(p_argument text, p_value numeric)
 RETURNS numeric
 LANGUAGE plpgsql
 IMMUTABLE PARALLEL SAFE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
BEGIN
    -- NaN compares greater than every number in PostgreSQL, so test it by name.
    IF p_value IS NULL OR p_value = 'NaN'::numeric OR p_value = 'Infinity'::numeric
       OR p_value <= 0 THEN
        PERFORM senate.raise_error('S2006',
            format('%s must be a positive finite amount, got %s',
                   p_argument, coalesce(p_value::text, 'NULL')));
    END IF;
    RETURN p_value;
END;
$function$;
COMMENT ON FUNCTION senate.require_positive_amount(text,numeric) IS 'Returns the amount, or raises S2006 naming the argument when it is NULL, NaN, infinite, zero or negative.';

-- define function senate.require_resource_type(text,text)
CREATE OR REPLACE FUNCTION senate.require_resource_type(p_argument text, p_value text)
 RETURNS text
 LANGUAGE plpgsql
 STABLE PARALLEL SAFE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
BEGIN
    IF p_value IS NULL
       OR NOT EXISTS (SELECT 1 FROM public.resource_types AS r WHERE r.resource_type = p_value) THEN
        PERFORM senate.raise_error('S2008',
            format('%s %s is not a resource class (known: %s)',
                   p_argument, coalesce(quote_literal(left(p_value, 80)), 'NULL'),
                   (SELECT string_agg(r.resource_type, ', ' ORDER BY r.resource_type)
                    FROM public.resource_types AS r)));
    END IF;
    RETURN p_value;
END;
$function$;
COMMENT ON FUNCTION senate.require_resource_type(text,text) IS 'Returns the resource class, or raises S2008 naming the argument when it is not in resource_types.';

-- define function senate.require_entity(text,text)
CREATE OR REPLACE FUNCTION senate.require_entity(p_entity_type text, p_entity_id text)
 RETURNS void
 LANGUAGE plpgsql
 STABLE PARALLEL SAFE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
BEGIN
    IF p_entity_type IS NULL
       OR NOT EXISTS (SELECT 1 FROM public.entity_types AS e WHERE e.entity_type = p_entity_type) THEN
        PERFORM senate.raise_error('S2007',
            format('entity_type %s is not a kind of entity (known: %s)',
                   coalesce(quote_literal(left(p_entity_type, 80)), 'NULL'),
                   (SELECT string_agg(e.entity_type, ', ' ORDER BY e.entity_type)
                    FROM public.entity_types AS e)));
    END IF;
    IF p_entity_id IS NULL OR btrim(p_entity_id, E' \t\n\r\f\v') = ''
       OR length(p_entity_id) > 200 THEN
        PERFORM senate.raise_error('S2009',
            format('entity_id must identify the entity (1-200 characters, not blank), got %s',
                   coalesce(quote_literal(left(p_entity_id, 80)), 'NULL')));
    END IF;
END;
$function$;
COMMENT ON FUNCTION senate.require_entity(text,text) IS 'Raises S2007 when entity_type is not in entity_types, S2009 when entity_id is missing, blank or longer than 200 characters.';

-- define function senate.require_short_text(text,text,integer)
CREATE OR REPLACE FUNCTION senate.require_short_text(p_argument text, p_value text, p_max integer)
 RETURNS text
 LANGUAGE plpgsql
 IMMUTABLE PARALLEL SAFE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
BEGIN
    IF length(p_value) > p_max THEN
        PERFORM senate.raise_error('S2011',
            format('%s holds %s characters; at most %s are allowed',
                   p_argument, length(p_value), p_max));
    END IF;
    RETURN nullif(btrim(p_value, E' \t\n\r\f\v'), '');
END;
$function$;
COMMENT ON FUNCTION senate.require_short_text(text,text,integer) IS 'Returns the optional text trimmed (NULL when blank), or raises S2011 naming the argument when it is longer than p_max characters.';

-- define function senate.is_json_number_in(jsonb,numeric,numeric)
CREATE OR REPLACE FUNCTION senate.is_json_number_in(v jsonb, p_above numeric, p_at_most numeric)
 RETURNS boolean
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
    SELECT CASE WHEN jsonb_typeof(v) = 'number'
                THEN (v #>> '{}')::numeric > p_above
                     AND (p_at_most IS NULL OR (v #>> '{}')::numeric <= p_at_most)
                ELSE false END
$function$;
COMMENT ON FUNCTION senate.is_json_number_in(jsonb,numeric,numeric) IS 'True when v is a JSON number greater than p_above and (unless p_at_most is NULL) at most p_at_most; false for any other JSON value or NULL.';

-- define function senate.refuse_out_of_bound_value()
CREATE OR REPLACE FUNCTION senate.refuse_out_of_bound_value()
 RETURNS trigger
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    v_new jsonb := pg_catalog.to_jsonb(NEW);
    v_old jsonb := CASE WHEN TG_OP = 'UPDATE' THEN pg_catalog.to_jsonb(OLD) END;
    v_spec text;
    v_kind text;
    v_column text;
    v_max numeric;
    v_text text;
    v_old_text text;
    v_amount numeric;
    v_old_amount numeric;
    v_size bigint;
BEGIN
    FOREACH v_spec IN ARRAY TG_ARGV LOOP
        v_kind := pg_catalog.split_part(v_spec, ':', 1);
        v_column := pg_catalog.split_part(v_spec, ':', 2);
        v_max := pg_catalog.split_part(v_spec, ':', 3)::numeric;
        v_text := v_new ->> v_column;
        v_old_text := v_old ->> v_column;
        CONTINUE WHEN v_text IS NULL;
        IF v_kind = 'amount' THEN
            v_amount := v_text::numeric;
            v_old_amount := v_old_text::numeric;
            -- NaN and infinities are left to the tables' own CHECKs (23514, 0057).
            IF (pg_catalog.abs(v_amount) > v_max AND pg_catalog.abs(v_amount) < 'Infinity'::numeric
                OR pg_catalog.scale(v_amount) > 18)
               AND NOT coalesce(pg_catalog.abs(v_old_amount) > v_max
                                OR pg_catalog.scale(v_old_amount) > 18, false) THEN
                RAISE EXCEPTION USING ERRCODE = '22003', TABLE = TG_TABLE_NAME, COLUMN = v_column,
                    MESSAGE = pg_catalog.format(
                        '%s.%s = %s is out of range: at most %s in absolute value, with at most '
                        '18 decimal places', TG_TABLE_NAME, v_column,
                        CASE WHEN pg_catalog.length(v_text) > 40
                             THEN pg_catalog.left(v_text, 20) || '...(' ||
                                  pg_catalog.length(v_text) || ' characters)'
                             ELSE v_text END, v_max),
                    DETAIL = 'The bounds are listed in senate.value_bounds.',
                    HINT = 'Amounts are in the unit of the resource class; no real value is '
                           'this large.';
            END IF;
        ELSIF v_kind IN ('text', 'json') THEN
            v_size := CASE v_kind WHEN 'text' THEN pg_catalog.length(v_text)
                                  ELSE pg_catalog.octet_length(v_text) END;
            IF v_size > v_max AND v_text IS DISTINCT FROM v_old_text THEN
                RAISE EXCEPTION USING ERRCODE = '22001', TABLE = TG_TABLE_NAME, COLUMN = v_column,
                    MESSAGE = pg_catalog.format(
                        '%s.%s is too long: %s %s, at most %s', TG_TABLE_NAME, v_column,
                        v_size,
                        CASE v_kind WHEN 'text' THEN 'characters' ELSE 'bytes' END, v_max),
                    DETAIL = 'The bounds are listed in senate.value_bounds.',
                    HINT = 'Store a reference to large content, not the content.';
            END IF;
        END IF;
    END LOOP;
    RETURN NEW;
END;
$function$;
COMMENT ON FUNCTION senate.refuse_out_of_bound_value() IS 'BEFORE INSERT / UPDATE row trigger (t05_bound_values_*), fired only when its WHEN clause found a value beyond its bound in senate.value_bounds: raises 22003 for an amount (naming table, column and value) or 22001 for a text or JSON value too large. An UPDATE of a legacy value already beyond the bound is let through.';

-- define function senate.apply_value_bounds()
CREATE OR REPLACE FUNCTION senate.apply_value_bounds()
 RETURNS integer
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
 SET client_min_messages TO 'warning'
AS $function$
DECLARE
    t record;
    v_tables integer := 0;
BEGIN
    FOR t IN
        SELECT b.relation_name, c.oid AS relid,
               pg_catalog.array_agg(b.kind || ':' || b.column_name || ':' || b.max_value::text
                                    ORDER BY b.column_name) AS specs,
               pg_catalog.string_agg(
                   CASE b.kind
                       WHEN 'amount' THEN pg_catalog.format(
                           '(pg_catalog.abs(NEW.%1$I::numeric) > %2$s '
                           'AND pg_catalog.abs(NEW.%1$I::numeric) < ''Infinity''::numeric '
                           'OR pg_catalog.scale(NEW.%1$I::numeric) > 18)', b.column_name, b.max_value)
                       WHEN 'text' THEN pg_catalog.format(
                           'pg_catalog.length(NEW.%1$I::text) > %2$s', b.column_name, b.max_value)
                       ELSE pg_catalog.format(
                           'pg_catalog.octet_length(NEW.%1$I::text) > %2$s', b.column_name,
                           b.max_value) END,
                   ' OR ' ORDER BY b.column_name) AS insert_when,
               pg_catalog.string_agg(
                   CASE b.kind
                       WHEN 'amount' THEN pg_catalog.format(
                           '((pg_catalog.abs(NEW.%1$I::numeric) > %2$s '
                           'AND pg_catalog.abs(NEW.%1$I::numeric) < ''Infinity''::numeric '
                           'OR pg_catalog.scale(NEW.%1$I::numeric) > 18) '
                           'AND NOT coalesce(pg_catalog.abs(OLD.%1$I::numeric) > %2$s '
                           'OR pg_catalog.scale(OLD.%1$I::numeric) > 18, false))',
                           b.column_name, b.max_value)
                       WHEN 'text' THEN pg_catalog.format(
                           '(pg_catalog.length(NEW.%1$I::text) > %2$s '
                           'AND NEW.%1$I IS DISTINCT FROM OLD.%1$I)', b.column_name, b.max_value)
                       ELSE pg_catalog.format(
                           '(pg_catalog.octet_length(NEW.%1$I::text) > %2$s '
                           'AND NEW.%1$I::text IS DISTINCT FROM OLD.%1$I::text)',
                           b.column_name, b.max_value) END,
                   ' OR ' ORDER BY b.column_name) AS update_when
        FROM senate.value_bounds AS b
        JOIN pg_catalog.pg_class AS c ON c.oid = pg_catalog.to_regclass(b.relation_name)
        JOIN pg_catalog.pg_attribute AS a
          ON a.attrelid = c.oid AND a.attname = b.column_name AND a.attnum > 0
         AND NOT a.attisdropped
        WHERE b.enforced_by = 'row_trigger' AND c.relkind IN ('r', 'p')
        GROUP BY b.relation_name, c.oid
        ORDER BY b.relation_name
    LOOP
        EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS t05_bound_values_insert ON %s',
                                  t.relid::regclass);
        EXECUTE pg_catalog.format('DROP TRIGGER IF EXISTS t05_bound_values_update ON %s',
                                  t.relid::regclass);
        EXECUTE pg_catalog.format(
            'CREATE TRIGGER t05_bound_values_insert BEFORE INSERT ON %s FOR EACH ROW WHEN (%s) '
            'EXECUTE FUNCTION senate.refuse_out_of_bound_value(%s)',
            t.relid::regclass, t.insert_when,
            (SELECT pg_catalog.string_agg(pg_catalog.quote_literal(s), ', ')
             FROM pg_catalog.unnest(t.specs) AS s));
        EXECUTE pg_catalog.format(
            'CREATE TRIGGER t05_bound_values_update BEFORE UPDATE ON %s FOR EACH ROW WHEN (%s) '
            'EXECUTE FUNCTION senate.refuse_out_of_bound_value(%s)',
            t.relid::regclass, t.update_when,
            (SELECT pg_catalog.string_agg(pg_catalog.quote_literal(s), ', ')
             FROM pg_catalog.unnest(t.specs) AS s));
        EXECUTE pg_catalog.format(
            'COMMENT ON TRIGGER t05_bound_values_insert ON %s IS %L', t.relid::regclass,
            'Refuses a row with a value beyond its bound in senate.value_bounds (22003 amount, '
            '22001 text / JSON size).');
        EXECUTE pg_catalog.format(
            'COMMENT ON TRIGGER t05_bound_values_update ON %s IS %L', t.relid::regclass,
            'Refuses an update taking a value beyond its bound in senate.value_bounds (22003 / '
            '22001); a legacy value already beyond it is let through.');
        v_tables := v_tables + 1;
    END LOOP;
    RETURN v_tables;
END;
$function$;
COMMENT ON FUNCTION senate.apply_value_bounds() IS 'Creates (again) the t05_bound_values_insert / _update triggers from the row_trigger rows of senate.value_bounds, for the columns each table has; returns how many tables it bounded. Re-runnable: add a row and call it.';

-- define function senate.shorten_value(text)
CREATE OR REPLACE FUNCTION senate.shorten_value(p_value text)
 RETURNS text
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
    SELECT CASE WHEN pg_catalog.length(p_value) > 40
                THEN pg_catalog.left(p_value, 20) || '...(' || pg_catalog.length(p_value)
                     || ' characters)'
                ELSE p_value END
$function$;
COMMENT ON FUNCTION senate.shorten_value(text) IS 'A value for an error message: as is up to 40 characters, else its first 20 and its length.';
