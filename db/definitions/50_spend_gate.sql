-- db/definitions/50_spend_gate.sql -- Spend gate: budget status, can_spend, reservations (holds), daily allowances and throttles.
--
-- The current definition of each function and view below; the post-apply hook
-- (db/migrations/post-apply_definitions.py) applies an object whenever its text here
-- changes. Each object starts at its '-- define' line. See README, "Adding a migration".

-- define function senate.check_tier_budgets_within_token_budget()
CREATE OR REPLACE FUNCTION senate.check_tier_budgets_within_token_budget()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    v_types text[];
    v_ids text[];
    v_bad record;
BEGIN
    -- Entities whose total of caps this statement raised.
    IF TG_OP = 'INSERT' THEN
        SELECT array_agg(x.entity_type), array_agg(x.entity_id) INTO v_types, v_ids
        FROM (SELECT n.entity_type, n.entity_id FROM new_rows AS n
              GROUP BY 1, 2 HAVING sum(n.token_budget) > 0) AS x;
    ELSE
        SELECT array_agg(x.entity_type), array_agg(x.entity_id) INTO v_types, v_ids
        FROM (SELECT entity_type, entity_id
              FROM old_rows AS o FULL JOIN new_rows AS n USING (entity_type, entity_id, model_tier)
              GROUP BY 1, 2
              HAVING sum(coalesce(n.token_budget, 0) - coalesce(o.token_budget, 0)) > 0) AS x;
    END IF;
    IF v_types IS NULL THEN
        RETURN NULL;
    END IF;
    -- Serialize cap raises per entity: lock the envelopes in key order, then check
    -- with a fresh snapshot (next statement) that sees committed concurrent raises.
    PERFORM 1
    FROM public.resource_budgets AS b
    JOIN unnest(v_types, v_ids) AS t (entity_type, entity_id)
      ON b.entity_type = t.entity_type AND b.entity_id = t.entity_id
    ORDER BY b.entity_type, b.entity_id
    FOR NO KEY UPDATE OF b;
    SELECT b.entity_type, b.entity_id, b.token_budget, s.total INTO v_bad
    FROM public.resource_budgets AS b
    JOIN unnest(v_types, v_ids) AS t (entity_type, entity_id)
      ON b.entity_type = t.entity_type AND b.entity_id = t.entity_id
    CROSS JOIN LATERAL (SELECT sum(r.token_budget) AS total FROM public.resource_budget_tiers AS r
                        WHERE r.entity_type = b.entity_type AND r.entity_id = b.entity_id) AS s
    WHERE s.total > b.token_budget
    ORDER BY b.entity_type, b.entity_id
    LIMIT 1;
    IF FOUND THEN
        PERFORM senate.raise_error('S1005',
            format('resource_budget_tiers: tier caps of %s %s would total %s tokens, above its '
                   'token_budget of %s tokens', v_bad.entity_type, v_bad.entity_id, v_bad.total,
                   v_bad.token_budget));
    END IF;
    RETURN NULL;
END;
$function$;
COMMENT ON FUNCTION senate.check_tier_budgets_within_token_budget() IS 'Statement-level trigger on resource_budget_tiers: refuses (S1005) a write that raises an entity''s total of tier caps above its token_budget. Locks the envelopes in key order so concurrent cap writes for one entity are checked one after the other.';

-- define function public.budget_status_as_of(timestamp with time zone)
CREATE OR REPLACE FUNCTION public.budget_status_as_of(as_of timestamp with time zone)
 RETURNS TABLE(entity_type text, entity_id text, resource_type text, unit text, base_budget numeric, market_weight numeric, effective_budget numeric, period_start date, period_end date, spent numeric, spent_cost_usd numeric, remaining numeric, utilization numeric, over_budget boolean)
 LANGUAGE sql
 STABLE PARALLEL SAFE
AS $function$
    SELECT b.entity_type,
           b.entity_id,
           t.resource_type,
           t.unit,
           x.base_budget,
           w.market_weight,
           e.effective_budget,
           pb.period_start,
           pb.period_end,
           coalesce(s.spent, 0) AS spent,
           coalesce(s.spent_cost_usd, 0) AS spent_cost_usd,
           greatest(e.effective_budget - coalesce(s.spent, 0), 0) AS remaining,
           CASE WHEN e.effective_budget > 0 THEN coalesce(s.spent, 0) / e.effective_budget END
               AS utilization,
           coalesce(s.spent, 0) > e.effective_budget AS over_budget
    FROM public.resource_budgets AS b
    CROSS JOIN public.resource_types AS t
    CROSS JOIN (SELECT bounds.period_start, bounds.period_end, p.min_priority_for_market_weight,
                       p.max_market_boost, p.max_market_penalty
                FROM public.economics_policy AS p
                CROSS JOIN LATERAL senate.period_bounds(as_of, p.budget_period, p.time_zone) AS bounds
                WHERE p.is_active) AS pb
    CROSS JOIN LATERAL (SELECT senate.budget_amount(b, t.resource_type) AS base_budget) AS x
    CROSS JOIN LATERAL (SELECT senate.applied_market_weight(
                                   b.market_weight, b.priority_score, pb.min_priority_for_market_weight,
                                   pb.max_market_boost, pb.max_market_penalty) AS market_weight) AS w
    CROSS JOIN LATERAL (SELECT public.effective_budget(x.base_budget, w.market_weight)
                                   AS effective_budget) AS e
    -- A join to a grouped subquery (not a LATERAL aggregate) so that the planner can
    -- push an entity filter into the rollup scan (one index range per entity) and
    -- still hash-join the whole table when the view is read for every entity.
    LEFT JOIN (
        SELECT r.entity_type, r.entity_id, r.resource_type,
               sum(r.amount_total) AS spent, sum(r.cost_total_usd) AS spent_cost_usd
        FROM senate.usage_rollups AS r
        CROSS JOIN (SELECT bounds.period_start, bounds.period_end
                    FROM public.economics_policy AS p
                    CROSS JOIN LATERAL senate.period_bounds(as_of, p.budget_period, p.time_zone) AS bounds
                    WHERE p.is_active) AS rp
        WHERE r.usage_day >= rp.period_start AND r.usage_day < rp.period_end
        GROUP BY r.entity_type, r.entity_id, r.resource_type
        UNION ALL
        -- The money class usd: the USD cost of every class, read only for the envelopes with
        -- a cost budget (one probe of resource_budgets for the others).
        SELECT ub.entity_type, ub.entity_id, 'usd', c.cost, c.cost
        FROM public.resource_budgets AS ub
        CROSS JOIN (SELECT bounds.period_start, bounds.period_end
                    FROM public.economics_policy AS p
                    CROSS JOIN LATERAL senate.period_bounds(as_of, p.budget_period, p.time_zone) AS bounds
                    WHERE p.is_active) AS up
        CROSS JOIN LATERAL (
            SELECT coalesce(sum(r.cost_total_usd), 0) AS cost
            FROM senate.usage_rollups AS r
            WHERE r.entity_type = ub.entity_type AND r.entity_id = ub.entity_id
              AND r.resource_type = ANY (ARRAY['llm_tokens', 'cpu_seconds', 'storage_gb_hours',
                                               'api_calls'])
              AND r.usage_day >= up.period_start AND r.usage_day < up.period_end) AS c
        WHERE senate.budget_amount(ub, 'usd') IS NOT NULL) AS s
      ON s.entity_type = b.entity_type AND s.entity_id = b.entity_id
     AND s.resource_type = t.resource_type
    -- The money class only for envelopes with a cost budget (every unit class has a budget).
    WHERE x.base_budget IS NOT NULL
$function$;
COMMENT ON FUNCTION public.budget_status_as_of(timestamp with time zone) IS 'budget_status for the budget period containing as_of (budgets, weights and policy as they are now; spend of that period). The money class usd appears only for envelopes with a cost budget (cost_budget_usd), its spend being the USD cost of all their usage. An inlinable SQL function: filters on entity_type and entity_id reach the rollup scan. budget_status is budget_status_as_of(now()).';

