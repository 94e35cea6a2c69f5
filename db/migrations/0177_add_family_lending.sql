-- Why (issue 19, point 4 "Lending inside the family"): the weekly rebalance reclaimed idle
-- budget into the reserve and reassigned it straight to the global ranking, so a gap's idle
-- analysis funded strangers while its siblings starved. Now the reclaimed idle budget is first
-- reassigned inside each family (siblings and cousins under the same root), within two policy
-- limits, then the rest goes to the global ranking as before:
--   * family_lending_limit: at most this fraction of an idle member's envelope (of the class)
--     goes to its family per rebalance (default 0.25, the default max_rebalance_step: all of an
--     idle step may stay in the family); 0 turns lending off;
--   * family_borrowing_limit: a member takes at most this fraction of its own envelope from its
--     family per rebalance (default 0.25).
-- A family's lendable budget is split fairly among its borrowers, not first-come: equal shares,
-- each capped by its borrowing limit, what a capped member cannot take going to the others
-- (water-filling, the max-min fair split). The moves are rebalance_changes rows of the rule
-- family_lending (the reason CHECK below), counted in rebalance_runs.family_loans; the money
-- still passes through the reserve (idle_reclaim in, family_lending out), so budgets + reserve
-- stay equal per class. A deployment with no tree has no family and sees no change.
SET lock_timeout = '5s';

CALL senate.claim('0177', 'column', 'public.economics_policy', 'family_lending_limit');
ALTER TABLE public.economics_policy
    ADD COLUMN IF NOT EXISTS family_lending_limit numeric NOT NULL DEFAULT 0.25
        CONSTRAINT economics_policy_family_lending_limit_range
        CHECK (family_lending_limit >= 0 AND family_lending_limit <= 1);
CALL senate.claim('0177', 'column', 'public.economics_policy', 'family_borrowing_limit');
ALTER TABLE public.economics_policy
    ADD COLUMN IF NOT EXISTS family_borrowing_limit numeric NOT NULL DEFAULT 0.25
        CONSTRAINT economics_policy_family_borrowing_limit_range
        CHECK (family_borrowing_limit >= 0 AND family_borrowing_limit <= 1);
COMMENT ON COLUMN public.economics_policy.family_lending_limit IS
  'Fraction (0..1) of an idle family member''s envelope of a class that the weekly rebalance may '
  'reassign inside its family (siblings and cousins under the same root) before the global '
  'ranking, per rebalance; never more than its idle reclaim step (max_rebalance_step). Default '
  '0.25; 0 turns family lending off.';
COMMENT ON COLUMN public.economics_policy.family_borrowing_limit IS
  'Fraction (0..1) of its own envelope of a class that a family member may receive from its '
  'family''s idle budget per rebalance (the cap of its fair share). Default 0.25.';
COMMENT ON CONSTRAINT economics_policy_family_lending_limit_range ON public.economics_policy IS
  'A fraction of the envelope, 0 to 1 (NaN is refused: it is above 1).';
COMMENT ON CONSTRAINT economics_policy_family_borrowing_limit_range ON public.economics_policy IS
  'A fraction of the envelope, 0 to 1 (NaN is refused: it is above 1).';

CALL senate.claim('0177', 'column', 'public.rebalance_runs', 'family_loans');
ALTER TABLE public.rebalance_runs
    ADD COLUMN IF NOT EXISTS family_loans integer NOT NULL DEFAULT 0
        CONSTRAINT rebalance_runs_family_loans_check CHECK (family_loans >= 0);
COMMENT ON COLUMN public.rebalance_runs.family_loans IS
  'Envelopes and classes that received idle budget of their family (rule family_lending), a count.';

-- The rule's name in the plan. rebalance_changes is the project's own table, append-only,
-- written once a week (a few hundred rows per run): the check is replaced and validated at once.
-- squawk-ignore ban-drop-constraint
ALTER TABLE public.rebalance_changes DROP CONSTRAINT IF EXISTS rebalance_changes_reason_check;
ALTER TABLE public.rebalance_changes
    ADD CONSTRAINT rebalance_changes_reason_check
    CHECK (reason IN ('idle_reclaim', 'sustained_low_roi', 'strong_roi_market_support',
                      'family_lending', 'reassigned_idle_budget', 'reserve')) NOT VALID;
-- squawk-ignore constraint-missing-not-valid
ALTER TABLE public.rebalance_changes VALIDATE CONSTRAINT rebalance_changes_reason_check;
COMMENT ON COLUMN public.rebalance_changes.reason IS 'Rule: idle_reclaim, sustained_low_roi, strong_roi_market_support, family_lending (idle budget of its family, before the global ranking), reassigned_idle_budget, or reserve (the reserve''s net change).';

CALL senate.settle_comments('0177');
