"""Apply, inspect and roll back the yoyo migrations in ``db/migrations``.

Each migration runs in its own transaction (yoyo's default for ``.sql`` files), so a failing
migration leaves the database exactly as it was before that migration started; the migrations
before it stay applied. yoyo's lock table serialises concurrent runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg

from senate_db import paths, server, urls
from senate_db.errors import MigrationFailed, cannot_connect

#: yoyo's bookkeeping tables (excluded from schema dumps).
YOYO_TABLES = ("_yoyo_migration", "_yoyo_log", "_yoyo_version", "yoyo_lock")

#: lock_timeout for every migration and rollback connection, unless the URL's ``options``
#: already set one (a migration can still ``SET lock_timeout`` itself). DDL waiting for a lock
#: otherwise queues every later query on the table behind it on a live database.
LOCK_TIMEOUT = "5s"
APPLICATION_NAME = "senate-db migrate"

OnMigration = Callable[[str], None]


def _read(directory: Path | None) -> Any:
    from yoyo import read_migrations

    return read_migrations(str(directory or paths.migrations_dir()))


def migration_ids(directory: Path | None = None) -> list[str]:
    """Ids (file names without ``.sql``) of all migrations on disk, in apply order."""
    from yoyo.migrations import topological_sort

    return [m.id for m in topological_sort(_read(directory))]


def migration_url(conninfo: str) -> str:
    """``conninfo`` with this harness's session defaults (lock_timeout, application_name)."""
    params = urls.to_params(conninfo)
    options = params.get("options", "")
    if "lock_timeout" not in options:
        params["options"] = f"{options} -c lock_timeout={LOCK_TIMEOUT}".strip()
    params.setdefault("application_name", APPLICATION_NAME)
    return urls.from_params(params)


@contextmanager
def _backend(conninfo: str) -> Iterator[Any]:
    from yoyo import get_backend

    try:
        backend = get_backend(urls.to_yoyo(migration_url(conninfo)))
    except psycopg.OperationalError as e:
        raise cannot_connect(urls.redact(conninfo), e) from e
    try:
        yield backend
    finally:
        backend.connection.close()


def apply_migrations(
    conninfo: str, *, directory: Path | None = None, on_applied: OnMigration | None = None
) -> list[str]:
    """Apply every pending migration; return the ids applied, in order.

    Raises :class:`MigrationFailed` naming the first migration that failed (that migration is
    rolled back; earlier ones in this run remain applied).
    """
    migrations = _read(directory)
    applied: list[str] = []
    with _backend(conninfo) as backend, backend.lock():
        pending = backend.to_apply(migrations)
        for migration in pending:
            try:
                backend.apply_one(migration)
            except psycopg.Error as e:
                raise MigrationFailed(migration.id, e) from e
            applied.append(migration.id)
            if on_applied:
                on_applied(migration.id)
        if applied:
            backend.run_post_apply(pending)
    return applied


def rollback_migrations(
    conninfo: str,
    count: int | None = None,
    *,
    directory: Path | None = None,
    on_rolled_back: OnMigration | None = None,
) -> list[str]:
    """Roll back the last ``count`` applied migrations (all when ``None``), newest first.

    Returns the ids rolled back. Each rollback runs in its own transaction.
    """
    migrations = _read(directory)
    done: list[str] = []
    with _backend(conninfo) as backend, backend.lock():
        to_rollback = list(backend.to_rollback(migrations))
        if count is not None:
            to_rollback = to_rollback[:count]
        for migration in to_rollback:
            try:
                backend.rollback_one(migration)
            except psycopg.Error as e:
                raise MigrationFailed(migration.id, e, action="rollback of migration") from e
            done.append(migration.id)
            if on_rolled_back:
                on_rolled_back(migration.id)
    return done


def applied(conninfo: str) -> list[str]:
    """Ids recorded as applied in ``conninfo``'s database, in the order they were applied.

    Read-only: a database yoyo never touched simply has none.
    """
    with server.connect(conninfo, autocommit=True) as conn:
        row = conn.execute("SELECT to_regclass('_yoyo_migration') IS NOT NULL").fetchone()
        if not row or not row[0]:
            return []
        rows = conn.execute(
            "SELECT migration_id FROM _yoyo_migration ORDER BY applied_at_utc, migration_id"
        ).fetchall()
    return [str(r[0]) for r in rows]


def pending(conninfo: str, *, directory: Path | None = None) -> list[str]:
    """Ids of migrations on disk not yet applied to ``conninfo``'s database, in apply order."""
    done = set(applied(conninfo))
    return [mid for mid in migration_ids(directory) if mid not in done]
