-- Why: every service asks before it spends. can_spend() is the pre-execution gate: it
-- answers from one budget row, the usage rollups of the current budget period (at most
-- 16 shards x days-in-period x tiers or providers rows, one index range), the open
-- reservations (one partial-index range) and the active throttles (one partial-index
-- probe) - never from resource_usage, so its cost does not grow with the history.
-- reserve_spend() is the strict path for parallel callers: it locks the entity's budget
-- row (FOR NO KEY UPDATE: reservers of one entity queue behind each other; usage writers
-- never take that lock) and re-measures with a fresh snapshot before it grants a hold,
-- so N parallel reservers can never together pass the effective budget.
--
-- The arithmetic, for the budget period containing now (budget_period_bounds):
--   effective  = base budget * (1 + applied market weight)        (as in budget_status)
--   remaining  = max(effective - spent this period - held by open reservations, 0)
--   with a model (llm_tokens only): also max(tier cap effective - tier spent - tier held, 0)
--   when resource_budget_tiers has a cap for the model's tier; remaining is the smaller.
-- A request is allowed when the entity has an envelope, is not throttled for the class,
-- and amount <= remaining.
--
-- Refusals: can_spend returns allowed = false with a reason starting with a stable code
-- (no_budget, throttled, over_budget, over_tier_budget; within_budget when allowed).
-- reserve_spend raises instead, so that no caller can mistake a refusal for a hold:
-- S3003 no envelope, S3002 throttled, S3001 over budget or tier cap (DETAIL gives the
-- figures); argument errors S2006-S2009, S3004 (model), S3005 (ttl), S3006 (isolation).
SET lock_timeout = '5s';

CREATE OR REPLACE FUNCTION senate.spend_position(
    p_entity_type text, p_entity_id text, p_resource_type text, p_model text,
    p_as_of timestamptz)
RETURNS TABLE (
    entity_type_known boolean, resource_type_known boolean, model_known boolean,
    model_tier text, has_envelope boolean, period_start date, period_end date,
    effective_budget numeric, spent numeric, held numeric, tier_capped boolean,
    tier_effective_budget numeric, tier_spent numeric, tier_held numeric, throttled boolean,
    throttle_reason text, throttled_until timestamptz)
LANGUAGE plpgsql STABLE
AS $$
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
           t.throttled_until
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
          AND x.resource_type = p_resource_type
          AND x.released_at IS NULL AND x.throttled_until > p_as_of) AS t;
END;
$$;
COMMENT ON FUNCTION senate.spend_position(text, text, text, text, timestamptz) IS
  'Where an entity stands for one resource class at p_as_of, in one query: whether the entity '
  'type, the class and the model are known (and the model''s tier), envelope present, current '
  'budget period, effective budget, spent this period (rollups), held by open reservations, the '
  'model tier''s effective cap / spend / holds (when a cap exists), and any active throttle. '
  'Amounts in the unit of the class. No row when no policy is active. PL/pgSQL so that its plan '
  'is cached per session (the gate runs before every spend); no SET clause (its callers pin '
  'search_path; every name in it is schema-qualified).';

-- Raises the error for a spend request whose arguments spend_position found wrong (the
-- checks run only on that failure path, so a valid request pays nothing for them).
CREATE OR REPLACE FUNCTION senate.check_spend_request(
    p_entity_type text, p_entity_id text, p_resource_type text, p_amount numeric, p_model text,
    p_entity_type_known boolean, p_resource_type_known boolean, p_model_known boolean)
RETURNS void
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
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
$$;
COMMENT ON FUNCTION senate.check_spend_request(text, text, text, numeric, text, boolean, boolean, boolean) IS
  'Raises the error a bad spend request deserves: S2007/S2009 entity, S2008 class, S2006 amount, '
  'S3004 model (unknown, or given for a class other than llm_tokens). Called only when '
  'senate.spend_request_is_valid() says the request is not valid.';

CREATE OR REPLACE FUNCTION senate.spend_request_is_valid(
    p_entity_id text, p_resource_type text, p_amount numeric, p_model text,
    p_entity_type_known boolean, p_resource_type_known boolean, p_model_known boolean)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT coalesce(p_entity_type_known AND p_resource_type_known
                    AND length(p_entity_id) BETWEEN 1 AND 200
                    AND btrim(p_entity_id, E' \t\n\r\f\v') <> ''
                    AND p_amount > 0 AND p_amount <> 'NaN'::numeric
                    AND p_amount <> 'Infinity'::numeric
                    AND (p_model IS NULL OR (p_model_known AND p_resource_type = 'llm_tokens')),
                    false)
