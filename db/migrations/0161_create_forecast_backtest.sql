-- Why (issue 18, point 3, "How good is the forecast"): a runway (budget_forecast, 0151) is
-- only as useful as it is right. forecast_backtest(from_day, to_day) replays the runway
-- estimator over history: for every day d of the range whose budget period has ended, the
-- forecast it would have made at the start of d, for every entity and class with spend, against
-- what that period actually spent; errors per resource class, entity kind and day of period.
-- It reads senate.usage_rollups only (one range of days), never resource_usage.
--
-- The forecast made at the start of day d (00:00 in the policy time zone), with the policy as
-- it is now (budget_period, time_zone, forecast_window_days):
--   rate      = budget_forecast's estimator on the N complete days [d - N, d): trimmed mean,
--               k = greatest(1, N / 7) lowest and highest days dropped, days floored at 0;
--   spent     = spend of the period's days before d;
--   projected = spent + rate x remaining_days (period end - d, in days of 24 hours);
--   actual    = spend of the whole period;  error e = projected - actual.
-- That is budget_forecast_as_of(d 00:00) without the look-ahead (at 00:00 day d has no spend
-- yet). Points where both projected and actual are 0 carry nothing and are left out.
-- Per group:
--   wape   = sum |e| / sum actual             (weighted absolute percentage error, fraction)
--   bias   = sum e / sum actual               (> 0: the forecast over-projects, fraction)
--   mape   = mean of |e| / actual, actual > 0 (mean absolute percentage error, fraction)
--   median_ape = median of |e| / actual, actual > 0
--   mean_abs_error = mean |e|, in the unit of the class
-- Fractions: 1 = 100 %. Groups never pool resource classes (their units differ).
--
-- Cost: one range scan of the rollups over the days [first forecast day - N, last period end),
-- one row per entity, class and day of that span (0 when no spend), one sort of N values per
-- forecast: linear in entities x classes x days. On the default demo economy (520 entities,
-- 3 weeks scored, ~37 000 forecasts) it takes about 0.8 s. Readers may call it (it is
-- SECURITY INVOKER and reads only the rollups).
--
-- Also the report's runway section (senate_report_runway): the envelopes closest to running out
-- this period, from budget_forecast, rounded for reading like the other report views (0141).
-- forecast_backtest and senate_report_runway are defined in db/definitions (55_runway.sql,
-- 90_reports.sql); this migration registers their grants and its rollback drops them.
SET lock_timeout = '5s';

INSERT INTO senate.error_codes (sqlstate, error_name, meaning, hint) VALUES
  ('S3009', 'backtest_range_invalid',
   'forecast_backtest was given a range whose first day is after its last, or longer than 366 '
   'days.',
   'Pass from_day <= to_day, at most 366 days apart, up to today (policy time zone).')
ON CONFLICT (sqlstate) DO NOTHING;

-- The report's runway section: the envelopes closest to running out this period. Its columns
-- do not move with the clock within a day (spent and the rate are per day; runway_days is
-- counted from them), except the runs-out hour and the projected percentage, which change
-- by the second only at a rounding boundary.
INSERT INTO senate.function_access
    (function_name, granted_to, security_definer, revoke_from_public, description) VALUES
  ('public.forecast_backtest', '{senate_reader}', false, false,
   'Read over the rollups (the runway backtest); readers may read them.')
ON CONFLICT (function_name) DO NOTHING;

INSERT INTO senate.table_access (relation_name, role_name, privilege) VALUES
  ('public.senate_report_runway', 'senate_reader', 'SELECT'),
  ('public.senate_report_runway', 'senate_owner', 'SELECT')
ON CONFLICT DO NOTHING;

DO $$
BEGIN
    PERFORM senate.grant_role_privileges();
END;
$$;
