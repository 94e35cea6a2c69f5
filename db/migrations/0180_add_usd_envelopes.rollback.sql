-- Removes only what 0180 added: the cost budget column and its class usd, the USD held by
-- holds, the error code; the functions 0180 saved get their earlier text back first (the
-- definitions of this release read the new columns). A deployment that already has data of
-- class usd (holds, reserve, proposals, alerts, throttles, allowances) keeps the class row:
-- its rows stay valid, only the money gate is gone with the column.
SET lock_timeout = '5s';
DO $$
BEGIN
    PERFORM senate.restore_definitions('0180');
END;
$$;
DELETE FROM senate.function_hardening
WHERE function_oid IN (
    pg_catalog.to_regprocedure('senate.gate_position(text, text, text, text, timestamptz)'),
    pg_catalog.to_regprocedure('senate.cost_request_price(text, text, timestamptz)'),
    pg_catalog.to_regprocedure('senate.cost_position(text, text, date, date, timestamptz)'));
DROP FUNCTION IF EXISTS senate.gate_position(text, text, text, text, timestamptz);
DROP FUNCTION IF EXISTS senate.cost_position(text, text, date, date, timestamptz);
DROP FUNCTION IF EXISTS senate.cost_request_price(text, text, timestamptz);
DELETE FROM public.resource_types AS t
WHERE t.resource_type = 'usd'
  AND NOT EXISTS (SELECT 1 FROM public.spend_reservations AS x WHERE x.resource_type = 'usd')
  AND NOT EXISTS (SELECT 1 FROM public.senate_reserve AS x WHERE x.resource_type = 'usd')
  AND NOT EXISTS (SELECT 1 FROM public.allocation_proposals AS x WHERE x.resource_type = 'usd')
  AND NOT EXISTS (SELECT 1 FROM public.spend_alerts AS x WHERE x.resource_type = 'usd')
  AND NOT EXISTS (SELECT 1 FROM public.spend_throttles AS x WHERE x.resource_type = 'usd')
  AND NOT EXISTS (SELECT 1 FROM public.resource_daily_allowances AS x WHERE x.resource_type = 'usd')
  AND NOT EXISTS (SELECT 1 FROM public.budget_snapshots AS x WHERE x.resource_type = 'usd')
  AND NOT EXISTS (SELECT 1 FROM public.reserve_snapshots AS x WHERE x.resource_type = 'usd');
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM public.resource_types AS t WHERE t.resource_type = 'usd') THEN
        -- squawk-ignore ban-drop-constraint
        ALTER TABLE public.resource_types DROP CONSTRAINT IF EXISTS resource_types_budget_column_check;
        ALTER TABLE public.resource_types
            ADD CONSTRAINT resource_types_budget_column_check
            CHECK (budget_column IN ('token_budget', 'cpu_budget', 'storage_budget_gb',
                                     'api_call_budget'));
    END IF;
END;
$$;
COMMENT ON TABLE public.resource_types IS 'The four first-class resource classes the Senate allocates, with their unit and the resource_budgets column that holds each class''s envelope.';
COMMENT ON COLUMN public.resource_types.unit IS 'Unit of resource_usage.amount for this class (tokens, CPU-seconds, GB-hours, calls).';
-- budget_levels and budget_status read spend_reservations.amount_usd: back to their queries
-- before 0180 (same columns), so that the column can go.
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
        SELECT count(DISTINCT (m.entity_type, m.entity_id))::integer AS members,
               coalesce(sum(r.amount_total), 0) AS spent
        FROM (SELECT lv.level_type AS entity_type, lv.level_id AS entity_id
              UNION ALL
              SELECT d.entity_type, d.entity_id
              FROM senate.entity_family AS d
              WHERE d.ancestor_type = lv.level_type AND d.ancestor_id = lv.level_id
                AND d.depth > 0) AS m
        LEFT JOIN senate.usage_rollups AS r
          ON r.entity_type = m.entity_type AND r.entity_id = m.entity_id
         AND r.resource_type = t.resource_type
         AND r.usage_day >= pb.period_start AND r.usage_day < pb.period_end
    ) AS s
    CROSS JOIN LATERAL (
        SELECT coalesce(sum(o.amount), 0) AS held
        FROM (SELECT lv.level_type AS entity_type, lv.level_id AS entity_id
              UNION ALL
              SELECT d.entity_type, d.entity_id
              FROM senate.entity_family AS d
              WHERE d.ancestor_type = lv.level_type AND d.ancestor_id = lv.level_id
                AND d.depth > 0) AS m
        JOIN public.spend_reservations AS o
          ON o.entity_type = m.entity_type AND o.entity_id = m.entity_id
        WHERE o.resource_type = t.resource_type
          AND o.settled_at IS NULL AND o.released_at IS NULL AND o.expires_at > now()
    ) AS h
) AS x;
CREATE OR REPLACE VIEW public.budget_status AS
SELECT s.entity_type, s.entity_id, s.resource_type, s.unit, s.base_budget, s.market_weight,
       s.effective_budget, s.period_start, s.period_end, s.spent, s.spent_cost_usd,
       s.remaining, s.utilization, s.over_budget,
       coalesce(h.held, 0) AS held,
       greatest(s.remaining - coalesce(h.held, 0), 0) AS available,
       coalesce(a.daily_allowance,
                senate.derived_daily_allowance(s.effective_budget, s.period_start, s.period_end))
           AS daily_allowance,
       t.throttled_until IS NOT NULL AS throttled,
       t.reason AS throttle_reason,
       t.throttled_until
FROM public.budget_status_as_of(now()) AS s
LEFT JOIN (
    SELECT o.entity_type, o.entity_id, o.resource_type, sum(o.amount) AS held
    FROM public.spend_reservations AS o
    WHERE o.settled_at IS NULL AND o.released_at IS NULL AND o.expires_at > now()
    GROUP BY o.entity_type, o.entity_id, o.resource_type) AS h
  ON h.entity_type = s.entity_type AND h.entity_id = s.entity_id
 AND h.resource_type = s.resource_type
LEFT JOIN public.resource_daily_allowances AS a
  ON a.entity_type = s.entity_type AND a.entity_id = s.entity_id
 AND a.resource_type = s.resource_type
LEFT JOIN (
    SELECT x.entity_type, x.entity_id, x.resource_type,
           string_agg(x.reason, '; ' ORDER BY x.kind) AS reason,
           max(x.throttled_until) AS throttled_until
    FROM public.spend_throttles AS x
    WHERE x.released_at IS NULL AND x.throttled_until > now()
    GROUP BY x.entity_type, x.entity_id, x.resource_type) AS t
  ON t.entity_type = s.entity_type AND t.entity_id = s.entity_id
 AND t.resource_type = s.resource_type;
CALL senate.release('0180');
DELETE FROM senate.error_codes WHERE sqlstate = 'S3018';
