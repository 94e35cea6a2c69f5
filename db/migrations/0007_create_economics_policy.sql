-- Why: the Senate's weights, thresholds, caps, windows and quorum are policy,
-- and policy is data. A change of policy is a new row saying who and why;
-- old rows stay as history; exactly one row is active. Proposals record the
-- version in force when they were filed, so a later change never alters how
-- an earlier proposal is judged.
SET lock_timeout = '5s';

CALL senate.claim('0007', 'table', 'public.economics_policy');
CREATE TABLE IF NOT EXISTS public.economics_policy (
    policy_version                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    is_active                       boolean NOT NULL DEFAULT false,
    weight_evidence_strength        numeric NOT NULL DEFAULT 0.35 CHECK (weight_evidence_strength BETWEEN 0 AND 1),
    weight_novelty                  numeric NOT NULL DEFAULT 0.25 CHECK (weight_novelty BETWEEN 0 AND 1),
    weight_strategic_alignment      numeric NOT NULL DEFAULT 0.20 CHECK (weight_strategic_alignment BETWEEN 0 AND 1),
    weight_community_interest       numeric NOT NULL DEFAULT 0.20 CHECK (weight_community_interest BETWEEN 0 AND 1),
    min_priority_for_market_weight  numeric NOT NULL DEFAULT 0.5 CHECK (min_priority_for_market_weight BETWEEN 0 AND 1),
    max_market_boost                numeric NOT NULL DEFAULT 0.5 CHECK (max_market_boost BETWEEN 0 AND 10),
    max_market_penalty              numeric NOT NULL DEFAULT 0.5 CHECK (max_market_penalty BETWEEN 0 AND 1),
    market_signal_window            interval NOT NULL DEFAULT '7 days' CHECK (market_signal_window > interval '0'),
    market_support_threshold        numeric NOT NULL DEFAULT 0.1 CHECK (market_support_threshold BETWEEN -1 AND 10),
    roi_window                      interval NOT NULL DEFAULT '7 days' CHECK (roi_window > interval '0'),
    roi_low_threshold               numeric NOT NULL DEFAULT 0.0001 CHECK (roi_low_threshold >= 0),
    roi_high_threshold              numeric NOT NULL DEFAULT 0.001 CHECK (roi_high_threshold >= 0),
    low_roi_windows                 integer NOT NULL DEFAULT 2 CHECK (low_roi_windows BETWEEN 1 AND 52),
    idle_window                     interval NOT NULL DEFAULT '7 days' CHECK (idle_window > interval '0'),
    max_rebalance_step              numeric NOT NULL DEFAULT 0.25 CHECK (max_rebalance_step > 0 AND max_rebalance_step <= 1),
    quorum                          integer NOT NULL DEFAULT 3 CHECK (quorum BETWEEN 1 AND 1000),
    alert_thresholds                numeric[] NOT NULL DEFAULT '{0.8,1.0}'
        CHECK (cardinality(alert_thresholds) BETWEEN 1 AND 10 AND 0 < ALL (alert_thresholds)),
    budget_period                   text NOT NULL DEFAULT 'week' CHECK (budget_period IN ('day', 'week')),
    time_zone                       text NOT NULL DEFAULT 'UTC' CHECK (length(time_zone) BETWEEN 1 AND 64),
    created_at                      timestamptz NOT NULL DEFAULT now(),
    created_by                      text NOT NULL CHECK (length(created_by) BETWEEN 1 AND 200),
    reason                          text NOT NULL CHECK (length(btrim(reason)) BETWEEN 1 AND 2000),
    CONSTRAINT economics_policy_weights_sum_to_one CHECK (
        weight_evidence_strength + weight_novelty + weight_strategic_alignment
        + weight_community_interest = 1),
    CONSTRAINT economics_policy_roi_thresholds_ordered CHECK (roi_low_threshold <= roi_high_threshold)
);
CALL senate.claim('0007', 'index', 'public.economics_policy_one_active_idx');
CREATE UNIQUE INDEX IF NOT EXISTS economics_policy_one_active_idx
    ON public.economics_policy ((true)) WHERE is_active;