-- define view public.budget_status
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
      AND o.resource_type <> 'usd'
    GROUP BY o.entity_type, o.entity_id, o.resource_type
    UNION ALL
    -- The money class usd: the USD every open hold keeps (a hold of class usd, its amount).
    SELECT o.entity_type, o.entity_id, 'usd', sum(o.amount_usd)
    FROM public.spend_reservations AS o
    WHERE o.settled_at IS NULL AND o.released_at IS NULL AND o.expires_at > now()
      AND o.amount_usd IS NOT NULL
    GROUP BY o.entity_type, o.entity_id) AS h
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
COMMENT ON VIEW public.budget_status IS 'Per entity and resource class, the current budget period (budget_period_bounds(now())): base budget, applied market weight, effective budget, spend, remaining, utilization, over-budget flag; then what open reservations hold, what the spend gate would still grant, the daily allowance, and the active throttle. Reads senate.usage_rollups (fast at any history size); filter by entity_type and entity_id. Columns are only ever appended.';
COMMENT ON COLUMN public.budget_status.entity_type IS 'Kind of entity.';
COMMENT ON COLUMN public.budget_status.entity_id IS 'Entity identifier.';
COMMENT ON COLUMN public.budget_status.resource_type IS 'Resource class: llm_tokens, cpu_seconds, storage_gb_hours, api_calls; usd (the cost budget) only for envelopes that have one.';
COMMENT ON COLUMN public.budget_status.unit IS 'Unit of the budget and spend columns: tokens, CPU-seconds, GB-hours, calls or USD.';
COMMENT ON COLUMN public.budget_status.base_budget IS 'Envelope for the class per budget period from resource_budgets, in unit.';
COMMENT ON COLUMN public.budget_status.market_weight IS 'Applied market weight (unitless): resource_budgets.market_weight clamped to the active policy bounds, 0 below its priority threshold.';
COMMENT ON COLUMN public.budget_status.effective_budget IS 'effective_budget(base_budget, market_weight) = base_budget * (1 + market_weight), in unit.';
COMMENT ON COLUMN public.budget_status.period_start IS 'First day of the current budget period (policy time zone).';
COMMENT ON COLUMN public.budget_status.period_end IS 'First day AFTER the current budget period (exclusive bound).';
COMMENT ON COLUMN public.budget_status.spent IS 'Amount used in the current period, in unit (from senate.usage_rollups); for usd, the USD cost of the usage of every class.';
COMMENT ON COLUMN public.budget_status.spent_cost_usd IS 'Cost of the spend in the current period, in USD.';
COMMENT ON COLUMN public.budget_status.remaining IS 'effective_budget - spent, floored at 0, in unit.';
COMMENT ON COLUMN public.budget_status.utilization IS 'spent / effective_budget as a fraction (1 = 100 %); NULL when the effective budget is 0.';
COMMENT ON COLUMN public.budget_status.over_budget IS 'True when spent exceeds the effective budget.';
COMMENT ON COLUMN public.budget_status.held IS 'Amount held by open spend reservations (reserve_spend), in unit; for usd, the USD all open holds keep (spend_reservations.amount_usd).';
COMMENT ON COLUMN public.budget_status.available IS 'What can_spend / reserve_spend would still grant: remaining - held, floored at 0, in unit (tier caps aside).';
COMMENT ON COLUMN public.budget_status.daily_allowance IS 'Daily allowance the daily check applies, in unit per day: resource_daily_allowances if set, else effective_budget / days in the budget period.';
COMMENT ON COLUMN public.budget_status.throttled IS 'True while a throttle from the daily check is active for this entity and class (can_spend refuses).';
COMMENT ON COLUMN public.budget_status.throttle_reason IS 'Why it is throttled (both reasons when the daily and the period throttle are active); NULL when not throttled.';
COMMENT ON COLUMN public.budget_status.throttled_until IS 'When the active throttle ends at the latest (start of the next day or period) unless a budget rise lifts it sooner; NULL when not throttled.';

-- define function public.budget_tier_status_as_of(timestamp with time zone)
CREATE OR REPLACE FUNCTION public.budget_tier_status_as_of(as_of timestamp with time zone)
 RETURNS TABLE(entity_type text, entity_id text, model_tier text, base_budget numeric, market_weight numeric, effective_budget numeric, period_start date, period_end date, spent numeric, spent_cost_usd numeric, remaining numeric, utilization numeric, over_budget boolean)
 LANGUAGE sql
 STABLE PARALLEL SAFE
AS $function$
    SELECT b.entity_type,
           b.entity_id,
           c.model_tier,
           c.token_budget AS base_budget,
           w.market_weight,
           e.effective_budget,
           pb.period_start,
           pb.period_end,
           coalesce(s.spent, 0) AS spent,
           coalesce(s.spent_cost_usd, 0) AS spent_cost_usd,
           greatest(least(e.effective_budget - coalesce(s.spent, 0),
                          e.pool_effective_budget - coalesce(ps.pool_spent, 0)), 0) AS remaining,
           CASE WHEN e.effective_budget > 0 THEN coalesce(s.spent, 0) / e.effective_budget END
               AS utilization,
           coalesce(s.spent, 0) > e.effective_budget AS over_budget
    FROM public.resource_budget_tiers AS c
    JOIN public.resource_budgets AS b ON b.entity_type = c.entity_type AND b.entity_id = c.entity_id
    CROSS JOIN (SELECT bounds.period_start, bounds.period_end, p.min_priority_for_market_weight,
                       p.max_market_boost, p.max_market_penalty
                FROM public.economics_policy AS p
                CROSS JOIN LATERAL senate.period_bounds(as_of, p.budget_period, p.time_zone) AS bounds
                WHERE p.is_active) AS pb
    CROSS JOIN LATERAL (SELECT senate.applied_market_weight(
                                   b.market_weight, b.priority_score, pb.min_priority_for_market_weight,
                                   pb.max_market_boost, pb.max_market_penalty) AS market_weight) AS w
    CROSS JOIN LATERAL (SELECT public.effective_budget(c.token_budget, w.market_weight) AS effective_budget,
                               public.effective_budget(b.token_budget, w.market_weight)
                                   AS pool_effective_budget) AS e
    LEFT JOIN (
        SELECT r.entity_type, r.entity_id, r.resource_subclass AS model_tier,
               sum(r.amount_total) AS spent, sum(r.cost_total_usd) AS spent_cost_usd
        FROM senate.usage_rollups AS r
        CROSS JOIN (SELECT bounds.period_start, bounds.period_end
                    FROM public.economics_policy AS p
                    CROSS JOIN LATERAL senate.period_bounds(as_of, p.budget_period, p.time_zone) AS bounds
                    WHERE p.is_active) AS rp
        WHERE r.resource_type = 'llm_tokens'
          AND r.usage_day >= rp.period_start AND r.usage_day < rp.period_end
        GROUP BY r.entity_type, r.entity_id, r.resource_subclass) AS s
      ON s.entity_type = c.entity_type AND s.entity_id = c.entity_id AND s.model_tier = c.model_tier
    LEFT JOIN (
        SELECT r.entity_type, r.entity_id, sum(r.amount_total) AS pool_spent
        FROM senate.usage_rollups AS r
        CROSS JOIN (SELECT bounds.period_start, bounds.period_end
                    FROM public.economics_policy AS p
                    CROSS JOIN LATERAL senate.period_bounds(as_of, p.budget_period, p.time_zone) AS bounds
                    WHERE p.is_active) AS rp
        WHERE r.resource_type = 'llm_tokens'
          AND r.usage_day >= rp.period_start AND r.usage_day < rp.period_end
        GROUP BY r.entity_type, r.entity_id) AS ps
      ON ps.entity_type = c.entity_type AND ps.entity_id = c.entity_id
$function$;
COMMENT ON FUNCTION public.budget_tier_status_as_of(timestamp with time zone) IS 'budget_tier_status for the budget period containing as_of (caps, weights and policy as they are now; spend of that period). budget_tier_status is budget_tier_status_as_of(now()).';

-- define view public.budget_tier_status
CREATE OR REPLACE VIEW public.budget_tier_status AS
SELECT s.entity_type, s.entity_id, s.model_tier, s.base_budget, s.market_weight,
       s.effective_budget, s.period_start, s.period_end, s.spent, s.spent_cost_usd,
       s.remaining, s.utilization, s.over_budget
FROM public.budget_tier_status_as_of(now()) AS s;
COMMENT ON VIEW public.budget_tier_status IS 'Per entity and capped model tier (resource_budget_tiers), the current budget period: tier cap, applied market weight, effective cap, the tier''s llm_tokens spend, and remaining = what both the tier cap and the whole token pool still allow. Tiers without a cap draw on the pool only (budget_status, resource_type llm_tokens). Columns are only ever appended.';
COMMENT ON COLUMN public.budget_tier_status.entity_type IS 'Kind of entity.';
COMMENT ON COLUMN public.budget_tier_status.entity_id IS 'Entity identifier.';
COMMENT ON COLUMN public.budget_tier_status.model_tier IS 'Model tier capped (models map to tiers in llm_models).';
COMMENT ON COLUMN public.budget_tier_status.base_budget IS 'Tier cap per budget period, in tokens.';
COMMENT ON COLUMN public.budget_tier_status.market_weight IS 'Applied market weight of the entity (unitless), as in budget_status.';
COMMENT ON COLUMN public.budget_tier_status.effective_budget IS 'base_budget * (1 + market_weight), in tokens.';
COMMENT ON COLUMN public.budget_tier_status.period_start IS 'First day of the current budget period (policy time zone).';
COMMENT ON COLUMN public.budget_tier_status.period_end IS 'First day AFTER the current budget period (exclusive bound).';
COMMENT ON COLUMN public.budget_tier_status.spent IS 'Tokens used in the current period by models of this tier.';
COMMENT ON COLUMN public.budget_tier_status.spent_cost_usd IS 'Cost of this tier''s spend in the current period, in USD.';
COMMENT ON COLUMN public.budget_tier_status.remaining IS 'Tokens this tier may still use: least(tier effective cap - tier spend, pool effective budget - pool spend), floored at 0.';
COMMENT ON COLUMN public.budget_tier_status.utilization IS 'spent / effective_budget as a fraction (1 = 100 %); NULL when the effective cap is 0.';
COMMENT ON COLUMN public.budget_tier_status.over_budget IS 'True when the tier''s spend exceeds its effective cap.';

