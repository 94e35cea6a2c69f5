"""Fixture contract for the Senate database tests.

Which server
    ``pytest --database URL`` (or ``$DATABASE_URL``) runs the suite against that server; the
    URL's database is used as the maintenance database (``postgres`` if none is given) and the
    user needs CREATEDB. Without either, one embedded PostgreSQL 18 is started for the session
    in a temporary data directory and removed afterwards.

How databases are made
    All migrations in ``db/migrations`` (or ``$SENATE_DB_MIGRATIONS``) are applied once per
    session into a template database (pytest-postgresql's ``load=`` mechanism on the
    no-process fixture). Every test that asks for ``db``/``db_url``/``connect`` gets its own
    database cloned from that template (tens of milliseconds) and dropped afterwards.

Fixtures (stable names; other tests rely on them)
    ``db``                  psycopg 3 ``Connection`` (autocommit=True) to this test's fresh,
                            fully migrated database.
    ``db_url``              URL of that same database (``postgresql://...``), e.g. to open
                            more connections from threads or subprocesses.
    ``connect``             factory ``connect(**kwargs) -> psycopg.Connection`` opening extra
                            connections to this test's database (autocommit=True unless
                            overridden); all are closed at teardown.
    ``empty_db_url``        URL of a fresh EMPTY database (no migrations, no yoyo tables) for
                            brownfield tests: create deployed-style tables, then call
                            ``senate_db.migrations.apply_migrations(empty_db_url)``.
    ``server_url``          (session) admin URL of the server (its maintenance database).
    ``server_version_num``  (session) ``server_version_num`` as an int, e.g. 180006.
    ``write_migrations``    factory ``write_migrations((id, apply_sql, rollback_sql), ...)
                            -> Path``: a new temp directory holding those yoyo migrations, for
                            ``apply_migrations(url, directory=...)`` or ``$SENATE_DB_MIGRATIONS``.

    pytest-postgresql's own names also point at this server: ``postgresql_noproc`` (and
    ``postgresql_proc``, an alias) describe it, and ``postgresql`` is the per-test migrated
    database's connection (not autocommit).
"""

from __future__ import annotations

import getpass
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from pytest_postgresql import factories
from pytest_postgresql.executors import NoopExecutor
from pytest_postgresql.janitor import DatabaseJanitor

from senate_db import embedded, migrations, urls
from senate_db.target import DATABASE_ENV

#: Name of the per-test database (and, with ``_tmpl``, of the migrated template). The pid keeps
#: two test sessions sharing one server apart.
TEST_DBNAME = f"senate_test_{os.getpid()}"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--database",
        metavar="URL",
        default=None,
        help=f"run against this PostgreSQL (default: ${DATABASE_ENV}, else an embedded server)",
    )


def _external_url(config: pytest.Config) -> tuple[str, str] | None:
    option = config.getoption("--database")
    if option:
        return option, "--database"
    env = os.environ.get(DATABASE_ENV, "").strip()
    if env:
        return env, DATABASE_ENV
    return None


def pytest_report_header(config: pytest.Config) -> str:
    external = _external_url(config)
    if external is None:
        return (
            f"senate-db: tests run on an embedded PostgreSQL {embedded.EMBEDDED_MAJOR} "
            "(temporary data dir)"
        )
    return f"senate-db: tests run on {urls.redact(external[0])} (from {external[1]})"


@dataclass(frozen=True)
class ServerParams:
    """Connection details of the test server, shaped for ``postgresql_noproc(depends_on=)``."""

    host: str | None
    port: int
    user: str
    password: str | None
    maintenance_dbname: str
    source: str
    options: str = ""
    template_dbname: str | None = None  # read by pytest-postgresql; no base template

    def url(self, dbname: str) -> str:
        return _url(self.host, self.port, self.user, self.password, dbname)


def _url(host: str | None, port: Any, user: str, password: str | None, dbname: str) -> str:
    params = {"host": host, "port": str(port), "user": user, "password": password}
    return urls.from_params(
        {"dbname": dbname, **{k: v for k, v in params.items() if v is not None}}
    )


