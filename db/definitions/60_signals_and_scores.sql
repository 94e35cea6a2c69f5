-- db/definitions/60_signals_and_scores.sql -- Signals and scores: market weights, priority and ROI scores, the allocation ranking.
--
-- The current definition of each function and view below; the post-apply hook
-- (db/migrations/post-apply_definitions.py) applies an object whenever its text here
-- changes. Each object starts at its '-- define' line. See README, "Adding a migration".

-- define view senate.latest_allocation_signals
CREATE OR REPLACE VIEW senate.latest_allocation_signals AS
SELECT DISTINCT ON (s.entity_type, s.entity_id)
       s.entity_type, s.entity_id, s.signal_id, s.evidence_strength, s.novelty,
       s.strategic_alignment, s.community_interest, s.assessed_by, s.assessed_at
FROM public.allocation_signals AS s
ORDER BY s.entity_type, s.entity_id, s.assessed_at DESC, s.signal_id DESC;
COMMENT ON VIEW senate.latest_allocation_signals IS 'The latest assessment of each entity (largest assessed_at, then signal_id).';
COMMENT ON COLUMN senate.latest_allocation_signals.entity_type IS 'Kind of entity.';
COMMENT ON COLUMN senate.latest_allocation_signals.entity_id IS 'Entity identifier.';
COMMENT ON COLUMN senate.latest_allocation_signals.signal_id IS 'allocation_signals row of the latest assessment.';
COMMENT ON COLUMN senate.latest_allocation_signals.evidence_strength IS 'Latest evidence_strength, [0, 1].';
COMMENT ON COLUMN senate.latest_allocation_signals.novelty IS 'Latest novelty, [0, 1].';
COMMENT ON COLUMN senate.latest_allocation_signals.strategic_alignment IS 'Latest strategic_alignment, [0, 1].';
COMMENT ON COLUMN senate.latest_allocation_signals.community_interest IS 'Latest community_interest, [0, 1].';
COMMENT ON COLUMN senate.latest_allocation_signals.assessed_by IS 'Who made the latest assessment.';
COMMENT ON COLUMN senate.latest_allocation_signals.assessed_at IS 'When the latest assessment was made.';

-- define function senate.sync_priority_scores(text[],text[])
CREATE OR REPLACE FUNCTION senate.sync_priority_scores(p_entity_types text[] DEFAULT NULL::text[], p_entity_ids text[] DEFAULT NULL::text[])
 RETURNS integer
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;
COMMENT ON FUNCTION senate.sync_priority_scores(text[],text[]) IS 'Sets resource_budgets.priority_score to allocation_score of the latest assessment under the active policy, for the listed entities (parallel arrays) or all envelopes (NULLs). Locks rows in key order; returns the number of envelopes changed.';

-- define function senate.follow_latest_assessment()
CREATE OR REPLACE FUNCTION senate.follow_latest_assessment()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
BEGIN
    PERFORM senate.sync_priority_scores(array_agg(n.entity_type::text), array_agg(n.entity_id::text))
    FROM new_rows AS n;
    RETURN NULL;
END;
$function$;
COMMENT ON FUNCTION senate.follow_latest_assessment() IS 'Statement-level trigger on allocation_signals: brings the priority_score of the envelopes the statement assessed up to their latest assessment (one set-based UPDATE).';

-- define function senate.priority_from_latest_assessment()
CREATE OR REPLACE FUNCTION senate.priority_from_latest_assessment()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;
COMMENT ON FUNCTION senate.priority_from_latest_assessment() IS 'Row-level BEFORE INSERT trigger on resource_budgets: a new envelope takes the allocation_score of its entity''s latest assessment as priority_score (unchanged when never assessed).';

-- define function public.refresh_priority_scores()
CREATE OR REPLACE FUNCTION public.refresh_priority_scores()
 RETURNS integer
 LANGUAGE sql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
    SELECT senate.sync_priority_scores(NULL, NULL)