-- define function public.set_daily_allowance(text,text,text,numeric,text,text)
CREATE OR REPLACE FUNCTION public.set_daily_allowance(p_entity_type text, p_entity_id text, p_resource_type text, p_daily_allowance numeric, p_actor text, p_note text DEFAULT NULL::text)
 RETURNS numeric
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    v_actor text := senate.require_actor('actor', p_actor);
    v_note text := senate.require_short_text('note', p_note, 2000);
BEGIN
    PERFORM senate.require_entity(p_entity_type, p_entity_id);
    PERFORM senate.require_resource_type('resource_type', p_resource_type);
    IF p_daily_allowance IS NULL THEN
        DELETE FROM public.resource_daily_allowances AS a
        WHERE a.entity_type = p_entity_type AND a.entity_id = p_entity_id
          AND a.resource_type = p_resource_type;
        RETURN NULL;
    END IF;
    IF p_daily_allowance = 'NaN'::numeric OR p_daily_allowance = 'Infinity'::numeric
       OR p_daily_allowance < 0 THEN
        PERFORM senate.raise_error('S2006',
            format('daily_allowance must be a finite amount >= 0, got %s', p_daily_allowance));
    END IF;
    IF NOT EXISTS (SELECT 1 FROM public.resource_budgets AS b
                   WHERE b.entity_type = p_entity_type AND b.entity_id = p_entity_id) THEN
        PERFORM senate.raise_error('S3003',
            format('%s %s has no budget envelope (resource_budgets row)', p_entity_type,
                   p_entity_id));
    END IF;
    INSERT INTO public.resource_daily_allowances AS a
        (entity_type, entity_id, resource_type, daily_allowance, set_by, note)
    VALUES (p_entity_type, p_entity_id, p_resource_type, p_daily_allowance, v_actor, v_note)
    ON CONFLICT (entity_type, entity_id, resource_type) DO UPDATE
    SET daily_allowance = excluded.daily_allowance, set_by = excluded.set_by,
        set_at = now(), note = excluded.note;
    RETURN p_daily_allowance;
END;
$function$;
COMMENT ON FUNCTION public.set_daily_allowance(text,text,text,numeric,text,text) IS 'Sets an explicit daily allowance (amount per calendar day in the unit of the class) for an entity and resource class, or removes it when daily_allowance is NULL (back to effective budget / days in period). Returns the explicit allowance (NULL when removed). Errors: S2007/S2009 bad entity, S2008 unknown class, S2006 negative or non-finite allowance, S2010 actor missing, S2011 note too long, S3003 no envelope.';

-- define function senate.guard_spend_throttles()
CREATE OR REPLACE FUNCTION senate.guard_spend_throttles()
 RETURNS trigger
 LANGUAGE plpgsql
AS $function$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.released_at IS NULL
       AND to_jsonb(NEW) - 'released_at' - 'release_reason'
           = to_jsonb(OLD) - 'released_at' - 'release_reason' THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION USING
        ERRCODE = 'S4001',
        MESSAGE = format('%s of spend throttle %s refused: throttles are history; only an '
                         'unreleased throttle may be released, once', TG_OP, OLD.throttle_id),
        HINT = 'Throttles are released by run_daily_check() or by a budget rise.';
END;
$function$;
COMMENT ON FUNCTION senate.guard_spend_throttles() IS 'Row trigger on spend_throttles: allows only writing the release of an unreleased throttle; refuses other updates and deletes (S4001).';

