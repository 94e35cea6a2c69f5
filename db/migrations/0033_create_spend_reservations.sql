-- Why: can_spend alone lets parallel callers overshoot a budget: each checks before any
-- of them has recorded its spend (the most reported failure of LLM-proxy budget
-- systems). A reservation holds an amount against the entity's effective budget for the
-- current period until the spend is recorded: reserve_spend (migration 0034) grants it
-- only if spent + held + requested stays within the budget, under the entity's budget
-- row lock, so N parallel reservers never together pass it.
--
-- Settlement: a resource_usage row that names the reservation (new nullable column
-- resource_usage.reservation_id) settles it. The first INSERT statement whose rows name a
-- reservation ends the hold; the actual amount (which may be lower, or higher) is what
-- those rows recorded, and it counts through the usage rollups like all spend. Later rows
-- naming an already settled reservation add to settled_amount. A row naming an unknown
-- reservation, or one of another entity or class, settles nothing (the usage is still
-- recorded: accounting never refuses a spend that happened); the hold then ends at its ttl.
-- Unused reservations expire at expires_at: from then on they are ignored by the
-- arithmetic; cleanup_spend_reservations() marks them and deletes old finished ones.
--
-- Insert path (benchmarked): settlement is a statement-level AFTER INSERT trigger with a
-- transition table, so a batch pays once; resource_usage already captures transition
-- tables for the rollups (t80), so the extra cost is one trigger call per statement that
-- finds no reservation_id and returns. Usage writers never lock budget rows.
--
-- Deployed-table safety: reservation_id is added nullable without a default (a catalog-only
-- change: no rewrite, no scan), with no foreign key (an RI trigger would queue an event
-- for every inserted row) and no index on resource_usage.
SET lock_timeout = '5s';

CALL senate.claim('0033', 'table', 'public.spend_reservations');
CREATE TABLE IF NOT EXISTS public.spend_reservations (
    reservation_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entity_type     text NOT NULL,
    entity_id       text NOT NULL,
    resource_type   text NOT NULL REFERENCES public.resource_types (resource_type),
    model_tier      text REFERENCES public.model_tiers (model_tier),
    amount          numeric NOT NULL
        CHECK (amount > 0 AND amount NOT IN ('Infinity'::numeric, 'NaN'::numeric)),
    reserved_by     text NOT NULL CHECK (length(reserved_by) BETWEEN 1 AND 200),
    reserved_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    expires_at      timestamptz NOT NULL,
    settled_at      timestamptz,
    settled_amount  numeric,
    released_at     timestamptz,
    release_reason  text CHECK (release_reason IN ('released', 'expired')),
    CONSTRAINT spend_reservations_expiry_after_reservation CHECK (expires_at > reserved_at),
    CONSTRAINT spend_reservations_settlement_complete CHECK ((settled_at IS NULL) = (settled_amount IS NULL)),
    CONSTRAINT spend_reservations_release_complete CHECK ((released_at IS NULL) = (release_reason IS NULL))
);
COMMENT ON TABLE public.spend_reservations IS
  'Spend reservations (reserve_spend): amounts held against an entity''s effective budget for the '
  'current period until spent. Active = not settled, not released, expires_at > now; only active '
  'reservations count. A resource_usage row naming reservation_id settles it.';
COMMENT ON COLUMN public.spend_reservations.reservation_id IS 'Identifier returned by reserve_spend(); name it in resource_usage.reservation_id.';
COMMENT ON COLUMN public.spend_reservations.entity_type IS 'Kind of entity the hold is for.';
COMMENT ON COLUMN public.spend_reservations.entity_id IS 'Entity the hold is for.';
COMMENT ON COLUMN public.spend_reservations.resource_type IS 'Resource class held.';
COMMENT ON COLUMN public.spend_reservations.model_tier IS 'Model tier whose cap the hold also counts against (llm_tokens reserved with a model), else NULL.';
COMMENT ON COLUMN public.spend_reservations.amount IS 'Amount held, in the unit of the class (tokens, CPU-seconds, GB-hours, calls).';
COMMENT ON COLUMN public.spend_reservations.reserved_by IS 'Who reserved (the session user).';
COMMENT ON COLUMN public.spend_reservations.reserved_at IS 'When the hold was granted (clock time).';
COMMENT ON COLUMN public.spend_reservations.expires_at IS 'When an unsettled hold stops counting (reserved_at + ttl).';
COMMENT ON COLUMN public.spend_reservations.settled_at IS 'When the first usage row naming it was recorded; the hold ended then.';
COMMENT ON COLUMN public.spend_reservations.settled_amount IS 'Total amount of the usage rows naming it, in the unit of the class (may differ from amount).';
COMMENT ON COLUMN public.spend_reservations.released_at IS 'When the hold was released unused (by release_spend_reservation or as expired).';
COMMENT ON COLUMN public.spend_reservations.release_reason IS 'released (by the caller) or expired (ttl passed; marked by cleanup_spend_reservations).';

