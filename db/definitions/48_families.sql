-- db/definitions/48_families.sql -- Families: the tree of entities (a gap -> hypotheses -> analyses), its ledgered changes, and the levels the spend gate checks.
--
-- The current definition of each function and view below; the post-apply hook
-- (db/migrations/post-apply_definitions.py) applies an object whenever its text here
-- changes. Each object starts at its '-- define' line. See README, "Adding a migration".

-- define function senate.refresh_entity_family(text[],text[])
CREATE OR REPLACE FUNCTION senate.refresh_entity_family(p_types text[], p_ids text[])
 RETURNS void
 LANGUAGE plpgsql
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
BEGIN
    DELETE FROM senate.entity_family AS f
    USING unnest(p_types, p_ids) AS m (entity_type, entity_id)
    WHERE f.entity_type = m.entity_type AND f.entity_id = m.entity_id;
    -- Each of them that has a parent or a child: itself at depth 0, then up the parents.
    INSERT INTO senate.entity_family (entity_type, entity_id, depth, ancestor_type, ancestor_id)
    WITH RECURSIVE up (entity_type, entity_id, depth, ancestor_type, ancestor_id) AS (
        SELECT m.entity_type, m.entity_id, 0, m.entity_type, m.entity_id
        FROM unnest(p_types, p_ids) AS m (entity_type, entity_id)
        WHERE EXISTS (SELECT 1 FROM public.entity_parents AS p
                      WHERE p.entity_type = m.entity_type AND p.entity_id = m.entity_id)
           OR EXISTS (SELECT 1 FROM public.entity_parents AS p
                      WHERE p.parent_type = m.entity_type AND p.parent_id = m.entity_id)
        UNION ALL
        SELECT up.entity_type, up.entity_id, up.depth + 1, p.parent_type, p.parent_id
        FROM up
        JOIN public.entity_parents AS p
          ON p.entity_type = up.ancestor_type AND p.entity_id = up.ancestor_id
        WHERE up.depth < 7)
    SELECT up.entity_type, up.entity_id, up.depth::smallint, up.ancestor_type, up.ancestor_id
    FROM up
    ORDER BY 1, 2, 3;
END;
$function$;
COMMENT ON FUNCTION senate.refresh_entity_family(text[],text[]) IS 'Rewrites the senate.entity_family rows (the tree''s closure) of the listed entities (parallel arrays of kinds and ids) from public.entity_parents: a row per level (itself at depth 0, then up the parents) for each that has a parent or a child, none for the others. Called by senate.change_entity_parent under its tree lock for the moved entity, its subtree, and its old and new parent.';

-- define function senate.change_entity_parent(text,text,text,text,text,text)
CREATE OR REPLACE FUNCTION senate.change_entity_parent(p_entity_type text, p_entity_id text, p_parent_type text, p_parent_id text, p_reason text, p_caller text)
 RETURNS bigint
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    v_reason text := senate.require_short_text('reason', p_reason, 2000);
    v_old public.entity_parents;
    v_above integer;
    v_below integer;
    v_id bigint;
    v_types text[];
    v_ids text[];