$function$;
COMMENT ON FUNCTION public.refresh_priority_scores() IS 'Recomputes every resource_budgets.priority_score from its entity''s latest allocation_signals assessment under the active policy (needed after a change of weights; adopt_economics_policy calls it). Returns the number of envelopes changed.';

-- define function senate.zero_blocked_market_weights()
CREATE OR REPLACE FUNCTION senate.zero_blocked_market_weights()
 RETURNS trigger
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;
COMMENT ON FUNCTION senate.zero_blocked_market_weights() IS 'Statement-level trigger on governance_blocks: sets market_weight to 0 for the envelopes of newly blocked entities, in the same transaction (rows locked in key order).';

-- define function public.market_weights(timestamp with time zone)
CREATE OR REPLACE FUNCTION public.market_weights(as_of timestamp with time zone DEFAULT now())
 RETURNS TABLE(entity_type text, entity_id text, signal_count bigint, signal_mean numeric, cohort_mean numeric, cohort_entities bigint, derived_weight numeric, clamped_weight numeric, priority_score numeric, meets_priority_threshold boolean, governance_blocked boolean, market_weight numeric)
 LANGUAGE sql
 STABLE PARALLEL SAFE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;
COMMENT ON FUNCTION public.market_weights(timestamp with time zone) IS 'How each envelope''s market_weight is derived as of a time under the active policy: signals in (as_of - market_signal_window, as_of], signal_mean / cohort_mean - 1 (cohort = same entity_type, unitless, 6 decimals), clamped to [-max_market_penalty, max_market_boost], and applied only at priority_score >= min_priority_for_market_weight without an unresolved governance block (else 0). Read-only: refresh_market_weights() writes the result.';

-- define function public.refresh_market_weights(timestamp with time zone)
CREATE OR REPLACE FUNCTION public.refresh_market_weights(as_of timestamp with time zone DEFAULT now())
 RETURNS integer
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
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
$function$;
COMMENT ON FUNCTION public.refresh_market_weights(timestamp with time zone) IS 'Writes market_weights(as_of).market_weight into resource_budgets.market_weight in one set-based UPDATE (rows locked in key order, unchanged rows untouched). Returns the number of envelopes changed. Run it on the review cadence, after new market signals or a policy change.';

-- define function public.roi_by_entity(date,date)
CREATE OR REPLACE FUNCTION public.roi_by_entity(window_start date, window_end date)
 RETURNS TABLE(entity_type text, entity_id text, kg_edges_gained numeric, papers_added bigint, hypotheses_improved bigint, artifact_quality_delta numeric, tokens_spent numeric, roi_score numeric)
 LANGUAGE sql
 STABLE PARALLEL SAFE SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
    WITH tz AS (
        SELECT senate.policy_time_zone() AS time_zone
    ), gains AS (
        SELECT g.entity_type, g.entity_id, sum(g.kg_edges_gained) AS kg_edges_gained,
               sum(g.papers_added) AS papers_added, sum(g.hypotheses_improved) AS hypotheses_improved,
               sum(g.artifact_quality_delta) AS artifact_quality_delta
        FROM public.world_model_gains AS g, tz
        WHERE g.observed_at >= window_start::timestamp AT TIME ZONE tz.time_zone
          AND g.observed_at < window_end::timestamp AT TIME ZONE tz.time_zone
        GROUP BY g.entity_type, g.entity_id
    ), spend AS (
        SELECT r.entity_type, r.entity_id, sum(r.amount_total) AS tokens_spent
        FROM senate.usage_rollups AS r
        WHERE r.resource_type = 'llm_tokens'
          AND r.usage_day >= window_start AND r.usage_day < window_end
        GROUP BY r.entity_type, r.entity_id
    )
    SELECT entity_type, entity_id,
           coalesce(g.kg_edges_gained, 0), coalesce(g.papers_added, 0),
           coalesce(g.hypotheses_improved, 0), coalesce(g.artifact_quality_delta, 0),
           coalesce(s.tokens_spent, 0),
           public.roi_score(coalesce(g.kg_edges_gained, 0), coalesce(s.tokens_spent, 0))
    FROM gains AS g
    FULL JOIN spend AS s USING (entity_type, entity_id)
