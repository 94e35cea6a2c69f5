"""db/docs/scheduling.md says what the schedule is: the jobs it lists, the output it shows and
the server set-up it describes match the database, ``senate-db schedule`` and ``.ci/run``; its
SQL examples run on a freshly migrated database (the pg_cron ones run in
tests/test_schedule_pg_cron.py, where pg_cron is loaded)."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

from cycles_support import Conn, scalar

from senate_db import schedule

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "db" / "docs" / "scheduling.md"
#: The page's examples run as (first line of a block) elsewhere than any migrated database.
PG_CRON_BLOCKS = (
    "-- As a superuser, in the database pg_cron runs in (cron.database_name):",
    "-- As the scheduling login, in that database:",
)
#: The URL the page's `senate-db schedule` example prints for.
EXAMPLE_URL = "postgresql://senate_scheduler@db.example.org:5432/scidex"


def page() -> str:
    return PAGE.read_text(encoding="utf-8")


def blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", page(), flags=re.S | re.M)


def test_the_page_lists_every_job_of_the_schedule_with_its_cycle_kind(db: Conn) -> None:
    rows = db.execute(
        "SELECT job_name, cadence, cli_command, sql_command FROM senate_schedule"
    ).fetchall()
    table = {
        line.split("|")[1].strip(" `"): line
        for line in page().splitlines()
        if line.startswith("| `senate-")
    }
    assert set(table) == {name for name, _, _, _ in rows}
    for name, cadence, cli, sql in rows:
        kind = cli.split()[2]
        function = sql.split(" FROM ")[-1].removeprefix("SELECT ").split("(")[0]
        assert f"| `{kind}` |" in table[name], name
        assert f"`{function}(" in table[name], name
        assert cadence.split()[0].lower() in table[name].lower(), name


def test_the_page_shows_what_senate_db_schedule_prints(db_url: str, db: Conn) -> None:
    jobs, _ = schedule.read_schedule(db_url)
    # As printed where pg_cron runs in the Senate database (the set-up the page describes),
    # whatever this test server's pg_cron does.
    here = [
        r[0]
        for r in db.execute(
            "SELECT format('SELECT cron.schedule(%L, %L, $$%s$$);', job_name, cron_schedule,"
            " sql_command) FROM senate_schedule ORDER BY job_order"
        ).fetchall()
    ]
    server = schedule.CronServer(
        database_name="scidex",
        current_database="scidex",
        installed=True,
        background_workers="on",
        timezone="GMT",
        reads_settings=False,
        login="senate_scheduler",
        login_is_superuser=False,
    )
    jobs = [replace(j, pg_cron_statement=s) for j, s in zip(jobs, here, strict=True)]
    printed = schedule.render(jobs, server, EXAMPLE_URL, executable="senate-db")
    assert printed in [b.rstrip("\n") for b in blocks("text")]
    if not scalar(db, "SELECT count(*) FROM pg_settings WHERE name = 'cron.database_name'"):
        # Without pg_cron the view prints that form itself.
        assert [j.pg_cron_statement for j in schedule.read_schedule(db_url)[0]] == here


def test_the_pages_sql_examples_run_in_order_on_a_migrated_database(db: Conn) -> None:
    runnable = [b for b in blocks("sql") if not b.startswith(PG_CRON_BLOCKS)]
    assert len(runnable) >= 2
    for block in runnable:
        db.execute(block)
    pg_cron = [b for b in blocks("sql") if b.startswith(PG_CRON_BLOCKS)]
    assert [b.splitlines()[0] for b in pg_cron].count(PG_CRON_BLOCKS[0]) == 1
    assert len(pg_cron) >= 3


def test_ci_sets_up_pg_cron_as_the_page_says(db: Conn) -> None:
    (conf,) = [b for b in blocks("text") if "shared_preload_libraries" in b]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    settings = dict(
        (name.strip(), value.split("#")[0].strip())
        for name, value in (line.split("=", 1) for line in conf.splitlines() if "=" in line)
    )
    assert set(settings) == {
        "shared_preload_libraries",
        "cron.database_name",
        "cron.use_background_workers",
        "max_worker_processes",
    }
    assert "pg_cron" in settings["shared_preload_libraries"]
    assert "cron.use_background_workers = on" in ci
    assert "cron.database_name = 'senate_cron'" in ci
    assert "max_worker_processes = $((workers > 32 ? workers : 32))" in ci
    assert "pg_cron" in re.findall(r"preload=\"\$\{preload:\+\$preload,\}(\w+)\"", ci)