-- define function senate.release_lifted_throttles(text[],text[],timestamp with time zone)
CREATE OR REPLACE FUNCTION senate.release_lifted_throttles(p_entity_types text[], p_entity_ids text[], p_as_of timestamp with time zone)
 RETURNS SETOF public.spend_throttles
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    v_jit text := current_setting('jit');
BEGIN
    -- Planner settings for this call only (restored below; an error rolls them back):
    -- JIT compilation costs seconds per call and buys nothing at these sizes.
    PERFORM set_config('jit', 'off', true);
    RETURN QUERY
    WITH p AS (
        SELECT e.* FROM public.economics_policy AS e WHERE e.is_active
    ), candidates AS (
        SELECT t.throttle_id
        FROM public.spend_throttles AS t
        WHERE t.released_at IS NULL
          AND (p_entity_types IS NULL
               OR (t.entity_type, t.entity_id) IN (
                      SELECT u.entity_type, u.entity_id
                      FROM unnest(p_entity_types, p_entity_ids) AS u (entity_type, entity_id)))
        ORDER BY t.throttle_id
        FOR UPDATE OF t
    ), measured AS (
        SELECT t.throttle_id,
               CASE WHEN t.throttled_until <= p_as_of THEN
                        format('window %s..%s ended: a new %s began', t.window_start,
                               t.window_end - 1,
                               CASE t.kind WHEN 'daily_allowance' THEN 'day' ELSE 'budget period' END)
                    WHEN t.kind = 'forecast' AND NOT p.throttle_on_forecast THEN
                        'the policy no longer throttles on forecast (throttle_on_forecast is off)'
                    WHEN t.kind = 'forecast' THEN
                        CASE WHEN b.entity_id IS NOT NULL
                                  AND fc.projected_spend < fc.effective_budget THEN
                                 format('forecast within budget again: projected %s of effective '
                                        'budget %s by %s at %s a day',
                                        trim_scale(round(fc.projected_spend, 2)),
                                        trim_scale(round(fc.effective_budget, 2)),
                                        fc.period_end - 1, trim_scale(round(fc.daily_rate, 2)))
                        END
                    WHEN b.entity_id IS NOT NULL AND s.spent <= x.allowance THEN
                        format('%s rose: spent %s of %s in %s..%s is within it again',
                               CASE t.kind WHEN 'daily_allowance' THEN 'daily allowance'
                                           ELSE 'effective budget' END,
                               s.spent, round(x.allowance, 6), t.window_start, t.window_end - 1)
               END AS release_reason
        FROM candidates AS c
        JOIN public.spend_throttles AS t ON t.throttle_id = c.throttle_id
        CROSS JOIN p
        LEFT JOIN public.resource_budgets AS b
          ON b.entity_type = t.entity_type AND b.entity_id = t.entity_id
        LEFT JOIN public.resource_daily_allowances AS a
          ON a.entity_type = t.entity_type AND a.entity_id = t.entity_id
         AND a.resource_type = t.resource_type
        CROSS JOIN LATERAL senate.period_bounds(t.window_start::timestamp AT TIME ZONE p.time_zone,
                                                p.budget_period, p.time_zone) AS pb
        -- The money class usd: the USD cost of every usage class.
        CROSS JOIN LATERAL (
            SELECT coalesce(sum(CASE WHEN t.resource_type = 'usd' THEN r.cost_total_usd
                                     ELSE r.amount_total END), 0) AS spent
            FROM senate.usage_rollups AS r
            WHERE r.entity_type = t.entity_type AND r.entity_id = t.entity_id
              AND r.resource_type = ANY (CASE WHEN t.resource_type = 'usd'
                                              THEN ARRAY['llm_tokens', 'cpu_seconds',
                                                         'storage_gb_hours', 'api_calls']
                                              ELSE ARRAY[t.resource_type] END)
              AND r.usage_day >= t.window_start AND r.usage_day < t.window_end) AS s
        CROSS JOIN LATERAL (
            SELECT CASE t.kind
                       WHEN 'daily_allowance' THEN
                           coalesce(a.daily_allowance,
                                    senate.derived_daily_allowance(
                                        senate.effective_class_budget(b, t.resource_type, p),
                                        pb.period_start, pb.period_end))
                       ELSE senate.effective_class_budget(b, t.resource_type, p)
                   END AS allowance) AS x
        -- Forecast throttles only: the runway of the class at p_as_of (one entity's rollups).
        LEFT JOIN LATERAL (
            SELECT f.projected_spend, f.effective_budget, f.daily_rate, f.period_end
            FROM public.budget_forecast_as_of(p_as_of) AS f
            WHERE t.kind = 'forecast'
              AND f.entity_type = t.entity_type AND f.entity_id = t.entity_id
              AND f.resource_type = t.resource_type) AS fc ON true
    )
    UPDATE public.spend_throttles AS t
    SET released_at = greatest(now(), t.throttled_at), release_reason = m.release_reason
    FROM measured AS m
    WHERE t.throttle_id = m.throttle_id AND m.release_reason IS NOT NULL
    RETURNING t.*;
    PERFORM set_config('jit', v_jit, true);
END;
$function$;
COMMENT ON FUNCTION senate.release_lifted_throttles(text[],text[],timestamp with time zone) IS 'Releases unreleased throttles of the listed entities (parallel arrays, or all when NULL) whose window ended by p_as_of, or whose window''s spend is within the current allowance again (daily allowance or effective budget); a forecast throttle when the projection at p_as_of (budget_forecast_as_of) is below the effective budget again or the policy no longer throttles on forecast. Locks throttles in id order; returns the released throttles.';

-- define function senate.release_throttles_of_changed_envelopes()
CREATE OR REPLACE FUNCTION senate.release_throttles_of_changed_envelopes()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    v_types text[];
    v_ids text[];
BEGIN
    -- Cheap exit for the common case (a rebalance of many envelopes, none throttled).
    IF NOT EXISTS (SELECT 1 FROM public.spend_throttles AS t WHERE t.released_at IS NULL) THEN
        RETURN NULL;
    END IF;
    SELECT array_agg(x.entity_type), array_agg(x.entity_id) INTO v_types, v_ids
    FROM (SELECT DISTINCT n.entity_type::text AS entity_type, n.entity_id::text AS entity_id
          FROM new_rows AS n
          WHERE EXISTS (SELECT 1 FROM public.spend_throttles AS t
                        WHERE t.entity_type = n.entity_type::text
                          AND t.entity_id = n.entity_id::text AND t.released_at IS NULL)) AS x;
    IF v_types IS NOT NULL THEN
        PERFORM 1 FROM senate.release_lifted_throttles(v_types, v_ids, now());
    END IF;
    RETURN NULL;
END;
$function$;
COMMENT ON FUNCTION senate.release_throttles_of_changed_envelopes() IS 'Statement-level trigger on resource_budgets (UPDATE) and resource_daily_allowances (INSERT, UPDATE): re-measures the active throttles of the entities the statement touched and releases those whose spend is within the new budget or allowance.';

-- define function senate.release_throttles_of_removed_allowances()
CREATE OR REPLACE FUNCTION senate.release_throttles_of_removed_allowances()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    v_types text[];
    v_ids text[];
BEGIN
    SELECT array_agg(x.entity_type), array_agg(x.entity_id) INTO v_types, v_ids
    FROM (SELECT DISTINCT o.entity_type, o.entity_id
          FROM old_rows AS o
          WHERE EXISTS (SELECT 1 FROM public.spend_throttles AS t
                        WHERE t.entity_type = o.entity_type AND t.entity_id = o.entity_id
                          AND t.released_at IS NULL)) AS x;
    IF v_types IS NOT NULL THEN
        PERFORM 1 FROM senate.release_lifted_throttles(v_types, v_ids, now());
    END IF;
    RETURN NULL;
END;
$function$;
COMMENT ON FUNCTION senate.release_throttles_of_removed_allowances() IS 'Statement-level trigger on resource_daily_allowances (DELETE): removing an explicit allowance returns to the derived one, which may lift a throttle.';

-- define function senate.cost_request_price(text,text,timestamp with time zone)
CREATE OR REPLACE FUNCTION senate.cost_request_price(p_resource_type text, p_model text, p_as_of timestamp with time zone)
 RETURNS numeric
 LANGUAGE sql
 STABLE PARALLEL SAFE
AS $function$
    SELECT CASE
        WHEN p_resource_type = 'usd' THEN 1::numeric
        WHEN p_resource_type = 'llm_tokens' AND p_model IS NOT NULL THEN
            (SELECT coalesce(senate.usage_price_at('llm_tokens', m.model, p_as_of), m.usd_per_token)
             FROM public.llm_models AS m WHERE m.model = p_model)
        WHEN p_resource_type = 'llm_tokens' THEN
            (SELECT coalesce(max(coalesce(senate.usage_price_at('llm_tokens', m.model, p_as_of),
                                          m.usd_per_token)), 0)
             FROM public.llm_models AS m)
        WHEN p_resource_type = 'api_calls' THEN
            (SELECT coalesce(max(coalesce(senate.usage_price_at('api_calls', a.provider, p_as_of),
                                          a.usd_per_call)), 0)
             FROM public.api_providers AS a)
        ELSE 0::numeric
    END
$function$;
COMMENT ON FUNCTION senate.cost_request_price(text,text,timestamp with time zone) IS 'The price the spend gate charges a request against a cost budget, in USD per unit of the class, in force at p_as_of: llm_tokens with a model, that model''s price (usage_price_at, else llm_models.usd_per_token); llm_tokens without a model, the highest price of any model (the request may run on any); api_calls (the gate names no provider), the highest price of any provider; cpu_seconds and storage_gb_hours, 0 (they carry caller-given costs only, so they spend the money envelope when recorded, and an exhausted one refuses them); usd, 1.';

-- define function senate.gate_position(text,text,text,text,timestamp with time zone)
CREATE OR REPLACE FUNCTION senate.gate_position(p_entity_type text, p_entity_id text, p_resource_type text, p_model text, p_as_of timestamp with time zone)
 RETURNS TABLE(entity_type_known boolean, resource_type_known boolean, model_known boolean, model_tier text, has_envelope boolean, period_start date, period_end date, effective_budget numeric, spent numeric, held numeric, tier_capped boolean, tier_effective_budget numeric, tier_spent numeric, tier_held numeric, throttled boolean, throttle_reason text, throttled_until timestamp with time zone, cost_budget_usd numeric)
 LANGUAGE plpgsql
 STABLE
AS $function$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT et.entity_type IS NOT NULL,
           rt.resource_type IS NOT NULL,
           m.model IS NOT NULL,
           m.model_tier,
           b.entity_id IS NOT NULL,
           p.period_start,
           p.period_end,
           coalesce(senate.effective_class_budget(b, p_resource_type, p.policy), 0),
           s.spent,
           h.held,
           c.model_tier IS NOT NULL,
           public.effective_budget(c.token_budget,
                                   senate.applied_market_weight(
                                       b.market_weight, b.priority_score,
                                       (p.policy).min_priority_for_market_weight,
                                       (p.policy).max_market_boost,
                                       (p.policy).max_market_penalty)),
           s.tier_spent,
           h.tier_held,
           t.throttled_until IS NOT NULL,
           t.reason,
           t.throttled_until,
           senate.effective_class_budget(b, 'usd', p.policy)
    FROM (SELECT e AS policy, pb.period_start, pb.period_end
          FROM public.economics_policy AS e
          CROSS JOIN LATERAL senate.period_bounds(p_as_of, e.budget_period, e.time_zone) AS pb
          WHERE e.is_active) AS p
    LEFT JOIN public.entity_types AS et ON et.entity_type = p_entity_type
    LEFT JOIN public.resource_types AS rt ON rt.resource_type = p_resource_type
    LEFT JOIN public.llm_models AS m ON m.model = p_model
    LEFT JOIN public.resource_budgets AS b
      ON b.entity_type = p_entity_type AND b.entity_id = p_entity_id
    LEFT JOIN public.resource_budget_tiers AS c
      ON c.entity_type = p_entity_type AND c.entity_id = p_entity_id
     AND c.model_tier = m.model_tier AND p_resource_type = 'llm_tokens'
    CROSS JOIN LATERAL (
        SELECT coalesce(sum(r.amount_total), 0) AS spent,
               coalesce(sum(r.amount_total) FILTER (WHERE r.resource_subclass = m.model_tier), 0)
                   AS tier_spent
        FROM senate.usage_rollups AS r
        WHERE r.entity_type = p_entity_type AND r.entity_id = p_entity_id
          AND r.resource_type = p_resource_type
          AND r.usage_day >= p.period_start AND r.usage_day < p.period_end) AS s
    CROSS JOIN LATERAL (
        SELECT coalesce(sum(o.amount), 0) AS held,
               coalesce(sum(o.amount) FILTER (WHERE o.model_tier = m.model_tier), 0) AS tier_held
        FROM public.spend_reservations AS o
        WHERE o.entity_type = p_entity_type AND o.entity_id = p_entity_id
          AND o.resource_type = p_resource_type
          AND o.settled_at IS NULL AND o.released_at IS NULL AND o.expires_at > p_as_of) AS h
    CROSS JOIN LATERAL (
        SELECT string_agg(x.reason, '; ' ORDER BY x.kind) AS reason,
               max(x.throttled_until) AS throttled_until
        FROM public.spend_throttles AS x
        WHERE x.entity_type = p_entity_type AND x.entity_id = p_entity_id
          -- A throttle of the money class usd (over its cost budget or its daily allowance in
          -- USD) stops every class: all usage costs money. Only envelopes with a cost budget
          -- are ever throttled on usd.
          AND x.resource_type IN (p_resource_type, 'usd')
          AND x.released_at IS NULL AND x.throttled_until > p_as_of) AS t;
END;
$function$;
COMMENT ON FUNCTION senate.gate_position(text,text,text,text,timestamp with time zone) IS 'Where an entity stands for one resource class at p_as_of, in one query (the spend gate''s reading): whether the entity type, the class and the model are known (and the model''s tier), envelope present, current budget period, effective budget, spent this period (rollups), held by open reservations, the model tier''s effective cap / spend / holds (when a cap exists), any active throttle (of the class, or of the money class usd, which stops every class), and cost_budget_usd: the effective cost budget in USD (NULL when the envelope has none; then the gate reads nothing more). Amounts in the unit of the class (for usd, spent and held are 0 here: the gate reads them with senate.cost_position). No row when no policy is active. PL/pgSQL so that its plan is cached per session; no SET clause (its callers pin search_path; every name in it is schema-qualified).';

-- define function senate.cost_position(text,text,date,date,timestamp with time zone)
CREATE OR REPLACE FUNCTION senate.cost_position(p_entity_type text, p_entity_id text, p_period_start date, p_period_end date, p_as_of timestamp with time zone)
 RETURNS TABLE(cost_spent_usd numeric, cost_held_usd numeric)
 LANGUAGE plpgsql
 STABLE
AS $function$
BEGIN
    RETURN QUERY
    SELECT (SELECT coalesce(sum(r.cost_total_usd), 0)
            FROM senate.usage_rollups AS r
            WHERE r.entity_type = p_entity_type AND r.entity_id = p_entity_id
              AND r.resource_type = ANY (ARRAY['llm_tokens', 'cpu_seconds', 'storage_gb_hours',
                                               'api_calls'])
              AND r.usage_day >= p_period_start AND r.usage_day < p_period_end),
           (SELECT coalesce(sum(o.amount_usd), 0)
            FROM public.spend_reservations AS o
            WHERE o.entity_type = p_entity_type AND o.entity_id = p_entity_id
              AND o.settled_at IS NULL AND o.released_at IS NULL AND o.expires_at > p_as_of);
END;
$function$;
COMMENT ON FUNCTION senate.cost_position(text,text,date,date,timestamp with time zone) IS 'The money of one entity (issue 18): cost_spent_usd, the USD cost of all its usage in the period p_period_start..p_period_end (usage_rollups.cost_total_usd of every class, one index range per class), and cost_held_usd, the USD its open holds keep at p_as_of (spend_reservations.amount_usd). Read by the spend gate only for envelopes with a cost budget. PL/pgSQL so that its plan is cached per session.';

-- define function senate.spend_position(text,text,text,text,timestamp with time zone)
CREATE OR REPLACE FUNCTION senate.spend_position(p_entity_type text, p_entity_id text, p_resource_type text, p_model text, p_as_of timestamp with time zone)
 RETURNS TABLE(entity_type_known boolean, resource_type_known boolean, model_known boolean, model_tier text, has_envelope boolean, period_start date, period_end date, effective_budget numeric, spent numeric, held numeric, tier_capped boolean, tier_effective_budget numeric, tier_spent numeric, tier_held numeric, throttled boolean, throttle_reason text, throttled_until timestamp with time zone)
 LANGUAGE sql
 STABLE
AS $function$
    SELECT g.entity_type_known, g.resource_type_known, g.model_known, g.model_tier,
           g.has_envelope, g.period_start, g.period_end, g.effective_budget, g.spent, g.held,
           g.tier_capped, g.tier_effective_budget, g.tier_spent, g.tier_held, g.throttled,
           g.throttle_reason, g.throttled_until
    FROM senate.gate_position(p_entity_type, p_entity_id, p_resource_type, p_model, p_as_of) AS g
$function$;
COMMENT ON FUNCTION senate.spend_position(text,text,text,text,timestamp with time zone) IS 'Where an entity stands for one resource class at p_as_of: the unit columns of senate.gate_position (known entity type, class, model and its tier, envelope, period, effective budget, spent, held, tier cap / spend / holds, throttle), in the unit of the class. No row when no policy is active.';

-- define function senate.check_spend_request(text,text,text,numeric,text,boolean,boolean,boolean)
CREATE OR REPLACE FUNCTION senate.check_spend_request(p_entity_type text, p_entity_id text, p_resource_type text, p_amount numeric, p_model text, p_entity_type_known boolean, p_resource_type_known boolean, p_model_known boolean)
 RETURNS void
 LANGUAGE plpgsql
 STABLE
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
BEGIN
    IF NOT p_entity_type_known OR p_entity_id IS NULL OR length(p_entity_id) > 200
       OR btrim(p_entity_id, E' \t\n\r\f\v') = '' THEN
        PERFORM senate.require_entity(p_entity_type, p_entity_id);
    END IF;
    IF NOT p_resource_type_known THEN
        PERFORM senate.require_resource_type('resource_type', p_resource_type);
    END IF;
    IF p_amount IS NULL OR p_amount = 'NaN'::numeric OR p_amount = 'Infinity'::numeric
       OR p_amount <= 0 THEN
        PERFORM senate.require_positive_amount('amount', p_amount);
    END IF;
    IF p_model IS NOT NULL AND p_resource_type <> 'llm_tokens' THEN
        PERFORM senate.raise_error('S3004',
            format('model %s given for resource class %s: models apply to llm_tokens only',
                   quote_literal(left(p_model, 80)), p_resource_type));
    END IF;
    IF p_model IS NOT NULL AND NOT p_model_known THEN
        PERFORM senate.raise_error('S3004',
            format('model %s is not in llm_models', quote_literal(left(p_model, 80))));
    END IF;
END;
$function$;
COMMENT ON FUNCTION senate.check_spend_request(text,text,text,numeric,text,boolean,boolean,boolean) IS 'Raises the error a bad spend request deserves: S2007/S2009 entity, S2008 class, S2006 amount, S3004 model (unknown, or given for a class other than llm_tokens). Called only when senate.spend_request_is_valid() says the request is not valid.';

-- define function senate.spend_request_is_valid(text,text,numeric,text,boolean,boolean,boolean)
CREATE OR REPLACE FUNCTION senate.spend_request_is_valid(p_entity_id text, p_resource_type text, p_amount numeric, p_model text, p_entity_type_known boolean, p_resource_type_known boolean, p_model_known boolean)
 RETURNS boolean
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
    SELECT coalesce(p_entity_type_known AND p_resource_type_known
                    AND length(p_entity_id) BETWEEN 1 AND 200
                    AND btrim(p_entity_id, E' \t\n\r\f\v') <> ''
                    AND p_amount > 0 AND p_amount <> 'NaN'::numeric
                    AND p_amount <> 'Infinity'::numeric
                    AND (p_model IS NULL OR (p_model_known AND p_resource_type = 'llm_tokens')),
                    false)
$function$;
COMMENT ON FUNCTION senate.spend_request_is_valid(text,text,numeric,text,boolean,boolean,boolean) IS 'The fast test of a spend request: known entity type and class, entity_id of 1-200 non-blank characters, a positive finite amount, and a known model only for llm_tokens.';

-- define function public.can_spend(text,text,text,numeric,text)
CREATE OR REPLACE FUNCTION public.can_spend(entity_type text, entity_id text, resource_type text, amount numeric, model text DEFAULT NULL::text)
 RETURNS TABLE(allowed boolean, reason text, remaining numeric)
 LANGUAGE plpgsql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    v record;
    v_pool numeric;
    v_tier_left numeric;
    v_left numeric;
    v_depth integer;
    v_level_type text;
    v_level_id text;
    v_level_budget numeric;
    v_level_spent numeric;
    v_level_held numeric;
    v_binds text := '';
    v_family boolean := false;
    v_family_cost boolean := false;
    v_request_usd numeric;
    v_usd_left numeric;
    v_usd_where text;
    u record;
    c record;
BEGIN
    SELECT * INTO v FROM senate.gate_position($1, $2, $3, $5, now());
    IF NOT FOUND THEN
        PERFORM senate.raise_error('S1002', 'can_spend: no economics_policy is active');
    END IF;
    IF NOT senate.spend_request_is_valid($2, $3, $4, $5, v.entity_type_known,
                                         v.resource_type_known, v.model_known) THEN
        PERFORM senate.check_spend_request($1, $2, $3, $4, $5, v.entity_type_known,
                                           v.resource_type_known, v.model_known);
    END IF;
    IF NOT v.has_envelope THEN
        RETURN QUERY SELECT false, format('no_budget: %s %s has no budget envelope', $1, $2),
                            0::numeric;
        RETURN;
    END IF;
    IF $3 = 'usd' AND v.cost_budget_usd IS NULL THEN
        RETURN QUERY SELECT false,
            format('no_budget: %s %s has no cost budget (resource_budgets.cost_budget_usd is NULL)',
                   $1, $2), 0::numeric;
        RETURN;
    END IF;
    -- The money (issue 18), read only for an envelope with a cost budget.
    IF v.cost_budget_usd IS NOT NULL THEN
        SELECT * INTO c FROM senate.cost_position($1, $2, v.period_start, v.period_end, now());
        IF $3 = 'usd' THEN
            v.spent := c.cost_spent_usd;
            v.held := c.cost_held_usd;
        END IF;
    END IF;
    v_pool := greatest(v.effective_budget - v.spent - v.held, 0);
    -- In a family (issue 19), every level with an envelope bounds the spend of its subtree:
    -- the level with the least headroom binds first (the nearest on a tie). An entity in no
    -- family has no senate.entity_family row: one index probe, and the check below is today's.
    -- The same probe tells whether a level of the family has a cost budget (issue 18).
    SELECT pg_catalog.count(*) > 0,
           coalesce(bool_or(senate.budget_amount(lb, 'usd') IS NOT NULL), false)
    INTO v_family, v_family_cost
    FROM senate.entity_family AS f
    LEFT JOIN public.resource_budgets AS lb
      ON lb.entity_type = f.ancestor_type AND lb.entity_id = f.ancestor_id
    WHERE f.entity_type = $1 AND f.entity_id = $2;
    IF v_family THEN
        SELECT l.depth, l.level_type, l.level_id, l.effective_budget, l.spent, l.held, l.headroom
        INTO v_depth, v_level_type, v_level_id, v_level_budget, v_level_spent, v_level_held,
             v_left
        FROM senate.family_levels($1, $2, $3, v.period_start, v.period_end, now()) AS l
        ORDER BY l.headroom, l.depth
        LIMIT 1;
        IF FOUND THEN
            v_pool := v_left;
            v_binds := format('; binding level %s: %s %s', v_depth, v_level_type, v_level_id);
        END IF;
    END IF;
    v_tier_left := CASE WHEN v.tier_capped
                        THEN greatest(v.tier_effective_budget - v.tier_spent - v.tier_held, 0) END;
    v_left := least(v_pool, coalesce(v_tier_left, v_pool));
    -- The money (issue 18): a unit request of an entity whose envelope, or an ancestor's, has
    -- a cost budget must also fit the USD left, at the price in force now
    -- (senate.cost_request_price). Without a cost budget anywhere: nothing more is read.
    IF $3 <> 'usd' THEN
        IF v.cost_budget_usd IS NOT NULL THEN
            v_usd_left := greatest(v.cost_budget_usd - c.cost_spent_usd - c.cost_held_usd, 0);
            v_usd_where := format('of the cost budget %s USD (spent %s USD, held %s USD)',
                                  v.cost_budget_usd, c.cost_spent_usd, c.cost_held_usd);
        END IF;
        IF v_family_cost THEN
            SELECT l.* INTO u
            FROM senate.family_levels($1, $2, 'usd', v.period_start, v.period_end, now()) AS l
            ORDER BY l.headroom, l.depth
            LIMIT 1;
            v_usd_left := u.headroom;
            v_usd_where := format('of the cost budget %s USD of %s %s, %s level(s) up (its family '
                                  'spent %s USD, held %s USD)', u.effective_budget, u.level_type,
                                  u.level_id, u.depth, u.spent, u.held);
        END IF;
        IF v_usd_left IS NOT NULL THEN
            v_request_usd := $4 * senate.cost_request_price($3, $5, now());
            v_left := least(v_left, CASE WHEN v_usd_left <= 0 THEN 0
                                         WHEN v_request_usd > 0 THEN floor(v_usd_left * $4 / v_request_usd)
                                         ELSE v_left END);
        END IF;
    END IF;
    IF v.throttled THEN
        RETURN QUERY SELECT false, format('throttled: %s (until %s)', v.throttle_reason,
                                          v.throttled_until), v_left;
    ELSIF $4 > v_pool AND v_depth > 0 THEN
        RETURN QUERY SELECT false,
            format('over_ancestor_budget: requested %s, remaining %s of the effective budget %s '
                   'of %s %s, %s level(s) up (its family spent %s, held %s) in period %s..%s',
                   $4, v_pool, v_level_budget, v_level_type, v_level_id, v_depth, v_level_spent,
                   v_level_held, v.period_start, v.period_end - 1), v_left;
    ELSIF $4 > v_pool AND v_depth = 0 THEN
        RETURN QUERY SELECT false,
            format('over_budget: requested %s, remaining %s of effective budget %s (spent %s, '
                   'held %s, with its descendants) in period %s..%s', $4, v_pool, v_level_budget,
                   v_level_spent, v_level_held, v.period_start, v.period_end - 1), v_left;
    ELSIF $4 > v_pool THEN
        RETURN QUERY SELECT false,
            format('over_budget: requested %s, remaining %s of effective budget %s (spent %s, '
                   'held %s) in period %s..%s', $4, v_pool, v.effective_budget, v.spent, v.held,
                   v.period_start, v.period_end - 1), v_left;
    ELSIF $4 > v_tier_left THEN
        RETURN QUERY SELECT false,
            format('over_tier_budget: requested %s, remaining %s of the %s tier cap %s (spent %s, '
                   'held %s) in period %s..%s', $4, v_tier_left, v.model_tier, v.tier_effective_budget,
                   v.tier_spent, v.tier_held, v.period_start, v.period_end - 1), v_left;
    ELSIF v_usd_left IS NOT NULL AND (v_usd_left <= 0 OR v_request_usd > v_usd_left) THEN
        RETURN QUERY SELECT false,
            format('over_cost_budget: requested %s %s priced %s USD, remaining %s USD %s in period '
                   '%s..%s', $4, $3, trim_scale(v_request_usd), v_usd_left, v_usd_where,
                   v.period_start, v.period_end - 1), v_left;
    ELSE
        RETURN QUERY SELECT true,
            format('within_budget: requested %s, remaining %s (spent %s, held %s of %s) in period '
                   '%s..%s%s', $4, v_left, v.spent, v.held, v.effective_budget, v.period_start,
                   v.period_end - 1, v_binds), v_left;
    END IF;
END;
$function$;
COMMENT ON FUNCTION public.can_spend(text,text,text,numeric,text) IS 'Pre-execution gate: may this entity spend amount (in the unit of the class: tokens, CPU-seconds, GB-hours, calls) of resource_type now? allowed is false when it has no envelope, is throttled for the class (or for the money class usd, which stops every class), or amount > remaining; reason starts with within_budget, no_budget, throttled, over_budget, over_ancestor_budget or over_tier_budget, then the figures. remaining = what it may still spend this budget period before this request: effective budget - spent - held by open reservations (and, with a model whose tier has a cap, also within that cap), floored at 0. In a family (entity_parents), the entity''s envelope and every ancestor''s that has one each bound the spend and holds of their whole subtree: remaining is the least headroom over those levels, the level with the least binds (over_ancestor_budget names it and how many levels up; within_budget ends with the binding level). Money (issue 18): when the envelope, or an ancestor''s, has a cost budget (resource_budgets.cost_budget_usd), a request of a unit class must also fit the USD left (cost budget - USD cost of all its usage this period - USD held, per level as above), priced at senate.cost_request_price (the model''s price in force now; without a model the highest model price; api_calls the highest provider price; cpu_seconds and storage_gb_hours 0, though an exhausted cost budget refuses them too): reason over_cost_budget with the USD figures, and remaining is also bounded by the units the USD left buys. resource_type usd asks for USD directly (no_budget when the envelope has no cost budget). An envelope without a cost budget (NULL) gets exactly the unit answers. Reads the envelopes, the current period''s rollups, open holds and throttles: constant time at any usage history. Only a check: parallel callers may each be allowed; use reserve_spend to hold the amount. Errors: S2006-S2009 bad arguments, S3004 unknown model or model for a class other than llm_tokens.';

-- define function public.reserve_spend(text,text,text,numeric,interval,text)
CREATE OR REPLACE FUNCTION public.reserve_spend(entity_type text, entity_id text, resource_type text, amount numeric, ttl interval DEFAULT '00:15:00'::interval, model text DEFAULT NULL::text)
 RETURNS bigint
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    v_max_ttl interval;
    v_max_holds integer;
    v_open bigint;
    v record;
    v_pool numeric;
    v_tier_left numeric;
    v_now timestamptz;
    v_id bigint;
    v_types text[];
    v_ids text[];
    v_locked_types text[];
    v_locked_ids text[];
    v_depth integer;
    v_level_type text;
    v_level_id text;
    v_level_budget numeric;
    v_level_spent numeric;
    v_level_held numeric;
    v_level_left numeric;
    v_request_usd numeric;
    v_usd_left numeric;
    v_usd_where text;
    u record;
    c record;
BEGIN
    -- SERIALIZABLE is refused like REPEATABLE READ: its snapshot is taken at the first
    -- statement and never sees holds committed after it, so the budget row lock below would
    -- order two reservers without the second seeing the first's hold (issue 15: two holds of
    -- 60,000 passed a 70,000 budget).
    IF pg_catalog.current_setting('transaction_isolation') IN ('repeatable read', 'serializable')
    THEN
        PERFORM senate.raise_error('S3006',
            pg_catalog.format('reserve_spend: a %s snapshot cannot see concurrent reservations',
                              pg_catalog.upper(pg_catalog.current_setting('transaction_isolation'))));
    END IF;
    SELECT * INTO v FROM senate.gate_position($1, $2, $3, $6, clock_timestamp());
    IF NOT senate.spend_request_is_valid($2, $3, $4, $6, v.entity_type_known,
                                         v.resource_type_known, v.model_known) THEN
        PERFORM senate.check_spend_request($1, $2, $3, $4, $6, v.entity_type_known,
                                           v.resource_type_known, v.model_known);
    END IF;
    SELECT e.max_reservation_ttl, e.max_open_holds_per_login INTO v_max_ttl, v_max_holds
    FROM public.economics_policy AS e WHERE e.is_active;
    IF NOT FOUND THEN
        PERFORM senate.raise_error('S1002', 'reserve_spend: no economics_policy is active');
    END IF;
    IF $5 IS NULL OR $5 <= interval '0' OR $5 > v_max_ttl THEN
        PERFORM senate.raise_error('S3005',
            pg_catalog.format('ttl must be > 0 and <= %s (economics_policy.max_reservation_ttl), got %s',
                   v_max_ttl, coalesce($5::text, 'NULL')));
    END IF;

    -- One reservation of a login at a time (its senate.reservation_logins row), so the count
    -- of its open holds below cannot be raced past the cap. Lock order: login, then envelope.
    INSERT INTO senate.reservation_logins AS l (login, last_reserved_at)
    VALUES (session_user, pg_catalog.clock_timestamp())
    ON CONFLICT (login) DO UPDATE SET last_reserved_at = excluded.last_reserved_at;
    SELECT pg_catalog.count(*) INTO v_open FROM public.spend_reservations AS o
    WHERE o.reserved_by = session_user AND o.settled_at IS NULL AND o.released_at IS NULL
      AND o.expires_at > pg_catalog.clock_timestamp();
    IF v_open >= v_max_holds THEN
        PERFORM senate.raise_error('S5032',
            pg_catalog.format('reserve_spend: login %s already holds %s open reservations '
                              '(economics_policy.max_open_holds_per_login = %s)',
                              session_user, v_open, v_max_holds));
    END IF;

    -- Serialize reservers of this entity; usage writers do not take this lock.
    IF NOT EXISTS (SELECT 1 FROM senate.entity_family AS f
                   WHERE f.entity_type = $1 AND f.entity_id = $2) THEN
        PERFORM 1 FROM public.resource_budgets AS b
        WHERE b.entity_type = $1 AND b.entity_id = $2
        FOR NO KEY UPDATE;
    ELSE
        -- In a family (issue 19), reservers of every entity under an ancestor queue on the
        -- ancestor's envelope: the entity's and each ancestor's rows are locked in key order
        -- (entity_type, entity_id), the order the rebalance and the tier-cap trigger lock
        -- envelopes in, so two lockers never wait for each other in a circle. A parent changed
        -- meanwhile (set_entity_parent committed between the reading and the locking) is
        -- seen by the re-reading: the new ancestors are locked too before the check.
        LOOP
            SELECT coalesce(pg_catalog.array_agg(f.ancestor_type ORDER BY f.depth), '{}'),
                   coalesce(pg_catalog.array_agg(f.ancestor_id ORDER BY f.depth), '{}')
            INTO v_types, v_ids
            FROM senate.entity_family AS f
            WHERE f.entity_type = $1 AND f.entity_id = $2;
            EXIT WHEN v_types = v_locked_types AND v_ids = v_locked_ids;
            PERFORM 1 FROM public.resource_budgets AS b
            JOIN unnest(v_types || $1, v_ids || $2) AS k (entity_type, entity_id)
              ON b.entity_type = k.entity_type AND b.entity_id = k.entity_id
            ORDER BY b.entity_type, b.entity_id
            FOR NO KEY UPDATE OF b;
            v_locked_types := v_types;
            v_locked_ids := v_ids;
        END LOOP;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM public.resource_budgets AS b
                   WHERE b.entity_type = $1 AND b.entity_id = $2) THEN
        PERFORM senate.raise_error('S3003',
            pg_catalog.format('reserve_spend: %s %s has no budget envelope', $1, $2));
    END IF;

    -- A new statement, so a fresh snapshot: it sees every hold committed by reservers that
    -- held the lock before us, and every usage (with its settlements) committed so far.
    v_now := clock_timestamp();
    SELECT * INTO v FROM senate.gate_position($1, $2, $3, $6, v_now);
    IF $3 = 'usd' AND v.cost_budget_usd IS NULL THEN
        PERFORM senate.raise_error('S3003',
            pg_catalog.format('reserve_spend: %s %s has no cost budget (resource_budgets.'
                              'cost_budget_usd is NULL): nothing to hold USD against', $1, $2));
    END IF;
    -- The money (issue 18), read only for an envelope with a cost budget.
    IF v.cost_budget_usd IS NOT NULL THEN
        SELECT * INTO c FROM senate.cost_position($1, $2, v.period_start, v.period_end, v_now);
        IF $3 = 'usd' THEN
            v.spent := c.cost_spent_usd;
            v.held := c.cost_held_usd;
        END IF;
    END IF;
    IF v.throttled THEN
        PERFORM senate.raise_error('S3002',
            pg_catalog.format('reserve_spend: %s %s is throttled for %s: %s', $1, $2, $3, v.throttle_reason),
            pg_catalog.format('Throttled until %s.', v.throttled_until));
    END IF;
    v_pool := greatest(v.effective_budget - v.spent - v.held, 0);
    IF v_locked_types IS NOT NULL THEN
        -- Every level with an envelope bounds its whole subtree; the least headroom binds.
        SELECT l.depth, l.level_type, l.level_id, l.effective_budget, l.spent, l.held, l.headroom
        INTO v_depth, v_level_type, v_level_id, v_level_budget, v_level_spent, v_level_held,
             v_level_left
        FROM senate.family_levels($1, $2, $3, v.period_start, v.period_end, v_now) AS l
        ORDER BY l.headroom, l.depth
        LIMIT 1;
        IF FOUND AND $4 > v_level_left THEN
            PERFORM senate.raise_error('S3001',
                pg_catalog.format('reserve_spend: %s %s asked for %s of %s, but only %s remains %s',
                                  $1, $2, $4, $3, v_level_left,
                                  CASE WHEN v_depth = 0
                                       THEN 'of its envelope, with its descendants'' spend and holds'
                                       ELSE pg_catalog.format('under %s %s, %s level(s) up',
                                                              v_level_type, v_level_id, v_depth)
                                  END),
                pg_catalog.format('binding level %s: %s %s, effective budget %s, its family spent '
                                  '%s, held %s, period %s..%s', v_depth, v_level_type, v_level_id,
                                  v_level_budget, v_level_spent, v_level_held, v.period_start,
                                  v.period_end - 1));
        END IF;
    END IF;
    IF $4 > v_pool THEN
        PERFORM senate.raise_error('S3001',
            pg_catalog.format('reserve_spend: %s %s asked for %s of %s, but only %s remains', $1, $2, $4, $3,
                   v_pool),
            pg_catalog.format('effective budget %s, spent %s, held %s, period %s..%s', v.effective_budget,
                   v.spent, v.held, v.period_start, v.period_end - 1));
    END IF;
    IF v.tier_capped THEN
        v_tier_left := greatest(v.tier_effective_budget - v.tier_spent - v.tier_held, 0);
        IF $4 > v_tier_left THEN
            PERFORM senate.raise_error('S3001',
                pg_catalog.format('reserve_spend: %s %s asked for %s tokens of tier %s, but only %s remains '
                       'of its cap', $1, $2, $4, v.model_tier, v_tier_left),
                pg_catalog.format('tier cap (effective) %s, tier spent %s, tier held %s, period %s..%s',
                       v.tier_effective_budget, v.tier_spent, v.tier_held, v.period_start,
                       v.period_end - 1));
        END IF;
    END IF;
    -- The money (issue 18), under the same locks: a unit request of an entity whose envelope,
    -- or an ancestor's, has a cost budget also fits the USD left at the price in force now;
    -- the hold keeps that price (amount_usd) until it ends.
    IF $3 = 'usd' THEN
        v_request_usd := $4;
    ELSE
        IF v.cost_budget_usd IS NOT NULL THEN
            v_usd_left := greatest(v.cost_budget_usd - c.cost_spent_usd - c.cost_held_usd, 0);
            v_usd_where := pg_catalog.format('cost budget %s USD, spent %s USD, held %s USD',
                                             v.cost_budget_usd, c.cost_spent_usd, c.cost_held_usd);
        END IF;
        IF v_locked_types IS NOT NULL
           AND EXISTS (SELECT 1 FROM senate.entity_family AS f
                       JOIN public.resource_budgets AS lb
                         ON lb.entity_type = f.ancestor_type AND lb.entity_id = f.ancestor_id
                       WHERE f.entity_type = $1 AND f.entity_id = $2
                         AND lb.cost_budget_usd IS NOT NULL) THEN
            SELECT l.* INTO u
            FROM senate.family_levels($1, $2, 'usd', v.period_start, v.period_end, v_now) AS l
            ORDER BY l.headroom, l.depth
            LIMIT 1;
            v_usd_left := u.headroom;
            v_usd_where := pg_catalog.format('binding level %s: %s %s, cost budget %s USD, its '
                                             'family spent %s USD, held %s USD', u.depth,
                                             u.level_type, u.level_id, u.effective_budget, u.spent,
                                             u.held);
        END IF;
        IF v_usd_left IS NOT NULL THEN
            v_request_usd := $4 * senate.cost_request_price($3, $6, v_now);
            IF v_usd_left <= 0 OR v_request_usd > v_usd_left THEN
                PERFORM senate.raise_error('S3001',
                    pg_catalog.format('reserve_spend: %s %s asked for %s of %s, priced %s USD, but '
                                      'only %s USD remains of its cost budget', $1, $2, $4, $3,
                                      pg_catalog.trim_scale(v_request_usd), v_usd_left),
                    pg_catalog.format('%s, period %s..%s', v_usd_where, v.period_start,
                                      v.period_end - 1));
            END IF;
        END IF;
    END IF;

    INSERT INTO public.spend_reservations
        (entity_type, entity_id, resource_type, model_tier, amount, reserved_by, reserved_at,
         expires_at, amount_usd)
    VALUES ($1, $2, $3, v.model_tier, $4, session_user, v_now, v_now + $5, v_request_usd)
    RETURNING reservation_id INTO v_id;
    RETURN v_id;
