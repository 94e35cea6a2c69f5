-- Why: analysts and services read budget_status to see where an entity stands; after
-- the spend gate and the daily check they also need to see what is held by open
-- reservations, what the gate would still grant, the daily allowance the daily check
-- applies, and whether (and why, and until when) the entity is throttled. The columns
-- are APPENDED (the column order of budget_status is a contract, 0017) with CREATE OR
-- REPLACE VIEW; budget_status_as_of() is unchanged.
--
-- Each added figure is a join to a grouped subquery on the same keys (not a per-row
-- LATERAL), so a filter on entity_type and entity_id reaches the partial-index scans of
-- spend_reservations and spend_throttles, and reading the whole view can still hash-join.
SET lock_timeout = '5s';

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
COMMENT ON VIEW public.budget_status IS
  'Per entity and resource class, the current budget period (budget_period_bounds(now())): base '
  'budget, applied market weight, effective budget, spend, remaining, utilization, over-budget flag; '
  'then what open reservations hold, what the spend gate would still grant, the daily allowance, '
  'and the active throttle. Reads senate.usage_rollups (fast at any history size); filter by '
  'entity_type and entity_id. Columns are only ever appended.';
COMMENT ON COLUMN public.budget_status.held IS 'Amount held by open spend reservations (reserve_spend), in unit.';
COMMENT ON COLUMN public.budget_status.available IS 'What can_spend / reserve_spend would still grant: remaining - held, floored at 0, in unit (tier caps aside).';
COMMENT ON COLUMN public.budget_status.daily_allowance IS 'Daily allowance the daily check applies, in unit per day: resource_daily_allowances if set, else effective_budget / days in the budget period.';
COMMENT ON COLUMN public.budget_status.throttled IS 'True while a throttle from the daily check is active for this entity and class (can_spend refuses).';
COMMENT ON COLUMN public.budget_status.throttle_reason IS 'Why it is throttled (both reasons when the daily and the period throttle are active); NULL when not throttled.';
COMMENT ON COLUMN public.budget_status.throttled_until IS 'When the active throttle ends at the latest (start of the next day or period) unless a budget rise lifts it sooner; NULL when not throttled.';
