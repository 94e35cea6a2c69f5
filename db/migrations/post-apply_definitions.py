"""Post-apply hook: after the versioned migrations, apply db/definitions/ (the current
definition of every function and view), each object only when it changed. See
senate_db.definitions and migration 0153."""

from pathlib import Path

from yoyo import step

from senate_db import definitions


def apply_definitions(conn):  # type: ignore[no-untyped-def]
    definitions.apply_all(conn, Path(__file__).resolve().parent.parent / "definitions")


step(apply_definitions)
