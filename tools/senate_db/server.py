"""Plain server operations over psycopg: connect with clear errors, create/drop databases."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql

from senate_db import urls
from senate_db.errors import cannot_connect


def connect(url: str, **kwargs: Any) -> psycopg.Connection[Any]:
    """Open a connection; a failure to connect raises :class:`ConnectionFailed` (one line)."""
    kwargs.setdefault("connect_timeout", 10)
    try:
        return psycopg.connect(urls.normalize(url), **kwargs)
    except psycopg.OperationalError as e:
        raise cannot_connect(urls.redact(url), e) from e


@dataclass(frozen=True)
class ServerInfo:
    version: str  # e.g. "PostgreSQL 18.6 on x86_64-pc-linux-gnu, ..."
    version_num: int  # e.g. 180006

    @property
    def major(self) -> int:
        return self.version_num // 10000


def server_info(url: str) -> ServerInfo:
    with connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT version(), current_setting('server_version_num')::int"
        ).fetchone()
    assert row is not None
    return ServerInfo(version=str(row[0]), version_num=int(row[1]))


def database_exists(admin_url: str, dbname: str) -> bool:
    with connect(admin_url, autocommit=True) as conn:
        row = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
    return row is not None


def create_database(admin_url: str, dbname: str, *, template: str | None = None) -> None:
    query = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname))
    if template:
        query += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
    with connect(admin_url, autocommit=True) as conn:
        conn.execute(query)


def ensure_database(admin_url: str, dbname: str) -> None:
    """Create ``dbname`` unless it exists (safe against a concurrent creator)."""
    if database_exists(admin_url, dbname):
        return
    try:
        create_database(admin_url, dbname)
    except (pg_errors.DuplicateDatabase, pg_errors.UniqueViolation):
        pass


def drop_database(admin_url: str, dbname: str) -> None:
    """Drop ``dbname`` if it exists, disconnecting any sessions still attached to it."""
    with connect(admin_url, autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
        )


@dataclass(frozen=True)
class Session:
    pid: int
    user: str
    application: str
    since: str  # backend start, e.g. "2026-12-07 12:03"

    def describe(self) -> str:
        app = f" {self.application}" if self.application else ""
        return f"pid {self.pid} ({self.user}{app}, since {self.since})"


def open_sessions(admin_url: str, dbname: str) -> list[Session]:
    """Client sessions connected to ``dbname`` other than this one (what ``DROP DATABASE ...
    WITH (FORCE)`` would end)."""
    with connect(admin_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid, coalesce(usename::text, ''), coalesce(application_name, ''),"
            " coalesce(to_char(backend_start, 'YYYY-MM-DD HH24:MI'), '?')"
            " FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
            " ORDER BY backend_start, pid",
            (dbname,),
        ).fetchall()
    return [Session(int(r[0]), str(r[1]), str(r[2]), str(r[3])) for r in rows]