BEGIN
    PERFORM senate.require_entity(p_entity_type, p_entity_id);
    IF v_reason IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '22023', COLUMN = 'reason',
            MESSAGE = pg_catalog.format('%s: reason must say why (1 to 2000 characters), got %s',
                                        p_caller, coalesce(pg_catalog.quote_literal(p_reason), 'NULL')),
            HINT = 'Pass the reason the tree changes; it is ledgered in entity_parent_changes.';
    END IF;
    -- The tree is changed by one transaction at a time (SHARE ROW EXCLUSIVE conflicts with
    -- itself; readers and the spend gate take no lock on it), and each statement after the
    -- lock sees every change committed before it: a snapshot taken before the lock would not.
    IF pg_catalog.current_setting('transaction_isolation') IN ('repeatable read', 'serializable')
    THEN
        PERFORM senate.raise_error('S3017',
            pg_catalog.format('%s: a %s snapshot cannot see concurrent changes of the tree',
                              p_caller,
                              pg_catalog.upper(pg_catalog.current_setting('transaction_isolation'))));
    END IF;
    LOCK TABLE public.entity_parents IN SHARE ROW EXCLUSIVE MODE;

    SELECT * INTO v_old FROM public.entity_parents AS p
    WHERE p.entity_type = p_entity_type AND p.entity_id = p_entity_id;
    IF p_parent_type IS NULL THEN
        IF NOT FOUND THEN
            PERFORM senate.raise_error('S3015',
                pg_catalog.format('%s: %s %s has no parent', p_caller, p_entity_type, p_entity_id));
        END IF;
        DELETE FROM public.entity_parents AS p
        WHERE p.entity_type = p_entity_type AND p.entity_id = p_entity_id;
    ELSE
        IF FOUND AND v_old.parent_type = p_parent_type AND v_old.parent_id = p_parent_id THEN
            RETURN NULL;  -- already its parent: nothing changes, nothing is ledgered
        END IF;
        IF (p_parent_type, p_parent_id) = (p_entity_type, p_entity_id)
           OR EXISTS (SELECT 1 FROM senate.entity_family AS f
                      WHERE f.entity_type = p_parent_type AND f.entity_id = p_parent_id
                        AND f.ancestor_type = p_entity_type AND f.ancestor_id = p_entity_id) THEN
            PERFORM senate.raise_error('S3014',
                pg_catalog.format('%s: %s %s cannot be the parent of %s %s: it is %s', p_caller,
                                  p_parent_type, p_parent_id, p_entity_type, p_entity_id,
                                  CASE WHEN (p_parent_type, p_parent_id) = (p_entity_type, p_entity_id)
                                       THEN 'the entity itself' ELSE 'one of its descendants' END));
        END IF;
        -- Levels above the new parent, the link, and levels below the entity.
        SELECT coalesce(pg_catalog.max(f.depth), 0) INTO v_above FROM senate.entity_family AS f
        WHERE f.entity_type = p_parent_type AND f.entity_id = p_parent_id;
        SELECT coalesce(pg_catalog.max(f.depth), 0) INTO v_below FROM senate.entity_family AS f
        WHERE f.ancestor_type = p_entity_type AND f.ancestor_id = p_entity_id;
        IF v_above + 1 + v_below > 7 THEN
            PERFORM senate.raise_error('S3016',
                pg_catalog.format('%s: %s %s under %s %s would make a family of %s levels; at most '
                                  '8 are allowed', p_caller, p_entity_type, p_entity_id,
                                  p_parent_type, p_parent_id, v_above + v_below + 2),
                pg_catalog.format('%s %s has %s levels above it; %s %s has %s levels below it.',
                                  p_parent_type, p_parent_id, v_above, p_entity_type, p_entity_id,
                                  v_below));
        END IF;
        INSERT INTO public.entity_parents AS p
            (entity_type, entity_id, parent_type, parent_id, set_by, set_at, reason)
        VALUES (p_entity_type, p_entity_id, p_parent_type, p_parent_id, session_user,
                pg_catalog.clock_timestamp(), v_reason)
        ON CONFLICT (entity_type, entity_id) DO UPDATE
        SET parent_type = excluded.parent_type, parent_id = excluded.parent_id,
            set_by = excluded.set_by, set_at = excluded.set_at, reason = excluded.reason;
    END IF;
    INSERT INTO public.entity_parent_changes
        (entity_type, entity_id, old_parent_type, old_parent_id, new_parent_type, new_parent_id,
         changed_by, reason)
    VALUES (p_entity_type, p_entity_id, v_old.parent_type, v_old.parent_id, p_parent_type,
            p_parent_id, session_user, v_reason)
    RETURNING change_id INTO v_id;
    -- Whose rows change: the entity and its subtree (their chains of ancestors), and the old
    -- and the new parent (each may have joined or left a family).
    SELECT pg_catalog.array_agg(m.entity_type), pg_catalog.array_agg(m.entity_id)
    INTO v_types, v_ids
    FROM (SELECT f.entity_type, f.entity_id FROM senate.entity_family AS f
          WHERE f.ancestor_type = p_entity_type AND f.ancestor_id = p_entity_id
          UNION
          SELECT x.t, x.i
          FROM (VALUES (p_entity_type, p_entity_id), (v_old.parent_type, v_old.parent_id),
                       (p_parent_type, p_parent_id)) AS x (t, i)
          WHERE x.t IS NOT NULL) AS m;
    PERFORM senate.refresh_entity_family(v_types, v_ids);
    RETURN v_id;
