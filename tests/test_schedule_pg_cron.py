"""pg_cron really runs the Senate's scheduled jobs (issue 16, point 3).

Skipped unless the server can run pg_cron: the extension is available and
``shared_preload_libraries`` loads it (CI's PostgreSQL 15 leg sets it up as
``db/docs/scheduling.md`` says, see ``.ci/run``).

pg_cron runs jobs only in the one database named by ``cron.database_name``, so the test works in
that database (CI: ``senate_cron``): it drops and recreates it from the migrated template (only
if it is this test's own database or holds nothing), follows the page's set-up as a superuser
(``CREATE EXTENSION``, a scheduling login in ``senate_admin`` with USAGE on schema cron), has the
login run the statements ``senate-db schedule --pg-cron`` prints, then reschedules every job to
run at once (every minute, or every 2 seconds on pg_cron 1.5+) and waits until pg_cron reports a
successful run of each. The jobs ran as the login in background workers and wrote what they are
for: throttles, alerts, the snapshot, an expired reservation, a compacted rollup, a rebalance.
The database is left for pg_cron's scheduler (which lives in it); the jobs and the login go.
"""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cycles_support import envelope, scalar, spend
from psycopg import sql
from pytest_postgresql.executors import NoopExecutor

from senate_db import migrations, urls
from senate_db.target import DATABASE_ENV

Conn = psycopg.Connection[Any]

PAGE = Path(__file__).resolve().parents[1] / "db" / "docs" / "scheduling.md"
AS_SUPERUSER = "-- As a superuser, in the database pg_cron runs in (cron.database_name):"
AS_LOGIN = "-- As the scheduling login, in that database:"
#: The role name the page uses; the test substitutes a fresh one (roles are cluster-wide).
PAGE_LOGIN = "senate_scheduler"
MARKER = "senate-db: pg_cron test database (tests/test_schedule_pg_cron.py drops and recreates it)"
#: How long pg_cron may take to run every job once (it starts '* * * * *' jobs on the minute).
WAIT_SECONDS = 240
UNFINISHED = ("starting", "running", "sending", "connecting")


def page_blocks(first_line: str) -> list[str]:
    """The page's ``sql`` blocks that start with ``first_line``, in order."""
    blocks = re.findall(r"^```sql\n(.*?)^```", PAGE.read_text(encoding="utf-8"), re.S | re.M)
    return [b for b in blocks if b.startswith(first_line + "\n")]


def pg_cron_database(server_url: str) -> str:
    """``cron.database_name``, or skip the test where pg_cron cannot run jobs."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        available = scalar(
            conn, "SELECT count(*) FROM pg_available_extensions WHERE name = 'pg_cron'"
        )
        preload = str(scalar(conn, "SELECT current_setting('shared_preload_libraries')"))
        if not available or "pg_cron" not in [p.strip() for p in preload.split(",")]:
            pytest.skip("pg_cron is not available and preloaded on this server")
        return str(scalar(conn, "SELECT current_setting('cron.database_name')"))


def is_ours(server_url: str, name: str) -> bool | None:
    """Whether the database ``name`` is this test's (its comment says so) or holds no relations
    yet; ``None`` when there is no such database."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = %s",
            (name,),
        ).fetchone()
    if row is None:
        return None
    if row[0] == MARKER:
        return True
    if name in ("postgres", "template0", "template1", urls.database_name(server_url)):
        return False
    with psycopg.connect(urls.with_database(server_url, name), autocommit=True) as conn:
        relations = scalar(
            conn,
            "SELECT count(*) FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace"
            " WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'cron')"
            " AND n.nspname !~ '^pg_'",
        )
    return relations == 0


