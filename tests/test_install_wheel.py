"""A non-editable install carries everything the CLI reads (issue 16): the wheel holds every
migration, the schema the pre-flight compares against and the demo workload, and the CLI finds
them inside the package, not in the current directory."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

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
        f"senate_db/db/migrations/{p.name}" for p in (ROOT / "db" / "migrations").glob("*.sql")
    }
    assert expected and expected <= names, sorted(expected - names)[:5]
    assert {"senate_db/db/schema.sql", "senate_db/db/demo/workload.sql"} <= names


def test_the_package_finds_its_sql_files_through_its_own_db_directory() -> None:
    assert paths.migrations_dir().resolve() == (ROOT / "db" / "migrations").resolve()
    assert paths.default_schema_file().resolve() == (ROOT / "db" / "schema.sql").resolve()
    assert paths.PACKAGE_DB.is_symlink(), "tools/senate_db/db must stay a symlink to db/"