$function$;
COMMENT ON FUNCTION public.roi_by_entity(date,date) IS 'World-model gains (edges, papers, hypotheses, quality points) and llm tokens spent per entity over the days [window_start, window_end) in the policy time zone, with roi_score = kg_edges_gained / tokens_spent (KG edges per token; NULL without spend). Entities with gains or spend in the window. Reads senate.usage_rollups, not resource_usage.';

-- define function public.refresh_roi_scores(timestamp with time zone)
CREATE OR REPLACE FUNCTION public.refresh_roi_scores(as_of timestamp with time zone DEFAULT now())
 RETURNS integer
 LANGUAGE plpgsql
 SECURITY DEFINER
 SET search_path TO 'pg_catalog', 'pg_temp'
AS $function$
DECLARE
    v_start date;
    v_end date;
    v_count integer;
BEGIN
    SELECT w.window_start, w.window_end INTO v_start, v_end FROM public.roi_window_bounds(as_of) AS w;
    UPDATE public.resource_budgets AS b
    SET roi_score = x.roi_score, updated_at = now()
    FROM (SELECT b2.entity_type, b2.entity_id, r.roi_score
          FROM public.resource_budgets AS b2
          LEFT JOIN public.roi_by_entity(v_start, v_end) AS r
            ON r.entity_type = b2.entity_type AND r.entity_id = b2.entity_id
          WHERE b2.roi_score IS DISTINCT FROM r.roi_score
          ORDER BY b2.entity_type, b2.entity_id
          FOR NO KEY UPDATE OF b2) AS x
    WHERE b.entity_type = x.entity_type AND b.entity_id = x.entity_id;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END;
$function$;
COMMENT ON FUNCTION public.refresh_roi_scores(timestamp with time zone) IS 'Sets resource_budgets.roi_score to roi_score(KG edges gained, llm tokens spent) over roi_window_bounds(as_of) for every envelope (NULL without spend), in one set-based UPDATE with rows locked in key order. Returns the number of envelopes changed.';

-- define view public.allocation_ranking
CREATE OR REPLACE VIEW public.allocation_ranking AS
SELECT row_number() OVER (ORDER BY b.priority_score DESC, b.entity_type, b.entity_id)
           AS priority_rank,
       b.entity_type,
       b.entity_id,
       b.priority_score,
       l.evidence_strength,
       l.novelty,
       l.strategic_alignment,
       l.community_interest,
       l.assessed_by,
       l.assessed_at,
       b.token_budget,
       w.market_weight,
       public.effective_budget(b.token_budget, w.market_weight) AS effective_token_budget
FROM public.resource_budgets AS b
CROSS JOIN (SELECT p.min_priority_for_market_weight, p.max_market_boost, p.max_market_penalty
            FROM public.economics_policy AS p WHERE p.is_active) AS p
CROSS JOIN LATERAL (SELECT senate.applied_market_weight(
                               b.market_weight, b.priority_score, p.min_priority_for_market_weight,
                               p.max_market_boost, p.max_market_penalty) AS market_weight) AS w
LEFT JOIN LATERAL (
    SELECT s.evidence_strength, s.novelty, s.strategic_alignment, s.community_interest,
           s.assessed_by, s.assessed_at
    FROM public.allocation_signals AS s
    WHERE s.entity_type = b.entity_type AND s.entity_id = b.entity_id
    ORDER BY s.assessed_at DESC, s.signal_id DESC
    LIMIT 1) AS l ON true