END;
$function$;
COMMENT ON FUNCTION public.reserve_spend(text,text,text,numeric,interval,text) IS 'Holds amount (in the unit of the class) of resource_type against the entity''s effective budget for the current period and returns the reservation id, to be named in resource_usage.reservation_id when the spend is recorded (that settles it; the actual amount may be lower). The hold ends at settlement, release_spend_reservation(), or after ttl. Granted only if spent + held + amount <= effective budget (and within the model tier''s cap when a model is given and its tier is capped), under the entity''s budget row lock: parallel reservers never together pass the budget. In a family (entity_parents), also within the envelope of every ancestor that has one, counting the spend and holds of its whole subtree; the entity''s and the ancestors'' envelope rows are locked in key order, so reservers anywhere under an ancestor queue on it and never together pass it (the refusal is S3001, its message naming the binding level). Money (issue 18): with a cost budget on the envelope or an ancestor''s, a unit request also fits the USD left at the price of can_spend (senate.cost_request_price), and the hold keeps that price (amount_usd) until it ends; resource_type usd holds USD directly (settled by usage of any class naming it). Refusals raise: S3001 over budget, tier cap or cost budget, S3002 throttled, S3003 no envelope (or, for usd, no cost budget), S5032 the login already holds economics_policy.max_open_holds_per_login open holds; S3005 bad ttl, S3006 REPEATABLE READ or SERIALIZABLE caller, S3004 model, S2006-S2009 arguments. The hold belongs to the calling login (reserved_by = session_user): only it or a senate_admin member releases or settles it.';

