-- Why (issue 18, point 2, "a policy may throttle on forecast (off by default)"): a forecast
-- alert (0152) tells someone; a policy may also act on it. With
-- economics_policy.throttle_on_forecast on, the daily check throttles an envelope and class
-- whose runway says runs_out (budget_forecast: at the estimated rate the projected spend at
-- period end reaches the effective budget before it is spent) exactly as it throttles a
-- period overspend: a spend_throttles row, now of kind 'forecast' (the distinct cause; its
-- budget_ledger row, cause throttle, carries the reason starting 'forecast:'), which makes
-- can_spend refuse and reserve_spend raise S3002 for that class until it is released.
--
-- A forecast throttle holds at most for the budget period (throttled_until = period end) and
-- is released, by the daily check or in the transaction of a budget rise, when
--   * the period ended (as every throttle), or
--   * the projection, re-measured at the release time (budget_forecast_as_of), is within the
--     effective budget again (the budget or market weight rose, or the rate fell), or
--   * the policy no longer throttles on forecast (throttle_on_forecast turned off).
-- The release is measured at the start of the checked day and the throttle at its end; the
-- projection only falls during a day (the same window, less time left), so a throttle is not
-- released and placed again on the same evidence.
--
-- Off by default: with the default policy run_daily_check does exactly what 0152's did (the
-- forecast branch is behind a one-time filter on the policy flag).
--
-- The policy CHECK: throttling on a forecast needs a window of at least 7 days. A shorter
-- window sees only some days of the week (three days read on a Monday are Friday to Sunday),
-- so its rate depends on the weekday it is read on; that is tolerable for an alert, not for a
-- throttle that stops spend. Refused with 23514 naming the constraint, nothing written.
--
-- spend_throttles is small (a few rows per entity and period) and written only by the daily
-- check; its kind CHECK is replaced by one that also admits 'forecast'. Functions replaced
-- here (their previous bodies are saved for the rollback): run_daily_check (0152) and
-- senate.release_lifted_throttles (0032).
-- The replaced bodies of run_daily_check and senate.release_lifted_throttles are in
-- db/definitions (80_review_cycles.sql, 50_spend_gate.sql); this migration saves the previous
-- ones (senate.save_definition) so that its rollback restores them.
SET lock_timeout = '5s';

CALL senate.claim('0160', 'column', 'public.economics_policy', 'throttle_on_forecast');
ALTER TABLE public.economics_policy
    ADD COLUMN IF NOT EXISTS throttle_on_forecast boolean NOT NULL DEFAULT false;
CALL senate.claim('0160', 'constraint', 'public.economics_policy',
                  'economics_policy_throttle_on_forecast_needs_a_week');
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint AS c
                   WHERE c.conrelid = 'public.economics_policy'::regclass
                     AND c.conname = 'economics_policy_throttle_on_forecast_needs_a_week') THEN
        -- One row per policy version, all false by the default: the validating scan is instant.
        -- squawk-ignore constraint-missing-not-valid
        ALTER TABLE public.economics_policy
            ADD CONSTRAINT economics_policy_throttle_on_forecast_needs_a_week
            CHECK (NOT throttle_on_forecast OR forecast_window_days >= 7);
    END IF;
END;
$$;
COMMENT ON COLUMN public.economics_policy.throttle_on_forecast IS
  'Whether the daily check also throttles an envelope and class whose runway says runs_out '
  '(budget_forecast: projected spend at period end >= effective budget while spent is below it): '
  'a spend_throttles row of kind forecast, until the period ends or the projection is within the '
  'budget again. Off by default (forecast alerts only). Needs forecast_window_days >= 7.';
COMMENT ON CONSTRAINT economics_policy_throttle_on_forecast_needs_a_week ON public.economics_policy IS
  'Throttling on a forecast needs a window of at least 7 days (a window shorter than a week '
  'sees only some weekdays, so its rate depends on the day it is read).';

-- The throttle kinds, with forecast.
CALL senate.claim('0160', 'constraint', 'public.spend_throttles', 'spend_throttles_kind_known');
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_constraint AS c
                   WHERE c.conrelid = 'public.spend_throttles'::regclass
                     AND c.conname = 'spend_throttles_kind_known') THEN
        -- A few rows per entity and period, all of the two old kinds: the scan is instant.
        -- squawk-ignore constraint-missing-not-valid
        ALTER TABLE public.spend_throttles ADD CONSTRAINT spend_throttles_kind_known
            CHECK (kind IN ('daily_allowance', 'period_budget', 'forecast'));
    END IF;
END;
$$;
-- squawk-ignore ban-drop-constraint
ALTER TABLE public.spend_throttles DROP CONSTRAINT IF EXISTS spend_throttles_kind_check;
COMMENT ON CONSTRAINT spend_throttles_kind_known ON public.spend_throttles IS
  'kind is daily_allowance, period_budget or forecast.';
COMMENT ON COLUMN public.spend_throttles.kind IS
  'daily_allowance (a day''s spend passed the daily allowance), period_budget (the period''s '
  'spend passed the effective budget) or forecast (the projected spend at period end reached '
  'the effective budget, with economics_policy.throttle_on_forecast on).';
COMMENT ON COLUMN public.spend_throttles.allowance IS
  'Allowance it passed (daily allowance or effective budget; for forecast the effective budget '
  'the projection reached), in the unit of the class.';
DO $$
BEGIN
    PERFORM senate.save_definition('0160', 'senate.release_lifted_throttles(text[], text[], timestamptz)');
    PERFORM senate.save_definition('0160', 'public.run_daily_check(date)');
END;
$$;

-- Releases the unreleased throttles of the listed entities (parallel arrays; both NULL:
-- every entity) whose window ended by p_as_of, or whose window's spend is now within the
-- allowance (budget, market weight or explicit allowance rose), or, for a forecast throttle,
-- whose projection at p_as_of is within the effective budget again or whose policy no longer
-- throttles on forecast. Rows are locked in throttle_id order. Returns the released throttles.
DO $$
BEGIN
    PERFORM senate.grant_role_privileges();
END;
$$;

CALL senate.settle_comments('0160');
