"""``senate-db schedule`` (issue 16, point 3): every periodic job, from the senate_schedule view,
as a pg_cron statement and as a crontab line calling ``senate-db cycle``; each crontab line is a
valid cron entry whose command runs its job."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from cycles_support import envelope, scalar, spend
from reliability_support import RoleSessions, role_sessions, sqlstate_of

from senate_db import cycle, schedule, urls
from senate_db.target import DATABASE_ENV

Conn = psycopg.Connection[Any]

#: Every job, its cron expression and the cycle kind that runs it (issue 16, point 3).
JOBS = {
    "senate-spend-alerts": ("* * * * *", "alerts"),
    "senate-reservations": ("*/10 * * * *", "reservations"),
    "senate-daily-check": ("5 * * * *", "check"),
    "senate-snapshot": ("55 23 * * *", "snapshot"),
    "senate-compact-rollups": ("15 0 * * *", "compact"),
    "senate-weekly-rebalance": ("30 0 * * 1", "weekly"),
}
#: The five cron fields and their ranges (day of week: 0-7, both 0 and 7 are Sunday).
CRON_FIELDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 7))


@pytest.fixture
def as_role(db_url: str, db: Conn) -> Iterator[RoleSessions]:
    yield from role_sessions(db_url, db)


def senate_db(*args: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run senate-db; ``password`` as libpq's PGPASSWORD (what ~/.pgpass gives a crontab)."""
    env = {k: v for k, v in os.environ.items() if k != DATABASE_ENV}
    if password is not None:
        env["PGPASSWORD"] = password
    return subprocess.run(
        [sys.executable, "-m", "senate_db", *args],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=180,
    )


def cron_field_is_valid(field: str, low: int, high: int) -> bool:
    """``*``, ``N``, ``N-M``, each optionally ``/STEP``, comma-separated; numbers in range."""
    for part in field.split(","):
        base, slash, step = part.partition("/")
        if slash and not (step.isdigit() and int(step) >= 1):
            return False
        if base == "*":
            continue
        first, dash, last = base.partition("-")
        numbers = [first, last] if dash else [first]
        if not all(n.isdigit() and low <= int(n) <= high for n in numbers):
            return False
        if dash and int(first) > int(last):
            return False
    return True


def parse_crontab_line(line: str) -> tuple[list[str], list[str]]:
    """(the five time fields, the command's arguments) of a crontab entry."""
    fields = line.split(maxsplit=5)
    assert len(fields) == 6, line
    for field, (low, high) in zip(fields[:5], CRON_FIELDS, strict=True):
        assert cron_field_is_valid(field, low, high), (field, line)
    return fields[:5], shlex.split(fields[5].replace("\\%", "%"))


def crontab_entries(output: str) -> dict[str, str]:
    """Job name -> its crontab line (the line after its ``# name: cadence`` comment)."""
    lines = output.splitlines()
    entries: dict[str, str] = {}
    for i, line in enumerate(lines):
        if line.startswith("# senate-") and ": " in line:
            entries[line[2:].split(":", 1)[0]] = lines[i + 1]
    return entries


def expected_statement(db: Conn, name: str) -> str:
    """The pg_cron statement for a job, the way the view builds it for this database."""
    return str(
        scalar(
            db,
            "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_cron')"
            "  OR coalesce((SELECT setting FROM pg_settings WHERE name = 'cron.database_name'),"
            "              current_database()) = current_database()"
            " THEN format('SELECT cron.schedule(%%L, %%L, $$%%s$$);', job_name, cron_schedule,"
            "             sql_command)"
            " ELSE format('SELECT cron.schedule_in_database(%%L, %%L, $$%%s$$, %%L, %%L);',"
            "             job_name, cron_schedule, sql_command, current_database(), current_user)"
            " END FROM senate_schedule WHERE job_name = %s",
            (name,),
        )
    )


def test_the_schedule_lists_every_job_with_its_cron_expression_sql_and_cycle_command(
    db: Conn,
) -> None:
    rows = db.execute(
        "SELECT job_name, cron_schedule, sql_command, cli_command, description"
        " FROM senate_schedule ORDER BY job_order"
    ).fetchall()
    assert {name: (when, cli.split()[2]) for name, when, _, cli, _ in rows} == JOBS
    for name, when, sql_command, cli, description in rows:
        fields = when.split()
        assert len(fields) == 5 and all(
            cron_field_is_valid(f, lo, hi) for f, (lo, hi) in zip(fields, CRON_FIELDS, strict=True)
        ), name
        assert sql_command.startswith("SELECT ") and description
        assert cli.startswith("senate-db cycle ") and " --apply" in cli
        assert cli.split()[2] in cycle.KINDS
    functions = " ".join(sql for _, _, sql, _, _ in rows)
    for function in (
        "check_spend_alerts()",
        "cleanup_spend_reservations()",
        "run_daily_check()",
        "record_economy_snapshot()",
        "compact_usage_rollups()",
        "run_rebalance(",
    ):
        assert function in functions


def test_schedule_prints_a_pg_cron_statement_and_a_crontab_line_for_every_job(
    db: Conn, db_url: str
) -> None:
    result = senate_db("schedule", "--database", db_url)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    entries = crontab_entries(result.stdout)
    assert set(entries) == set(JOBS)
    for name, (when, kind) in JOBS.items():
        assert expected_statement(db, name) in lines
        fields, args = parse_crontab_line(entries[name])
        assert fields == when.split()
        assert os.path.basename(args[0]) == "senate-db"
        assert args[1:4] == ["cycle", kind, "--apply"]
        assert args[-2:] == ["--database", schedule.crontab_url(db_url)]  # no password


