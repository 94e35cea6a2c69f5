"""db/docs/analyst.md (issue 16, point 6 "Analyst answers"; issue 19, the sixth; issue 18, the
seventh to ninth): each question is answered by one documented query, and every SQL block of
the page runs, as a real LOGIN member of senate_reader, on a small demo economy, returning rows
with the columns the page lists under it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from demo_support import migrated_database, simulate_small
from pytest_postgresql.executors import NoopExecutor
from reliability_support import RoleSessions

from senate_db import paths

PAGE = paths.repo_root() / "db" / "docs" / "analyst.md"


def questions() -> list[tuple[str, str, list[str]]]:
    """(heading, SQL, listed columns) of each question of the page."""
    text = PAGE.read_text(encoding="utf-8")
    found = []
    for section in re.split(r"^### ", text, flags=re.M)[1:]:
        heading = section.splitlines()[0]
        blocks = re.findall(r"^```sql\n(.*?)^```", section, flags=re.S | re.M)
        listed = re.search(r"^Columns: (.*?)\.\n", section, flags=re.S | re.M)
        assert len(blocks) == 1, f"{heading}: one SQL block per question"
        assert listed, f"{heading}: a 'Columns:' line under the query"
        found.append((heading, blocks[0], re.findall(r"`([a-z_]+)`", listed.group(1))))
    return found


QUESTIONS = questions()


def test_the_page_answers_the_nine_questions_each_with_its_view_or_function() -> None:
    answers = {
        "over budget": "over_budget_and_throttled",
        "Why did this budget move": "budget_move_evidence",
        "next rebalance": "preview_rebalance(",
        "tiers and providers": "cost_by_tier_and_provider",
        "reserve pay for": "reserve_queue",
        "Which level stops this analysis": "budget_levels",
        "run out before the period ends": "budget_forecast",
        "Which prices changed": "price_changes",
        "closest to their money limit": "budget_levels",
    }
    assert len(QUESTIONS) == 9
    for (heading, query, _), (question, answer) in zip(QUESTIONS, answers.items(), strict=True):
        assert question in heading
        assert answer in query, heading
    text = PAGE.read_text(encoding="utf-8")
    assert "senate-db demo" in text and "senate-db psql --database" in text
    assert "senate_demo" in text


@pytest.fixture(scope="module")
def reader(postgresql_noproc: NoopExecutor) -> Iterator[psycopg.Connection[Any]]:
    """A LOGIN member of senate_reader on a small demo economy whose last day is today."""
    with migrated_database(postgresql_noproc) as url:
        simulate_small(url, seed=3, last_day=None)
        with psycopg.connect(url, autocommit=True) as admin:
            sessions = RoleSessions(url, admin)
            try:
                yield sessions("senate_reader")
            finally:
                sessions.close()


@pytest.mark.parametrize(("heading", "query", "columns"), QUESTIONS, ids=[q[0] for q in QUESTIONS])
def test_each_query_of_the_page_answers_on_the_demo_as_a_reader(
    reader: psycopg.Connection[Any], heading: str, query: str, columns: list[str]
) -> None:
    cur = reader.execute(query)
    assert [d.name for d in cur.description or []] == columns, heading
    found = cur.fetchall()
    print(f"[analyst] {heading}: {len(found)} rows")
    assert found, f"{heading}: no rows on the demo economy"
