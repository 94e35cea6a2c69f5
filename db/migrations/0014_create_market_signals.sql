-- Why: the spec's market mechanism. Exchange prices and confidence signals
-- modulate budgets multiplicatively (effective_budget = base * (1 + market_weight))
-- but never bypass evidence standards. The Exchange writes signals into an input
-- table; market_weights(as_of) derives each envelope's weight and
-- refresh_market_weights(as_of) writes it to resource_budgets.market_weight.
--
-- Derivation, under the active policy, for the window
-- (as_of - market_signal_window, as_of]:
--   signal_mean  = mean of the entity's signal values in the window;
--   cohort_mean  = mean of signal_mean over every entity of the same entity_type
--                  with signals in the window (each entity counts once);
--   derived      = signal_mean / cohort_mean - 1, rounded to 6 decimals
--                  (0 when cohort_mean = 0): "priced 20 % above its cohort" -> +0.2;
--   clamped      = derived clamped to [-max_market_penalty, max_market_boost];
--   market_weight = clamped if priority_score >= min_priority_for_market_weight
--                   and the entity has no unresolved governance block
--                   (governance_blocks.resolved_at IS NULL) and has signals in
--                   the window; 0 otherwise.
-- A speculative spike therefore lifts an effective budget at most to
-- base * (1 + max_market_boost); below the score threshold the weight is 0.
SET lock_timeout = '5s';

CALL senate.claim('0014', 'table', 'public.market_signals');
CREATE TABLE IF NOT EXISTS public.market_signals (
    signal_id    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entity_type  text NOT NULL REFERENCES public.entity_types (entity_type),
    entity_id    text NOT NULL CHECK (length(entity_id) BETWEEN 1 AND 200),
    value        numeric NOT NULL CHECK (value BETWEEN 0 AND 1),
    observed_at  timestamptz NOT NULL DEFAULT now(),
    source       text NOT NULL CHECK (length(source) BETWEEN 1 AND 200)
);
COMMENT ON TABLE public.market_signals IS
  'Exchange price or confidence signals per entity, written by the Exchange. Input to '
  'market_weights() / refresh_market_weights().';
COMMENT ON COLUMN public.market_signals.signal_id IS 'Surrogate key, order of recording.';
COMMENT ON COLUMN public.market_signals.entity_type IS 'Kind of entity priced (see entity_types); the cohort for normalization.';
COMMENT ON COLUMN public.market_signals.entity_id IS 'Identifier of the entity priced.';
COMMENT ON COLUMN public.market_signals.value IS 'Normalized price or confidence, unitless in [0, 1].';
COMMENT ON COLUMN public.market_signals.observed_at IS 'When the Exchange observed the value.';
COMMENT ON COLUMN public.market_signals.source IS 'Which market or feed produced the signal.';

CALL senate.claim('0014', 'index', 'public.market_signals_cohort_window_idx');
CREATE INDEX IF NOT EXISTS market_signals_cohort_window_idx
    ON public.market_signals (entity_type, observed_at) INCLUDE (entity_id, value);
CALL senate.claim('0014', 'index', 'public.market_signals_entity_idx');
CREATE INDEX IF NOT EXISTS market_signals_entity_idx
    ON public.market_signals (entity_type, entity_id, observed_at);
COMMENT ON INDEX public.market_signals_cohort_window_idx IS 'Signals of a cohort in a time window (index-only).';
COMMENT ON INDEX public.market_signals_entity_idx IS 'Signal history of one entity.';