@pytest.fixture(scope="session")
def senate_server(request: pytest.FixtureRequest) -> Iterator[ServerParams]:
    """The server the session runs on (embedded unless --database / $DATABASE_URL)."""
    external = _external_url(request.config)
    if external is not None:
        url, source = external
        params = urls.to_params(url)
        yield ServerParams(
            host=params.get("host"),
            port=int(params.get("port") or os.environ.get("PGPORT") or 5432),
            user=params.get("user") or os.environ.get("PGUSER") or getpass.getuser(),
            password=params.get("password"),
            maintenance_dbname=params.get("dbname") or "postgres",
            source=source,
        )
        return

    workdir = Path(tempfile.mkdtemp(prefix="senate-db-test-"))
    data_dir = workdir / "pgdata"
    try:
        admin = urls.to_params(embedded.start(data_dir))
        with psycopg.connect(urls.from_params(admin), autocommit=True) as conn:
            # A throwaway server: durability buys nothing and slows every CREATE/DROP DATABASE.
            conn.execute("ALTER SYSTEM SET fsync = off")
            conn.execute("SELECT pg_reload_conf()")
        yield ServerParams(
            host=admin["host"],
            port=int(admin.get("port", 5432)),
            user=admin.get("user", embedded.SUPERUSER),
            password=None,
            maintenance_dbname="postgres",
            source="embedded",
        )
    finally:
        embedded.stop(data_dir)
        shutil.rmtree(workdir, ignore_errors=True)


def _load_migrations(
    host: str | None, port: Any, user: str, dbname: str, password: str | None, **_: Any
) -> None:
    """pytest-postgresql loader: apply every migration to the template database."""
    migrations.apply_migrations(_url(host, port, user, password, dbname))


postgresql_noproc = factories.postgresql_noproc(
    depends_on="senate_server", dbname=TEST_DBNAME, load=[_load_migrations]
)
postgresql = factories.postgresql("postgresql_noproc")


@pytest.fixture(scope="session")
def postgresql_proc(postgresql_noproc: NoopExecutor) -> NoopExecutor:
    """Alias: never let pytest-postgresql start a server of its own."""
    return postgresql_noproc


@pytest.fixture(scope="session")
def server_url(senate_server: ServerParams) -> str:
    return senate_server.url(senate_server.maintenance_dbname)


@pytest.fixture(scope="session")
def server_version_num(server_url: str) -> int:
    with psycopg.connect(server_url) as conn:
        row = conn.execute("SELECT current_setting('server_version_num')::int").fetchone()
    assert row is not None
    return int(row[0])


@pytest.fixture
def db(postgresql: psycopg.Connection[Any]) -> psycopg.Connection[Any]:
    postgresql.autocommit = True
    return postgresql


@pytest.fixture
def db_url(postgresql_noproc: NoopExecutor, postgresql: psycopg.Connection[Any]) -> str:
    p = postgresql_noproc
    return _url(p.host, p.port, p.user, p.password, postgresql.info.dbname)


@pytest.fixture
def connect(db_url: str) -> Iterator[Callable[..., psycopg.Connection[Any]]]:
    opened: list[psycopg.Connection[Any]] = []

    def _connect(**kwargs: Any) -> psycopg.Connection[Any]:
        kwargs.setdefault("autocommit", True)
        conn = psycopg.connect(db_url, **kwargs)
        opened.append(conn)
        return conn

    yield _connect
    for conn in opened:
        conn.close()


@pytest.fixture
def empty_db_url(postgresql_noproc: NoopExecutor) -> Iterator[str]:
    p = postgresql_noproc
    dbname = f"senate_empty_{uuid.uuid4().hex[:12]}"
    janitor = DatabaseJanitor(
        user=p.user,
        host=p.host,
        port=p.port,
        dbname=dbname,
        password=p.password,
        maintenance_dbname=p.maintenance_dbname,
    )
    with janitor:
        yield _url(p.host, p.port, p.user, p.password, dbname)


Migration = tuple[str, str, str]  # (id, apply SQL, rollback SQL)


@pytest.fixture
def write_migrations(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    def _write(*items: Migration) -> Path:
        directory = tmp_path_factory.mktemp("migrations")
        for mid, apply_sql, rollback_sql in items:
            (directory / f"{mid}.sql").write_text(apply_sql)
            (directory / f"{mid}.rollback.sql").write_text(rollback_sql)
        return directory

    return _write
