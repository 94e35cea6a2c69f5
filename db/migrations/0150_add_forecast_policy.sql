-- Why (issue 18, points 1 and 2, "Runway" and "Forecast alerts"): how a budget's runway is
-- estimated and when a projection alerts is policy, and policy is data
-- (adopt_economics_policy copies every column, 0019). Two versioned settings:
--   * forecast_window_days: the complete days before today whose daily spend the runway
--     estimator reads (budget_forecast, 0151), 3..90, default 14;
--   * forecast_alert_thresholds: fractions of the effective budget that the PROJECTED spend at
--     period end must reach for a forecast alert (once per threshold per period, 0152), 1 to
--     10 values each in (0, 10], default {1.0}.
-- Constant defaults: the ADD COLUMNs are catalog-only; each CHECK scans a handful of rows
-- (one per policy version). A bad value is refused with 23514 naming the column (the
-- constraint is named after it), and nothing is written.
SET lock_timeout = '5s';

CALL senate.claim('0150', 'column', 'public.economics_policy', 'forecast_window_days');
ALTER TABLE public.economics_policy
    ADD COLUMN IF NOT EXISTS forecast_window_days integer NOT NULL DEFAULT 14
        CONSTRAINT economics_policy_forecast_window_days_range
        CHECK (forecast_window_days BETWEEN 3 AND 90);
CALL senate.claim('0150', 'column', 'public.economics_policy', 'forecast_alert_thresholds');
ALTER TABLE public.economics_policy
    ADD COLUMN IF NOT EXISTS forecast_alert_thresholds numeric[] NOT NULL DEFAULT '{1.0}'
        CONSTRAINT economics_policy_forecast_alert_thresholds_range
        CHECK (cardinality(forecast_alert_thresholds) BETWEEN 1 AND 10
               AND array_ndims(forecast_alert_thresholds) = 1
               AND array_position(forecast_alert_thresholds, NULL) IS NULL
               AND 0 < ALL (forecast_alert_thresholds)
               AND 10 >= ALL (forecast_alert_thresholds));

COMMENT ON COLUMN public.economics_policy.forecast_window_days IS
  'Runway estimator window, in days: the daily spend rate of budget_forecast is the trimmed mean '
  'of the daily spend over this many complete days before today (3..90, default 14).';
COMMENT ON COLUMN public.economics_policy.forecast_alert_thresholds IS
  'Fractions of the effective budget (1.0 = 100 %) at which a forecast alert fires when the '
  'projected spend at period end reaches them, once per threshold per period (1 to 10 values, '
  'each in (0, 10]; default {1.0}).';
COMMENT ON CONSTRAINT economics_policy_forecast_window_days_range ON public.economics_policy IS
  'The runway estimator reads 3 to 90 complete days.';
COMMENT ON CONSTRAINT economics_policy_forecast_alert_thresholds_range ON public.economics_policy IS
  '1 to 10 thresholds, a flat array without NULLs, each > 0 and <= 10 (NaN is refused: it is '
  'above 10).';

CALL senate.settle_comments('0150');
