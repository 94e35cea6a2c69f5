"""Helpers shared by the reliability and security tests (issue 9).

Acting as a group role
    ``as_role("senate_writer")`` creates a LOGIN role with a random name and password, grants
    it the group role, and returns a connection logged in as that role (by password where the
    server asks for one). When the server refuses the login (pg_hba.conf admits no such
    login), the connection is opened as the test's own user and then
    ``SET ROLE`` to the login role: privilege checks use the current role either way, so the
    same assertions hold (only ``session_user`` differs). The mode used is printed;
    ``SENATE_TEST_ROLE_MODE=set-role`` forces the second path.
    Roles are cluster-global: every test role is dropped at teardown.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
from psycopg import sql

from senate_db import urls

GROUP_ROLES = (
    "senate_reader",
    "senate_writer",
    "senate_reviewer",
    "senate_admin",
    "senate_exchange",
    "senate_atlas",
)

#: Set to ``set-role`` to act through SET ROLE even where a login would work (to test that path).
ROLE_MODE_ENV = "SENATE_TEST_ROLE_MODE"

#: SQLSTATE of "permission denied".
DENIED = "42501"


def scalar(conn: psycopg.Connection[Any], query: str, params: Sequence[Any] = ()) -> Any:
    row = conn.execute(query, params).fetchone()  # type: ignore[arg-type]
    assert row is not None
    return row[0]


def function_exists(conn: psycopg.Connection[Any], name: str) -> bool:
    """Whether a function of that name (any overload) exists; ``name`` may be schema-qualified."""
    schema, _, fn = name.rpartition(".")
    return bool(
        scalar(
            conn,
            "SELECT EXISTS (SELECT 1 FROM pg_proc WHERE proname = %s"
            " AND pronamespace = %s::regnamespace)",
            (fn, schema or "public"),
        )
    )


def signature_exists(conn: psycopg.Connection[Any], signature: str) -> bool:
    """Whether ``to_regprocedure(signature)`` finds the function."""
    return bool(scalar(conn, "SELECT to_regprocedure(%s) IS NOT NULL", (signature,)))


def column_exists(conn: psycopg.Connection[Any], table: str, column: str) -> bool:
    return bool(
        scalar(
            conn,
            "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass(%s)"
            " AND attname = %s AND NOT attisdropped AND attnum > 0)",
            (table, column),
        )
    )


def row_counts(conn: psycopg.Connection[Any], tables: Sequence[str]) -> dict[str, int]:
    """Row count of each existing table (missing tables are left out)."""
    counts: dict[str, int] = {}
    for table in tables:
        if scalar(conn, "SELECT to_regclass(%s) IS NOT NULL", (table,)):
            counts[table] = int(scalar(conn, f"SELECT count(*) FROM {table}"))
    return counts


def sqlstate_of(conn: psycopg.Connection[Any], statement: str, params: Any = None) -> str | None:
    """Run ``statement``; return the SQLSTATE it failed with, or None when it succeeded."""
    try:
        with conn.transaction():
            conn.execute(statement, params)  # type: ignore[arg-type]
    except psycopg.Error as e:
        return e.sqlstate
    return None


def add_usage(
    conn: psycopg.Connection[Any],
    entity_id: str = "h1",
    amount: float | int = 100,
    resource_type: str = "llm_tokens",
    model: str | None = "claude-sonnet",
    entity_type: str = "hypothesis",
) -> int:
    """Insert one usage row with the canonical columns; return its id."""
    return int(
        scalar(
            conn,
            "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount, model)"
            " VALUES (%s, %s, %s, %s, %s) RETURNING id",
            (entity_type, entity_id, resource_type, amount, model),
        )
    )


class RoleSessions:
    """Factory of connections acting as a member of a group role (see module docstring)."""

    def __init__(self, db_url: str, admin: psycopg.Connection[Any]) -> None:
        self.db_url = db_url
        self.admin = admin
        self.roles: list[str] = []
        self.conns: list[psycopg.Connection[Any]] = []
        self.modes: set[str] = set()

    def __call__(
        self, group: str | None, *, grants: Sequence[str] = (), **kwargs: Any
    ) -> psycopg.Connection[Any]:
        """A connection as a new LOGIN role, member of ``group`` (None: of no group) and holding
        ``grants`` (GRANT statements with ``{role}`` for the new role's name)."""
        label = group.removeprefix("senate_") if group else "plain"
        name = f"senate_t_{label}_{secrets.token_hex(5)}"
        # A random password: a server that authenticates by password (CI's PostgreSQL 15 leg)
        # admits the role as a real login too; trust ignores it.
        password = secrets.token_hex(16)
        self.admin.execute(
            sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
                sql.Identifier(name), sql.Literal(password)
            )
        )
        self.roles.append(name)
        if group:
            self.admin.execute(
                sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), sql.Identifier(name))
            )
        for grant in grants:
            self.admin.execute(grant.format(role=sql.Identifier(name).as_string(self.admin)))
        kwargs.setdefault("autocommit", True)
        params = urls.to_params(self.db_url)
        params["user"] = name
        params["password"] = password
        try:
            if os.environ.get(ROLE_MODE_ENV) == "set-role":
                raise psycopg.OperationalError("SET ROLE requested by " + ROLE_MODE_ENV)
            conn = psycopg.connect(urls.from_params(params), connect_timeout=10, **kwargs)
            self.modes.add("login")
        except psycopg.OperationalError:
            conn = psycopg.connect(self.db_url, connect_timeout=10, **kwargs)
            conn.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(name)))
            if not kwargs["autocommit"]:
                conn.commit()
            self.modes.add("set role")
        self.conns.append(conn)
        return conn

    def close(self) -> None:
        for conn in self.conns:
            conn.close()
        for name in self.roles:
            ident = sql.Identifier(name)
            # Sessions may linger for a moment after close(); end them before dropping.
            self.admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (name,),
            )
            self.admin.execute(sql.SQL("DROP OWNED BY {}").format(ident))
            self.admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(ident))
        if self.modes:
            print(f"[roles] acted as group roles via: {', '.join(sorted(self.modes))}")