ORDER BY b.priority_score DESC, b.entity_type, b.entity_id;
COMMENT ON VIEW public.allocation_ranking IS 'Entities with a budget envelope, ranked by priority_score (highest first; ties by entity_type, entity_id), with the four components of their latest assessment and their effective token budget. Reassignment of reclaimed budget starts at priority_rank 1.';
COMMENT ON COLUMN public.allocation_ranking.priority_rank IS 'Rank, 1 = highest priority_score.';
COMMENT ON COLUMN public.allocation_ranking.entity_type IS 'Kind of entity.';
COMMENT ON COLUMN public.allocation_ranking.entity_id IS 'Entity identifier.';
COMMENT ON COLUMN public.allocation_ranking.priority_score IS 'resource_budgets.priority_score, unitless in [0, 1] (allocation_score of the latest assessment).';
COMMENT ON COLUMN public.allocation_ranking.evidence_strength IS 'Latest assessed evidence_strength, [0, 1]; NULL if never assessed.';
COMMENT ON COLUMN public.allocation_ranking.novelty IS 'Latest assessed novelty, [0, 1]; NULL if never assessed.';
COMMENT ON COLUMN public.allocation_ranking.strategic_alignment IS 'Latest assessed strategic_alignment, [0, 1]; NULL if never assessed.';
COMMENT ON COLUMN public.allocation_ranking.community_interest IS 'Latest assessed community_interest, [0, 1]; NULL if never assessed.';
COMMENT ON COLUMN public.allocation_ranking.assessed_by IS 'Who made the latest assessment.';
COMMENT ON COLUMN public.allocation_ranking.assessed_at IS 'When the latest assessment was made.';
COMMENT ON COLUMN public.allocation_ranking.token_budget IS 'Base token budget per budget period, in tokens.';
COMMENT ON COLUMN public.allocation_ranking.market_weight IS 'Applied market weight (unitless), as in budget_status.';
COMMENT ON COLUMN public.allocation_ranking.effective_token_budget IS 'token_budget * (1 + market_weight), in tokens per budget period.';

-- define view public.roi_leaderboard
CREATE OR REPLACE VIEW public.roi_leaderboard AS
SELECT row_number() OVER (ORDER BY r.roi_score DESC NULLS LAST, r.kg_edges_gained DESC,
                                   r.entity_type, r.entity_id) AS roi_rank,
       r.entity_type,
       r.entity_id,
       w.window_start,
       w.window_end,
       r.roi_score,
       r.kg_edges_gained,
       r.tokens_spent,
       r.papers_added,
       r.hypotheses_improved,
       r.artifact_quality_delta
FROM public.roi_window_bounds(now()) AS w
CROSS JOIN LATERAL public.roi_by_entity(w.window_start, w.window_end) AS r
ORDER BY 1;
COMMENT ON VIEW public.roi_leaderboard IS 'ROI per entity over the current ROI window (roi_window_bounds(now()): the policy roi_window in whole days up to today, policy time zone): KG edges gained per llm token spent, best first (entities with gains but no spend last, ROI NULL). Entities with gains or spend in the window.';
COMMENT ON COLUMN public.roi_leaderboard.roi_rank IS 'Rank, 1 = highest ROI.';
COMMENT ON COLUMN public.roi_leaderboard.entity_type IS 'Kind of entity.';
COMMENT ON COLUMN public.roi_leaderboard.entity_id IS 'Entity identifier.';
COMMENT ON COLUMN public.roi_leaderboard.window_start IS 'First day of the ROI window (policy time zone).';
COMMENT ON COLUMN public.roi_leaderboard.window_end IS 'First day AFTER the ROI window (exclusive bound).';
COMMENT ON COLUMN public.roi_leaderboard.roi_score IS 'kg_edges_gained / tokens_spent, in KG edges per token; NULL without spend.';
COMMENT ON COLUMN public.roi_leaderboard.kg_edges_gained IS 'KG edges gained in the window, in edges.';
COMMENT ON COLUMN public.roi_leaderboard.tokens_spent IS 'LLM tokens spent in the window (all tiers), in tokens.';
COMMENT ON COLUMN public.roi_leaderboard.papers_added IS 'Papers added in the window, in papers.';
COMMENT ON COLUMN public.roi_leaderboard.hypotheses_improved IS 'Hypotheses improved in the window, in hypotheses.';
COMMENT ON COLUMN public.roi_leaderboard.artifact_quality_delta IS 'Net artifact quality change in the window, in quality points.';