CALL senate.claim('0033', 'index', 'public.spend_reservations_open_idx');
CREATE INDEX IF NOT EXISTS spend_reservations_open_idx
    ON public.spend_reservations (entity_type, entity_id, resource_type)
    INCLUDE (amount, expires_at, model_tier)
    WHERE settled_at IS NULL AND released_at IS NULL;
CALL senate.claim('0033', 'index', 'public.spend_reservations_finished_idx');
CREATE INDEX IF NOT EXISTS spend_reservations_finished_idx
    ON public.spend_reservations (coalesce(settled_at, released_at))
    WHERE settled_at IS NOT NULL OR released_at IS NOT NULL;
COMMENT ON INDEX public.spend_reservations_open_idx IS
  'Open holds of an entity and class (index-only sum of what is held).';
COMMENT ON INDEX public.spend_reservations_finished_idx IS
  'Finished reservations by when they finished, for cleanup_spend_reservations().';

CALL senate.claim('0033', 'column', 'public.resource_usage', 'reservation_id');
ALTER TABLE public.resource_usage ADD COLUMN IF NOT EXISTS reservation_id bigint;
COMMENT ON COLUMN public.resource_usage.reservation_id IS
  'Spend reservation (spend_reservations.reservation_id from reserve_spend) this usage settles; '
  'NULL when the spend was not reserved.';

CREATE OR REPLACE FUNCTION senate.settle_spend_reservations()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    -- The common case (no row names a reservation) stops here after one pass over the
    -- statement's rows, without touching spend_reservations.
    IF NOT EXISTS (SELECT 1 FROM new_rows AS n WHERE n.reservation_id IS NOT NULL) THEN
        RETURN NULL;
    END IF;
    UPDATE public.spend_reservations AS r
    SET settled_at = coalesce(r.settled_at, clock_timestamp()),
        settled_amount = coalesce(r.settled_amount, 0) + s.amount
    FROM (SELECT n.reservation_id, n.entity_type::text AS entity_type,
                 n.entity_id::text AS entity_id, n.resource_type::text AS resource_type,
                 sum(n.amount::numeric) AS amount
          FROM new_rows AS n
          WHERE n.reservation_id IS NOT NULL AND n.amount IS NOT NULL
          GROUP BY 1, 2, 3, 4) AS s
    WHERE r.reservation_id = s.reservation_id AND r.entity_type = s.entity_type
      AND r.entity_id = s.entity_id AND r.resource_type = s.resource_type;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION senate.settle_spend_reservations() IS
  'Statement-level trigger on resource_usage: settles the reservations the inserted rows name '
  '(same entity and class): the hold ends, settled_amount adds up the rows'' amounts. A statement '
  'whose rows name no reservation costs one pass over its transition table.';

DROP TRIGGER IF EXISTS t70_settle_spend_reservations ON public.resource_usage;
CREATE TRIGGER t70_settle_spend_reservations
    AFTER INSERT ON public.resource_usage
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION senate.settle_spend_reservations();
COMMENT ON TRIGGER t70_settle_spend_reservations ON public.resource_usage IS
  'Usage rows naming a spend reservation settle it, in the same transaction.';


-- Trigger functions on the deployed tables run with the owner's rights from the migration that
-- defines them (issue 14 point 9): a legacy writer holding only its grants on the deployed
-- tables keeps working after every migration, not only once 0099/0126 have run. Their bodies
-- name every object schema-qualified; the path is pinned to the catalog.
ALTER FUNCTION senate.settle_spend_reservations() SECURITY DEFINER SET search_path = pg_catalog, pg_temp;

CALL senate.settle_comments('0033');
