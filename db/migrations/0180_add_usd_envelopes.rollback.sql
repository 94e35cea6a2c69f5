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
    pg_catalog.to_regprocedure('senate.cost_request_price(text, text, timestamptz)'));
DROP FUNCTION IF EXISTS senate.gate_position(text, text, text, text, timestamptz);
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
-- budget_status reads spend_reservations.amount_usd: back to its query before 0180 (same
-- columns), so that the column can go.
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
