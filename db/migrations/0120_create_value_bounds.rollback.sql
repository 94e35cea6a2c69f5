-- Removes only what 0120 added: the bound triggers, their functions and table, the policy
-- columns and the catalogue rows.
SET lock_timeout = '5s';
DO $$
DECLARE
    t record;
BEGIN
    FOR t IN SELECT g.tgrelid::regclass AS rel, g.tgname FROM pg_catalog.pg_trigger AS g
             WHERE g.tgname IN ('t05_bound_values_insert', 't05_bound_values_update') LOOP
        EXECUTE pg_catalog.format('DROP TRIGGER %I ON %s', t.tgname, t.rel);
    END LOOP;
END;
$$;
DROP FUNCTION IF EXISTS senate.apply_value_bounds();
DROP FUNCTION IF EXISTS senate.refuse_out_of_bound_value();
DROP TABLE IF EXISTS senate.value_bounds;
ALTER TABLE public.economics_policy DROP COLUMN IF EXISTS max_open_holds_per_login;
ALTER TABLE public.economics_policy DROP COLUMN IF EXISTS usage_max_age;
ALTER TABLE public.economics_policy DROP COLUMN IF EXISTS usage_max_clock_skew;
DELETE FROM senate.error_codes WHERE sqlstate IN ('S5031', 'S5032');