-- define function public.release_spend_reservation(bigint)
CREATE OR REPLACE FUNCTION public.release_spend_reservation(reservation_id bigint)
 RETURNS numeric
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    v_amount numeric;
BEGIN
    UPDATE public.spend_reservations AS r
    SET released_at = pg_catalog.clock_timestamp(), release_reason = 'released'
    WHERE r.reservation_id = $1 AND r.settled_at IS NULL AND r.released_at IS NULL
      AND r.expires_at > pg_catalog.clock_timestamp()
      AND (r.reserved_by = session_user
           OR pg_catalog.pg_has_role(session_user, 'senate_admin', 'MEMBER'))
    RETURNING r.amount INTO v_amount;
    IF NOT FOUND AND EXISTS (
        SELECT 1 FROM public.spend_reservations AS r
        WHERE r.reservation_id = $1 AND r.settled_at IS NULL AND r.released_at IS NULL
          AND r.expires_at > pg_catalog.clock_timestamp()) THEN
        RAISE EXCEPTION USING ERRCODE = '42501', TABLE = 'spend_reservations',
            COLUMN = 'reserved_by',
            MESSAGE = pg_catalog.format('release_spend_reservation: reservation %s belongs to '
                                        'another login; %s may not release it', $1, session_user),
            HINT = 'A hold is released by the login that reserved it, or by a senate_admin '
                   'member.';
    END IF;
    IF NOT FOUND THEN
        PERFORM senate.raise_error('S3007',
            pg_catalog.format('release_spend_reservation: no open reservation has id %s',
                   coalesce($1::text, 'NULL')));
    END IF;
    RETURN v_amount;
