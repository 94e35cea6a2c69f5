"""The ``senate-db`` command line, run as a subprocess the way a person or CI runs it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from senate_db import definitions, migrations, paths, urls
from senate_db.paths import MIGRATIONS_ENV
from senate_db.target import DATABASE_ENV


def senate_db(
    *args: str, migrations_dir: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in (DATABASE_ENV, MIGRATIONS_ENV)}
    if migrations_dir is not None:
        env[MIGRATIONS_ENV] = str(migrations_dir)
    return subprocess.run(
        [sys.executable, "-m", "senate_db", *args],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
    )


def assert_fails_with_one_line(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    assert result.returncode != 0, result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got:\n{result.stderr}"
    line = lines[0]
    assert line.startswith("senate-db: ")
    assert "Traceback" not in line
    for text in expected:
        assert text in line
    return line


GOOD_THEN_BAD = (
    ("0001_good", "CREATE TABLE good_table (id int PRIMARY KEY);\n", "DROP TABLE good_table;\n"),
    (
        "0002_bad",
        "CREATE TABLE bad_table (id int PRIMARY KEY);\nSELEC broken syntax;\n",
        "DROP TABLE bad_table;\n",
    ),
)


def table_exists(url: str, name: str) -> bool:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()
    return bool(row and row[0])


def test_migrate_applies_every_migration_then_nothing_the_second_time(empty_db_url: str) -> None:
    first = senate_db("migrate", "--database", empty_db_url)
    assert first.returncode == 0, first.stderr
    expected = migrations.migration_ids()
    lines = first.stdout.splitlines()[1:]
    count = len(definitions.read_all())
    assert lines[-1] == f"applied {count} definitions (db/definitions)"
    assert [line.removeprefix("applied ") for line in lines[:-1]] == expected
    second = senate_db("migrate", "--database", empty_db_url)
    assert second.returncode == 0, second.stderr
    assert second.stdout.splitlines()[1:] == ["nothing to apply"]
    assert second.stderr == ""


def test_status_lists_applied_and_pending_migrations(
    empty_db_url: str, write_migrations: Any
) -> None:
    migrations.apply_migrations(empty_db_url, directory=write_migrations(GOOD_THEN_BAD[0]))
    directory = write_migrations(
        GOOD_THEN_BAD[0], ("0002_next", "CREATE TABLE next_t (id int);", "DROP TABLE next_t;")
    )
    result = senate_db("status", "--database", empty_db_url, migrations_dir=directory)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "server:   PostgreSQL" in out
    assert "applied:  1 migration(s)\n  0001_good\n" in out
    assert "pending:  1 migration(s)\n  0002_next" in out


def test_migrate_with_a_malformed_url_fails_with_one_line() -> None:
    result = senate_db("migrate", "--database", "not a url")
    assert_fails_with_one_line(result, "invalid database URL")


def test_migrate_with_a_non_postgres_url_fails_with_one_line() -> None:
    result = senate_db("migrate", "--database", "mysql://user@host/db")
    assert_fails_with_one_line(result, "invalid database URL mysql://")


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://postgres@/postgres?host={socket_dir}",
        "postgresql://postgres:secret@127.0.0.1:1/postgres",
    ],
    ids=["socket-dir-without-server", "tcp-port-1"],
)
def test_migrate_against_a_server_that_is_down_fails_with_one_line(
    url: str, tmp_path: Path
) -> None:
    url = url.format(socket_dir=tmp_path)
    line = assert_fails_with_one_line(senate_db("migrate", "--database", url), "cannot connect to")
    assert "secret" not in line


def test_status_against_a_missing_database_fails_with_one_line(server_url: str) -> None:
    url = urls.with_database(server_url, "senate_no_such_database")
    assert_fails_with_one_line(senate_db("status", "--database", url), "cannot connect to")


def test_a_failing_migration_fails_with_one_line_and_leaves_nothing_behind(
    empty_db_url: str, write_migrations: Any
) -> None:
    directory = write_migrations(*GOOD_THEN_BAD)
    result = senate_db("migrate", "--database", empty_db_url, migrations_dir=directory)
    assert_fails_with_one_line(result, "migration 0002_bad failed: SQLSTATE 42601")
    assert "applied 0001_good" in result.stdout
    assert table_exists(empty_db_url, "good_table")
    assert not table_exists(empty_db_url, "bad_table")
    assert migrations.applied(empty_db_url) == ["0001_good"]


def test_a_missing_migrations_directory_fails_with_one_line(
    empty_db_url: str, tmp_path: Path
) -> None:
    result = senate_db("migrate", "--database", empty_db_url, migrations_dir=tmp_path / "nope")
    assert_fails_with_one_line(result, "migrations directory not found")


def test_psql_runs_on_the_target_database(empty_db_url: str) -> None:
    result = senate_db("psql", "--database", empty_db_url, "--", "-Atc", "SELECT 40 + 2")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "42"


def test_demo_migrates_and_ends_with_the_psql_command(empty_db_url: str) -> None:
    # The default demo (520 entities, 36 days, families, the runway backtest) takes 15-40 s on
    # an idle 2-core machine and over 120 s beside another test run: a guard, not a timing.
    result = senate_db("demo", "--database", empty_db_url, timeout=600)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "pending:  0 migration(s)" in lines
    assert lines[-2] == "connect with:"
    assert "psql " in lines[-1]
    dbname = urls.database_name(empty_db_url)
    assert f"/{dbname}" in lines[-1]
    password = urls.to_params(empty_db_url).get("password")
    assert not password or password not in result.stdout  # a password is never printed


@pytest.fixture
def short_data_dir() -> Iterator[Path]:
    # Not tmp_path: the wheel opens up permissions on every parent of the data dir for its
    # system user, and the unix socket path must stay short.
    workdir = Path(tempfile.mkdtemp(prefix="senate-db-cli-"))
    yield workdir / "data"
    senate_db("down", "--data-dir", str(workdir / "data"))
    shutil.rmtree(workdir, ignore_errors=True)


@pytest.mark.slow
def test_up_status_and_down_manage_an_embedded_server(short_data_dir: Path) -> None:
    up = senate_db("up", "--data-dir", str(short_data_dir))
    assert up.returncode == 0, up.stderr
    url_line = next(line for line in up.stdout.splitlines() if line.startswith("url:"))
    url = url_line.removeprefix("url:").strip()
    assert url == f"postgresql://postgres@/senate?host={short_data_dir}"
    assert f"psql: psql '{url}'" in up.stdout or f"/psql '{url}'" in up.stdout
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("senate",)

    again = senate_db("up", "--data-dir", str(short_data_dir))
    assert again.returncode == 0 and url in again.stdout

    status = senate_db("status", "--data-dir", str(short_data_dir))
    assert status.returncode == 0, status.stderr
    assert "embedded server in" in status.stdout

    down = senate_db("down", "--data-dir", str(short_data_dir))
    assert down.returncode == 0, down.stderr
    assert "stopped" in down.stdout
    # Like every other command, status starts the embedded server when it is down.
    after = senate_db("status", "--data-dir", str(short_data_dir))
    assert after.returncode == 0, after.stderr
    assert "embedded server in" in after.stdout
    assert "stopped" in senate_db("down", "--data-dir", str(short_data_dir)).stdout
    down_again = senate_db("down", "--data-dir", str(short_data_dir))
    assert "no embedded PostgreSQL running" in down_again.stdout


def test_migrate_names_the_definition_it_applied_after_an_edit(db_url: str, tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "db"
    shutil.copytree(paths.migrations_dir(), root / "migrations")
    shutil.copytree(definitions.definitions_dir(), root / "definitions")
    path = root / "definitions" / "20_formulas.sql"
    marker = "COMMENT ON FUNCTION public.roi_score(numeric,numeric) IS '"
    path.write_text(path.read_text().replace(marker, marker + "Edited. ", 1))
    result = senate_db("migrate", "--database", db_url, migrations_dir=root / "migrations")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[1:] == [
        "applied definition function public.roi_score(numeric,numeric)"
    ]
