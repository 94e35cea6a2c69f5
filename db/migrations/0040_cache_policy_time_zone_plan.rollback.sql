-- Restores the LANGUAGE sql definition from 0009 (this migration only changed the language).
CREATE OR REPLACE FUNCTION senate.policy_time_zone()
RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT coalesce((SELECT p.time_zone FROM public.economics_policy AS p WHERE p.is_active), 'UTC')
$$;
COMMENT ON FUNCTION senate.policy_time_zone() IS 'Time zone in which usage days begin (active policy; UTC if none).';
