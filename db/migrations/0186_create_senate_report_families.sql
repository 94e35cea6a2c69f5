-- Why (issue 19, point 3 "Shown at every level"): the report shows the tree of the largest
-- families: public.senate_report_families (db/definitions/90_reports.sql) lists the five
-- families with the largest root token budget as a tree, each member's budget, its subtree's
-- spend and holds, its headroom and the level that binds it. This migration registers its
-- grants. No table changes.
SET lock_timeout = '5s';

INSERT INTO senate.table_access (relation_name, role_name, privilege) VALUES
  ('public.senate_report_families', 'senate_reader', 'SELECT'),
  ('public.senate_report_families', 'senate_owner', 'SELECT')
ON CONFLICT DO NOTHING;

DO $$
BEGIN
    PERFORM senate.grant_role_privileges();
END;
$$;
