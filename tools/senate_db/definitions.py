"""Read ``db/definitions/NN_concern.sql`` and apply each object through
``senate.apply_definition()`` (migration 0153), which executes it only when its text or the
catalog's copy changed: a migrate with nothing new takes no lock.

A definitions file is plain SQL that psql can run as is. Each object starts at a marker line,
``-- define function schema.name(argument types)`` or ``-- define view schema.name``, and runs
to the next marker: its CREATE OR REPLACE statement and its COMMENT statements. Text before the
first marker (the file's header) is not executed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from senate_db import paths

MARKER = re.compile(r"^-- define (function|view) (\S.*?)\s*$", re.MULTILINE)
FILE_NAME = re.compile(r"^[0-9]{2}_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Definition:
    file: str
    identity: str  # "function public.f(integer)" or "view public.v"
    sql: str


def definitions_dir() -> Path:
    return paths.migrations_dir().parent / "definitions"


def files(directory: Path | None = None) -> list[Path]:
    """The definitions files, in apply order (by name)."""
    root = directory or definitions_dir()
    return sorted(p for p in root.glob("*.sql") if FILE_NAME.match(p.name))


def parse(path: Path) -> list[Definition]:
    text = path.read_text(encoding="utf-8")
    marks = list(MARKER.finditer(text))
    found: list[Definition] = []
    for i, mark in enumerate(marks):
        end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
        identity = f"{mark.group(1)} {mark.group(2)}"
        found.append(Definition(path.name, identity, text[mark.start() : end].strip() + "\n"))
    return found


def read_all(directory: Path | None = None) -> list[Definition]:
    return [d for path in files(directory) for d in parse(path)]


def apply_all(conn: Any, directory: Path | None = None) -> dict[str, int]:
    """Apply every definition on ``conn`` (a DB-API connection, inside the caller's
    transaction); return how many were created, replaced and unchanged. When any changed,
    ``senate.grant_role_privileges()`` runs once more (owners, SECURITY DEFINER, grants)."""
    counts = {"created": 0, "replaced": 0, "unchanged": 0}
    cursor = conn.cursor()
    for d in read_all(directory):
        cursor.execute("SELECT senate.apply_definition(%s, %s, %s)", (d.file, d.identity, d.sql))
        row = cursor.fetchone()
        counts[str(row[0])] += 1
    if counts["created"] or counts["replaced"]:
        cursor.execute("SELECT senate.grant_role_privileges()")
    return counts
