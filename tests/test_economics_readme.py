"""The examples of db/docs/sql-api.md run on a freshly migrated database, as an analyst types
them."""

from __future__ import annotations

import re
from typing import Any

import psycopg
import pytest

from senate_db import paths

Conn = psycopg.Connection[Any]


def sql_api_examples() -> list[str]:
    text = (paths.repo_root() / "db" / "docs" / "sql-api.md").read_text(encoding="utf-8")
    assert text.startswith("# SQL API\n"), "db/docs/sql-api.md has another title"
    return re.findall(r"^```sql\n(.*?)^```", text, flags=re.S | re.M)


def test_the_sql_api_section_has_examples() -> None:
    assert len(sql_api_examples()) >= 10


@pytest.mark.parametrize("index", range(len(sql_api_examples())))
def test_each_sql_api_example_runs_on_its_own(db: Conn, index: int) -> None:
    with db.transaction(force_rollback=True):
        db.execute(sql_api_examples()[index])


def test_the_sql_api_examples_run_one_after_another(db: Conn) -> None:
    for example in sql_api_examples():
        db.execute(example)
    assert db.execute(
        "SELECT count(*) FROM economics_policy WHERE is_active AND max_market_boost = 0.3"
    ).fetchone() == (1,)
