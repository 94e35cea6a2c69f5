"""The command line's rough edges of issue 16 (points 1 and 8): every command starts the
embedded server the same way, says "migrate first" on a database that is not migrated, tells
how long a bench takes, names the sessions a demo re-run would end, runs the psql that matches
the server, and checks its inputs before it starts or creates anything, from any directory."""

from __future__ import annotations

import argparse
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from test_cli import assert_fails_with_one_line, senate_db

from senate_db import cli, embedded, paths, psql, urls
from senate_db.target import DATABASE_ENV, Target

# -- a database that is not migrated ------------------------------------------------------------


@pytest.mark.parametrize("kind", ["daily", "weekly"])
def test_a_cycle_on_an_unmigrated_database_says_to_migrate_it_first(
    empty_db_url: str, kind: str
) -> None:
    result = senate_db("cycle", kind, "--database", empty_db_url)
    line = assert_fails_with_one_line(result, "is not migrated", "senate-db migrate --database")
    assert str(urls.database_name(empty_db_url)) in line
    password = urls.to_params(empty_db_url).get("password")
    assert not password or password not in line


def test_with_database_url_set_the_advice_is_a_plain_migrate(empty_db_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != DATABASE_ENV}
    env[DATABASE_ENV] = empty_db_url
    result = subprocess.run(
        [sys.executable, "-m", "senate_db", "cycle", "daily"],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert_fails_with_one_line(result, "is not migrated", "run `senate-db migrate` first")


def _failure(url: str, statement: str) -> psycopg.Error:
    with psycopg.connect(url, autocommit=True) as conn:
        try:
            conn.execute(statement)  # type: ignore[arg-type]
        except psycopg.Error as e:
            return e
    raise AssertionError(f"{statement} did not fail")


def test_a_missing_function_on_a_migrated_database_is_reported_as_it_is(db_url: str) -> None:
    error = _failure(db_url, "SELECT public.no_such_function_here()")
    assert error.sqlstate == "42883"
    args = argparse.Namespace(
        command="cycle", resolved_target=Target(url=db_url, source="--database")
    )
    assert cli._not_migrated(args, error) is None


def test_the_migrate_first_mapping_goes_by_sqlstate_and_pending_migrations(
    empty_db_url: str,
) -> None:
    args = argparse.Namespace(
        command="report", resolved_target=Target(url=empty_db_url, source="--database")
    )
    for statement in ("SELECT public.run_daily_check(current_date)", "SELECT * FROM budgets"):
        line = cli._not_migrated(args, _failure(empty_db_url, statement))
        assert line is not None and line.endswith("first")
    assert cli._not_migrated(args, _failure(empty_db_url, "SELECT 1/0")) is None
    # A command working on a database of its own (the demo's, the bench's) is not advised.
    args.command = "demo"
    assert cli._not_migrated(args, _failure(empty_db_url, "SELECT * FROM budgets")) is None


# -- bench --help ----------------------------------------------------------------------------------


def test_bench_help_says_the_default_size_takes_several_minutes() -> None:
    result = senate_db("bench", "--help")
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    assert "several minutes" in text and "--size tiny" in text


# -- demo re-run with sessions open on its database -------------------------------------------


@pytest.fixture
def demo_database(empty_db_url: str) -> Iterator[str]:
    """``<name>_demo`` next to ``empty_db_url``'s database, as a previous demo left it."""
    name = f"{urls.database_name(empty_db_url)}_demo"
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urls.with_database(empty_db_url, name)
    finally:
        with psycopg.connect(empty_db_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def test_a_demo_refuses_to_end_sessions_open_on_its_database_and_names_them(
    empty_db_url: str, demo_database: str
) -> None:
    with psycopg.connect(demo_database, autocommit=True, application_name="analyst") as held:
        pid = held.info.backend_pid
        result = senate_db("demo", "--database", empty_db_url, "--size", "small")
        line = assert_fails_with_one_line(result, f"pid {pid}", "analyst", "--force")
        assert str(urls.database_name(demo_database)) in line
        assert held.execute("SELECT 1").fetchone() == (1,)  # still open, nothing dropped
    assert result.stdout == ""


@pytest.mark.slow
def test_a_demo_with_force_names_each_session_it_ends(
    empty_db_url: str, demo_database: str
) -> None:
    held = psycopg.connect(demo_database, autocommit=True)
    pid = held.info.backend_pid
    try:
        result = senate_db(
            "demo", "--database", empty_db_url, "--size", "small", "--force", timeout=600
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.splitlines()[0].startswith(f"ending session pid {pid} ")
        with pytest.raises(psycopg.OperationalError):
            held.execute("SELECT 1")
    finally:
        held.close()


# -- which psql ------------------------------------------------------------------------------------


def _fake_psql(directory: Path, major: int) -> Path:
    """A ``psql`` that reports PostgreSQL ``major`` and fails when run for real."""
    directory.mkdir(parents=True, exist_ok=True)
    exe = directory / "psql"
    exe.write_text(
        "#!/bin/sh\n"
        f'if [ "$1" = "--version" ]; then echo "psql (PostgreSQL) {major}.3"; exit 0; fi\n'
        "echo 'an older psql ran' >&2; exit 3\n",
        encoding="utf-8",
    )
    exe.chmod(exe.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return exe


def test_psql_runs_the_bundled_psql_rather_than_an_older_one_on_path(
    empty_db_url: str, server_version_num: int, tmp_path: Path
) -> None:
    major = server_version_num // 10000
    _fake_psql(tmp_path / "bin", major - 1)
    env = {k: v for k, v in os.environ.items() if k != DATABASE_ENV}
    env["PATH"] = f"{tmp_path / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    result = subprocess.run(
        [sys.executable, "-m", "senate_db", "psql", "--database", empty_db_url]
        + ["--", "-Atc", "SELECT 40 + 2"],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "42"


def test_the_psql_whose_major_version_is_the_servers_wins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundled = psql.bundled()
    assert bundled is not None and psql.major_version(bundled) == embedded.EMBEDDED_MAJOR
    fake = _fake_psql(tmp_path / "bin", 15)
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    assert psql.binary(15) == str(fake)
    assert psql.binary(embedded.EMBEDDED_MAJOR) == bundled
    assert psql.binary(16) == bundled  # none matches: the newest
    assert psql.binary(None) == bundled
    # Printed for a person to paste: by full path unless the psql on PATH is as good.
    nowhere = "postgresql://x@/y?host=/nonexistent"
    assert psql.command(nowhere, display=True)[0] == bundled
    _fake_psql(tmp_path / "same", embedded.EMBEDDED_MAJOR)
    monkeypatch.setenv("PATH", str(tmp_path / "same"))
    assert psql.command(nowhere, display=True)[0] == "psql"


# -- the default data directory and inputs checked first ------------------------------------------


def test_from_a_checkout_the_data_dir_is_the_checkouts() -> None:
    root = paths.checkout_root()
    assert root is not None and (root / "pyproject.toml").is_file()
    assert paths.default_data_dir() == root / ".senate-db"


def test_outside_a_checkout_the_data_dir_is_per_user_whatever_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(paths, "checkout_root", lambda: None)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    assert paths.default_data_dir() == tmp_path / "home" / ".local" / "share" / "senate-db"
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert paths.default_data_dir() == tmp_path / "xdg" / "senate-db"
    assert list(tmp_path.iterdir()) == []  # nothing created by asking


@pytest.fixture
def short_dir() -> Iterator[Path]:
    # Not tmp_path: a unix socket lives in the data dir, and its path must stay short.
    workdir = Path(tempfile.mkdtemp(prefix="senate-db-x-"))
    try:
        yield workdir
    finally:
        for data in (workdir / "data", workdir / "share" / "senate-db"):
            if data.is_dir():
                embedded.stop(data)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.mark.slow
def test_the_per_user_data_dir_and_its_parents_are_created_when_the_server_first_starts(
    short_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(paths, "checkout_root", lambda: None)
    monkeypatch.setenv("XDG_DATA_HOME", str(short_dir / "share"))
    url = embedded.start(paths.default_data_dir())
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
    assert (short_dir / "share" / "senate-db" / "PG_VERSION").is_file()


@pytest.mark.parametrize(
    "args",
    [
        ("migrate",),
        ("check",),
        ("status",),
        ("rollback",),
        ("demo", "--size", "small"),
        ("bench", "--size", "tiny"),
    ],
    ids=lambda a: a[0],
)
def test_nothing_is_started_or_created_when_the_migrations_are_missing(
    args: tuple[str, ...], short_dir: Path
) -> None:
    data = short_dir / "data"
    result = senate_db(*args, "--data-dir", str(data), migrations_dir=short_dir / "nope")
    assert_fails_with_one_line(result, "migrations directory not found")
    assert not data.exists()


@pytest.mark.parametrize(
    "args",
    [("report", "--html"), ("dump-schema", "--output")],
    ids=["report", "dump-schema"],
)
def test_nothing_is_started_when_the_output_cannot_be_written(
    args: tuple[str, ...], short_dir: Path
) -> None:
    data = short_dir / "data"
    result = senate_db(*args, str(short_dir / "no" / "such" / "out"), "--data-dir", str(data))
    assert_fails_with_one_line(result, "does not exist")
    assert not data.exists()