def test_pg_cron_only_output_is_sql_and_crontab_only_output_is_a_crontab(db_url: str) -> None:
    pg_cron = senate_db("schedule", "--pg-cron", "--database", db_url)
    assert pg_cron.returncode == 0, pg_cron.stderr
    for line in pg_cron.stdout.splitlines():
        assert line.startswith("-- ") or line.startswith("SELECT cron.schedule"), line
    assert sum(line.startswith("SELECT cron.") for line in pg_cron.stdout.splitlines()) == 6

    crontab = senate_db("schedule", "--crontab", "--database", db_url)
    assert crontab.returncode == 0, crontab.stderr
    entries = [line for line in crontab.stdout.splitlines() if not line.startswith("#")]
    assert len(entries) == 6
    for line in entries:
        parse_crontab_line(line)


def test_every_crontab_line_runs_its_job_and_writes(db: Conn, db_url: str) -> None:
    envelope(db, "h-1", tokens=1_000)
    spend(db, "h-1", 1_500)
    crontab = senate_db("schedule", "--crontab", "--database", db_url)
    assert crontab.returncode == 0, crontab.stderr
    for name, line in crontab_entries(crontab.stdout).items():
        _, args = parse_crontab_line(line)
        ran = senate_db(*args[1:], password=urls.to_params(db_url).get("password"))
        assert ran.returncode == 0, (name, ran.stderr)
        assert ": applied" in ran.stdout.splitlines()[0], (name, ran.stdout)
    assert scalar(db, "SELECT count(*) FROM spend_throttles WHERE entity_id = 'h-1'") == 2
    # Alerts on actual spend (the daily check also fires forecast alerts, 0152).
    assert (
        scalar(
            db,
            "SELECT count(*) FROM spend_alerts WHERE entity_id = 'h-1' AND alert_kind = 'actual'",
        )
        == 2
    )
    assert scalar(db, "SELECT count(*) FROM reserve_snapshots") > 0
    assert scalar(db, "SELECT actor FROM rebalance_runs") == "crontab"


def test_every_scheduled_sql_command_runs_for_a_member_of_senate_admin_and_no_lesser_role(
    db: Conn, as_role: RoleSessions
) -> None:
    commands = [r[0] for r in db.execute("SELECT sql_command FROM senate_schedule").fetchall()]
    admin = as_role("senate_admin")
    reader = as_role("senate_reader")
    assert {c: sqlstate_of(admin, c) for c in commands} == dict.fromkeys(commands)
    assert {c: sqlstate_of(reader, c) for c in commands} == dict.fromkeys(commands, "42501")
    # Any member of the project may read the schedule.
    assert scalar(reader, "SELECT count(*) FROM senate_schedule") == 6


def test_from_another_database_the_statements_schedule_in_that_database_as_the_login_named(
    db: Conn, db_url: str
) -> None:
    """Where pg_cron runs in another database (CI's PostgreSQL 15: senate_cron), a superuser
    reads cron.schedule_in_database for this database, the job running as
    senate.scheduling_login, else the login reading them."""
    elsewhere = scalar(
        db, "SELECT (SELECT setting FROM pg_settings WHERE name = 'cron.database_name')"
    )
    here = urls.database_name(db_url)
    if elsewhere is None or elsewhere == here:
        pytest.skip("pg_cron is not loaded here, or runs in this very database")
    reader = scalar(db, "SELECT current_user")
    statements = [r[0] for r in db.execute("SELECT pg_cron_statement FROM senate_schedule")]
    assert len(statements) == 6
    for statement in statements:
        assert statement.startswith("SELECT cron.schedule_in_database(")
        assert statement.endswith(f"'{here}', '{reader}');")
    db.execute("SET senate.scheduling_login = 'senate_scheduler'")
    statement = scalar(
        db,
        "SELECT pg_cron_statement FROM senate_schedule WHERE job_name = 'senate-daily-check'",
    )
    assert statement == (
        "SELECT cron.schedule_in_database('senate-daily-check', '5 * * * *',"
        f" $$SELECT count(*) FROM run_daily_check()$$, '{here}', 'senate_scheduler');"
    )


def test_crontab_lines_never_carry_the_password_and_escape_percent_signs(db_url: str) -> None:
    jobs, server = schedule.read_schedule(db_url)
    url = "postgresql://sched:s3cret@db.example.org:5432/sci%25dex?sslmode=require"
    text = schedule.render(jobs, server, url, sections=("crontab",), executable="senate-db")
    assert "s3cret" not in text
    assert "~/.pgpass" in text
    for name, line in crontab_entries(text).items():
        assert "%" not in line.replace("\\%", ""), line
        _, args = parse_crontab_line(line)
        assert urls.to_params(args[-1]) == {
            "user": "sched",
            "host": "db.example.org",
            "port": "5432",
            "dbname": "sci%dex",
            "sslmode": "require",
        }, name


def test_schedule_on_a_database_without_the_view_says_to_migrate_in_one_line(
    empty_db_url: str,
) -> None:
    result = senate_db("schedule", "--database", empty_db_url)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("senate-db: ")
    assert "senate-db migrate" in lines[0]
    assert result.stdout == ""