$$;
COMMENT ON FUNCTION senate.spend_request_is_valid(text, text, numeric, text, boolean, boolean, boolean) IS
  'The fast test of a spend request: known entity type and class, entity_id of 1-200 non-blank '
  'characters, a positive finite amount, and a known model only for llm_tokens.';

CREATE OR REPLACE FUNCTION public.can_spend(
    entity_type text, entity_id text, resource_type text, amount numeric, model text DEFAULT NULL)
RETURNS TABLE (allowed boolean, reason text, remaining numeric)
LANGUAGE plpgsql STABLE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v record;
    v_pool numeric;
    v_tier_left numeric;
    v_left numeric;
BEGIN
    SELECT * INTO v FROM senate.spend_position($1, $2, $3, $5, now());
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
    v_pool := greatest(v.effective_budget - v.spent - v.held, 0);
    v_tier_left := CASE WHEN v.tier_capped
                        THEN greatest(v.tier_effective_budget - v.tier_spent - v.tier_held, 0) END;
    v_left := least(v_pool, coalesce(v_tier_left, v_pool));
    IF v.throttled THEN
        RETURN QUERY SELECT false, format('throttled: %s (until %s)', v.throttle_reason,
                                          v.throttled_until), v_left;
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
    ELSE
        RETURN QUERY SELECT true,
            format('within_budget: requested %s, remaining %s (spent %s, held %s of %s) in period '
                   '%s..%s', $4, v_left, v.spent, v.held, v.effective_budget, v.period_start,
                   v.period_end - 1), v_left;
    END IF;
END;
$$;
COMMENT ON FUNCTION public.can_spend(text, text, text, numeric, text) IS
  'Pre-execution gate: may this entity spend amount (in the unit of the class: tokens, '
  'CPU-seconds, GB-hours, calls) of resource_type now? allowed is false when it has no envelope, '
  'is throttled for the class, or amount > remaining; reason starts with within_budget, no_budget, '
  'throttled, over_budget or over_tier_budget, then the figures. remaining = what it may still '
  'spend this budget period before this request: effective budget - spent - held by open '
  'reservations (and, with a model whose tier has a cap, also within that cap), floored at 0. '
  'Reads one envelope, the current period''s rollups, open holds and throttles: constant time at '
  'any usage history. Only a check: parallel callers may each be allowed; use reserve_spend to '
  'hold the amount. Errors: S2006-S2009 bad arguments, S3004 unknown model or model for a class '
  'other than llm_tokens.';
