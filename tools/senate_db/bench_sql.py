"""The SQL of ``senate-db bench``, read from ``sql/bench/*.sql`` next to this module.

Each file holds named statements (``-- name: NAME`` starts one; see ``sql/bench/setup.sql``);
the bench's Python only picks them by name, passes parameters and composes in table names and
literals. Everything runs in the bench's own scratch databases, which are dropped at the end:
the ``bench`` schema (baseline and peer tables, the server-side timer, the data generator)
never reaches a real database and is not a migration.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from senate_db import server

Conn = psycopg.Connection[Any]

#: Where the statement files live (package data: a non-editable install carries them).
SQL_DIR = Path(__file__).with_name("sql") / "bench"

#: Columns every ingest path writes, in the order of the statements in ingest.sql
#: (created_at, metadata and id come from their defaults).
INGEST_COLUMNS = ("entity_type", "entity_id", "resource_type", "amount", "model", "provider")

ENTITY_TYPES = ("hypothesis", "knowledge_gap", "analysis", "entity")
MODELS = ("claude-opus", "gpt-reasoning", "claude-sonnet", "gpt-standard", "claude-haiku")
PROVIDERS = ("pubmed", "semantic_scholar", "openalex", "crossref", "other")

#: The entity every hot-writer run is about, and most budget checks: every 1000th generated
#: usage row charges it, and the contention section's writers write to it today.
HOT_ENTITY = ("hypothesis", "bench-hot")
#: The busiest generated entity (bench.entity_id_of(0); the generator's skew gives it about
#: 1 / sqrt(active entities) of the history): its rows in a period grow with the history.
BUSY_ENTITY = ("hypothesis", "bench-0")
#: The deepest of a family five levels deep (issue 19): generated entities 1..5, each under the
#: one before (sql/bench/history.sql, link_family), all of them busy ones with a history.
FAMILY_DEEPEST = (ENTITY_TYPES[5 % 4], "bench-5")

#: Settings that decide ingest and query speed, printed in the header.
SETTINGS = (
    "shared_buffers",
    "work_mem",
    "maintenance_work_mem",
    "effective_cache_size",
    "synchronous_commit",
    "fsync",
    "wal_level",
    "max_wal_size",
    "checkpoint_timeout",
    "jit",
    "max_parallel_workers_per_gather",
    "random_page_cost",
    "autovacuum",
    "max_connections",
)

NAME = re.compile(r"^-- name: (\w+)[ \t]*$", flags=re.M)


def parse(text: str) -> dict[str, str]:
    """The named statements of one file's text: the comment lines right after each name line
    (its description) are dropped, so a statement starts at its first line of SQL."""
    parts = NAME.split(text)
    found: dict[str, str] = {}
    for name, body in zip(parts[1::2], parts[2::2], strict=True):
        lines = body.strip().splitlines()
        while lines and lines[0].startswith("--"):
            lines.pop(0)
        if name in found or not lines:
            raise ValueError(f"statement {name!r} is defined twice or empty")
        found[name] = "\n".join(lines).strip()
    return found


@functools.cache
def statements() -> dict[str, str]:
    """Every named statement of ``sql/bench/*.sql``; a name is defined once over all files."""
    found: dict[str, str] = {}
    for path in sorted(SQL_DIR.glob("*.sql")):
        for name, text in parse(path.read_text(encoding="utf-8")).items():
            if name in found:
                raise ValueError(f"statement {name!r} is defined twice ({path.name})")
            found[name] = text
    return found


def q(name: str) -> str:
    """The statement ``name``, as it stands in its file."""
    return statements()[name]


def compose(name: str, /, **parts: sql.Composable | str) -> sql.Composed:
    """The statement ``name`` with its ``{part}`` fields filled: a ``str`` is a table or
    function name (``schema.name``, quoted as identifiers), else a composable (a literal)."""
    filled = {
        key: identifier(value) if isinstance(value, str) else value for key, value in parts.items()
    }
    return sql.SQL(q(name)).format(**filled)


def identifier(name: str) -> sql.Identifier:
    """``bench.bare`` -> ``"bench"."bare"``."""
    return sql.Identifier(*name.split("."))


def connect(url: str, **kwargs: Any) -> Conn:
    """A connection to ``url``, autocommit unless told otherwise."""
    kwargs.setdefault("autocommit", True)
    return server.connect(url, **kwargs)


def backend_cpu_seconds(pid: int) -> float | None:
    """CPU time the server backend ``pid`` has used (Linux, server on this host), else None."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return None
