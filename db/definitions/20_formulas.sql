-- db/definitions/20_formulas.sql -- Formulas: allocation_score, effective_budget, roi_score and the per-class budget arithmetic.
--
-- The current definition of each function and view below; the post-apply hook
-- (db/migrations/post-apply_definitions.py) applies an object whenever its text here
-- changes. Each object starts at its '-- define' line. See README, "Adding a migration".

-- define function senate.budget_amount(public.resource_budgets,text)
CREATE OR REPLACE FUNCTION senate.budget_amount(b public.resource_budgets, p_resource_type text)
 RETURNS numeric
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
    SELECT CASE p_resource_type
        WHEN 'llm_tokens' THEN b.token_budget
        WHEN 'cpu_seconds' THEN b.cpu_budget
        WHEN 'storage_gb_hours' THEN b.storage_budget_gb
        WHEN 'api_calls' THEN b.api_call_budget
        WHEN 'usd' THEN b.cost_budget_usd
    END
$function$;
COMMENT ON FUNCTION senate.budget_amount(public.resource_budgets,text) IS 'The base budget of one resource class in a resource_budgets row, in the unit of the class (for usd: cost_budget_usd in USD, NULL when the envelope has no cost budget); NULL for an unknown class.';

-- define function senate.weighted_allocation_score(numeric,numeric,numeric,numeric,numeric,numeric,numeric,numeric)
CREATE OR REPLACE FUNCTION senate.weighted_allocation_score(evidence_strength numeric, novelty numeric, strategic_alignment numeric, community_interest numeric, weight_evidence_strength numeric, weight_novelty numeric, weight_strategic_alignment numeric, weight_community_interest numeric)
 RETURNS numeric
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
    SELECT CASE
        WHEN $1 IS NULL OR $2 IS NULL OR $3 IS NULL OR $4 IS NULL THEN NULL::numeric
        WHEN $1 = 'NaN'::numeric THEN
            senate.refuse_value('22023', 'allocation_score', 'evidence_strength', $1, 'a number in [0, 1]')
        WHEN $1 < 0 OR $1 > 1 THEN
            senate.refuse_value('22003', 'allocation_score', 'evidence_strength', $1, 'a number in [0, 1]')
        WHEN $2 = 'NaN'::numeric THEN
            senate.refuse_value('22023', 'allocation_score', 'novelty', $2, 'a number in [0, 1]')
        WHEN $2 < 0 OR $2 > 1 THEN
            senate.refuse_value('22003', 'allocation_score', 'novelty', $2, 'a number in [0, 1]')
        WHEN $3 = 'NaN'::numeric THEN
            senate.refuse_value('22023', 'allocation_score', 'strategic_alignment', $3, 'a number in [0, 1]')
        WHEN $3 < 0 OR $3 > 1 THEN
            senate.refuse_value('22003', 'allocation_score', 'strategic_alignment', $3, 'a number in [0, 1]')
        WHEN $4 = 'NaN'::numeric THEN
            senate.refuse_value('22023', 'allocation_score', 'community_interest', $4, 'a number in [0, 1]')
        WHEN $4 < 0 OR $4 > 1 THEN
            senate.refuse_value('22003', 'allocation_score', 'community_interest', $4, 'a number in [0, 1]')
        ELSE $5 * $1 + $6 * $2 + $7 * $3 + $8 * $4
    END
$function$;
COMMENT ON FUNCTION senate.weighted_allocation_score(numeric,numeric,numeric,numeric,numeric,numeric,numeric,numeric) IS 'allocation_score with explicit weights (score in [0, 1], unitless). Inlinable: set-based callers read the policy once and pass its weights. Same NULL and error rules as allocation_score.';

-- define function public.allocation_score(numeric,numeric,numeric,numeric,bigint)
CREATE OR REPLACE FUNCTION public.allocation_score(evidence_strength numeric, novelty numeric, strategic_alignment numeric, community_interest numeric, policy_version bigint)
 RETURNS numeric
 LANGUAGE plpgsql
 STABLE PARALLEL SAFE
