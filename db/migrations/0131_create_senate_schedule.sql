-- Why (issue 16, point 3): the periodic jobs were spread over the README (five pg_cron lines
-- under Scheduling, the snapshot's far away in the report section) and a server without pg_cron
-- had no crontab to copy. public.senate_schedule is the one list: every job the Senate needs,
-- how often, the SQL it runs, the `senate-db cycle` command that runs the same thing from cron
-- or a systemd timer, and the ready-to-run pg_cron statement. `senate-db schedule` prints it;
-- psql users read the same rows.
--
-- pg_cron_statement is `cron.schedule(...)` where this database is the one pg_cron runs in (the
-- extension is created here, or cron.database_name names it), and where that cannot be told
-- (pg_cron not loaded, or its settings hidden: they are superuser-only); from any other
-- database it is `cron.schedule_in_database(..., database, username)`, to be run in pg_cron's
-- database by a superuser (pg_cron grants it to nobody else): the job runs as username, the
-- session's setting senate.scheduling_login (`senate-db schedule --login NAME`), else the
-- login reading the view. Scheduling the same job name again replaces it.
--
-- A view over constants: nothing is stored, the rollback drops it.
SET lock_timeout = '5s';

CREATE OR REPLACE VIEW public.senate_schedule AS
SELECT j.job_order,
       j.job_name,
       j.cron_schedule,
       j.cadence,
       j.sql_command,
       'senate-db cycle ' || j.cycle_kind || ' --apply' || coalesce(' --actor ' || j.cycle_actor, '')
           AS cli_command,
       CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_extension AS e WHERE e.extname = 'pg_cron')
                 OR coalesce(c.cron_database, pg_catalog.current_database())
                    = pg_catalog.current_database()
            THEN pg_catalog.format('SELECT cron.schedule(%L, %L, $$%s$$);',
                                   j.job_name, j.cron_schedule, j.sql_command)
            ELSE pg_catalog.format('SELECT cron.schedule_in_database(%L, %L, $$%s$$, %L, %L);',
                                   j.job_name, j.cron_schedule, j.sql_command,
                                   pg_catalog.current_database(),
                                   coalesce(nullif(pg_catalog.current_setting(
                                                'senate.scheduling_login', true), ''),
                                            current_user))
       END AS pg_cron_statement,
       j.description
FROM (VALUES
    (1, 'senate-spend-alerts', '* * * * *', 'every minute',
     'SELECT count(*) FROM check_spend_alerts()', 'alerts', NULL,
     'Fires the spend alerts due: a spend_alerts row and a pg_notify on senate_spend_alerts the '
     'first time an envelope''s spend in its budget period reaches a policy threshold (80 % and '
     '100 % by default), so listeners hear within a minute.'),
    (2, 'senate-reservations', '*/10 * * * *', 'every 10 minutes',
     'SELECT * FROM cleanup_spend_reservations()', 'reservations', NULL,
     'Marks open spend reservations past their expiry as expired and deletes finished ones '
     'older than 7 days (expired holds already stopped counting; this keeps the table small).'),
    (3, 'senate-daily-check', '5 * * * *', 'hourly at minute 5',
     'SELECT count(*) FROM run_daily_check()', 'check', NULL,
     'The daily spend check for today: releases the throttles that are due, throttles each '
     'envelope and class over its daily allowance or its period budget, fires the alerts due. '
     'Hourly so that overspend is throttled within the hour; idempotent for a day.'),
    (4, 'senate-snapshot', '55 23 * * *', 'daily at 23:55',
     'SELECT record_economy_snapshot()', 'snapshot', NULL,
     'Records the economy now (budget_snapshots per entity type and class, reserve_snapshots per '
     'class): the history the Senate report charts. Late in the day, so each day''s point holds '
     'the day''s spend; a retry at the same instant replaces its rows.'),
    (5, 'senate-compact-rollups', '15 0 * * *', 'daily at 00:15',
     'SELECT * FROM compact_usage_rollups()', 'compact', NULL,
     'Merges the writer-shard rows of each usage rollup key of the 7 days before today into one '
     'row (totals unchanged, rows a writer holds skipped), so budget checks stay flat.'),
    (6, 'senate-weekly-rebalance', '30 0 * * 1', 'Mondays at 00:30',
     'SELECT count(*) FROM run_rebalance(now(), false, ''pg_cron'')', 'weekly', 'crontab',
     'Applies the weekly rebalance of the week just ended (idle reclaims, low-ROI cuts, raises '
     'for strong ROI with market support, reassignment of idle budget). A window is applied '
     'once: a later run in the same week writes nothing.')
) AS j (job_order, job_name, cron_schedule, cadence, sql_command, cycle_kind, cycle_actor,
        description)
-- pg_cron's settings are superuser-only: pg_settings hides them from other logins (NULL here).
CROSS JOIN (SELECT (SELECT s.setting FROM pg_catalog.pg_settings AS s
                    WHERE s.name = 'cron.database_name') AS cron_database) AS c;
COMMENT ON VIEW public.senate_schedule IS
  'Every periodic Senate job: its pg_cron name, cron schedule, the SQL it runs, the senate-db '
  'cycle command that runs the same from cron or a systemd timer, and the pg_cron statement that '
  'schedules it (cron.schedule in pg_cron''s database, cron.schedule_in_database from another). '
  'senate-db schedule prints it. pg_cron reads schedules in cron.timezone (GMT by default), cron '
  'in the cron daemon''s time zone.';
COMMENT ON COLUMN public.senate_schedule.job_order IS 'Position in the list (1 = most frequent).';
COMMENT ON COLUMN public.senate_schedule.job_name IS 'pg_cron job name (cron.job.jobname); scheduling the same name again replaces the job.';
COMMENT ON COLUMN public.senate_schedule.cron_schedule IS 'When it runs: a 5-field cron expression (minute, hour, day of month, month, day of week).';
COMMENT ON COLUMN public.senate_schedule.cadence IS 'The cron expression in words.';
COMMENT ON COLUMN public.senate_schedule.sql_command IS 'The SQL the job runs (needs EXECUTE on the function: senate_admin has it).';
COMMENT ON COLUMN public.senate_schedule.cli_command IS 'The senate-db command that runs the same, writing (add --database URL); without --apply it is a dry run.';
COMMENT ON COLUMN public.senate_schedule.pg_cron_statement IS 'The statement that schedules the job with pg_cron, ready to run as the scheduling login: cron.schedule where pg_cron runs in this database (or where the reader cannot tell: pg_cron not loaded, or its settings hidden from non-superusers), else cron.schedule_in_database for this database, run by a superuser in pg_cron''s database, the job running as senate.scheduling_login (if set) or current_user.';
COMMENT ON COLUMN public.senate_schedule.description IS 'What the job does and why this often.';

INSERT INTO senate.table_access (relation_name, role_name, privilege) VALUES
  ('public.senate_schedule', 'senate_reader', 'SELECT'),
  ('public.senate_schedule', 'senate_owner', 'SELECT')
ON CONFLICT DO NOTHING;

DO $$
BEGIN
    PERFORM senate.grant_role_privileges();
END;
$$;
