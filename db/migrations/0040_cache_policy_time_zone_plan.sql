-- Why: senate.policy_time_zone() is called by every statement that turns a usage time
-- into a usage day: the rollup trigger on every INSERT into resource_usage, and the
-- spend views and checks. As a LANGUAGE sql function whose body holds a subquery it is
-- never inlined, and before PostgreSQL 18 a non-inlined SQL function is parsed and
-- planned again for every statement that calls it: about 60 us per call measured on the
-- 2-core bench machine (`SELECT senate.policy_time_zone()`: p50 0.071 ms as SQL,
-- 0.019 ms as PL/pgSQL, 0.008 ms for `SELECT 1`). PL/pgSQL keeps the plan of its
-- query for the session, so the same answer costs one cached index probe.
-- Same name, signature, result and volatility; only the language changes.
SET lock_timeout = '5s';

CREATE OR REPLACE FUNCTION senate.policy_time_zone()
RETURNS text
LANGUAGE plpgsql STABLE PARALLEL SAFE
AS $$
BEGIN
    RETURN coalesce((SELECT p.time_zone FROM public.economics_policy AS p WHERE p.is_active),
                    'UTC');
END;
$$;
COMMENT ON FUNCTION senate.policy_time_zone() IS
  'Time zone in which usage days begin (active policy; UTC if none). PL/pgSQL so that its '
  'query plan is cached per session (a SQL function with a subquery is re-planned by every '
  'calling statement). Callers that evaluate it per row should wrap it as a scalar subquery, '
  '(SELECT senate.policy_time_zone()), so it runs once per statement.';
