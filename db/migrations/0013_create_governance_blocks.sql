-- Why: the spec lets market signals modulate budgets "only after clearing the
-- Senate scoring and governance thresholds". The scoring threshold is policy
-- (economics_policy.min_priority_for_market_weight); the governance threshold
-- needs a concrete, queryable definition. It is this:
--
--   An entity has an unresolved governance block while it has a row in
--   governance_blocks with resolved_at IS NULL.
--
-- A block is placed by the Senate (or by the governance workflow, for example
-- when a proposal for the entity is deferred pending evidence; proposal_id then
-- names it) with a reason, and resolved later with who and why. While any block
-- is unresolved the entity's market_weight is 0: placing a block zeroes it in
-- the same transaction, and refresh_market_weights() keeps it at 0. Resolving
-- a block lets the next refresh_market_weights() apply market signals again.
-- Blocks are history: only the resolution of an unresolved block may be
-- written; resolved blocks never change and no block is deleted.
SET lock_timeout = '5s';

INSERT INTO senate.error_codes (sqlstate, error_name, meaning, hint) VALUES
  ('S1003', 'governance_block_not_found',
   'No governance block has the given block_id.',
   'List unresolved blocks with SELECT * FROM governance_blocks WHERE resolved_at IS NULL.'),
  ('S1004', 'governance_block_immutable',
   'A governance block was changed other than by resolving it once, or deleted.',
   'Blocks are history: resolve an unresolved block with resolve_governance_block(); place a new block to reopen.')
ON CONFLICT (sqlstate) DO NOTHING;

CALL senate.claim('0013', 'table', 'public.governance_blocks');
CREATE TABLE IF NOT EXISTS public.governance_blocks (
    block_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entity_type   text NOT NULL REFERENCES public.entity_types (entity_type),
    entity_id     text NOT NULL CHECK (length(entity_id) BETWEEN 1 AND 200),
    reason        text NOT NULL CHECK (length(btrim(reason)) BETWEEN 1 AND 2000),
    proposal_id   text CHECK (length(proposal_id) BETWEEN 1 AND 200),
    placed_by     text NOT NULL CHECK (length(placed_by) BETWEEN 1 AND 200),
    placed_at     timestamptz NOT NULL DEFAULT now(),
    resolved_by   text CHECK (length(resolved_by) BETWEEN 1 AND 200),
    resolved_at   timestamptz,
    resolution    text CHECK (length(resolution) <= 2000),
    CONSTRAINT governance_blocks_resolution_complete CHECK (
        (resolved_at IS NULL) = (resolved_by IS NULL)
        AND (resolution IS NULL OR resolved_at IS NOT NULL)),
    CONSTRAINT governance_blocks_resolved_after_placed CHECK (resolved_at >= placed_at)
);
COMMENT ON TABLE public.governance_blocks IS
  'Governance holds on entities. An entity with a block whose resolved_at IS NULL has an unresolved '
  'governance block: market signals do not apply to it (market_weight 0). History: resolved blocks '
  'never change, blocks are never deleted.';
COMMENT ON COLUMN public.governance_blocks.block_id IS 'Surrogate key, order of placement.';
COMMENT ON COLUMN public.governance_blocks.entity_type IS 'Kind of entity blocked (see entity_types).';
COMMENT ON COLUMN public.governance_blocks.entity_id IS 'Identifier of the entity blocked.';
COMMENT ON COLUMN public.governance_blocks.reason IS 'Why the entity is blocked.';
COMMENT ON COLUMN public.governance_blocks.proposal_id IS 'allocation_proposals.id (as text) the block stems from, if any.';
COMMENT ON COLUMN public.governance_blocks.placed_by IS 'Who placed the block.';
COMMENT ON COLUMN public.governance_blocks.placed_at IS 'When the block was placed.';
COMMENT ON COLUMN public.governance_blocks.resolved_by IS 'Who resolved the block (NULL while unresolved).';
COMMENT ON COLUMN public.governance_blocks.resolved_at IS 'When the block was resolved; NULL means the block is in force.';
COMMENT ON COLUMN public.governance_blocks.resolution IS 'How the block was resolved.';

CALL senate.claim('0013', 'index', 'public.governance_blocks_unresolved_idx');
CREATE INDEX IF NOT EXISTS governance_blocks_unresolved_idx
    ON public.governance_blocks (entity_type, entity_id) WHERE resolved_at IS NULL;
CALL senate.claim('0013', 'index', 'public.governance_blocks_entity_idx');
CREATE INDEX IF NOT EXISTS governance_blocks_entity_idx
    ON public.governance_blocks (entity_type, entity_id, block_id);
COMMENT ON INDEX public.governance_blocks_unresolved_idx IS 'Is this entity blocked? One probe.';
COMMENT ON INDEX public.governance_blocks_entity_idx IS 'Block history of an entity.';

