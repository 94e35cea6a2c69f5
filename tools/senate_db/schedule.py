"""``senate-db schedule``: every periodic Senate job, as pg_cron statements and as crontab lines.

The schedule is data in the database (the view ``public.senate_schedule``, migration 0131):
job name, cron expression, the SQL it runs, the ``senate-db cycle`` command that runs the same
and the ready-to-run pg_cron statement. This module reads it and prints it twice:

* the pg_cron section is SQL (comments start with ``--``): pipe it into ``psql`` as the
  scheduling login, in the database pg_cron runs in;
* the crontab section is a crontab (comments start with ``#``) for servers without pg_cron:
  each line calls ``senate-db cycle KIND --apply --database URL``.

The URL is printed without its password (put it in ``~/.pgpass`` of the crontab's user); ``%``
is escaped, since cron turns a bare ``%`` into a newline.
"""

from __future__ import annotations

import shlex
import shutil
from dataclasses import dataclass
from typing import Any, TextIO

import psycopg

from senate_db import urls
from senate_db.errors import SenateDbError, cannot_connect
from senate_db.target import Target

SECTIONS = ("pg_cron", "crontab")

#: SQLSTATE undefined_table: a database migrated before 0131 has no senate_schedule.
UNDEFINED_TABLE = "42P01"


@dataclass(frozen=True)
class Job:
    """One row of ``public.senate_schedule``."""

    job_order: int
    job_name: str
    cron_schedule: str
    cadence: str
    sql_command: str
    cli_command: str
    pg_cron_statement: str
    description: str


@dataclass(frozen=True)
class CronServer:
    """What the reading login can tell about pg_cron. Its settings are superuser-only: for other
    logins (without pg_read_all_settings) ``database_name`` is ``None`` whether or not the server
    loads pg_cron."""

    database_name: str | None  # cron.database_name; None: not loaded, or hidden
    current_database: str
    installed: bool  # CREATE EXTENSION pg_cron was run in this database
    background_workers: str | None
    timezone: str | None
    reads_settings: bool  # superuser or pg_read_all_settings: None above means not loaded
    login: str  # whom the jobs run as (senate.scheduling_login, else current_user)
    login_is_superuser: bool

    @property
    def here(self) -> bool:
        """pg_cron runs in this database, or nothing visible says otherwise."""
        return self.installed or self.database_name in (None, self.current_database)


def read_schedule(url: str, login: str | None = None) -> tuple[list[Job], CronServer]:
    """The jobs of ``public.senate_schedule`` and what this login can tell of pg_cron;
    ``login``: whom jobs scheduled from another database run as (default: this login)."""
    try:
        conn = psycopg.connect(url, autocommit=True)
    except psycopg.OperationalError as e:
        raise cannot_connect(urls.redact(url), e) from e
    with conn:
        if login is not None:
            conn.execute("SELECT set_config('senate.scheduling_login', %s, false)", (login,))
        try:
            rows = conn.execute(
                "SELECT job_order, job_name, cron_schedule, cadence, sql_command, cli_command,"
                " pg_cron_statement, description FROM senate_schedule ORDER BY job_order"
            ).fetchall()
        except psycopg.Error as e:
            if e.sqlstate == UNDEFINED_TABLE:
                raise SenateDbError(
                    f"{urls.redact(url)} has no senate_schedule view (migration 0131): run "
                    "senate-db migrate first"
                ) from e
            raise
        setting: Any = conn.execute(
            "SELECT (SELECT setting FROM pg_settings WHERE name = 'cron.database_name'),"
            " current_database(),"
            " EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron'),"
            " (SELECT setting FROM pg_settings WHERE name = 'cron.use_background_workers'),"
            " (SELECT setting FROM pg_settings WHERE name = 'cron.timezone'),"
            " pg_has_role('pg_read_all_settings', 'USAGE'),"
            " w.login, coalesce((SELECT rolsuper FROM pg_roles WHERE rolname = w.login), false)"
            " FROM (SELECT coalesce(nullif(current_setting('senate.scheduling_login', true), ''),"
            "                       current_user::text) AS login) AS w"
        ).fetchone()
    jobs = [Job(*row) for row in rows]
    return jobs, CronServer(*setting)