AS $function$
DECLARE
    p public.economics_policy;
BEGIN
    IF policy_version IS NULL THEN
        RETURN NULL;
    END IF;
    SELECT * INTO p FROM public.economics_policy AS e
    WHERE e.policy_version = allocation_score.policy_version;
    IF NOT FOUND THEN
        PERFORM senate.raise_error('S1001',
            format('allocation_score: economics_policy version %s does not exist', policy_version));
    END IF;
    RETURN senate.weighted_allocation_score(
        evidence_strength, novelty, strategic_alignment, community_interest,
        p.weight_evidence_strength, p.weight_novelty,
        p.weight_strategic_alignment, p.weight_community_interest);
END;
$function$;
COMMENT ON FUNCTION public.allocation_score(numeric,numeric,numeric,numeric,bigint) IS 'Allocation score in [0, 1] (unitless) under a given economics_policy version: w_e*evidence_strength + w_n*novelty + w_s*strategic_alignment + w_c*community_interest. Inputs in [0, 1]; NULL in -> NULL out; out of range -> 22003, NaN -> 22023 (naming the argument); unknown version -> S1001.';

-- define function public.allocation_score(numeric,numeric,numeric,numeric)
CREATE OR REPLACE FUNCTION public.allocation_score(evidence_strength numeric, novelty numeric, strategic_alignment numeric, community_interest numeric)
 RETURNS numeric
 LANGUAGE plpgsql
 STABLE PARALLEL SAFE
AS $function$
DECLARE
    p public.economics_policy;
BEGIN
    SELECT * INTO p FROM public.economics_policy AS e WHERE e.is_active;
    IF NOT FOUND THEN
        PERFORM senate.raise_error('S1002', 'allocation_score: no economics_policy is active');
    END IF;
    RETURN senate.weighted_allocation_score(
        evidence_strength, novelty, strategic_alignment, community_interest,
        p.weight_evidence_strength, p.weight_novelty,
        p.weight_strategic_alignment, p.weight_community_interest);
END;
$function$;
COMMENT ON FUNCTION public.allocation_score(numeric,numeric,numeric,numeric) IS 'Allocation score in [0, 1] (unitless) under the active economics_policy (default 0.35*evidence_strength + 0.25*novelty + 0.20*strategic_alignment + 0.20*community_interest). Inputs in [0, 1]; NULL in -> NULL out; out of range -> 22003, NaN -> 22023 (naming the argument).';

-- define function public.effective_budget(numeric,numeric)
CREATE OR REPLACE FUNCTION public.effective_budget(base_budget numeric, market_weight numeric)
 RETURNS numeric
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
    SELECT CASE
        WHEN $1 IS NULL OR $2 IS NULL THEN NULL::numeric
        WHEN $1 = 'NaN'::numeric THEN
            senate.refuse_value('22023', 'effective_budget', 'base_budget', $1, 'a finite number >= 0')
        WHEN $1 < 0 OR $1 = 'Infinity'::numeric THEN
            senate.refuse_value('22003', 'effective_budget', 'base_budget', $1, 'a finite number >= 0')
        WHEN $2 = 'NaN'::numeric THEN
            senate.refuse_value('22023', 'effective_budget', 'market_weight', $2, 'a finite number >= -1')
        WHEN $2 < -1 OR $2 = 'Infinity'::numeric THEN
            senate.refuse_value('22003', 'effective_budget', 'market_weight', $2, 'a finite number >= -1')
        ELSE $1 * (1 + $2)
    END
$function$;
COMMENT ON FUNCTION public.effective_budget(numeric,numeric) IS 'Effective budget = base_budget * (1 + market_weight), in the unit of the base budget (tokens, CPU-seconds, GB-hours, calls). market_weight = -1 gives 0. base_budget < 0 or market_weight < -1 or infinite -> 22003; NaN -> 22023; NULL in -> NULL out.';

