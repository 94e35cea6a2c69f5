-- Removes only what 0186 added: the senate_report_families view and its grants.
SET lock_timeout = '5s';
DELETE FROM senate.table_access WHERE relation_name = 'public.senate_report_families';
-- squawk-ignore ban-drop-view
DROP VIEW IF EXISTS public.senate_report_families;
