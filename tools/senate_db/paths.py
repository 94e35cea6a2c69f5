"""Where the project's files live: repository root, migrations, local data dir."""

from __future__ import annotations

import os
from pathlib import Path

from senate_db.errors import SenateDbError

#: Environment variable overriding the migrations directory.
MIGRATIONS_ENV = "SENATE_DB_MIGRATIONS"


def repo_root() -> Path:
    """The repository this package is installed from (editable install: ``tools/senate_db``).

    Outside a checkout (a non-editable install), the current directory stands in for it.
    """
    root = Path(__file__).resolve().parents[2]
    return root if (root / "pyproject.toml").is_file() else Path.cwd()


#: The package's ``db`` directory: in a checkout (and an editable install) a symlink to the
#: repository's ``db/``; in a non-editable install, the copy the wheel carries.
PACKAGE_DB = Path(__file__).with_name("db")


def db_dir() -> Path:
    """The project's SQL files: ``migrations/`` and ``demo/`` (see :data:`PACKAGE_DB`)."""
    return PACKAGE_DB if PACKAGE_DB.is_dir() else repo_root() / "db"


def migrations_dir() -> Path:
    """``$SENATE_DB_MIGRATIONS`` if set, else the migrations the package carries."""
    override = os.environ.get(MIGRATIONS_ENV)
    path = Path(override) if override else db_dir() / "migrations"
    if not path.is_dir():
        hint = "" if override else f" (reinstall the package, or set {MIGRATIONS_ENV})"
        raise SenateDbError(f"migrations directory not found: {path}{hint}")
    return path


def default_data_dir() -> Path:
    """The embedded server's data directory: ``<repo root>/.senate-db``."""
    return repo_root() / ".senate-db"


def default_schema_file() -> Path:
    """Where ``senate-db dump-schema`` writes by default."""
    return db_dir() / "schema.sql"