END;
$function$;
COMMENT ON FUNCTION public.release_spend_reservation(bigint) IS 'Ends an open hold unused (the job did not run) and returns the amount released, in the unit of the class. Only the login that reserved it (reserved_by) or a senate_admin member may: 42501 for anyone else. S3007 when no open reservation has this id (unknown, settled, released or expired).';

-- define function public.cleanup_spend_reservations(interval)
CREATE OR REPLACE FUNCTION public.cleanup_spend_reservations(retain interval DEFAULT '7 days'::interval)
 RETURNS TABLE(expired bigint, deleted bigint)
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
 SET lock_timeout TO '5s'
AS $function$
DECLARE
    v_expired bigint;
    v_deleted bigint;
BEGIN
    IF $1 IS NULL OR $1 < interval '0' THEN
        RAISE EXCEPTION USING
            ERRCODE = '22023',
            MESSAGE = format('cleanup_spend_reservations: retain = %s is not allowed',
                             coalesce($1::text, 'NULL')),
            COLUMN = 'retain',
            HINT = 'Pass an interval >= 0 (how long finished reservations are kept).';
    END IF;
    WITH due AS (
        SELECT r.reservation_id FROM public.spend_reservations AS r
        WHERE r.settled_at IS NULL AND r.released_at IS NULL AND r.expires_at <= clock_timestamp()
        ORDER BY r.reservation_id
        FOR UPDATE SKIP LOCKED
    )
    UPDATE public.spend_reservations AS r
    SET released_at = r.expires_at, release_reason = 'expired'
    FROM due WHERE r.reservation_id = due.reservation_id;
    GET DIAGNOSTICS v_expired = ROW_COUNT;

    DELETE FROM public.spend_reservations AS r
    WHERE (r.settled_at IS NOT NULL OR r.released_at IS NOT NULL)
      AND coalesce(r.settled_at, r.released_at) < clock_timestamp() - $1;
    GET DIAGNOSTICS v_deleted = ROW_COUNT;
    RETURN QUERY SELECT v_expired, v_deleted;