COMMENT ON INDEX public.economics_policy_one_active_idx IS 'At most one active policy row.';

COMMENT ON TABLE public.economics_policy IS
  'Senate economics policy, versioned: weights, thresholds, caps, windows, quorum. A change is a '
  'new row with created_by and reason; history is kept; exactly one row is active.';
COMMENT ON COLUMN public.economics_policy.policy_version IS 'Version number of this policy (increasing).';
COMMENT ON COLUMN public.economics_policy.is_active IS 'True for the one policy in force.';
COMMENT ON COLUMN public.economics_policy.weight_evidence_strength IS 'Weight of evidence_strength in allocation_score (default 0.35).';
COMMENT ON COLUMN public.economics_policy.weight_novelty IS 'Weight of novelty in allocation_score (default 0.25).';
COMMENT ON COLUMN public.economics_policy.weight_strategic_alignment IS 'Weight of strategic_alignment in allocation_score (default 0.20).';
COMMENT ON COLUMN public.economics_policy.weight_community_interest IS 'Weight of community_interest in allocation_score (default 0.20).';
COMMENT ON COLUMN public.economics_policy.min_priority_for_market_weight IS 'Minimum priority_score an entity needs before any market weight applies to it.';
COMMENT ON COLUMN public.economics_policy.max_market_boost IS 'Largest market_weight allowed (cap on market-driven budget increase, as a fraction of base budget).';
COMMENT ON COLUMN public.economics_policy.max_market_penalty IS 'Largest market-driven reduction, as a fraction of base budget (market_weight >= -max_market_penalty).';
COMMENT ON COLUMN public.economics_policy.market_signal_window IS 'How far back market signals count when deriving market_weight.';
COMMENT ON COLUMN public.economics_policy.market_support_threshold IS 'market_weight at or above which an entity counts as having strong market support in rebalances.';
COMMENT ON COLUMN public.economics_policy.roi_window IS 'Length of one ROI review window.';
COMMENT ON COLUMN public.economics_policy.roi_low_threshold IS 'ROI (KG edges per token) below which a window counts as low-yield.';
COMMENT ON COLUMN public.economics_policy.roi_high_threshold IS 'ROI (KG edges per token) at or above which a window counts as strong.';
COMMENT ON COLUMN public.economics_policy.low_roi_windows IS 'Consecutive low-ROI windows after which an entity''s budget is capped or reduced.';
COMMENT ON COLUMN public.economics_policy.idle_window IS 'An entity with budget but no spend for this long is idle; its budget is reclaimed.';
COMMENT ON COLUMN public.economics_policy.max_rebalance_step IS 'Largest budget change one rebalance may make, as a fraction of the current budget.';
COMMENT ON COLUMN public.economics_policy.quorum IS 'Minimum number of non-abstaining votes before a proposal can be approved.';
COMMENT ON COLUMN public.economics_policy.alert_thresholds IS 'Fractions of the effective budget at which a spend alert fires (once per period each).';
COMMENT ON COLUMN public.economics_policy.budget_period IS 'Period a budget envelope applies over: day or week (calendar-aligned in time_zone).';
COMMENT ON COLUMN public.economics_policy.time_zone IS 'Time zone (IANA name) in which days and weeks begin; set once at install.';
COMMENT ON COLUMN public.economics_policy.created_at IS 'When this policy version was adopted.';
COMMENT ON COLUMN public.economics_policy.created_by IS 'Who adopted this policy version.';
COMMENT ON COLUMN public.economics_policy.reason IS 'Why this policy version was adopted.';

INSERT INTO public.economics_policy (is_active, created_by, reason)
SELECT true, 'senate-db migration 0007', 'Initial policy from the framework spec.'
WHERE NOT EXISTS (SELECT 1 FROM public.economics_policy);

CREATE OR REPLACE FUNCTION public.active_economics_policy()
RETURNS public.economics_policy
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT p FROM public.economics_policy AS p WHERE p.is_active
$$;
COMMENT ON FUNCTION public.active_economics_policy() IS
  'The economics_policy row in force (exactly one is active).';

CALL senate.settle_comments('0007');