@pytest.fixture
def cron_db_url(server_url: str, postgresql_noproc: NoopExecutor) -> str:
    """URL (as the test's superuser) of the database pg_cron runs in, migrated.

    Never dropped: pg_cron's scheduler lives in it, and a DROP DATABASE ... WITH (FORCE) ends
    the scheduler until the server restarts. Created from the migrated template when missing;
    an empty one (CI creates it before the restart) is migrated in place and marked as the
    test's. The test's rows carry names of their own, so runs do not see each other's."""
    name = pg_cron_database(server_url)
    ours = is_ours(server_url, name)
    ident = sql.Identifier(name)
    if ours is False:
        pytest.skip(
            f"pg_cron runs in database {name}, which this test did not make and which is not "
            "empty: point cron.database_name at a database of its own (CI: senate_cron)"
        )
    with psycopg.connect(server_url, autocommit=True) as conn:
        if ours is None:
            conn.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    ident, sql.Identifier(postgresql_noproc.template_dbname)
                )
            )
        conn.execute(sql.SQL("COMMENT ON DATABASE {} IS {}").format(ident, sql.Literal(MARKER)))
    url = urls.with_database(server_url, name)
    migrations.apply_migrations(url)
    return url


def connect_as(url: str, role: str) -> Conn:
    """A connection acting as ``role``: logged in where the server lets a password-less login
    in, else the test's own user after SET ROLE (cron.schedule records current_user either
    way, and the background workers log in as the role without a password)."""
    params = urls.to_params(url)
    params["user"] = role
    params.pop("password", None)
    try:
        return psycopg.connect(urls.from_params(params), autocommit=True, connect_timeout=10)
    except psycopg.OperationalError:
        conn = psycopg.connect(url, autocommit=True, connect_timeout=10)
        conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(role)))
        return conn


def remove_login(admin: Conn, role: str) -> None:
    """Unschedule the login's jobs, wait for their runs to end, drop the login (``admin``: a
    superuser in pg_cron's database)."""
    admin.execute("SELECT cron.unschedule(jobid) FROM cron.job WHERE username = %s", (role,))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and scalar(
        admin,
        "SELECT count(*) FROM cron.job_run_details WHERE username = %s AND status = ANY(%s)",
        (role, list(UNFINISHED)),
    ):
        time.sleep(0.5)
    admin.execute(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,)
    )
    admin.execute("DELETE FROM cron.job_run_details WHERE username = %s", (role,))
    admin.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
    admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(role)))


@pytest.fixture
def scheduler(cron_db_url: str) -> Iterator[tuple[Conn, Conn, str]]:
    """(superuser connection, scheduling login's connection, login name), both in pg_cron's
    database, set up by the page's superuser block; everything the login scheduled or owned
    is removed afterwards."""
    role = f"senate_t_cron_{secrets.token_hex(5)}"
    admin = psycopg.connect(cron_db_url, autocommit=True)
    login: Conn | None = None
    try:
        (setup,) = page_blocks(AS_SUPERUSER)
        admin.execute(setup.replace(PAGE_LOGIN, role))
        login = connect_as(cron_db_url, role)
        yield admin, login, role
    finally:
        if login is not None:
            login.close()
        remove_login(admin, role)
        admin.close()


def senate_db(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != DATABASE_ENV}
    return subprocess.run(
        [sys.executable, "-m", "senate_db", *args],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=180,
    )


def an_economy_with_work_for_every_job(db: Conn, tag: str) -> None:
    """Spend over budget today, an expired hold, a rollup key in five shard rows (entities
    named after ``tag``)."""
    envelope(db, f"over-{tag}", tokens=1_000)
    spend(db, f"over-{tag}", 1_500)  # over the period budget and the daily allowance
    envelope(db, f"hold-{tag}", tokens=100_000)
    db.execute(
        "SELECT reserve_spend('hypothesis', %s, 'llm_tokens', 10, interval '1 millisecond')",
        (f"hold-{tag}",),
    )
    envelope(db, f"shard-{tag}", cpu=1_000)
    db.execute(
        "INSERT INTO senate.usage_rollups (entity_type, entity_id, resource_type, usage_day,"
        " resource_subclass, shard, amount_total, cost_total_usd, usage_rows)"
        " SELECT 'hypothesis', %s, 'cpu_seconds',"
        " (now() AT TIME ZONE senate.policy_time_zone())::date - 2, '', s, 1, 0, 1"
        " FROM generate_series(3, 7) AS s",
        (f"shard-{tag}",),
    )


def fast_schedule(db: Conn) -> str:
    """Run at once: every 2 seconds where pg_cron takes seconds (1.5+), else every minute."""
    version = str(scalar(db, "SELECT extversion FROM pg_extension WHERE extname = 'pg_cron'"))
    major, minor = (int(x) for x in re.findall(r"\d+", version)[:2])
    return "2 seconds" if (major, minor) >= (1, 5) else "* * * * *"


