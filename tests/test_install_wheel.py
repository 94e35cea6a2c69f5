"""A non-editable install carries everything the CLI reads (issue 16): the wheel holds every
migration, the schema the pre-flight compares against, the demo workload and the SQL files of
the package's own modules (the schema guard, the bench's statements), and the CLI finds them
inside the package, not in the current directory."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

from senate_db import paths

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_wheel_carries_every_migration_the_schema_and_the_demo_workload(
    tmp_path: Path,
) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    wheel = next(tmp_path.glob("senate_db-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        f"senate_db/db/{p.parent.name}/{p.name}"
        for pattern in ("migrations/*.sql", "migrations/post-apply*.py", "definitions/*.sql")
        for p in (ROOT / "db").glob(pattern)
    }
    assert expected and expected <= names, sorted(expected - names)[:5]
    assert {"senate_db/db/schema.sql", "senate_db/db/demo/workload.sql"} <= names
    sql_files = {
        f"senate_db/{p.relative_to(ROOT / 'tools' / 'senate_db').as_posix()}"
        for p in (ROOT / "tools" / "senate_db" / "sql").rglob("*.sql")
    }
    assert "senate_db/sql/bench/setup.sql" in sql_files
    assert sql_files <= names, sorted(sql_files - names)


def test_the_package_finds_its_sql_files_through_its_own_db_directory() -> None:
    assert paths.migrations_dir().resolve() == (ROOT / "db" / "migrations").resolve()
    assert paths.default_schema_file().resolve() == (ROOT / "db" / "schema.sql").resolve()
    assert paths.PACKAGE_DB.is_symlink(), "tools/senate_db/db must stay a symlink to db/"


@pytest.mark.slow
def test_an_installed_wheel_migrates_reports_and_runs_the_demo_from_an_unrelated_directory(
    tmp_path: Path, empty_db_url: str, server_url: str
) -> None:
    """Issue 16's newcomer: the wheel in a fresh virtual environment (its dependencies seen
    through a path entry, not installed again), run from a directory that is not the checkout."""
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    site = next((venv / "lib").glob("python3*/site-packages"))
    # The dependencies (psycopg, yoyo, matplotlib...) of the environment running the tests,
    # without processing its .pth files: the editable install of the checkout stays invisible.
    deps = [p for p in sys.path if p.endswith("site-packages")]
    (site / "zz_test_dependencies.pth").write_text("\n".join(deps) + "\n", encoding="utf-8")
    subprocess.run(
        [str(venv / "bin" / "pip"), "install", "--no-deps", "-q", str(next(wheels.glob("*.whl")))],
        check=True,
        capture_output=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    def run(*args: str) -> str:
        done = subprocess.run(
            [str(venv / "bin" / "senate-db"), *args],
            cwd=elsewhere,
            capture_output=True,
            text=True,
            timeout=600,
            stdin=subprocess.DEVNULL,
            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        )
        assert done.returncode == 0, (
            f"senate-db {args[0]}: {done.stdout[-800:]} {done.stderr[-800:]}"
        )
        return done.stdout

    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import senate_db; print(senate_db.__file__)"],
        cwd=elsewhere,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(venv)), where
    parts = urlsplit(empty_db_url)
    demo_db = f"{parts.path.lstrip('/')}_demo"
    demo_url = urlunsplit(parts._replace(path=f"/{demo_db}"))
    try:
        run("migrate", "--database", empty_db_url)
        assert "pending" in run("status", "--database", empty_db_url)
        demo_out = run("demo", "--size", "small", "--database", empty_db_url)
        assert demo_db in demo_out
        assert run("report", "--database", demo_url).strip()
        assert list(elsewhere.iterdir()) == [], "nothing is created in the working directory"
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{demo_db}" WITH (FORCE)')
