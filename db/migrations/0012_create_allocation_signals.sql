-- Why: the four scoring inputs (evidence strength, novelty, strategic alignment,
-- community interest) are assessments made by someone at some time, and the
-- Senate must be able to say who scored an entity, when, and how it arrived at
-- its priority. They land in an append-only input table; the entity's
-- resource_budgets.priority_score follows its LATEST assessment (by assessed_at,
-- then signal_id) under the active policy's weights.
--
-- Trigger rather than a periodic refresh: assessments are rare, small writes,
-- and priority_score gates market weight and ranks entities for reassignment,
-- so it must never be stale. A statement-level AFTER INSERT trigger with a
-- transition table updates the touched envelopes in the same transaction, one
-- set-based UPDATE per statement (a batch of assessments pays once). A new
-- envelope takes its entity's latest score on INSERT (row-level BEFORE trigger).
-- refresh_priority_scores() recomputes every envelope; adopt_economics_policy()
-- calls it when the weights change. Corrections are new assessments: UPDATE and
-- DELETE on the history are refused.
SET lock_timeout = '5s';

CALL senate.claim('0012', 'table', 'public.allocation_signals');
CREATE TABLE IF NOT EXISTS public.allocation_signals (
    signal_id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entity_type          text NOT NULL REFERENCES public.entity_types (entity_type),
    entity_id            text NOT NULL CHECK (length(entity_id) BETWEEN 1 AND 200),
    evidence_strength    numeric NOT NULL CHECK (evidence_strength BETWEEN 0 AND 1),
    novelty              numeric NOT NULL CHECK (novelty BETWEEN 0 AND 1),
    strategic_alignment  numeric NOT NULL CHECK (strategic_alignment BETWEEN 0 AND 1),
    community_interest   numeric NOT NULL CHECK (community_interest BETWEEN 0 AND 1),
    assessed_by          text NOT NULL CHECK (length(assessed_by) BETWEEN 1 AND 200),
    assessed_at          timestamptz NOT NULL DEFAULT now(),
    rationale            text CHECK (length(rationale) <= 20000)
);
COMMENT ON TABLE public.allocation_signals IS
  'Append-only scoring assessments: the four allocation_score inputs for an entity, who assessed '
  'them and when. resource_budgets.priority_score follows the latest assessment per entity.';
COMMENT ON COLUMN public.allocation_signals.signal_id IS 'Order of recording; breaks ties between assessments with the same assessed_at.';
COMMENT ON COLUMN public.allocation_signals.entity_type IS 'Kind of entity assessed (see entity_types).';
COMMENT ON COLUMN public.allocation_signals.entity_id IS 'Identifier of the entity assessed.';
COMMENT ON COLUMN public.allocation_signals.evidence_strength IS 'Quality and amount of support already present (papers, debates, replication, KG links), unitless in [0, 1].';
COMMENT ON COLUMN public.allocation_signals.novelty IS 'How far the work opens underexplored terrain, unitless in [0, 1].';
COMMENT ON COLUMN public.allocation_signals.strategic_alignment IS 'How directly the work advances the world-model roadmap, unitless in [0, 1].';
COMMENT ON COLUMN public.allocation_signals.community_interest IS 'Demand from debates, comments, votes, bounties, review attention, unitless in [0, 1].';
COMMENT ON COLUMN public.allocation_signals.assessed_by IS 'Who made the assessment (user or agent).';
COMMENT ON COLUMN public.allocation_signals.assessed_at IS 'When the assessment was made; the latest one per entity sets priority_score.';
COMMENT ON COLUMN public.allocation_signals.rationale IS 'Optional free-text reasoning behind the assessment.';

CALL senate.claim('0012', 'index', 'public.allocation_signals_latest_idx');
CREATE INDEX IF NOT EXISTS allocation_signals_latest_idx
    ON public.allocation_signals (entity_type, entity_id, assessed_at DESC, signal_id DESC);
COMMENT ON INDEX public.allocation_signals_latest_idx IS 'Finds the latest assessment of an entity with one index probe.';

CREATE OR REPLACE VIEW senate.latest_allocation_signals AS
SELECT DISTINCT ON (s.entity_type, s.entity_id)
       s.entity_type, s.entity_id, s.signal_id, s.evidence_strength, s.novelty,
       s.strategic_alignment, s.community_interest, s.assessed_by, s.assessed_at
FROM public.allocation_signals AS s
ORDER BY s.entity_type, s.entity_id, s.assessed_at DESC, s.signal_id DESC;
COMMENT ON VIEW senate.latest_allocation_signals IS
  'The latest assessment of each entity (largest assessed_at, then signal_id).';