-- define function public.roi_score(numeric,numeric)
CREATE OR REPLACE FUNCTION public.roi_score(kg_edges_gained numeric, tokens_spent numeric)
 RETURNS numeric
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
    SELECT CASE
        WHEN $1 IS NULL OR $2 IS NULL THEN NULL::numeric
        WHEN $1 = 'NaN'::numeric THEN
            senate.refuse_value('22023', 'roi_score', 'kg_edges_gained', $1, 'a finite number >= 0')
        WHEN $1 < 0 OR $1 = 'Infinity'::numeric THEN
            senate.refuse_value('22003', 'roi_score', 'kg_edges_gained', $1, 'a finite number >= 0')
        WHEN $2 = 'NaN'::numeric THEN
            senate.refuse_value('22023', 'roi_score', 'tokens_spent', $2, 'a finite number >= 0')
        WHEN $2 < 0 OR $2 = 'Infinity'::numeric THEN
            senate.refuse_value('22003', 'roi_score', 'tokens_spent', $2, 'a finite number >= 0')
        WHEN $2 = 0 THEN NULL::numeric
        ELSE $1 / $2
    END
$function$;
COMMENT ON FUNCTION public.roi_score(numeric,numeric) IS 'Return on investment = kg_edges_gained / tokens_spent, in KG edges per token. tokens_spent = 0 -> NULL (no spend, no ROI yet); negative or infinite -> 22003; NaN -> 22023; NULL in -> NULL out.';

-- define function senate.applied_market_weight(numeric,numeric,numeric,numeric,numeric)
CREATE OR REPLACE FUNCTION senate.applied_market_weight(p_market_weight numeric, p_priority_score numeric, p_min_priority numeric, p_max_boost numeric, p_max_penalty numeric)
 RETURNS numeric
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
    SELECT CASE WHEN p_priority_score >= p_min_priority
                THEN greatest(-p_max_penalty, least(p_max_boost, p_market_weight))
                ELSE 0::numeric END
$function$;
COMMENT ON FUNCTION senate.applied_market_weight(numeric,numeric,numeric,numeric,numeric) IS 'Market weight as the views apply it (unitless): the stored weight clamped to [-max penalty, max boost], or 0 when priority_score is below the policy threshold.';

-- define function senate.effective_class_budget(public.resource_budgets,text,public.economics_policy)
CREATE OR REPLACE FUNCTION senate.effective_class_budget(b public.resource_budgets, p_resource_type text, p public.economics_policy)
 RETURNS numeric
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
    SELECT public.effective_budget(
        senate.budget_amount(b, p_resource_type),
        senate.applied_market_weight(b.market_weight, b.priority_score,
                                     p.min_priority_for_market_weight, p.max_market_boost,
                                     p.max_market_penalty))
$function$;
COMMENT ON FUNCTION senate.effective_class_budget(public.resource_budgets,text,public.economics_policy) IS 'Effective budget of one resource class of an envelope under a policy, exactly as budget_status computes it: base * (1 + applied market weight), in the unit of the class.';

-- define function senate.derived_daily_allowance(numeric,date,date)
CREATE OR REPLACE FUNCTION senate.derived_daily_allowance(p_effective_budget numeric, p_period_start date, p_period_end date)
 RETURNS numeric
 LANGUAGE sql
 IMMUTABLE PARALLEL SAFE
AS $function$
    SELECT round(p_effective_budget / greatest(p_period_end - p_period_start, 1), 6)
$function$;
COMMENT ON FUNCTION senate.derived_daily_allowance(numeric,date,date) IS 'Default daily allowance: effective budget / days in the budget period [period_start, period_end) (7 for a week, 1 for a day), rounded to 6 decimals, in the unit of the class.';
