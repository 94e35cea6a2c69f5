"""Where the project's files live: the checkout, migrations, the embedded server's data dir.

Every command works from any directory: nothing here depends on the current directory.
"""

from __future__ import annotations

import os
from pathlib import Path

from senate_db.errors import SenateDbError

#: Environment variable overriding the migrations directory.
MIGRATIONS_ENV = "SENATE_DB_MIGRATIONS"

#: Name of the embedded server's data directory (in a checkout, or the per-user data dir).
DATA_DIR_NAME = ".senate-db"
#: Name of the per-user data directory outside a checkout (under ``$XDG_DATA_HOME``).
USER_DATA_DIR_NAME = "senate-db"


def checkout_root() -> Path | None:
    """The repository checkout this package runs from (an editable install: ``tools/senate_db``
    inside it); ``None`` for a non-editable install (site-packages)."""
    root = Path(__file__).resolve().parents[2]
    if (root / "pyproject.toml").is_file() and (root / "tools" / "senate_db").is_dir():
        return root
    return None


def repo_root() -> Path:
    """The checkout (tests and docs read it); outside one, the current directory stands in."""
    return checkout_root() or Path.cwd()


#: The package's ``db`` directory: in a checkout (and an editable install) a symlink to the
#: repository's ``db/``; in a non-editable install, the copy the wheel carries.
PACKAGE_DB = Path(__file__).with_name("db")


def db_dir() -> Path:
    """The project's SQL files: ``migrations/``, ``demo/`` and ``schema.sql`` (see
    :data:`PACKAGE_DB`; the checkout's ``db/`` if the package's is missing)."""
    root = checkout_root()
    return PACKAGE_DB if PACKAGE_DB.is_dir() or root is None else root / "db"


def migrations_dir() -> Path:
    """``$SENATE_DB_MIGRATIONS`` if set, else the migrations the package carries."""
    override = os.environ.get(MIGRATIONS_ENV)
    path = Path(override) if override else db_dir() / "migrations"
    if not path.is_dir():
        hint = "" if override else f" (reinstall the package, or set {MIGRATIONS_ENV})"
        raise SenateDbError(f"migrations directory not found: {path}{hint}")
    return path


def user_data_home() -> Path:
    """``$XDG_DATA_HOME``, else ``~/.local/share``."""
    xdg = os.environ.get("XDG_DATA_HOME", "").strip()
    return Path(xdg) if xdg and Path(xdg).is_absolute() else Path.home() / ".local" / "share"


def default_data_dir() -> Path:
    """The embedded server's data directory: ``<checkout>/.senate-db`` when running from a
    checkout, else the per-user ``$XDG_DATA_HOME/senate-db`` (``~/.local/share/senate-db``),
    whatever the current directory."""
    root = checkout_root()
    return root / DATA_DIR_NAME if root is not None else user_data_home() / USER_DATA_DIR_NAME


def default_schema_file() -> Path:
    """Where ``senate-db dump-schema`` writes by default, and what the pre-flight reads."""
    return db_dir() / "schema.sql"


def require_file(path: Path, what: str) -> Path:
    """``path`` if it is a file, else a one-line error naming ``what`` it is."""
    if not path.is_file():
        raise SenateDbError(f"{what} not found: {path} (reinstall the package)")
    return path


def require_parent(path: Path, what: str) -> Path:
    """``path`` if its directory exists (so it can be written later), else a one-line error."""
    parent = path.expanduser().resolve().parent
    if not parent.is_dir():
        raise SenateDbError(f"cannot write {what} {path}: directory {parent} does not exist")
    return path