CREATE OR REPLACE FUNCTION senate.guard_governance_blocks()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    IF TG_OP = 'UPDATE'
       AND OLD.resolved_at IS NULL
       AND (NEW.block_id, NEW.entity_type, NEW.entity_id, NEW.reason, NEW.proposal_id,
            NEW.placed_by, NEW.placed_at)
           IS NOT DISTINCT FROM
           (OLD.block_id, OLD.entity_type, OLD.entity_id, OLD.reason, OLD.proposal_id,
            OLD.placed_by, OLD.placed_at) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION USING
        ERRCODE = 'S1004',
        MESSAGE = format('%s of governance block %s refused: only an unresolved block may be '
                         'resolved, once', TG_OP, OLD.block_id),
        HINT = 'Resolve with resolve_governance_block(); place a new block to reopen.';
END;
$$;
COMMENT ON FUNCTION senate.guard_governance_blocks() IS
  'Row trigger on governance_blocks: allows only writing the resolution of an unresolved block; '
  'refuses other updates and deletes (S1004).';

DROP TRIGGER IF EXISTS t10_guard_governance_blocks ON public.governance_blocks;
CREATE TRIGGER t10_guard_governance_blocks
    BEFORE UPDATE OR DELETE ON public.governance_blocks
    FOR EACH ROW EXECUTE FUNCTION senate.guard_governance_blocks();
COMMENT ON TRIGGER t10_guard_governance_blocks ON public.governance_blocks IS
  'Blocks are history: only the one-time resolution of an unresolved block may be written.';
DROP TRIGGER IF EXISTS t10_refuse_governance_block_truncate ON public.governance_blocks;
CREATE TRIGGER t10_refuse_governance_block_truncate
    BEFORE TRUNCATE ON public.governance_blocks
    FOR EACH STATEMENT EXECUTE FUNCTION senate.refuse_ledger_change();
COMMENT ON TRIGGER t10_refuse_governance_block_truncate ON public.governance_blocks IS
  'Blocks are history: TRUNCATE is refused (S4001).';

CREATE OR REPLACE FUNCTION senate.zero_blocked_market_weights()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    UPDATE public.resource_budgets AS b
    SET market_weight = 0, updated_at = now()
    FROM (SELECT b2.entity_type, b2.entity_id
          FROM public.resource_budgets AS b2
          WHERE (b2.entity_type, b2.entity_id) IN (
                    SELECT n.entity_type, n.entity_id FROM new_rows AS n
                    WHERE n.resolved_at IS NULL)
            AND b2.market_weight <> 0
          ORDER BY b2.entity_type, b2.entity_id
          FOR NO KEY UPDATE OF b2) AS x
    WHERE b.entity_type = x.entity_type AND b.entity_id = x.entity_id;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION senate.zero_blocked_market_weights() IS
  'Statement-level trigger on governance_blocks: sets market_weight to 0 for the envelopes of '
  'newly blocked entities, in the same transaction (rows locked in key order).';

DROP TRIGGER IF EXISTS t30_zero_blocked_market_weights ON public.governance_blocks;
CREATE TRIGGER t30_zero_blocked_market_weights
    AFTER INSERT ON public.governance_blocks
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION senate.zero_blocked_market_weights();
COMMENT ON TRIGGER t30_zero_blocked_market_weights ON public.governance_blocks IS
  'A blocked entity loses its market weight at once.';

CREATE OR REPLACE FUNCTION public.place_governance_block(
    entity_type text, entity_id text, reason text, placed_by text, proposal_id text DEFAULT NULL)
RETURNS bigint
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    INSERT INTO public.governance_blocks (entity_type, entity_id, reason, placed_by, proposal_id)
    VALUES ($1, $2, $3, $4, $5)
    RETURNING block_id
$$;
COMMENT ON FUNCTION public.place_governance_block(text, text, text, text, text) IS
  'Places a governance block on an entity (its market_weight drops to 0 at once) and returns the '
  'block_id. proposal_id optionally names the allocation proposal the block stems from.';

CREATE OR REPLACE FUNCTION public.resolve_governance_block(
    block_id bigint, resolved_by text, resolution text)
RETURNS public.governance_blocks
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_block public.governance_blocks;
BEGIN
    SELECT * INTO v_block FROM public.governance_blocks AS g
    WHERE g.block_id = resolve_governance_block.block_id
    FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM senate.raise_error('S1003',
            format('resolve_governance_block: block_id %s does not exist', block_id));
    END IF;
    IF v_block.resolved_at IS NOT NULL THEN
        PERFORM senate.raise_error('S1004',
            format('resolve_governance_block: block %s was already resolved at %s by %s',
                   block_id, v_block.resolved_at, v_block.resolved_by));
    END IF;
    UPDATE public.governance_blocks AS g
    SET resolved_by = resolve_governance_block.resolved_by,
        resolved_at = greatest(now(), g.placed_at),
        resolution = resolve_governance_block.resolution
    WHERE g.block_id = resolve_governance_block.block_id
    RETURNING g.* INTO v_block;
    RETURN v_block;
END;
$$;
COMMENT ON FUNCTION public.resolve_governance_block(bigint, text, text) IS
  'Resolves an unresolved governance block (who, how) and returns it; S1003 when unknown, S1004 '
  'when already resolved. The next refresh_market_weights() applies market signals again if no '
  'other block remains.';

CALL senate.settle_comments('0013');
