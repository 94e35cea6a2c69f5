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
from senate_db.errors import MigrationFailed, UnsafeSchemas, cannot_connect

#: yoyo's bookkeeping tables (excluded from schema dumps).
YOYO_TABLES = ("_yoyo_migration", "_yoyo_log", "_yoyo_version", "yoyo_lock")

#: lock_timeout for every migration and rollback connection, unless the URL's ``options``
#: already set one (a migration can still ``SET lock_timeout`` itself). DDL waiting for a lock
#: otherwise queues every later query on the table behind it on a live database.
LOCK_TIMEOUT = "5s"
APPLICATION_NAME = "senate-db migrate"

#: The schema holding yoyo's bookkeeping (and the search_path of every migration connection),
#: whatever the login is called: with the default ``"$user", public`` a login named ``senate``
#: would put the bookkeeping in schema ``senate`` once 0001 creates it, and the next run would
#: not find it and start again from 0001. Every migration names its objects' schemas.
BOOKKEEPING_SCHEMA = "public"

#: Every migration connection runs with ``row_security = off``: a query that row-level security
#: would filter for the migrating role fails (42501) instead of silently seeing part of the
#: rows, so no backfill or final count can complete on a subset.
SESSION_SETTINGS = {"search_path": BOOKKEEPING_SCHEMA, "row_security": "off"}

OnMigration = Callable[[str], None]

#: SQL run before every ``migrate``: refuses (S5001) while a role other than superusers and
#: members of senate_owner may CREATE in schema public or senate (see the file for why).
SCHEMA_GUARD = Path(__file__).with_name("sql") / "schema_guard.sql"


def _read(directory: Path | None) -> Any:
    from yoyo import read_migrations

    return read_migrations(str(directory or paths.migrations_dir()))


def migration_ids(directory: Path | None = None) -> list[str]:
    """Ids (file names without ``.sql``) of all migrations on disk, in apply order."""
    from yoyo.migrations import topological_sort

    return [m.id for m in topological_sort(_read(directory))]


def migration_url(conninfo: str) -> str:
    """``conninfo`` with this harness's session settings: lock_timeout (unless the URL sets
    one), application_name, and, always and last (so they win), the pinned search_path and
    row_security = off."""
    params = urls.to_params(conninfo)
    options = params.get("options", "")
    if "lock_timeout" not in options:
        options = f"{options} -c lock_timeout={LOCK_TIMEOUT}"
    for name, value in SESSION_SETTINGS.items():
        options = f"{options} -c {name}={value}"
    params["options"] = options.strip()
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
    conninfo: str,
    *,
    directory: Path | None = None,
    on_applied: OnMigration | None = None,
    preflight: bool | None = None,
    schema: str | None = None,
    on_finding: Callable[[Any], None] | None = None,
    until: str | None = None,
    on_definition: OnMigration | None = None,
) -> list[str]:
    """Apply every pending migration (up to and including ``until``, when given); return the
    ids applied, in order.

    First, before anything is written, the pre-flight (:mod:`senate_db.preflight`) reads the
    catalog; any blocker raises :class:`~senate_db.preflight.PreflightRefused` and nothing is
    applied. It runs by default for the project's own migrations (``directory`` None);
    ``preflight=False`` skips it. ``on_finding`` receives each non-INFO finding.

    After a full run (no ``until``), the post-apply hook applies ``db/definitions``: each
    function or view whose text changed (or that the catalog lost) is applied, and
    ``on_definition`` receives its identity ("function public.f(integer)").

    Raises :class:`MigrationFailed` naming the first migration that failed (that migration is
    rolled back; earlier ones in this run remain applied).
    """
    if preflight is None:
        preflight = directory is None
    if preflight:
        from senate_db import preflight as checks

        findings = checks.run_check(conninfo, schema=schema, directory=directory)
        if on_finding:
            for finding in findings:
                if finding.severity != "INFO":
                    on_finding(finding)
        checks.refuse_on_blockers(findings)
    migrations = _read(directory)
    check_schemas(conninfo)
    applied: list[str] = []
    with _backend(conninfo) as backend, backend.lock():
        pending = backend.to_apply(migrations)
        if until is not None:
            pending = pending.filter(lambda m: m.id <= until)
        for migration in pending:
            try:
                backend.apply_one(migration)
            except psycopg.Error as e:
                raise MigrationFailed(migration.id, e) from e
            applied.append(migration.id)
            if on_applied:
                on_applied(migration.id)
        if until is None:
            # The definitions (db/definitions, applied by the post-apply hook) describe the
            # fully migrated schema: after a partial run (``until``) they may name columns not
            # added yet. Each object is executed only if it changed, so this costs no lock
            # when nothing did.
            cursor = backend.connection.cursor()
            cursor.execute("SELECT pg_catalog.clock_timestamp()")
            started = cursor.fetchone()[0]
            try:
                backend.run_post_apply(pending)
            except psycopg.Error as e:
                raise MigrationFailed("post-apply_definitions", e) from e
            if on_definition and pending.post_apply:
                cursor.execute(
                    "SELECT object_identity FROM senate.applied_definitions"
                    " WHERE applied_at >= %s ORDER BY definitions_file, applied_at",
                    (started,),
                )
                for (identity,) in cursor.fetchall():
                    on_definition(str(identity))
    return applied


def check_schemas(conninfo: str) -> None:
    """Run the schema guard (``sql/schema_guard.sql``) in its own read-only transaction.

    Raises :class:`UnsafeSchemas` (one line, SQLSTATE S5001) while anyone but superusers and
    members of senate_owner may CREATE in schema public or senate; writes nothing either way.
    """
    guard = SCHEMA_GUARD.read_text(encoding="utf-8")
    conn = server.connect(migration_url(conninfo))
    try:
        with conn:
            conn.execute("SET TRANSACTION READ ONLY")
            conn.execute(guard)
    except psycopg.Error as e:
        raise UnsafeSchemas(e) from e


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
        row = conn.execute(
            f"SELECT to_regclass('{BOOKKEEPING_SCHEMA}._yoyo_migration') IS NOT NULL"
        ).fetchone()
        if not row or not row[0]:
            return []
        rows = conn.execute(
            f"SELECT migration_id FROM {BOOKKEEPING_SCHEMA}._yoyo_migration"
            " ORDER BY applied_at_utc, migration_id"
        ).fetchall()
    return [str(r[0]) for r in rows]


def pending(conninfo: str, *, directory: Path | None = None) -> list[str]:
    """Ids of migrations on disk not yet applied to ``conninfo``'s database, in apply order."""
    done = set(applied(conninfo))
    return [mid for mid in migration_ids(directory) if mid not in done]
