-- Removes only what 0004 added: the t20 triggers, their functions, the vote check, and the
-- compatibility columns that senate.compatibility_columns records as added by this project.
-- A compatibility column the deployment already had before 0004 (added_by_senate = false)
-- stays, with its data; the deployed tables and their canonical columns are never touched.
SET lock_timeout = '5s';

DROP TRIGGER IF EXISTS t20_sync_compatibility_on_insert ON public.resource_usage;
DROP TRIGGER IF EXISTS t20_sync_compatibility_on_update ON public.resource_usage;
DROP TRIGGER IF EXISTS t20_sync_compatibility_on_insert ON public.allocation_proposals;
DROP TRIGGER IF EXISTS t20_sync_compatibility_on_update ON public.allocation_proposals;

DO $do$
DECLARE
    c record;
BEGIN
    IF to_regclass('senate.compatibility_columns') IS NULL THEN
        RETURN;
    END IF;
    FOR c IN SELECT table_name, column_name FROM senate.compatibility_columns
             WHERE added_by_senate ORDER BY table_name, column_name
    LOOP
        -- Catalog-only (the column is marked dropped; no rewrite). Drops the vote CHECK with votes.
        EXECUTE format('ALTER TABLE public.%I DROP COLUMN IF EXISTS %I', c.table_name, c.column_name);
    END LOOP;
END
$do$;

DROP FUNCTION IF EXISTS public.reconcile_compatibility_columns();
DROP FUNCTION IF EXISTS senate.install_compatibility_sync();
DROP FUNCTION IF EXISTS senate.column_default_test(regclass, text, text);
DROP FUNCTION IF EXISTS senate.sync_usage_compatibility_on_insert();
DROP FUNCTION IF EXISTS senate.sync_usage_compatibility_on_update();
DROP FUNCTION IF EXISTS senate.sync_proposal_compatibility_on_insert();
DROP FUNCTION IF EXISTS senate.sync_proposal_compatibility_on_update();
DROP FUNCTION IF EXISTS senate.check_votes(jsonb);
DROP TABLE IF EXISTS senate.compatibility_columns;