REVOKE EXECUTE ON FUNCTION public.can_spend(text, text, text, numeric, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION public.reserve_spend(
    entity_type text, entity_id text, resource_type text, amount numeric,
    ttl interval DEFAULT interval '15 minutes', model text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_max_ttl interval;
    v record;
    v_pool numeric;
    v_tier_left numeric;
    v_now timestamptz;
    v_id bigint;
BEGIN
    IF current_setting('transaction_isolation') = 'repeatable read' THEN
        PERFORM senate.raise_error('S3006',
            'reserve_spend: a REPEATABLE READ snapshot cannot see concurrent reservations');
    END IF;
    SELECT * INTO v FROM senate.spend_position($1, $2, $3, $6, clock_timestamp());
    IF NOT senate.spend_request_is_valid($2, $3, $4, $6, v.entity_type_known,
                                         v.resource_type_known, v.model_known) THEN
        PERFORM senate.check_spend_request($1, $2, $3, $4, $6, v.entity_type_known,
                                           v.resource_type_known, v.model_known);
    END IF;
    SELECT e.max_reservation_ttl INTO v_max_ttl FROM public.economics_policy AS e WHERE e.is_active;
    IF NOT FOUND THEN
        PERFORM senate.raise_error('S1002', 'reserve_spend: no economics_policy is active');
    END IF;
    IF $5 IS NULL OR $5 <= interval '0' OR $5 > v_max_ttl THEN
        PERFORM senate.raise_error('S3005',
            format('ttl must be > 0 and <= %s (economics_policy.max_reservation_ttl), got %s',
                   v_max_ttl, coalesce($5::text, 'NULL')));
    END IF;

    -- Serialize reservers of this entity; usage writers do not take this lock.
    PERFORM 1 FROM public.resource_budgets AS b
    WHERE b.entity_type = $1 AND b.entity_id = $2
    FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        PERFORM senate.raise_error('S3003',
            format('reserve_spend: %s %s has no budget envelope', $1, $2));
    END IF;

    -- A new statement, so a fresh snapshot: it sees every hold committed by reservers that
    -- held the lock before us, and every usage (with its settlements) committed so far.
    v_now := clock_timestamp();
    SELECT * INTO v FROM senate.spend_position($1, $2, $3, $6, v_now);
    IF v.throttled THEN
        PERFORM senate.raise_error('S3002',
            format('reserve_spend: %s %s is throttled for %s: %s', $1, $2, $3, v.throttle_reason),
            format('Throttled until %s.', v.throttled_until));
    END IF;
    v_pool := greatest(v.effective_budget - v.spent - v.held, 0);
    IF $4 > v_pool THEN
        PERFORM senate.raise_error('S3001',
            format('reserve_spend: %s %s asked for %s of %s, but only %s remains', $1, $2, $4, $3,
                   v_pool),
            format('effective budget %s, spent %s, held %s, period %s..%s', v.effective_budget,
                   v.spent, v.held, v.period_start, v.period_end - 1));
    END IF;
    IF v.tier_capped THEN
        v_tier_left := greatest(v.tier_effective_budget - v.tier_spent - v.tier_held, 0);
        IF $4 > v_tier_left THEN
            PERFORM senate.raise_error('S3001',
                format('reserve_spend: %s %s asked for %s tokens of tier %s, but only %s remains '
                       'of its cap', $1, $2, $4, v.model_tier, v_tier_left),
                format('tier cap (effective) %s, tier spent %s, tier held %s, period %s..%s',
                       v.tier_effective_budget, v.tier_spent, v.tier_held, v.period_start,
                       v.period_end - 1));
        END IF;
    END IF;

    INSERT INTO public.spend_reservations
        (entity_type, entity_id, resource_type, model_tier, amount, reserved_by, reserved_at,
         expires_at)
    VALUES ($1, $2, $3, v.model_tier, $4, session_user, v_now, v_now + $5)
    RETURNING reservation_id INTO v_id;
    RETURN v_id;
END;
$$;
COMMENT ON FUNCTION public.reserve_spend(text, text, text, numeric, interval, text) IS
  'Holds amount (in the unit of the class) of resource_type against the entity''s effective budget '
  'for the current period and returns the reservation id, to be named in '
  'resource_usage.reservation_id when the spend is recorded (that settles it; the actual amount '
  'may be lower). The hold ends at settlement, release_spend_reservation(), or after ttl. Granted '
  'only if spent + held + amount <= effective budget (and within the model tier''s cap when a model '
  'is given and its tier is capped), under the entity''s budget row lock: parallel reservers never '
  'together pass the budget. Refusals raise: S3001 over budget or tier cap, S3002 throttled, S3003 '
  'no envelope; S3005 bad ttl, S3006 REPEATABLE READ caller, S3004 model, S2006-S2009 arguments.';
REVOKE EXECUTE ON FUNCTION public.reserve_spend(text, text, text, numeric, interval, text) FROM PUBLIC;

CREATE OR REPLACE FUNCTION public.release_spend_reservation(reservation_id bigint)
RETURNS numeric
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_amount numeric;
BEGIN
    UPDATE public.spend_reservations AS r
    SET released_at = clock_timestamp(), release_reason = 'released'
    WHERE r.reservation_id = $1 AND r.settled_at IS NULL AND r.released_at IS NULL
      AND r.expires_at > clock_timestamp()
    RETURNING r.amount INTO v_amount;
    IF NOT FOUND THEN
        PERFORM senate.raise_error('S3007',
            format('release_spend_reservation: no open reservation has id %s',
                   coalesce($1::text, 'NULL')));
    END IF;
    RETURN v_amount;
END;
$$;
COMMENT ON FUNCTION public.release_spend_reservation(bigint) IS
  'Ends an open hold unused (the job did not run) and returns the amount released, in the unit of '
  'the class. S3007 when no open reservation has this id (unknown, settled, released or expired).';
REVOKE EXECUTE ON FUNCTION public.release_spend_reservation(bigint) FROM PUBLIC;

CREATE OR REPLACE FUNCTION public.cleanup_spend_reservations(retain interval DEFAULT interval '7 days')
RETURNS TABLE (expired bigint, deleted bigint)
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
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
$$;
COMMENT ON FUNCTION public.cleanup_spend_reservations(interval) IS
  'Housekeeping: marks open reservations past expires_at as expired (they already stopped counting '
  'then) and deletes settled, released and expired reservations finished more than retain ago '
  '(default 7 days). Returns how many were marked and deleted. Schedule it (see README).';
REVOKE EXECUTE ON FUNCTION public.cleanup_spend_reservations(interval) FROM PUBLIC;