END;
$function$;
COMMENT ON FUNCTION public.cleanup_spend_reservations(interval) IS 'Housekeeping: marks open reservations past expires_at as expired (they already stopped counting then) and deletes settled, released and expired reservations finished more than retain ago (default 7 days). Returns how many were marked and deleted. Schedule it (see README).';

-- define function senate.settle_spend_reservation()
CREATE OR REPLACE FUNCTION senate.settle_spend_reservation()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
BEGIN
    -- Only the reserving login's usage (or a senate_admin member's) settles a hold: a row
    -- naming another login's reservation is recorded but settles nothing (its hold ends at
    -- its ttl), so nobody ends another's hold by naming its (sequential) id.
    UPDATE public.spend_reservations AS r
    SET settled_at = coalesce(r.settled_at, pg_catalog.clock_timestamp()),
        settled_amount = coalesce(r.settled_amount, 0)
                         + CASE WHEN r.resource_type = 'usd' THEN coalesce(NEW.cost::numeric, 0)
                                ELSE NEW.amount::numeric END
    WHERE r.reservation_id = NEW.reservation_id
      AND r.entity_type = NEW.entity_type::text
      AND r.entity_id = NEW.entity_id::text
      -- A hold of USD (class usd) is settled by usage of any class.
      AND (r.resource_type = NEW.resource_type::text OR r.resource_type = 'usd')
      AND (r.reserved_by = session_user
           OR pg_catalog.pg_has_role(session_user, 'senate_admin', 'MEMBER'));
    RETURN NULL;
END;
$function$;
COMMENT ON FUNCTION senate.settle_spend_reservation() IS 'AFTER INSERT row trigger on resource_usage, fired only for rows naming a reservation: settles it (same entity and class, or any class for a hold of class usd; written by the login that reserved it or a senate_admin member): the hold ends, settled_amount adds up the rows'' amounts (for a usd hold, their given costs in USD). A row naming another login''s reservation settles nothing.';

-- define function public.explain_budget(text,text,boolean)
CREATE OR REPLACE FUNCTION public.explain_budget(p_entity_type text, p_entity_id text, include_unchanged boolean DEFAULT true)
 RETURNS TABLE(ledger_id bigint, recorded_at timestamp with time zone, resource_type text, balance_before numeric, balance_after numeric, delta numeric, unit text, cause text, actor text, explanation text, login text, as_of timestamp with time zone)
 LANGUAGE sql
 STABLE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
    SELECT l.ledger_id,
           l.recorded_at,
           l.resource_type,
           l.balance_before,
           l.balance_after,
           l.delta,
           coalesce(rt.unit, ''),
           l.cause_type || coalesce(' ' || l.cause_id, ''),
           l.actor,
           CASE
               WHEN p.id IS NOT NULL THEN
                   pg_catalog.format('proposal %s by %s approved: %s%s', p.id,
                          coalesce(p.proposer_agent::text, p.proposer_id::text, 'unknown'),
                          CASE WHEN pg_catalog.length(p.justification) > 160
                               THEN pg_catalog.left(p.justification, 159) || '…'
                               ELSE p.justification END,
                          coalesce(' (' || l.note || ')', ''))
               WHEN l.account = 'entity_status' THEN coalesce('status: ' || l.note, 'status change')
               ELSE coalesce(l.note, '')
           END,
           l.session_login,
           coalesce(l.as_of, l.recorded_at)
    FROM public.budget_ledger AS l
    LEFT JOIN public.resource_types AS rt ON rt.resource_type = l.resource_type
    LEFT JOIN public.allocation_proposals AS p
        ON l.cause_type = 'proposal_approval'
       AND p.entity_type::text = l.entity_type
       AND p.entity_id::text = l.entity_id
       AND p.id::text = l.cause_id
    WHERE l.entity_type = p_entity_type
      AND l.entity_id = p_entity_id
      AND l.account IN ('entity_budget', 'entity_status')
      AND (include_unchanged IS NOT FALSE OR l.delta <> 0)
    ORDER BY l.ledger_id
$function$;
COMMENT ON FUNCTION public.explain_budget(text,text,boolean) IS 'Why an entity has its budget: every change to its resource_budgets row (and throttle status), in order, with when it was recorded (recorded_at, clock time) and the economy time it belongs to (as_of: a review cycle''s as_of, e.g. the demo''s simulated day; else recorded_at), resource class, balance before -> after, delta and unit (tokens, CPU-seconds, GB-hours, calls), cause (type and id), actor (as named by the function that made the change), an explanation (for approvals: the proposal, its proposer and justification, and the reviewer''s note) and login (session_user that made the change; NULL for rows older than login stamping). A direct edit reads as direct_write under its login. include_unchanged => false leaves out the rows that changed no amount (delta 0: throttle and release status changes). The last balance_after per class is the current budget.';
