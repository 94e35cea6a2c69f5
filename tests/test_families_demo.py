"""Nested budgets in the demo economy (issue 19): families of a knowledge gap over hypotheses
over analyses, set through set_entity_parent and ledgered; the spend gate and budget_levels agree
on which level stops each analysis."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from demo_support import migrated_database, simulate_small
from pytest_postgresql.executors import NoopExecutor

Conn = psycopg.Connection[Any]


@pytest.fixture(scope="module")
def economy(postgresql_noproc: NoopExecutor) -> Iterator[Conn]:
    with migrated_database(postgresql_noproc) as url:
        simulate_small(url)
        with psycopg.connect(url, autocommit=True) as conn:
            yield conn


def test_the_demo_has_families_of_a_gap_over_hypotheses_over_analyses(economy: Conn) -> None:
    shapes = economy.execute(
        "SELECT entity_type, parent_type, count(*) FROM entity_parents GROUP BY 1, 2 ORDER BY 1"
    ).fetchall()
    assert [(child, parent) for child, parent, _ in shapes] == [
        ("analysis", "hypothesis"),
        ("hypothesis", "knowledge_gap"),
    ]
    analyses = economy.execute(
        "SELECT count(*) FROM resource_budgets WHERE entity_type = 'analysis'"
    ).fetchone()
    deepest = economy.execute("SELECT max(depth) FROM senate.entity_family").fetchone()
    assert deepest == (2,)
    # Every analysis is in a family; every change is ledgered with a reason.
    assert (
        shapes[0][2]
        == economy.execute(
            "SELECT count(*) FROM demo.entities WHERE entity_type = 'analysis'"
        ).fetchone()[0]
    )  # type: ignore[index]
    assert analyses is not None and analyses[0] > 0
    assert economy.execute(
        "SELECT count(*) = (SELECT count(*) FROM entity_parents), bool_and(reason LIKE 'demo: %')"
        " FROM entity_parent_changes"
    ).fetchone() == (True, True)


def test_the_gate_and_budget_levels_agree_on_what_stops_each_analysis(economy: Conn) -> None:
    rows = economy.execute(
        "SELECT entity_id, level, available FROM budget_levels"
        " WHERE entity_type = 'analysis' AND resource_type = 'llm_tokens' AND binds"
    ).fetchall()
    levels = sorted({level for _, level, _ in rows})
    print(f"[demo] binding levels of the analyses' token spend: {levels}")
    assert len(levels) >= 2
    dearest = economy.execute("SELECT max(usd_per_token) FROM llm_models").fetchone()
    assert dearest is not None
    for entity_id, _, available in rows:
        remaining = economy.execute(
            "SELECT remaining FROM can_spend('analysis', %s, 'llm_tokens', 1)", (entity_id,)
        ).fetchone()
        # The family's money (its gap's cost budget, issue 18) also bounds it: the tokens the
        # USD left buys at the dearest model's price (a request names no model).
        money = economy.execute(
            "SELECT available FROM budget_levels WHERE entity_type = 'analysis'"
            " AND entity_id = %s AND resource_type = 'usd' AND binds",
            (entity_id,),
        ).fetchone()
        expected = available
        if money is not None:
            expected = min(available, max(money[0], 0) // dearest[0])
        assert remaining == (expected,), entity_id


def test_the_demo_s_rebalances_lend_inside_families_and_conserve_every_class(
    economy: Conn,
) -> None:
    loans = economy.execute(
        "SELECT count(*), coalesce(sum(family_loans), 0) FROM rebalance_runs"
    ).fetchone()
    lent = economy.execute(
        "SELECT count(*) FROM rebalance_changes AS c"
        " JOIN entity_parents AS p USING (entity_type, entity_id)"
        " WHERE c.reason = 'family_lending'"
    ).fetchone()
    print(f"[demo] rebalance runs, family loans: {loans}; loans to members with a parent: {lent}")
    assert loans is not None and loans[1] > 0
    # Every change of every run nets to zero per class with the reserve.
    unbalanced = economy.execute(
        "SELECT run_id, resource_type FROM rebalance_changes"
        " GROUP BY run_id, resource_type HAVING sum(delta) <> 0"
    ).fetchall()
    assert unbalanced == []
    assert economy.execute("SELECT * FROM check_ledger_invariant()").fetchall() == []