def role_sessions(db_url: str, db: psycopg.Connection[Any]) -> Iterator[RoleSessions]:
    """Body of an ``as_role`` fixture: ``as_role(group) -> Connection`` acting as a fresh member
    of ``group``; all test roles are dropped afterwards."""
    sessions = RoleSessions(db_url, db)
    try:
        yield sessions
    finally:
        sessions.close()


#: A deployed-style resource_usage, as the live SciDEX database has it before this project:
#: integer amounts, timestamp without time zone, no foreign keys, an extra column and index.
DEPLOYED_USAGE_DDL = """
CREATE TABLE public.resource_usage (
    id             bigserial PRIMARY KEY,
    entity_type    text NOT NULL,
    entity_id      text NOT NULL,
    resource_type  text NOT NULL,
    amount         integer NOT NULL,
    cost           numeric(14, 6),
    model          text,
    artifact_type  text,
    artifact_id    text,
    analysis_id    text,
    task_id        text,
    created_at     timestamp without time zone NOT NULL DEFAULT now(),
    metadata       jsonb DEFAULT '{}'::jsonb,
    legacy_source  text DEFAULT 'scidex-core'
);
CREATE INDEX resource_usage_legacy_source_idx ON public.resource_usage (legacy_source);
"""


def create_deployed_usage(conn: psycopg.Connection[Any], rows: int = 200) -> None:
    """Create the deployed-style resource_usage in an empty database, with ``rows`` rows."""
    conn.execute(DEPLOYED_USAGE_DDL)
    if rows:
        conn.execute(
            "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount, model,"
            " created_at)"
            " SELECT (ARRAY['hypothesis', 'analysis'])[1 + i %% 2], 'legacy-' || (i %% 7),"
            "        (ARRAY['llm_tokens', 'cpu_seconds'])[1 + i %% 2], 10 + i,"
            "        CASE WHEN i %% 2 = 0"
            "             THEN (ARRAY['claude-sonnet', 'gpt-4-legacy'])[1 + i %% 4 / 2] END,"
            "        now() - make_interval(hours => i)"
            " FROM generate_series(1, %s) AS i",
            (rows,),
        )
