-- Puts back the 0034 reserve_spend / release_spend_reservation and the 0058 settlement
-- trigger function; drops what 0124 added.
SET lock_timeout = '5s';

CREATE OR REPLACE FUNCTION public.reserve_spend(
    entity_type text, entity_id text, resource_type text, amount numeric,
    ttl interval DEFAULT interval '15 minutes', model text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
SECURITY DEFINER
SET search_path = pg_catalog, public, senate, pg_temp
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
SET search_path = pg_catalog, public, senate, pg_temp
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

CREATE OR REPLACE FUNCTION senate.settle_spend_reservation()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public, senate, pg_temp
AS $$
BEGIN
    UPDATE public.spend_reservations AS r
    SET settled_at = coalesce(r.settled_at, clock_timestamp()),
        settled_amount = coalesce(r.settled_amount, 0) + NEW.amount::numeric
    WHERE r.reservation_id = NEW.reservation_id
      AND r.entity_type = NEW.entity_type::text
      AND r.entity_id = NEW.entity_id::text
      AND r.resource_type = NEW.resource_type::text;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION senate.settle_spend_reservation() IS
  'AFTER INSERT row trigger on resource_usage, fired only for rows naming a reservation: settles '
  'it (same entity and class): the hold ends, settled_amount adds up the rows'' amounts.';

-- A small table (open and recent holds only).
-- squawk-ignore require-concurrent-index-deletion
DROP INDEX IF EXISTS public.spend_reservations_open_by_login_idx;
DROP TABLE IF EXISTS senate.reservation_logins;
DO $$ BEGIN PERFORM senate.grant_role_privileges(); END $$;