END;
$function$;
COMMENT ON FUNCTION senate.change_entity_parent(text,text,text,text,text,text) IS 'The body of set_entity_parent and clear_entity_parent (parent NULL): checks the arguments, takes the tree lock, refuses a cycle (S3014), a missing parent to clear (S3015) or a family deeper than 8 levels (S3016), writes entity_parents, ledgers the change in entity_parent_changes with session_user and the reason, and refreshes the closure senate.entity_family. Returns the change_id, NULL when the parent was already that one (nothing written).';

-- define function public.set_entity_parent(text,text,text,text,text)
CREATE OR REPLACE FUNCTION public.set_entity_parent(entity_type text, entity_id text, parent_type text, parent_id text, reason text)
 RETURNS bigint
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
BEGIN
    IF $3 IS NULL
       OR NOT EXISTS (SELECT 1 FROM public.entity_types AS e WHERE e.entity_type = $3) THEN
        RAISE EXCEPTION USING ERRCODE = 'S2007', COLUMN = 'parent_type',
            MESSAGE = pg_catalog.format('set_entity_parent: parent_type %s is not a kind of entity',
                                        coalesce(pg_catalog.quote_literal(pg_catalog.left($3, 80)), 'NULL')),
            HINT = (SELECT e.hint FROM senate.error_codes AS e WHERE e.sqlstate = 'S2007');
    END IF;
    IF $4 IS NULL OR pg_catalog.btrim($4, E' \t\n\r\f\v') = '' OR pg_catalog.length($4) > 200 THEN
        RAISE EXCEPTION USING ERRCODE = 'S2009', COLUMN = 'parent_id',
            MESSAGE = pg_catalog.format('set_entity_parent: parent_id must identify the parent '
                                        '(1-200 characters, not blank), got %s',
                                        coalesce(pg_catalog.quote_literal(pg_catalog.left($4, 80)), 'NULL')),
            HINT = 'Pass the identifier of the parent entity.';
    END IF;
    RETURN senate.change_entity_parent($1, $2, $3, $4, $5, 'set_entity_parent');
END;
$function$;
COMMENT ON FUNCTION public.set_entity_parent(text,text,text,text,text) IS 'Puts an entity under a parent (any kind under any other; moves it if it had another parent) and returns the change_id of its entity_parent_changes row, or NULL when that was already its parent (nothing written). From then on the parent''s envelope, and every ancestor''s, bounds the spend of the entity and its subtree (can_spend, reserve_spend, budget_levels). Ledgered with session_user and reason. Errors, nothing written: S3014 a cycle (the parent is the entity or one of its descendants), S3016 a family deeper than 8 levels, S2007/S2009 entity or parent unknown kind or bad id, 22023 reason missing, S2011 reason over 2000 characters, S3017 a REPEATABLE READ or SERIALIZABLE caller. Administrators only (senate_admin).';

-- define function public.clear_entity_parent(text,text,text)
CREATE OR REPLACE FUNCTION public.clear_entity_parent(entity_type text, entity_id text, reason text)
 RETURNS bigint
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
    SELECT senate.change_entity_parent($1, $2, NULL, NULL, $3, 'clear_entity_parent')
$function$;
COMMENT ON FUNCTION public.clear_entity_parent(text,text,text) IS 'Removes an entity''s parent (it and its subtree leave the parent''s family; its own envelope and its descendants'' still apply) and returns the change_id of its entity_parent_changes row, ledgered with session_user and reason. Errors, nothing written: S3015 it has no parent, S2007/S2009 bad entity, 22023 reason missing, S2011 reason over 2000 characters, S3017 a REPEATABLE READ or SERIALIZABLE caller. Administrators only (senate_admin).';

