-- Why: the spec's three formulas must live in the database so that every
-- service, view and review cycle computes them the same way:
--   allocation_score = w_e*evidence_strength + w_n*novelty
--                      + w_s*strategic_alignment + w_c*community_interest
--                      (weights from the active economics_policy: 0.35/0.25/0.20/0.20)
--   effective_budget = base_budget * (1 + market_weight)
--   roi_score        = kg_edges_gained / tokens_spent
-- Bad inputs are refused with standard SQLSTATEs that name the argument:
-- 22003 (numeric_value_out_of_range) for out-of-range values and infinities,
-- 22023 (invalid_parameter_value) for NaN. NULL in gives NULL out. The argument's
-- name is in the message and, machine-readably, in the error's COLUMN field.
--
-- The pure formulas are LANGUAGE sql and IMMUTABLE so the planner inlines them
-- into set-based queries (views, refresh functions): no per-row function call.
-- senate.refuse_value() is IMMUTABLE on purpose (same input, same error) so it
-- does not prevent that inlining; it is only ever called with the offending
-- input as an argument, so it can be constant-folded only when the input is.
SET lock_timeout = '5s';

INSERT INTO senate.error_codes (sqlstate, error_name, meaning, hint) VALUES
  ('S1001', 'policy_not_found',
   'The economics_policy version named does not exist.',
   'List the versions with SELECT policy_version, is_active FROM economics_policy.'),
  ('S1002', 'no_active_policy',
   'No economics_policy row is active.',
   'Adopt a policy with adopt_economics_policy(); exactly one version must be active.')
ON CONFLICT (sqlstate) DO NOTHING;

CREATE OR REPLACE FUNCTION senate.refuse_value(
    p_sqlstate text, p_function text, p_argument text, p_value numeric, p_expected text)
RETURNS numeric
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
    RAISE EXCEPTION USING
        ERRCODE = p_sqlstate,
        MESSAGE = format('%s: %s = %s is not allowed', p_function, p_argument,
                         coalesce(p_value::text, 'NULL')),
        COLUMN  = p_argument,
        DETAIL  = format('%s must be %s.', p_argument, p_expected),
        HINT    = format('Pass %s as %s.', p_argument, p_expected);
END;
$$;
COMMENT ON FUNCTION senate.refuse_value(text, text, text, numeric, text) IS
  'Raises SQLSTATE p_sqlstate naming the function, the argument and its value (never returns); '
  'the argument name is also in the error''s COLUMN field (psycopg: diag.column_name). '
  'IMMUTABLE so that the SQL formulas calling it stay inlinable.';

-- Weighted score with explicit weights: the one place the formula is written.
CREATE OR REPLACE FUNCTION senate.weighted_allocation_score(
    evidence_strength numeric, novelty numeric, strategic_alignment numeric,
    community_interest numeric, weight_evidence_strength numeric, weight_novelty numeric,
    weight_strategic_alignment numeric, weight_community_interest numeric)
RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
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
$$;
COMMENT ON FUNCTION senate.weighted_allocation_score(numeric, numeric, numeric, numeric, numeric, numeric, numeric, numeric) IS
  'allocation_score with explicit weights (score in [0, 1], unitless). Inlinable: set-based '
  'callers read the policy once and pass its weights. Same NULL and error rules as allocation_score.';

CREATE OR REPLACE FUNCTION public.allocation_score(
    evidence_strength numeric, novelty numeric, strategic_alignment numeric,
    community_interest numeric, policy_version bigint)
RETURNS numeric
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
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
$$;
COMMENT ON FUNCTION public.allocation_score(numeric, numeric, numeric, numeric, bigint) IS
  'Allocation score in [0, 1] (unitless) under a given economics_policy version: '
  'w_e*evidence_strength + w_n*novelty + w_s*strategic_alignment + w_c*community_interest. '
  'Inputs in [0, 1]; NULL in -> NULL out; out of range -> 22003, NaN -> 22023 (naming the '
  'argument); unknown version -> S1001.';

CREATE OR REPLACE FUNCTION public.allocation_score(
    evidence_strength numeric, novelty numeric, strategic_alignment numeric,
    community_interest numeric)
RETURNS numeric
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
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
$$;
COMMENT ON FUNCTION public.allocation_score(numeric, numeric, numeric, numeric) IS
  'Allocation score in [0, 1] (unitless) under the active economics_policy (default '
  '0.35*evidence_strength + 0.25*novelty + 0.20*strategic_alignment + 0.20*community_interest). '
  'Inputs in [0, 1]; NULL in -> NULL out; out of range -> 22003, NaN -> 22023 (naming the argument).';

CREATE OR REPLACE FUNCTION public.effective_budget(base_budget numeric, market_weight numeric)
RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
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
$$;
COMMENT ON FUNCTION public.effective_budget(numeric, numeric) IS
  'Effective budget = base_budget * (1 + market_weight), in the unit of the base budget '
  '(tokens, CPU-seconds, GB-hours, calls). market_weight = -1 gives 0. base_budget < 0 or '
  'market_weight < -1 or infinite -> 22003; NaN -> 22023; NULL in -> NULL out.';

CREATE OR REPLACE FUNCTION public.roi_score(kg_edges_gained numeric, tokens_spent numeric)
RETURNS numeric
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
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
$$;
COMMENT ON FUNCTION public.roi_score(numeric, numeric) IS
  'Return on investment = kg_edges_gained / tokens_spent, in KG edges per token. '
  'tokens_spent = 0 -> NULL (no spend, no ROI yet); negative or infinite -> 22003; NaN -> 22023; '
  'NULL in -> NULL out.';
