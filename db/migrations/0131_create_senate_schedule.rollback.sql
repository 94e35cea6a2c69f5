-- Removes only what 0131 added: the schedule view and its access rows. Jobs already scheduled
-- with pg_cron (cron.job) or in a crontab are the operator's: they stay.
SET lock_timeout = '5s';
DELETE FROM senate.table_access WHERE relation_name = 'public.senate_schedule';
-- squawk-ignore ban-drop-view
DROP VIEW IF EXISTS public.senate_schedule;
