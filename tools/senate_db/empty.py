"""Where the data is: a command that meets an empty database says so and names the demo's.

``senate-db demo`` simulates its economy in a database of its own, ``<name>_demo`` next to the
target (``senate_demo`` on the embedded server), so ``report`` or ``psql`` without
``--database`` afterwards open the user's own database, which may hold nothing yet. They say
so in one line and give the exact command for the demo's database (issue 16, point 5).
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Any

import psycopg

from senate_db import server, urls
from senate_db.errors import SenateDbError
from senate_db.target import EMBEDDED_DATABASE, Target

DEMO_SUFFIX = "_demo"

Conn = psycopg.Connection[Any]


class EmptyDatabase(SenateDbError):
    """The database holds nothing to report (no envelopes, proposals, spend or snapshots)."""


def demo_database_name(target: Target) -> str:
    """``<target database>_demo``: next to the user's database, never the same one."""
    base = urls.database_name(target.url) or EMBEDDED_DATABASE
    return base[: 63 - len(DEMO_SUFFIX)] + DEMO_SUFFIX


def display_url(url: str) -> str:
    """``url`` without its password (safe to print; libpq asks for it or reads ~/.pgpass)."""
    params = urls.to_params(url)
    params.pop("password", None)
    return urls.from_params(params)


#: What "empty" means, read from the report's own views (a reader login may run it).
EMPTY_QUERY = """
SELECT (SELECT o.envelopes = 0 AND o.pending_proposals = 0
        FROM public.senate_report_overview AS o)
   AND NOT EXISTS (SELECT 1 FROM public.senate_report_budget_by_period)
   AND NOT EXISTS (SELECT 1 FROM public.senate_report_spend_mix)
"""

NOTHING = "no envelopes, proposals, spend this period or snapshots"


def has_report_views(conn: Conn) -> bool:
    row = conn.execute("SELECT to_regclass('public.senate_report_overview') IS NOT NULL").fetchone()
    return bool(row and row[0])


def is_empty(conn: Conn) -> bool:
    """True when the report would be all zeros: no envelopes, no pending proposals, no spend
    this period and no economy snapshots (the report views must exist)."""
    row = conn.execute(EMPTY_QUERY).fetchone()
    return bool(row and row[0])


def demo_pointer(target: Target, command: Sequence[str]) -> str:
    """Where the demo's economy is, and the exact ``senate-db`` command to open it there:
    ``the demo's economy is in senate_demo: senate-db report --database '...'``; without a demo
    database, how to make one. ``command`` is the subcommand and its other options."""
    name = demo_database_name(target)
    if (urls.database_name(target.url) or "").endswith(DEMO_SUFFIX):
        # Already a demo database (one that was never filled, or emptied).
        return "run `senate-db demo` to simulate an economy in a database of its own"
    try:
        exists = server.database_exists(target.url, name)
    except SenateDbError:
        exists = False
    if not exists:
        return f"run `senate-db demo` to simulate an economy (in the database {name})"
    url = display_url(urls.with_database(target.url, name))
    args = [command[0], "--database", url, *command[1:]]
    return f"the demo's economy is in {name}: senate-db {shlex.join(args)}"


def empty_message(
    target: Target, command: Sequence[str], *, migrated: bool = True, outcome: str = ""
) -> str:
    """One line: the target database holds nothing to show (``outcome``: what follows, e.g.
    ``nothing to report``), and where the demo's data is."""
    dbname = urls.database_name(target.url) or EMBEDDED_DATABASE
    state = (
        f"is empty ({NOTHING})"
        if migrated
        else "has no Senate schema yet (run `senate-db migrate` on it)"
    )
    outcome = f": {outcome}" if outcome else ""
    return f"database {dbname} {state}{outcome}; {demo_pointer(target, command)}"


def note_if_empty(target: Target, command: Sequence[str]) -> str | None:
    """For commands that go on anyway (psql): the note to print when the target database is
    unmigrated or empty, else ``None``. Any failure to look is no note (psql says its own)."""
    try:
        with server.connect(target.url, autocommit=True) as conn:
            if not has_report_views(conn):
                return empty_message(target, command, migrated=False)
            if is_empty(conn):
                return empty_message(target, command)
    except (SenateDbError, psycopg.Error):
        return None
    return None
