-- Why: a deferred proposal must come back for review. When the reviewer gives
-- no revisit date, the policy says how long a deferral lasts; like every
-- other rule, that is versioned policy data, not a constant in code.
--
-- economics_policy holds a handful of rows (one per policy version), so the
-- inline CHECK's validation scan is negligible; the constant default makes the
-- ADD COLUMN itself catalog-only.
SET lock_timeout = '5s';

CALL senate.claim('0022', 'column', 'public.economics_policy', 'deferral_period');
ALTER TABLE public.economics_policy
    ADD COLUMN IF NOT EXISTS deferral_period interval NOT NULL DEFAULT '14 days'
        CONSTRAINT economics_policy_deferral_period_positive
        CHECK (deferral_period > interval '0' AND deferral_period <= interval '366 days');
COMMENT ON COLUMN public.economics_policy.deferral_period IS
  'How long a deferral lasts when the reviewer gives no revisit date: a deferred proposal is '
  'due for review this long after it was deferred (default 14 days, at most 366 days).';
COMMENT ON CONSTRAINT economics_policy_deferral_period_positive ON public.economics_policy IS
  'A deferral lasts more than zero and at most 366 days.';

CALL senate.settle_comments('0022');