def wait_for_a_success_of_every_job(admin: Conn, role: str) -> dict[str, list[Any]]:
    """Each job's runs (status, return_message); returns once every job of the login has
    succeeded once, or when time is up."""
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        runs: dict[str, list[Any]] = {}
        for jobname, status, message in admin.execute(
            "SELECT j.jobname, d.status, d.return_message FROM cron.job AS j"
            " LEFT JOIN cron.job_run_details AS d USING (jobid)"
            " WHERE j.username = %s ORDER BY j.jobname, d.runid",
            (role,),
        ).fetchall():
            runs.setdefault(jobname, [])
            if status is not None:
                runs[jobname].append((status, message))
        done = all(any(s == "succeeded" for s, _ in r) for r in runs.values())
        if (runs and done) or time.monotonic() > deadline:
            return runs
        time.sleep(1)


def assert_every_job_succeeded(runs: dict[str, list[Any]], fast: str) -> None:
    print(f"[pg_cron] schedule {fast!r}; runs per job: { {k: len(v) for k, v in runs.items()} }")
    failed = {k: v for k, v in runs.items() if not any(s == "succeeded" for s, _ in v)}
    assert failed == {}, f"jobs without a successful run within {WAIT_SECONDS} s: {failed}"


def throttles_of(db: Conn, entity_id: str) -> list[tuple[Any, ...]]:
    return db.execute(
        "SELECT kind FROM spend_throttles WHERE entity_id = %s ORDER BY kind", (entity_id,)
    ).fetchall()


def throttle_logins(db: Conn, entity_id: str) -> list[tuple[Any, ...]]:
    """Who the throttles were ledgered under (budget_ledger.session_login)."""
    return db.execute(
        "SELECT DISTINCT session_login FROM budget_ledger"
        " WHERE cause_type = 'throttle' AND entity_id = %s",
        (entity_id,),
    ).fetchall()


def test_pg_cron_runs_every_scheduled_job_as_the_scheduling_login_and_each_writes_its_rows(
    scheduler: tuple[Conn, Conn, str], cron_db_url: str
) -> None:
    admin, login, role = scheduler
    tag = role.removeprefix("senate_t_cron_")
    started = scalar(admin, "SELECT clock_timestamp()")
    an_economy_with_work_for_every_job(admin, tag)
    jobs = admin.execute(
        "SELECT job_name, cron_schedule, sql_command FROM senate_schedule ORDER BY job_order"
    ).fetchall()

    # What `senate-db schedule --pg-cron` prints, run by the scheduling login.
    printed = senate_db("schedule", "--pg-cron", "--database", cron_db_url)
    assert printed.returncode == 0, printed.stderr
    assert "SELECT cron.schedule_in_database" not in printed.stdout  # this is pg_cron's database
    login.execute(printed.stdout)
    scheduled = admin.execute(
        "SELECT jobname, schedule, command, username, database FROM cron.job"
        " WHERE username = %s ORDER BY jobid",
        (role,),
    ).fetchall()
    database = urls.database_name(cron_db_url)
    assert scheduled == [(n, s, c, role, database) for n, s, c in jobs]

    # The same jobs, due at once (scheduling a name again replaces its job).
    fast = fast_schedule(admin)
    for name, _, command in jobs:
        login.execute("SELECT cron.schedule(%s, %s, %s)", (name, fast, command))
    assert scalar(admin, "SELECT count(*) FROM cron.job WHERE username = %s", (role,)) == len(jobs)

    assert_every_job_succeeded(wait_for_a_success_of_every_job(admin, role), fast)

    # senate-daily-check: both throttles, ledgered under the scheduling login.
    assert throttles_of(admin, f"over-{tag}") == [("daily_allowance",), ("period_budget",)]
    assert throttle_logins(admin, f"over-{tag}") == [(role,)]
    # senate-spend-alerts (and the daily check): the 80 % and 100 % alerts.
    thresholds = admin.execute(
        "SELECT threshold FROM spend_alerts WHERE entity_id = %s AND alert_kind = 'actual'"
        " ORDER BY threshold",
        (f"over-{tag}",),
    ).fetchall()
    assert [float(t) for (t,) in thresholds] == [0.8, 1.0]
    # senate-snapshot: the economy now, this test's envelopes included.
    assert scalar(
        admin, "SELECT count(*) FROM reserve_snapshots WHERE recorded_at > %s", (started,)
    )
    assert scalar(
        admin,
        "SELECT max(envelopes) FROM budget_snapshots"
        " WHERE recorded_at > %s AND entity_type = 'hypothesis'",
        (started,),
    ) >= (3)
    # senate-reservations: the hold expired.
    assert (
        scalar(
            admin,
            "SELECT release_reason FROM spend_reservations WHERE entity_id = %s",
            (f"hold-{tag}",),
        )
        == "expired"
    )
    # senate-compact-rollups: five shard rows merged into one.
    assert (
        scalar(
            admin,
            "SELECT count(*) FROM senate.usage_rollups WHERE entity_id = %s",
            (f"shard-{tag}",),
        )
        == 1
    )
    # senate-weekly-rebalance: this week's window applied by pg_cron, and only once.
    assert scalar(admin, "SELECT count(*) FROM rebalance_runs WHERE actor = 'pg_cron'") >= 1
    assert scalar(
        admin,
        "SELECT count(*) = count(DISTINCT (window_start, window_end)) FROM rebalance_runs",
    )

    # The page's pg_cron examples, as the scheduling login: the history job, the checks
    # (they see the runs above), and finally unscheduling every job.
    blocks = page_blocks(AS_LOGIN)
    assert len(blocks) >= 3
    for block in blocks:
        login.execute(block)
    assert scalar(admin, "SELECT count(*) FROM cron.job WHERE username = %s", (role,)) == 0


