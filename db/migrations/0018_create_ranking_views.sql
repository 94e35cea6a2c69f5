-- Why: the Senate ranks entities when budgets are scarce (allocation_ranking: who
-- gets reclaimed budget first, and why) and reviews yield (roi_leaderboard: KG
-- edges gained per token over the policy ROI window). Both are views so that any
-- service or analyst reads the same figures the review cycles act on.
-- allocation_ranking follows the ranking index of resource_budgets and looks up
-- the latest assessment per listed entity (one index probe each), so "top N" reads
-- stop after N entities. roi_leaderboard measures the current ROI window live from
-- world_model_gains and the llm_tokens usage rollups (roi_by_entity).
-- Column order is a contract: later migrations may only APPEND columns.
SET lock_timeout = '5s';

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
COMMENT ON VIEW public.allocation_ranking IS
  'Entities with a budget envelope, ranked by priority_score (highest first; ties by entity_type, '
  'entity_id), with the four components of their latest assessment and their effective token '
  'budget. Reassignment of reclaimed budget starts at priority_rank 1.';
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
COMMENT ON VIEW public.roi_leaderboard IS
  'ROI per entity over the current ROI window (roi_window_bounds(now()): the policy roi_window in '
  'whole days up to today, policy time zone): KG edges gained per llm token spent, best first '
  '(entities with gains but no spend last, ROI NULL). Entities with gains or spend in the window.';
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
