"""The examples of db/docs/compatibility.md and db/docs/security.md run, in order, on a freshly
migrated database, and give what the pages show (the other pages' examples have their own
tests: test_economics_readme, test_governance_readme, test_cycles_readme, test_demo_readme)."""

from __future__ import annotations

import re
from typing import Any

import psycopg

from senate_db import paths

Conn = psycopg.Connection[Any]


def sql_blocks(page: str) -> list[str]:
    text = (paths.repo_root() / "db" / "docs" / page).read_text(encoding="utf-8")
    return re.findall(r"^```sql\n(.*?)^```", text, flags=re.S | re.M)


def results(db: Conn, block: str) -> list[list[tuple[Any, ...]]]:
    """Every result set of a block of statements, in order."""
    cur = db.execute(block)
    sets = []
    while True:
        sets.append(cur.fetchall() if cur.description else [])
        if not cur.nextset():
            return sets


def test_the_compatibility_example_fills_the_canonical_columns(db: Conn) -> None:
    blocks = sql_blocks("compatibility.md")
    assert len(blocks) == 1
    written, unreconciled = results(db, blocks[0])[1:]
    assert [(int(r[0]), int(r[1])) for r in written] == [(120, 120)]
    assert written[0][2] == written[0][3]
    assert unreconciled == []


def test_the_security_examples_run_in_order_and_show_what_the_page_says(db: Conn) -> None:
    blocks = sql_blocks("security.md")
    assert len(blocks) == 4
    grants, correction, settings, ingest = blocks
    access, changed = results(db, grants)
    assert len(access) == 5
    assert changed == []  # everything is already in place
    rows = results(db, correction)[-1]
    assert [(int(r[0]), r[1], r[2]) for r in rows] == [
        (1200, False, None),
        (-400, True, "retry was billed twice"),
    ]
    log = results(db, settings)[-1]
    assert [(r[0], r[2]) for r in log[-2:]] == [
        ("usage_append_only", False),
        ("usage_append_only", True),
    ]
    first, second = (s[0] for s in results(db, ingest))
    assert (first[1], second[1]) == (True, False)
    assert first[0] == second[0]