CREATE OR REPLACE FUNCTION public.market_weights(as_of timestamptz DEFAULT now())
RETURNS TABLE (
    entity_type text, entity_id text, signal_count bigint, signal_mean numeric,
    cohort_mean numeric, cohort_entities bigint, derived_weight numeric, clamped_weight numeric,
    priority_score numeric, meets_priority_threshold boolean, governance_blocked boolean,
    market_weight numeric)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    WITH p AS (
        SELECT e.* FROM public.economics_policy AS e WHERE e.is_active
    ), per_entity AS (
        SELECT s.entity_type, s.entity_id, count(*) AS signal_count, avg(s.value) AS signal_mean
        FROM public.market_signals AS s, p
        WHERE s.observed_at > as_of - p.market_signal_window AND s.observed_at <= as_of
        GROUP BY s.entity_type, s.entity_id
    ), cohort AS (
        SELECT e.entity_type, avg(e.signal_mean) AS cohort_mean, count(*) AS cohort_entities
        FROM per_entity AS e
        GROUP BY e.entity_type
    )
    SELECT b.entity_type, b.entity_id, coalesce(e.signal_count, 0), e.signal_mean,
           c.cohort_mean, c.cohort_entities, d.derived_weight,
           CASE WHEN d.derived_weight IS NOT NULL
                THEN greatest(-p.max_market_penalty, least(p.max_market_boost, d.derived_weight))
           END,
           b.priority_score,
           b.priority_score >= p.min_priority_for_market_weight,
           g.blocked,
           CASE WHEN b.priority_score >= p.min_priority_for_market_weight AND NOT g.blocked
                     AND d.derived_weight IS NOT NULL
                THEN greatest(-p.max_market_penalty, least(p.max_market_boost, d.derived_weight))
                ELSE 0 END
    FROM public.resource_budgets AS b
    CROSS JOIN p
    LEFT JOIN per_entity AS e ON e.entity_type = b.entity_type AND e.entity_id = b.entity_id
    LEFT JOIN cohort AS c ON c.entity_type = b.entity_type
    CROSS JOIN LATERAL (
        SELECT CASE WHEN e.signal_mean IS NULL THEN NULL::numeric
                    WHEN c.cohort_mean > 0 THEN round(e.signal_mean / c.cohort_mean - 1, 6)
                    ELSE 0::numeric END AS derived_weight) AS d
    LEFT JOIN (SELECT DISTINCT gb.entity_type, gb.entity_id
               FROM public.governance_blocks AS gb WHERE gb.resolved_at IS NULL) AS ub
      ON ub.entity_type = b.entity_type AND ub.entity_id = b.entity_id
    CROSS JOIN LATERAL (SELECT ub.entity_id IS NOT NULL AS blocked) AS g
$$;
COMMENT ON FUNCTION public.market_weights(timestamptz) IS
  'How each envelope''s market_weight is derived as of a time under the active policy: signals in '
  '(as_of - market_signal_window, as_of], signal_mean / cohort_mean - 1 (cohort = same entity_type, '
  'unitless, 6 decimals), clamped to [-max_market_penalty, max_market_boost], and applied only at '
  'priority_score >= min_priority_for_market_weight without an unresolved governance block '
  '(else 0). Read-only: refresh_market_weights() writes the result.';

CREATE OR REPLACE FUNCTION public.refresh_market_weights(as_of timestamptz DEFAULT now())
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    v_count integer;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM public.economics_policy AS e WHERE e.is_active) THEN
        PERFORM senate.raise_error('S1002', 'refresh_market_weights: no economics_policy is active');
    END IF;
    UPDATE public.resource_budgets AS b
    SET market_weight = x.market_weight, updated_at = now()
    FROM (SELECT b2.entity_type, b2.entity_id, w.market_weight
          FROM public.market_weights(as_of) AS w
          JOIN public.resource_budgets AS b2
            ON b2.entity_type = w.entity_type AND b2.entity_id = w.entity_id
          WHERE b2.market_weight IS DISTINCT FROM w.market_weight
          ORDER BY b2.entity_type, b2.entity_id
          FOR NO KEY UPDATE OF b2) AS x
    WHERE b.entity_type = x.entity_type AND b.entity_id = x.entity_id;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END;
$$;
COMMENT ON FUNCTION public.refresh_market_weights(timestamptz) IS
  'Writes market_weights(as_of).market_weight into resource_budgets.market_weight in one '
  'set-based UPDATE (rows locked in key order, unchanged rows untouched). Returns the number of '
  'envelopes changed. Run it on the review cadence, after new market signals or a policy change.';

CALL senate.settle_comments('0014');
