-- Why (issue 15, "Reservations", point 8): any writer could release another writer's hold
-- (ids are sequential) or end it by recording usage that names it, and reserve_spend refused
-- REPEATABLE READ but not SERIALIZABLE, under which two holds of 60,000 passed a 70,000
-- budget (a SERIALIZABLE snapshot is taken at the first statement, before the budget row
-- lock, and never sees the hold committed by the reserver that held the lock first).
--   * A hold belongs to the login that reserved it (spend_reservations.reserved_by, always
--     session_user, set by reserve_spend): release_spend_reservation() by anyone else is
--     refused (42501) and a usage row of anyone else naming it settles nothing; a senate_admin
--     member may do both.
--   * SERIALIZABLE callers are refused like REPEATABLE READ ones (S3006).
--   * One login holds at most economics_policy.max_open_holds_per_login open holds (0120;
--     default 1000): S5032. A login's reservations are serialised on its row of
--     senate.reservation_logins (lock order: login row, then the envelope), so parallel calls
--     of one login cannot race past the cap.
SET lock_timeout = '5s';

CREATE TABLE IF NOT EXISTS senate.reservation_logins (
    login             text PRIMARY KEY CHECK (length(login) BETWEEN 1 AND 200),
    last_reserved_at  timestamptz NOT NULL
);
COMMENT ON TABLE senate.reservation_logins IS
  'One row per login that ever reserved spend; reserve_spend locks it so that one login''s '
  'reservations run one at a time (its open-hold count cannot be raced past '
  'economics_policy.max_open_holds_per_login).';
COMMENT ON COLUMN senate.reservation_logins.login IS 'The login (session_user).';
COMMENT ON COLUMN senate.reservation_logins.last_reserved_at IS 'When it last reserved (clock time).';
REVOKE ALL ON senate.reservation_logins FROM PUBLIC;

-- spend_reservations is new in this release (0033) and holds only open and recent holds
-- (cleanup_spend_reservations deletes finished ones): the build takes milliseconds.
-- squawk-ignore require-concurrent-index-creation
CREATE INDEX IF NOT EXISTS spend_reservations_open_by_login_idx
    ON public.spend_reservations (reserved_by)
    WHERE settled_at IS NULL AND released_at IS NULL;
COMMENT ON INDEX public.spend_reservations_open_by_login_idx IS
  'Open holds of a login, counted against economics_policy.max_open_holds_per_login.';

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
    v_max_holds integer;
    v_open bigint;
    v record;
    v_pool numeric;
    v_tier_left numeric;
    v_now timestamptz;
    v_id bigint;
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
    SELECT * INTO v FROM senate.spend_position($1, $2, $3, $6, clock_timestamp());
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
    PERFORM 1 FROM public.resource_budgets AS b
    WHERE b.entity_type = $1 AND b.entity_id = $2
    FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        PERFORM senate.raise_error('S3003',
            pg_catalog.format('reserve_spend: %s %s has no budget envelope', $1, $2));
    END IF;

    -- A new statement, so a fresh snapshot: it sees every hold committed by reservers that
    -- held the lock before us, and every usage (with its settlements) committed so far.
    v_now := clock_timestamp();
    SELECT * INTO v FROM senate.spend_position($1, $2, $3, $6, v_now);
    IF v.throttled THEN
        PERFORM senate.raise_error('S3002',
            pg_catalog.format('reserve_spend: %s %s is throttled for %s: %s', $1, $2, $3, v.throttle_reason),
            pg_catalog.format('Throttled until %s.', v.throttled_until));
    END IF;
    v_pool := greatest(v.effective_budget - v.spent - v.held, 0);
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
  'no envelope, S5032 the login already holds economics_policy.max_open_holds_per_login open '
  'holds; S3005 bad ttl, S3006 REPEATABLE READ or SERIALIZABLE caller, S3004 model, S2006-S2009 '
  'arguments. The hold belongs to the calling login (reserved_by = session_user): only it or a '
  'senate_admin member releases or settles it.';
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
$$;
COMMENT ON FUNCTION public.release_spend_reservation(bigint) IS
  'Ends an open hold unused (the job did not run) and returns the amount released, in the unit of '
  'the class. Only the login that reserved it (reserved_by) or a senate_admin member may: 42501 '
  'for anyone else. S3007 when no open reservation has this id (unknown, settled, released or '
  'expired).';
REVOKE EXECUTE ON FUNCTION public.release_spend_reservation(bigint) FROM PUBLIC;

CREATE OR REPLACE FUNCTION senate.settle_spend_reservation()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, public, senate, pg_temp
AS $$
BEGIN
    -- Only the reserving login's usage (or a senate_admin member's) settles a hold: a row
    -- naming another login's reservation is recorded but settles nothing (its hold ends at
    -- its ttl), so nobody ends another's hold by naming its (sequential) id.
    UPDATE public.spend_reservations AS r
    SET settled_at = coalesce(r.settled_at, pg_catalog.clock_timestamp()),
        settled_amount = coalesce(r.settled_amount, 0) + NEW.amount::numeric
    WHERE r.reservation_id = NEW.reservation_id
      AND r.entity_type = NEW.entity_type::text
      AND r.entity_id = NEW.entity_id::text
      AND r.resource_type = NEW.resource_type::text
      AND (r.reserved_by = session_user
           OR pg_catalog.pg_has_role(session_user, 'senate_admin', 'MEMBER'));
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION senate.settle_spend_reservation() IS
  'AFTER INSERT row trigger on resource_usage, fired only for rows naming a reservation: settles '
  'it (same entity and class, and written by the login that reserved it or a senate_admin '
  'member): the hold ends, settled_amount adds up the rows'' amounts. A row naming another '
  'login''s reservation settles nothing.';

DO $$ BEGIN PERFORM senate.grant_role_privileges(); END $$;
