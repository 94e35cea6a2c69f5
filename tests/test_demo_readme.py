"""The examples of db/docs/demo.md ("The demo and the Senate report") run as an analyst types
them: on a freshly migrated database, and on a database holding the small demo economy."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from demo_support import migrated_database, simulate_small
from pytest_postgresql.executors import NoopExecutor

from senate_db import paths

Conn = psycopg.Connection[Any]
PAGE = paths.repo_root() / "db" / "docs" / "demo.md"


def section_text() -> str:
    text = PAGE.read_text(encoding="utf-8")
    assert text.startswith("# The demo and the Senate report\n"), f"{PAGE} has another title"
    return text


def demo_examples() -> list[str]:
    return re.findall(r"^```sql\n(.*?)^```", section_text(), flags=re.S | re.M)


def test_the_demo_section_has_examples() -> None:
    assert len(demo_examples()) >= 5


@pytest.mark.parametrize("index", range(len(demo_examples())))
def test_each_demo_example_runs_on_a_fresh_database(db: Conn, index: int) -> None:
    with db.transaction(force_rollback=True):
        db.execute(demo_examples()[index])


def test_the_demo_examples_run_one_after_another(db: Conn) -> None:
    for example in demo_examples():
        db.execute(example)
    assert db.execute("SELECT count(*) FROM reserve_snapshots").fetchone() == (4,)


@pytest.fixture(scope="module")
def demo_economy(postgresql_noproc: NoopExecutor) -> Iterator[str]:
    with migrated_database(postgresql_noproc) as url:
        simulate_small(url, seed=3, last_day=None)
        yield url


@pytest.mark.parametrize("index", range(len(demo_examples())))
def test_each_demo_example_finds_rows_in_the_demo_economy(demo_economy: str, index: int) -> None:
    with psycopg.connect(demo_economy) as conn:
        cur = conn.execute(demo_examples()[index])
        results = []
        while True:
            results.append(cur.fetchall() if cur.description else None)
            if not cur.nextset():
                break
        conn.rollback()
    assert any(results), "every example shows something in the demo economy"


def test_the_generators_own_example_runs_in_the_demo_economy(demo_economy: str) -> None:
    inline = re.findall(r"`(SELECT c\.reason.*?;)`", section_text(), flags=re.S)
    assert len(inline) == 1
    with psycopg.connect(demo_economy) as conn:
        rows = conn.execute(" ".join(inline[0].split())).fetchall()
    assert {reason for reason, _, _ in rows} >= {"idle_reclaim", "sustained_low_roi"}
