-- Removes only what 0160 added: the throttle_on_forecast setting and its CHECK, the forecast
-- throttle kind (the forecast throttles themselves: their budget_ledger rows, cause throttle,
-- stay as history with the reason in their note); run_daily_check and
-- senate.release_lifted_throttles get back the definitions 0160 saved; the comments 0160
-- changed are put back as 0032 and 0136 left them.
SET lock_timeout = '5s';
DO $$
BEGIN
    PERFORM senate.restore_definitions('0160');
END;
$$;

-- Throttles are history (t10_guard_spend_throttles refuses deletes); the forecast ones go with
-- the kind that admits them. spend_throttles is small and written only by the daily check.
ALTER TABLE public.spend_throttles DISABLE TRIGGER t10_guard_spend_throttles;
DELETE FROM public.spend_throttles WHERE kind = 'forecast';
ALTER TABLE public.spend_throttles ENABLE TRIGGER t10_guard_spend_throttles;
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint AS c
                   WHERE c.conrelid = 'public.spend_throttles'::regclass
                     AND c.conname = 'spend_throttles_kind_check') THEN
        -- squawk-ignore constraint-missing-not-valid
        ALTER TABLE public.spend_throttles ADD CONSTRAINT spend_throttles_kind_check
            CHECK (kind IN ('daily_allowance', 'period_budget'));
    END IF;
END;
$$;
CALL senate.release('0160');

COMMENT ON COLUMN public.spend_throttles.kind IS 'daily_allowance (a day''s spend passed the daily allowance) or period_budget (the period''s spend passed the effective budget).';
COMMENT ON COLUMN public.spend_throttles.allowance IS 'Allowance it passed (daily allowance or effective budget), in the unit of the class.';
COMMENT ON VIEW public.over_budget_and_throttled IS
  'Who is over budget and who is throttled, this budget period (budget_status): every entity and '
  'class that has spent more than its effective budget or is under an active throttle of the '
  'daily check, with its standing (over budget, throttled; over budget, not throttled yet; '
  'throttled, within budget: over a daily allowance). Over budget and throttled first, then over '
  'budget, then throttled only; most over first within each.';