def crontab_url(url: str) -> str:
    """``url`` without its password (cron reads it from ``~/.pgpass``)."""
    params = urls.to_params(url)
    params.pop("password", None)
    return urls.from_params(params)


def program() -> str:
    """How the crontab calls senate-db: its full path where found (cron's PATH is short)."""
    return shutil.which("senate-db") or "senate-db"


def crontab_line(job: Job, url: str, executable: str = "senate-db") -> str:
    """``MIN HOUR DOM MON DOW command``: the job as one crontab line."""
    args = job.cli_command.split()
    if args[:1] != ["senate-db"]:
        raise SenateDbError(f"senate_schedule.cli_command of {job.job_name} is not senate-db")
    command = shlex.join([executable, *args[1:], "--database", crontab_url(url)])
    return f"{job.cron_schedule} {command.replace('%', chr(92) + '%')}"


def _pg_cron_notes(server: CronServer) -> list[str]:
    db = server.current_database
    if server.installed or (server.database_name is not None and server.here):
        notes = [
            f"Run these in database {db} (cron.database_name) as the scheduling login: a "
            "member of senate_admin with USAGE on schema cron. Jobs run as the login that "
            "scheduled them."
        ]
        if not server.installed:
            notes.append(
                f"pg_cron is loaded but not created here: CREATE EXTENSION pg_cron; (as a "
                f"superuser, in {db})."
            )
    elif server.database_name is not None:
        notes = [
            f"pg_cron runs in database {server.database_name}, not here: a superuser runs these "
            f"there (cron.schedule_in_database); each job runs here as {server.login}. Or make "
            f"{db} cron.database_name."
        ]
        if server.login_is_superuser:
            notes.append(
                f"{server.login} is a superuser: the jobs would run as one. Name the scheduling "
                "login with --login NAME."
            )
    elif server.reads_settings:
        return [
            "pg_cron is not loaded on this server (shared_preload_libraries): set it up as "
            "db/docs/scheduling.md says, or use the crontab below."
        ]
    else:
        return [
            f"pg_cron is not created in {db}, and {server.login} cannot see whether the server "
            "loads it (its settings are superuser-only). If it does and pg_cron runs in "
            f"{db}: CREATE EXTENSION pg_cron; as a superuser, then run these as the scheduling "
            "login (db/docs/scheduling.md). Else use the crontab below."
        ]
    if server.background_workers not in (None, "on"):
        notes.append(
            "cron.use_background_workers is off: jobs connect through cron.host with libpq and "
            "fail with 'connection failed' unless that login needs no password; set it on."
        )
    notes.append(
        f"Times are in cron.timezone ({server.timezone or 'GMT'}). Scheduling a name again "
        "replaces its job."
    )
    return notes


def render(
    jobs: list[Job],
    server: CronServer,
    url: str,
    *,
    sections: tuple[str, ...] = SECTIONS,
    executable: str | None = None,
) -> str:
    """The schedule as text: a pg_cron section (SQL) and/or a crontab section whose lines call
    ``executable`` (default: senate-db's full path where found)."""
    where = urls.redact(url)
    parts: list[str] = []
    if "pg_cron" in sections:
        lines = [f"-- Senate jobs for {where}: pg_cron ({len(jobs)} jobs, from senate_schedule)"]
        lines += [f"-- {note}" for note in _pg_cron_notes(server)]
        for job in jobs:
            lines.append(f"-- {job.job_name}: {job.cadence}")
            lines.append(job.pg_cron_statement)
        parts.append("\n".join(lines))
    if "crontab" in sections:
        lines = [
            f"# Senate jobs for {where}: crontab ({len(jobs)} jobs, from senate_schedule)",
            "# For servers without pg_cron. Times are in the cron daemon's time zone.",
        ]
        if "password" in urls.to_params(url):
            lines.append(
                "# The password is not printed: put it in ~/.pgpass of the crontab's user."
            )
        executable = executable or program()
        for job in jobs:
            lines.append(f"# {job.job_name}: {job.cadence}")
            lines.append(crontab_line(job, url, executable))
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def run(
    target: Target, out: TextIO, *, sections: tuple[str, ...] = SECTIONS, login: str | None = None
) -> int:
    """``senate-db schedule``: print the schedule; returns the exit status."""
    jobs, server = read_schedule(target.url, login)
    print(render(jobs, server, target.url, sections=sections), file=out, flush=True)
    return 0