-- define function senate.family_levels(text,text,text,date,date,timestamp with time zone)
CREATE OR REPLACE FUNCTION senate.family_levels(p_entity_type text, p_entity_id text, p_resource_type text, p_period_start date, p_period_end date, p_as_of timestamp with time zone)
 RETURNS TABLE(depth integer, level_type text, level_id text, effective_budget numeric, spent numeric, held numeric, headroom numeric)
 LANGUAGE plpgsql
 STABLE
AS $function$
#variable_conflict use_column
BEGIN
    -- Each level of the entity's family that has an envelope (depth 0 = the entity itself),
    -- its effective budget for the class, and what its whole subtree (the level and every
    -- descendant) spent in the period and holds open: an ancestor's envelope bounds them all.
    RETURN QUERY
    WITH levels AS MATERIALIZED (
        SELECT l.depth, l.ancestor_type, l.ancestor_id
        FROM senate.entity_family AS l
        WHERE l.entity_type = p_entity_type AND l.entity_id = p_entity_id
    ), members AS MATERIALIZED (
        -- The root's subtree holds every level's: each member's spend and holds are read once.
        -- The money class usd (issue 18): the USD cost of every class, the USD of every hold.
        SELECT m.entity_type, m.entity_id,
               CASE WHEN p_resource_type = 'usd' THEN
                   (SELECT coalesce(sum(r.cost_total_usd), 0)
                    FROM senate.usage_rollups AS r
                    WHERE r.entity_type = m.entity_type AND r.entity_id = m.entity_id
                      AND r.resource_type = ANY (ARRAY['llm_tokens', 'cpu_seconds',
                                                       'storage_gb_hours', 'api_calls'])
                      AND r.usage_day >= p_period_start AND r.usage_day < p_period_end)
               ELSE
                   (SELECT coalesce(sum(r.amount_total), 0)
                    FROM senate.usage_rollups AS r
                    WHERE r.entity_type = m.entity_type AND r.entity_id = m.entity_id
                      AND r.resource_type = p_resource_type
                      AND r.usage_day >= p_period_start AND r.usage_day < p_period_end)
               END AS spent,
               CASE WHEN p_resource_type = 'usd' THEN
                   (SELECT coalesce(sum(o.amount_usd), 0)
                    FROM public.spend_reservations AS o
                    WHERE o.entity_type = m.entity_type AND o.entity_id = m.entity_id
                      AND o.settled_at IS NULL AND o.released_at IS NULL
                      AND o.expires_at > p_as_of)
               ELSE
                   (SELECT coalesce(sum(o.amount), 0)
                    FROM public.spend_reservations AS o
                    WHERE o.entity_type = m.entity_type AND o.entity_id = m.entity_id
                      AND o.resource_type = p_resource_type
                      AND o.settled_at IS NULL AND o.released_at IS NULL
                      AND o.expires_at > p_as_of)
               END AS held
        FROM senate.entity_family AS m
        JOIN (SELECT x.ancestor_type, x.ancestor_id FROM levels AS x
              ORDER BY x.depth DESC LIMIT 1) AS root
          ON m.ancestor_type = root.ancestor_type AND m.ancestor_id = root.ancestor_id
    )
    SELECT l.depth::integer,
           l.ancestor_type,
           l.ancestor_id,
           e.effective_budget,
           s.spent,
           s.held,
           greatest(e.effective_budget - s.spent - s.held, 0)
    FROM levels AS l
    JOIN public.resource_budgets AS b
      ON b.entity_type = l.ancestor_type AND b.entity_id = l.ancestor_id
    CROSS JOIN (SELECT p FROM public.economics_policy AS p WHERE p.is_active) AS pol
    CROSS JOIN LATERAL (SELECT senate.effective_class_budget(b, p_resource_type, pol.p)
                                   AS effective_budget) AS e
    -- A level's subtree: the members whose closure names the level (itself at depth 0).
    CROSS JOIN LATERAL (
        SELECT coalesce(sum(ms.spent), 0) AS spent, coalesce(sum(ms.held), 0) AS held
        FROM senate.entity_family AS d
        JOIN members AS ms ON ms.entity_type = d.entity_type AND ms.entity_id = d.entity_id
        WHERE d.ancestor_type = l.ancestor_type AND d.ancestor_id = l.ancestor_id) AS s
    -- A level without a budget of the class (only usd can be unset) bounds nothing.
    WHERE e.effective_budget IS NOT NULL
    ORDER BY l.depth;
