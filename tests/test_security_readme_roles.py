"""The role table of db/docs/security.md is the grant contract (issue 15, point 10): the test
reads the table in "## Roles" and probes each cell as a real LOGIN member of the row's group role.

"may": every backticked function is executable, every `INSERT` into `table` is granted, and
"`SELECT` the views" means every view of the project. "may not": every phrase (separated by
commas or semicolons) must be one this file knows how to check (``MAY_NOT``); an unknown phrase
fails, so the table and the grants cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from reliability_support import RoleSessions, role_sessions, scalar, sqlstate_of

from senate_db import paths

Conn = psycopg.Connection[Any]

WRITE = "has_table_privilege('public.{t}', 'INSERT') OR has_table_privilege('public.{t}', 'UPDATE')"
WRITE += " OR has_table_privilege('public.{t}', 'DELETE')"


def _no_write(*tables: str) -> str:
    return " AND ".join(f"NOT ({WRITE.format(t=t)})" for t in tables)


def _no_exec(*functions: str) -> str:
    return " AND ".join(
        f"NOT EXISTS (SELECT 1 FROM pg_proc WHERE proname = '{f}'"
        " AND pronamespace = 'public'::regnamespace AND has_function_privilege(oid, 'EXECUTE'))"
        for f in functions
    )


#: phrase -> a boolean SQL expression, true in the member's session when it holds.
MAY_NOT: dict[str, str] = {
    "read raw usage rows": "NOT has_table_privilege('public.resource_usage', 'SELECT')",
    "write anything": "NOT EXISTS (SELECT 1 FROM pg_class AS c"
    " WHERE c.relnamespace IN ('public'::regnamespace, 'senate'::regnamespace)"
    " AND c.relkind IN ('r', 'p')"
    " AND (has_table_privilege(c.oid, 'INSERT') OR has_table_privilege(c.oid, 'UPDATE')"
    " OR has_table_privilege(c.oid, 'DELETE')))",
    "`UPDATE`/`DELETE` usage": "NOT has_table_privilege('public.resource_usage', 'UPDATE')"
    " AND NOT has_table_privilege('public.resource_usage', 'DELETE')",
    "write correction rows": "REFUSED: INSERT INTO resource_usage (entity_type, entity_id,"
    " resource_type, amount, corrects_usage_id) VALUES ('hypothesis', 'h-readme', 'llm_tokens',"
    " -1, 1)",
    "touch budgets": _no_write("resource_budgets", "resource_budget_tiers"),
    "reserve": _no_write("senate_reserve") + " AND " + _no_exec("fund_reserve"),
    "ledger": _no_write("budget_ledger"),
    "votes": _no_write("allocation_votes") + " AND " + _no_exec("cast_allocation_vote"),
    "market signals or world-model gains": _no_write("market_signals", "world_model_gains"),
    "`UPDATE` proposals directly": "NOT has_table_privilege('public.allocation_proposals',"
    " 'UPDATE')",
    "fund the reserve": _no_exec("fund_reserve"),
    "write usage": "NOT has_table_privilege('public.resource_usage', 'INSERT') AND "
    + _no_exec("record_resource_usage"),
    "vote or decide": _no_exec("cast_allocation_vote", "decide_allocation_proposal"),
    "rewrite the ledger": "NOT has_table_privilege('public.budget_ledger', 'UPDATE')"
    " AND NOT has_table_privilege('public.budget_ledger', 'DELETE')",
    "the other feed": "{other_feed}",
}
OTHER_FEED = {
    "senate_exchange": _no_write("world_model_gains"),
    "senate_atlas": _no_write("market_signals"),
}
KEYWORDS = {"SELECT", "INSERT", "UPDATE", "DELETE"}


def _rows() -> list[tuple[str, str, str]]:
    text = (paths.repo_root() / "db" / "docs" / "security.md").read_text(encoding="utf-8")
    section = text.split("\n## Roles\n", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        if line.startswith("| `senate_"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            role = re.findall(r"`([a-z_]+)`", cells[0])[0]
            rows.append((role, cells[2], cells[3]))
    return rows


ROWS = _rows()


@pytest.fixture
def as_role(db_url: str, db: Conn) -> Iterator[RoleSessions]:
    yield from role_sessions(db_url, db)


def test_the_table_names_every_group_role() -> None:
    assert [r[0] for r in ROWS] == [
        "senate_reader",
        "senate_writer",
        "senate_reviewer",
        "senate_admin",
        "senate_exchange",
        "senate_atlas",
    ]


@pytest.mark.parametrize(("role", "may", "may_not"), ROWS, ids=[r[0] for r in ROWS])
def test_each_cell_of_the_role_table_holds_for_a_real_login(
    db: Conn, as_role: RoleSessions, role: str, may: str, may_not: str
) -> None:
    login = as_role(role)
    functions = {
        r[0]
        for r in db.execute(
            "SELECT DISTINCT proname FROM pg_proc WHERE pronamespace = 'public'::regnamespace"
        ).fetchall()
    }
    checked = 0
    inserted = set(re.findall(r"`INSERT` into `([a-z_]+)`", may))
    for table in inserted:
        assert scalar(login, "SELECT has_table_privilege(%s, 'INSERT')", (f"public.{table}",)), (
            role,
            table,
        )
        checked += 1
    for name in set(re.findall(r"`([a-z_]+)`", may)) - KEYWORDS - inserted:
        if name in functions:
            assert scalar(
                login,
                "SELECT bool_or(has_function_privilege(oid, 'EXECUTE')) FROM pg_proc"
                " WHERE proname = %s AND pronamespace = 'public'::regnamespace",
                (name,),
            ), (role, name)
            checked += 1
    if "`SELECT` the views" in may:
        unreadable = login.execute(
            "SELECT c.relname FROM pg_class AS c WHERE c.relnamespace = 'public'::regnamespace"
            " AND c.relkind IN ('v', 'm') AND NOT has_table_privilege(c.oid, 'SELECT')"
        ).fetchall()
        assert unreadable == [], role
        checked += 1
    for phrase in (p.strip() for p in re.split(r"[,;]", may_not)):
        phrase = phrase.removeprefix("or ").strip()
        assert phrase in MAY_NOT, f"security.md role table: no check for {role} may not {phrase!r}"
        check = MAY_NOT[phrase].format(other_feed=OTHER_FEED.get(role, "false"))
        if check.startswith("REFUSED: "):
            assert sqlstate_of(login, check.removeprefix("REFUSED: ")) is not None, (role, phrase)
        else:
            assert scalar(login, f"SELECT {check}") is True, (role, phrase)  # type: ignore[arg-type]
        checked += 1
    print(f"[readme roles] {role}: {checked} cells probed")
    assert checked >= 2