def test_from_another_database_a_superuser_schedules_the_printed_jobs_to_run_there_as_the_login(
    db: Conn, db_url: str, cron_db_url: str
) -> None:
    """The Senate database is not cron.database_name: read by a superuser (pg_cron's settings
    are superuser-only) with --login NAME, the schedule is cron.schedule_in_database(...,
    this database, NAME), run in pg_cron's database; the job then runs here, as NAME."""
    role = f"senate_t_cron_{secrets.token_hex(5)}"
    db.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    db.execute(sql.SQL("GRANT senate_admin TO {}").format(sql.Identifier(role)))
    admin = psycopg.connect(cron_db_url, autocommit=True)
    try:
        envelope(db, "h-elsewhere", tokens=1_000)
        spend(db, "h-elsewhere", 1_500)
        printed = senate_db("schedule", "--pg-cron", "--login", role, "--database", db_url)
        assert printed.returncode == 0, printed.stderr
        here = urls.database_name(db_url)
        command = scalar(
            db, "SELECT sql_command FROM senate_schedule WHERE job_name = 'senate-daily-check'"
        )
        statement = (
            f"SELECT cron.schedule_in_database('senate-daily-check', '5 * * * *', $${command}$$,"
            f" '{here}', '{role}');"
        )
        assert statement in printed.stdout.splitlines()
        assert f"each job runs here as {role}" in printed.stdout
        admin.execute(printed.stdout)
        assert admin.execute(
            "SELECT jobname, schedule, database FROM cron.job"
            " WHERE username = %s AND jobname = 'senate-daily-check'",
            (role,),
        ).fetchall() == [("senate-daily-check", "5 * * * *", here)]
        admin.execute(
            "SELECT cron.unschedule(jobid) FROM cron.job"
            " WHERE username = %s AND jobname <> 'senate-daily-check'",
            (role,),
        )
        fast = fast_schedule(admin)
        admin.execute(
            "SELECT cron.schedule_in_database('senate-daily-check', %s, %s, %s, %s)",
            (fast, command, here, role),
        )
        assert_every_job_succeeded(wait_for_a_success_of_every_job(admin, role), fast)
        assert throttles_of(db, "h-elsewhere") == [("daily_allowance",), ("period_budget",)]
        assert throttle_logins(db, "h-elsewhere") == [(role,)]
    finally:
        remove_login(admin, role)
        admin.close()
