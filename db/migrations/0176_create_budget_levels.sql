-- Why (issue 19, point 3 "Shown at every level"): an analyst asks which budget stops an
-- analysis from spending: its own envelope, its hypothesis's or its knowledge gap's.
-- public.budget_levels (db/definitions/48_families.sql) lists, per entity and resource class,
-- each envelope that applies (its own and each ancestor's), what each level still allows
-- (available: effective budget - the level's whole subtree's spend and holds) and which binds
-- first, as can_spend and reserve_spend judge it. This migration registers its grants.
SET lock_timeout = '5s';

INSERT INTO senate.table_access (relation_name, role_name, privilege) VALUES
  ('public.budget_levels', 'senate_reader', 'SELECT'),
  ('public.budget_levels', 'senate_owner', 'SELECT')
ON CONFLICT DO NOTHING;

DO $$
BEGIN
    PERFORM senate.grant_role_privileges();
END;
$$;
