-- Why: the usage rollups are sharded by writing transaction (0009, 0041) so that concurrent
-- writers charging one entity never share a row. The price is paid by readers: a budget
-- check adds up one row per (class, tier or provider, day, shard), and every writer that
-- ever charged an entity on a day leaves its own shard row. On the bench at 10M usage rows
-- the hot entity had twice the rollup rows it had at 1M (the second load ran on other
-- backends, so other shards): can_spend p50 0.24 ms against 0.17 ms, 1.42x, over the
-- "flat" goal, although the budget period bounds the days read.
--
-- compact_usage_rollups(from_day, to_day) merges the shard rows of each key on past days
-- into one row (days default to the week before today in the policy time zone; the daily
-- cycle runs it). A budget check then reads at most one row per class, tier and day of the
-- period, plus today's shard rows: what it reads no longer grows with the number of
-- writers over time.
--
-- Safe beside live writers, set-based, one statement:
--   * it claims a writer shard (senate.usage_rollup_shard(), the advisory lock writers
--     use) and merges into that shard, so no writer is writing the rows it adds to;
--   * the rows it removes are taken FOR UPDATE SKIP LOCKED: a row a writer's open
--     transaction holds (usage arriving late for a past day) is left for the next run,
--     so it never waits for a writer and cannot deadlock with one;
--   * what it adds is the sum of exactly what it deleted (DELETE ... RETURNING), so the
--     totals per key are unchanged whatever races it meets; reconcile_usage_rollups()
--     still proves them equal to resource_usage.
-- A key already held in one row is not touched (no churn on a second run).
SET lock_timeout = '5s';

CREATE OR REPLACE FUNCTION public.compact_usage_rollups(from_day date DEFAULT NULL,
                                                        to_day date DEFAULT NULL)
RETURNS TABLE (rollup_keys bigint, rows_removed bigint, rows_left bigint)
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_to date := coalesce(to_day,
                          (now() AT TIME ZONE senate.policy_time_zone())::date - 1);
    v_from date := coalesce(from_day, v_to - 6);
    v_shard smallint;
BEGIN
    IF v_from > v_to THEN
        RAISE EXCEPTION USING ERRCODE = '22023', COLUMN = 'from_day',
            MESSAGE = format('compact_usage_rollups: from_day %s is after to_day %s',
                             v_from, v_to),
            HINT = 'Give a window of days with from_day <= to_day (both inclusive), or '
                   'neither for the week before today.';
    END IF;
    v_shard := senate.usage_rollup_shard();
    WITH spread AS (
        -- Keys of those days held in more than one shard row.
        SELECT r.entity_type, r.entity_id, r.resource_type, r.usage_day, r.resource_subclass
        FROM senate.usage_rollups AS r
        WHERE r.usage_day BETWEEN v_from AND v_to
        GROUP BY 1, 2, 3, 4, 5
        HAVING count(*) > 1
    ),
    taken AS (
        SELECT r.entity_type, r.entity_id, r.resource_type, r.usage_day,
               r.resource_subclass, r.shard
        FROM senate.usage_rollups AS r
        JOIN spread AS s USING (entity_type, entity_id, resource_type, usage_day,
                                resource_subclass)
        WHERE r.usage_day BETWEEN v_from AND v_to
          AND r.shard <> v_shard
        FOR UPDATE OF r SKIP LOCKED
    ),
    removed AS (
        DELETE FROM senate.usage_rollups AS r
        USING taken AS t
        WHERE (r.entity_type, r.entity_id, r.resource_type, r.usage_day,
               r.resource_subclass, r.shard)
            = (t.entity_type, t.entity_id, t.resource_type, t.usage_day,
               t.resource_subclass, t.shard)
        RETURNING r.entity_type, r.entity_id, r.resource_type, r.usage_day,
                  r.resource_subclass, r.amount_total, r.cost_total_usd, r.usage_rows
    ),
    merged AS (
        INSERT INTO senate.usage_rollups AS r
            (entity_type, entity_id, resource_type, usage_day, resource_subclass, shard,
             amount_total, cost_total_usd, usage_rows)
        SELECT d.entity_type, d.entity_id, d.resource_type, d.usage_day, d.resource_subclass,
               v_shard, sum(d.amount_total), sum(d.cost_total_usd), sum(d.usage_rows)
        FROM removed AS d
        GROUP BY 1, 2, 3, 4, 5
        ORDER BY 1, 2, 3, 4, 5
        ON CONFLICT (entity_type, entity_id, resource_type, usage_day, resource_subclass,
                     shard)
        DO UPDATE SET amount_total = r.amount_total + excluded.amount_total,
                      cost_total_usd = r.cost_total_usd + excluded.cost_total_usd,
                      usage_rows = r.usage_rows + excluded.usage_rows
        RETURNING 1
    )
    SELECT (SELECT count(*) FROM merged), (SELECT count(*) FROM removed)
    INTO rollup_keys, rows_removed;
    -- A new statement sees what the one above wrote.
    SELECT count(*) INTO rows_left
    FROM senate.usage_rollups AS r WHERE r.usage_day BETWEEN v_from AND v_to;
    RETURN NEXT;
END;
$$;
COMMENT ON FUNCTION public.compact_usage_rollups(date, date) IS
  'Merges the writer-shard rows of each usage rollup key on the days from_day .. to_day '
  '(inclusive; default the 7 days before today in the policy time zone) into one row, so budget '
  'checks read one row per class, tier and day. Totals are unchanged; rows held by a writer''s '
  'open transaction are skipped (next run), never waited for. Returns rollup_keys (keys merged '
  'into one row), rows_removed (shard rows folded in) and rows_left (rollup rows of those days '
  'afterwards). 22023 if from_day > to_day. Run daily (senate-db cycle daily does).';

-- Who may call it, the way 0099 asks later migrations to extend access (numbered after
-- 0099 so that its tables exist on every install): administrators and their schedulers.
INSERT INTO senate.function_access
    (function_name, granted_to, security_definer, revoke_from_public, description)
VALUES ('public.compact_usage_rollups', '{senate_admin}', true, true,
        'Scheduler: daily compaction of usage rollup shards.')
ON CONFLICT (function_name) DO NOTHING;
DO $$ BEGIN PERFORM senate.grant_role_privileges(); END $$;
