-- Why: a budget envelope applies over a budget period (economics_policy.budget_period:
-- a calendar day or an ISO week starting Monday), aligned to calendar days in the
-- policy time zone. "Spent this period" and every review cycle must agree on where a
-- period starts and ends, so the boundaries are computed in exactly one place.
-- Bounds are half-open: a period is [period_start, period_end) in days and
-- [starts_at, ends_at) in time; period_end is the first day of the NEXT period.
-- senate.usage_rollups.usage_day is a day in the same time zone, so spend in a
-- period is sum(amount_total) WHERE usage_day >= period_start AND usage_day < period_end.
SET lock_timeout = '5s';

CREATE OR REPLACE FUNCTION senate.period_bounds(
    p_as_of timestamptz, p_budget_period text, p_time_zone text)
RETURNS TABLE (period_start date, period_end date, starts_at timestamptz, ends_at timestamptz)
LANGUAGE sql IMMUTABLE PARALLEL SAFE ROWS 1
AS $$
    SELECT d.first_day, d.next_first_day,
           d.first_day::timestamp AT TIME ZONE p_time_zone,
           d.next_first_day::timestamp AT TIME ZONE p_time_zone
    FROM (
        SELECT s.first_day,
               s.first_day + CASE p_budget_period WHEN 'day' THEN 1 WHEN 'week' THEN 7 END
                   AS next_first_day
        FROM (
            SELECT CASE p_budget_period
                       WHEN 'day' THEN l.local_day
                       WHEN 'week' THEN l.local_day - (extract(isodow FROM l.local_day)::integer - 1)
                   END AS first_day
            FROM (SELECT (p_as_of AT TIME ZONE p_time_zone)::date AS local_day) AS l
        ) AS s
    ) AS d
$$;
COMMENT ON FUNCTION senate.period_bounds(timestamptz, text, text) IS
  'Budget period containing p_as_of for a period kind (day | week, ISO week from Monday) in a '
  'time zone: [period_start, period_end) as local dates, [starts_at, ends_at) as instants. '
  'NULLs for an unknown period kind.';

CREATE OR REPLACE FUNCTION public.budget_period_bounds(as_of timestamptz DEFAULT now())
RETURNS TABLE (period_start date, period_end date, starts_at timestamptz, ends_at timestamptz)
LANGUAGE sql STABLE PARALLEL SAFE ROWS 1
AS $$
    SELECT b.period_start, b.period_end, b.starts_at, b.ends_at
    FROM (SELECT coalesce(max(p.budget_period), 'week') AS budget_period,
                 coalesce(max(p.time_zone), 'UTC') AS time_zone
          FROM public.economics_policy AS p WHERE p.is_active) AS a
    CROSS JOIN LATERAL senate.period_bounds(as_of, a.budget_period, a.time_zone) AS b
$$;
COMMENT ON FUNCTION public.budget_period_bounds(timestamptz) IS
  'The budget period containing as_of under the active policy (budget_period day | week, '
  'ISO weeks start Monday, in the policy time_zone). Half-open: period_start is the first day, '
  'period_end the first day of the next period (dates); starts_at / ends_at the same bounds as '
  'instants (timestamptz).';