END;
$function$;
COMMENT ON FUNCTION senate.family_levels(text,text,text,date,date,timestamp with time zone) IS 'The levels the spend gate checks for an entity in a family, nearest first: itself (depth 0) and each ancestor that has an envelope, with its effective budget for the class, the spend of its whole subtree (itself and all descendants) in the period p_period_start..p_period_end (from senate.usage_rollups), the open holds of that subtree at p_as_of, and headroom = effective budget - spent - held floored at 0. Amounts in the unit of the class; for the money class usd, spent is the USD cost of every class and held the USD of every hold (spend_reservations.amount_usd), and levels without a cost budget are left out. No rows for an entity in no family. PL/pgSQL so that its plan is cached per session.';

-- define view public.budget_levels
CREATE OR REPLACE VIEW public.budget_levels AS
SELECT x.entity_type, x.entity_id, x.resource_type, x.unit, x.level, x.level_entity_type,
       x.level_entity_id, x.period_start, x.period_end, x.effective_budget, x.spent, x.held,
       x.available,
       row_number() OVER (PARTITION BY x.entity_type, x.entity_id, x.resource_type
                          ORDER BY x.available, x.level) = 1 AS binds,
       x.subtree_entities
FROM (
    SELECT e.entity_type,
           e.entity_id,
           t.resource_type,
           t.unit,
           lv.level,
           lv.level_type AS level_entity_type,
           lv.level_id AS level_entity_id,
           pb.period_start,
           pb.period_end,
           ce.effective_budget,
           s.spent,
           h.held,
           greatest(ce.effective_budget - s.spent - h.held, 0) AS available,
           s.members AS subtree_entities
    FROM public.resource_budgets AS e
    CROSS JOIN public.resource_types AS t
    CROSS JOIN (SELECT p AS policy, bounds.period_start, bounds.period_end
                FROM public.economics_policy AS p
                CROSS JOIN LATERAL senate.period_bounds(now(), p.budget_period, p.time_zone) AS bounds
                WHERE p.is_active) AS pb
    -- The levels of the entity: itself (0), then each ancestor (senate.entity_family).
    CROSS JOIN LATERAL (
        SELECT 0 AS level, e.entity_type AS level_type, e.entity_id AS level_id
        UNION ALL
        SELECT f.depth::integer, f.ancestor_type, f.ancestor_id
        FROM senate.entity_family AS f
        WHERE f.entity_type = e.entity_type AND f.entity_id = e.entity_id AND f.depth > 0
    ) AS lv
    -- A level applies when it has an envelope.
    JOIN public.resource_budgets AS lb
      ON lb.entity_type = lv.level_type AND lb.entity_id = lv.level_id
    CROSS JOIN LATERAL (SELECT senate.effective_class_budget(lb, t.resource_type, pb.policy)
                                   AS effective_budget) AS ce
    -- A level's spend and holds are its whole subtree's: itself and every descendant.
    CROSS JOIN LATERAL (
        -- The money class usd: the USD cost of every usage class.
        SELECT count(DISTINCT (m.entity_type, m.entity_id))::integer AS members,
               coalesce(sum(CASE WHEN t.resource_type = 'usd' THEN r.cost_total_usd
                                 ELSE r.amount_total END), 0) AS spent
        FROM (SELECT lv.level_type AS entity_type, lv.level_id AS entity_id
              UNION ALL
              SELECT d.entity_type, d.entity_id
              FROM senate.entity_family AS d
              WHERE d.ancestor_type = lv.level_type AND d.ancestor_id = lv.level_id
                AND d.depth > 0) AS m
        LEFT JOIN senate.usage_rollups AS r
          ON r.entity_type = m.entity_type AND r.entity_id = m.entity_id
         AND r.resource_type = ANY (CASE WHEN t.resource_type = 'usd'
                                         THEN ARRAY['llm_tokens', 'cpu_seconds',
                                                    'storage_gb_hours', 'api_calls']
                                         ELSE ARRAY[t.resource_type] END)
         AND r.usage_day >= pb.period_start AND r.usage_day < pb.period_end
    ) AS s
    CROSS JOIN LATERAL (
        -- The money class usd: the USD every hold keeps.
        SELECT coalesce(sum(CASE WHEN t.resource_type = 'usd' THEN o.amount_usd
                                 ELSE o.amount END), 0) AS held
        FROM (SELECT lv.level_type AS entity_type, lv.level_id AS entity_id
              UNION ALL
              SELECT d.entity_type, d.entity_id
              FROM senate.entity_family AS d
              WHERE d.ancestor_type = lv.level_type AND d.ancestor_id = lv.level_id
                AND d.depth > 0) AS m
        JOIN public.spend_reservations AS o
          ON o.entity_type = m.entity_type AND o.entity_id = m.entity_id
        WHERE (o.resource_type = t.resource_type OR t.resource_type = 'usd')
          AND o.settled_at IS NULL AND o.released_at IS NULL AND o.expires_at > now()
    ) AS h
    -- A level without a budget of the class (only the cost budget, usd, may be unset).
    WHERE ce.effective_budget IS NOT NULL
) AS x;
COMMENT ON VIEW public.budget_levels IS 'Every budget that applies to an entity''s spend, per resource class, in the current budget period: its own envelope (level 0) and, when it is in a family (entity_parents), each ancestor''s that has an envelope (level 1 = parent, 2 = grandparent, ...). A level''s spend and holds are its whole subtree''s (itself and every descendant), so available is what that level still lets the entity spend; binds marks the level with the least available (the nearest on a tie): the one that stops the entity first, as can_spend and reserve_spend judge it (tier caps aside: budget_tier_status). An entity in no family has one row per class, its own envelope, binding. Filter by entity_type and entity_id (and resource_type); ancestors without an envelope cap nothing and are not listed. Columns are only ever appended.';
COMMENT ON COLUMN public.budget_levels.entity_type IS 'Kind of the entity whose spend is bounded.';
COMMENT ON COLUMN public.budget_levels.entity_id IS 'Entity whose spend is bounded.';
COMMENT ON COLUMN public.budget_levels.resource_type IS 'Resource class: llm_tokens, cpu_seconds, storage_gb_hours, api_calls; usd (cost budgets) at the levels that have one, its spend the USD cost of every class and its holds the USD they keep.';
COMMENT ON COLUMN public.budget_levels.unit IS 'Unit of the budget and spend columns: tokens, CPU-seconds, GB-hours or calls.';
COMMENT ON COLUMN public.budget_levels.level IS 'Levels up from the entity: 0 its own envelope, 1 its parent''s, 2 its grandparent''s, ...';
COMMENT ON COLUMN public.budget_levels.level_entity_type IS 'Kind of the entity whose envelope this level is (the entity itself at level 0).';
COMMENT ON COLUMN public.budget_levels.level_entity_id IS 'Entity whose envelope this level is (the entity itself at level 0).';
COMMENT ON COLUMN public.budget_levels.period_start IS 'First day of the current budget period (policy time zone).';
COMMENT ON COLUMN public.budget_levels.period_end IS 'First day AFTER the current budget period (exclusive bound).';
COMMENT ON COLUMN public.budget_levels.effective_budget IS 'Effective budget of the level''s envelope for the class (as budget_status), in unit.';
COMMENT ON COLUMN public.budget_levels.spent IS 'Spend of the level''s whole subtree (the level''s entity and all its descendants) in the period, in unit (from senate.usage_rollups).';
COMMENT ON COLUMN public.budget_levels.held IS 'Amount held by open reservations anywhere in the level''s subtree, in unit.';
COMMENT ON COLUMN public.budget_levels.available IS 'effective_budget - spent - held, floored at 0, in unit: what this level still lets the entity (or any of its subtree) spend.';
COMMENT ON COLUMN public.budget_levels.binds IS 'True for the level with the least available (the nearest on a tie): the level that stops the entity''s spending first.';
COMMENT ON COLUMN public.budget_levels.subtree_entities IS 'Entities in the level''s subtree (itself included), a count.';
