-- Why: the spec's ROI anchor is KG edges gained per token spent. Atlas writes
-- world-model gains per entity over time into an input table (edges, and the
-- extensions the spec names: papers added, hypotheses improved, artifact
-- quality); tokens spent come from the llm_tokens usage rollups (never a scan
-- of resource_usage). ROI is measured over whole calendar days in the policy
-- time zone so that gains and spend cover exactly the same span:
--   roi_window_bounds(as_of): the ceil(roi_window / 1 day) days ending with
--   as_of's day, half-open [window_start, window_end) with window_end = the day
--   after as_of's day (today so far counts).
-- roi_by_entity(window_start, window_end) measures any window (review cycles
-- compare consecutive windows); refresh_roi_scores(as_of) writes the current
-- window's ROI into resource_budgets.roi_score.
SET lock_timeout = '5s';

CALL senate.claim('0015', 'table', 'public.world_model_gains');
CREATE TABLE IF NOT EXISTS public.world_model_gains (
    gain_id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entity_type             text NOT NULL REFERENCES public.entity_types (entity_type),
    entity_id               text NOT NULL CHECK (length(entity_id) BETWEEN 1 AND 200),
    kg_edges_gained         bigint NOT NULL DEFAULT 0 CHECK (kg_edges_gained >= 0),
    papers_added            integer NOT NULL DEFAULT 0 CHECK (papers_added >= 0),
    hypotheses_improved     integer NOT NULL DEFAULT 0 CHECK (hypotheses_improved >= 0),
    artifact_quality_delta  numeric NOT NULL DEFAULT 0
        CHECK (artifact_quality_delta BETWEEN -1000000 AND 1000000),
    observed_at             timestamptz NOT NULL DEFAULT now(),
    source                  text NOT NULL CHECK (length(source) BETWEEN 1 AND 200)
);
COMMENT ON TABLE public.world_model_gains IS
  'World-model gains per entity over time, written by Atlas: the numerator of ROI. One row per '
  'observation; gains in a window are summed.';
COMMENT ON COLUMN public.world_model_gains.gain_id IS 'Surrogate key, order of recording.';
COMMENT ON COLUMN public.world_model_gains.entity_type IS 'Kind of entity credited (see entity_types).';
COMMENT ON COLUMN public.world_model_gains.entity_id IS 'Identifier of the entity credited.';
COMMENT ON COLUMN public.world_model_gains.kg_edges_gained IS 'Knowledge-graph edges added, in edges (>= 0). The ROI anchor.';
COMMENT ON COLUMN public.world_model_gains.papers_added IS 'Papers added to the world model, in papers (>= 0).';
COMMENT ON COLUMN public.world_model_gains.hypotheses_improved IS 'Hypotheses improved, in hypotheses (>= 0).';
COMMENT ON COLUMN public.world_model_gains.artifact_quality_delta IS 'Change in artifact quality score, in quality points (may be negative).';
COMMENT ON COLUMN public.world_model_gains.observed_at IS 'When Atlas observed the gain; decides its ROI window day (policy time zone).';
COMMENT ON COLUMN public.world_model_gains.source IS 'Which Atlas process reported the gain.';

CALL senate.claim('0015', 'index', 'public.world_model_gains_entity_idx');
CREATE INDEX IF NOT EXISTS world_model_gains_entity_idx
    ON public.world_model_gains (entity_type, entity_id, observed_at);
CALL senate.claim('0015', 'index', 'public.world_model_gains_observed_idx');
CREATE INDEX IF NOT EXISTS world_model_gains_observed_idx
    ON public.world_model_gains (observed_at);
COMMENT ON INDEX public.world_model_gains_entity_idx IS 'Gains of one entity in a window.';
COMMENT ON INDEX public.world_model_gains_observed_idx IS 'Gains of all entities in a window.';

CREATE OR REPLACE FUNCTION public.roi_window_bounds(as_of timestamptz DEFAULT now())
RETURNS TABLE (window_start date, window_end date, starts_at timestamptz, ends_at timestamptz)
LANGUAGE sql STABLE PARALLEL SAFE ROWS 1
AS $$
    SELECT w.window_end - w.days, w.window_end,
           (w.window_end - w.days)::timestamp AT TIME ZONE w.time_zone,
           w.window_end::timestamp AT TIME ZONE w.time_zone
    FROM (SELECT (as_of AT TIME ZONE a.time_zone)::date + 1 AS window_end,
                 greatest(1, ceil(extract(epoch FROM a.roi_window) / 86400))::integer AS days,
                 a.time_zone
          FROM (SELECT coalesce(max(p.time_zone), 'UTC') AS time_zone,
                       coalesce(max(p.roi_window), interval '7 days') AS roi_window
                FROM public.economics_policy AS p WHERE p.is_active) AS a) AS w
$$;
COMMENT ON FUNCTION public.roi_window_bounds(timestamptz) IS
  'The ROI window ending with as_of''s day under the active policy: the ceil(roi_window / 1 day) '
  'calendar days (policy time zone) up to and including as_of''s day. Half-open: [window_start, '
  'window_end) as dates, [starts_at, ends_at) as instants. One row (an inlinable SQL function).';

CREATE OR REPLACE FUNCTION public.roi_by_entity(window_start date, window_end date)
RETURNS TABLE (
    entity_type text, entity_id text, kg_edges_gained numeric, papers_added bigint,
    hypotheses_improved bigint, artifact_quality_delta numeric, tokens_spent numeric,
    roi_score numeric)
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
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
$$;
COMMENT ON FUNCTION public.roi_by_entity(date, date) IS
  'World-model gains (edges, papers, hypotheses, quality points) and llm tokens spent per entity '
  'over the days [window_start, window_end) in the policy time zone, with roi_score = '
  'kg_edges_gained / tokens_spent (KG edges per token; NULL without spend). Entities with gains '
  'or spend in the window. Reads senate.usage_rollups, not resource_usage.';

CREATE OR REPLACE FUNCTION public.refresh_roi_scores(as_of timestamptz DEFAULT now())
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
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
$$;
COMMENT ON FUNCTION public.refresh_roi_scores(timestamptz) IS
  'Sets resource_budgets.roi_score to roi_score(KG edges gained, llm tokens spent) over '
  'roi_window_bounds(as_of) for every envelope (NULL without spend), in one set-based UPDATE with '
  'rows locked in key order. Returns the number of envelopes changed.';

CALL senate.settle_comments('0015');