COMMENT ON COLUMN senate.latest_allocation_signals.entity_type IS 'Kind of entity.';
COMMENT ON COLUMN senate.latest_allocation_signals.entity_id IS 'Entity identifier.';
COMMENT ON COLUMN senate.latest_allocation_signals.signal_id IS 'allocation_signals row of the latest assessment.';
COMMENT ON COLUMN senate.latest_allocation_signals.evidence_strength IS 'Latest evidence_strength, [0, 1].';
COMMENT ON COLUMN senate.latest_allocation_signals.novelty IS 'Latest novelty, [0, 1].';
COMMENT ON COLUMN senate.latest_allocation_signals.strategic_alignment IS 'Latest strategic_alignment, [0, 1].';
COMMENT ON COLUMN senate.latest_allocation_signals.community_interest IS 'Latest community_interest, [0, 1].';
COMMENT ON COLUMN senate.latest_allocation_signals.assessed_by IS 'Who made the latest assessment.';
COMMENT ON COLUMN senate.latest_allocation_signals.assessed_at IS 'When the latest assessment was made.';

-- Sets priority_score from the latest assessment, for the listed entities (both
-- arrays given, same length) or for every envelope (both NULL). Rows are locked in
-- key order before they are updated; rows whose score does not change are not touched.
CREATE OR REPLACE FUNCTION senate.sync_priority_scores(
    p_entity_types text[] DEFAULT NULL, p_entity_ids text[] DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    p public.economics_policy;
    v_count integer;
BEGIN
    SELECT * INTO p FROM public.economics_policy AS e WHERE e.is_active;
    IF NOT FOUND THEN
        PERFORM senate.raise_error('S1002', 'priority_score: no economics_policy is active');
    END IF;
    IF p_entity_types IS NULL THEN
        UPDATE public.resource_budgets AS b
        SET priority_score = x.score, updated_at = now()
        FROM (SELECT b2.entity_type, b2.entity_id,
                     senate.weighted_allocation_score(
                         l.evidence_strength, l.novelty, l.strategic_alignment, l.community_interest,
                         p.weight_evidence_strength, p.weight_novelty,
                         p.weight_strategic_alignment, p.weight_community_interest) AS score
              FROM public.resource_budgets AS b2
              JOIN senate.latest_allocation_signals AS l
                ON l.entity_type = b2.entity_type AND l.entity_id = b2.entity_id
              WHERE b2.priority_score IS DISTINCT FROM senate.weighted_allocation_score(
                         l.evidence_strength, l.novelty, l.strategic_alignment, l.community_interest,
                         p.weight_evidence_strength, p.weight_novelty,
                         p.weight_strategic_alignment, p.weight_community_interest)
              ORDER BY b2.entity_type, b2.entity_id
              FOR NO KEY UPDATE OF b2) AS x
        WHERE b.entity_type = x.entity_type AND b.entity_id = x.entity_id;
    ELSE
        UPDATE public.resource_budgets AS b
        SET priority_score = x.score, updated_at = now()
        FROM (SELECT b2.entity_type, b2.entity_id,
                     senate.weighted_allocation_score(
                         l.evidence_strength, l.novelty, l.strategic_alignment, l.community_interest,
                         p.weight_evidence_strength, p.weight_novelty,
                         p.weight_strategic_alignment, p.weight_community_interest) AS score
              FROM (SELECT DISTINCT t.entity_type, t.entity_id
                    FROM unnest(p_entity_types, p_entity_ids) AS t (entity_type, entity_id)) AS t
              JOIN public.resource_budgets AS b2
                ON b2.entity_type = t.entity_type AND b2.entity_id = t.entity_id
              CROSS JOIN LATERAL (
                  SELECT s.evidence_strength, s.novelty, s.strategic_alignment, s.community_interest
                  FROM public.allocation_signals AS s
                  WHERE s.entity_type = t.entity_type AND s.entity_id = t.entity_id
                  ORDER BY s.assessed_at DESC, s.signal_id DESC
                  LIMIT 1) AS l
              WHERE b2.priority_score IS DISTINCT FROM senate.weighted_allocation_score(
                         l.evidence_strength, l.novelty, l.strategic_alignment, l.community_interest,
                         p.weight_evidence_strength, p.weight_novelty,
                         p.weight_strategic_alignment, p.weight_community_interest)
              ORDER BY b2.entity_type, b2.entity_id
              FOR NO KEY UPDATE OF b2) AS x
        WHERE b.entity_type = x.entity_type AND b.entity_id = x.entity_id;
    END IF;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END;
$$;
COMMENT ON FUNCTION senate.sync_priority_scores(text[], text[]) IS
  'Sets resource_budgets.priority_score to allocation_score of the latest assessment under the '
  'active policy, for the listed entities (parallel arrays) or all envelopes (NULLs). Locks rows '
  'in key order; returns the number of envelopes changed.';

CREATE OR REPLACE FUNCTION senate.follow_latest_assessment()
RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    PERFORM senate.sync_priority_scores(array_agg(n.entity_type::text), array_agg(n.entity_id::text))
    FROM new_rows AS n;
    RETURN NULL;
END;
$$;
COMMENT ON FUNCTION senate.follow_latest_assessment() IS
  'Statement-level trigger on allocation_signals: brings the priority_score of the envelopes '
  'the statement assessed up to their latest assessment (one set-based UPDATE).';

DROP TRIGGER IF EXISTS t30_follow_latest_assessment ON public.allocation_signals;
CREATE TRIGGER t30_follow_latest_assessment
    AFTER INSERT ON public.allocation_signals
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION senate.follow_latest_assessment();
COMMENT ON TRIGGER t30_follow_latest_assessment ON public.allocation_signals IS
  'priority_score of the assessed envelopes follows their latest assessment, in the same transaction.';

DROP TRIGGER IF EXISTS t10_refuse_assessment_changes ON public.allocation_signals;
CREATE TRIGGER t10_refuse_assessment_changes
    BEFORE UPDATE OR DELETE ON public.allocation_signals
    FOR EACH STATEMENT EXECUTE FUNCTION senate.refuse_ledger_change();
DROP TRIGGER IF EXISTS t10_refuse_assessment_truncate ON public.allocation_signals;
CREATE TRIGGER t10_refuse_assessment_truncate
    BEFORE TRUNCATE ON public.allocation_signals
    FOR EACH STATEMENT EXECUTE FUNCTION senate.refuse_ledger_change();
COMMENT ON TRIGGER t10_refuse_assessment_changes ON public.allocation_signals IS
  'Assessments are history: UPDATE and DELETE are refused (S4001); correct by a new assessment.';
COMMENT ON TRIGGER t10_refuse_assessment_truncate ON public.allocation_signals IS
  'Assessments are history: TRUNCATE is refused (S4001).';

CREATE OR REPLACE FUNCTION senate.priority_from_latest_assessment()
RETURNS trigger
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_score numeric;
BEGIN
    SELECT senate.weighted_allocation_score(
               s.evidence_strength, s.novelty, s.strategic_alignment, s.community_interest,
               p.weight_evidence_strength, p.weight_novelty,
               p.weight_strategic_alignment, p.weight_community_interest)
    INTO v_score
    FROM public.allocation_signals AS s
    CROSS JOIN public.economics_policy AS p
    WHERE p.is_active AND s.entity_type = NEW.entity_type AND s.entity_id = NEW.entity_id
    ORDER BY s.assessed_at DESC, s.signal_id DESC
    LIMIT 1;
    IF FOUND THEN
        NEW.priority_score := v_score;
    END IF;
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION senate.priority_from_latest_assessment() IS
  'Row-level BEFORE INSERT trigger on resource_budgets: a new envelope takes the allocation_score '
  'of its entity''s latest assessment as priority_score (unchanged when never assessed).';

DROP TRIGGER IF EXISTS t30_priority_from_latest_assessment ON public.resource_budgets;
CREATE TRIGGER t30_priority_from_latest_assessment
    BEFORE INSERT ON public.resource_budgets
    FOR EACH ROW EXECUTE FUNCTION senate.priority_from_latest_assessment();
COMMENT ON TRIGGER t30_priority_from_latest_assessment ON public.resource_budgets IS
  'A new envelope starts at the priority_score of its entity''s latest assessment.';

CREATE OR REPLACE FUNCTION public.refresh_priority_scores()
RETURNS integer
LANGUAGE sql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT senate.sync_priority_scores(NULL, NULL)
$$;
COMMENT ON FUNCTION public.refresh_priority_scores() IS
  'Recomputes every resource_budgets.priority_score from its entity''s latest allocation_signals '
  'assessment under the active policy (needed after a change of weights; adopt_economics_policy '
  'calls it). Returns the number of envelopes changed.';

CALL senate.settle_comments('0012');
