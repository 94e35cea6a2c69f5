"""The core tables refuse values no budget, score or balance can take (NaN passes `>= 0`)."""

from __future__ import annotations

import psycopg
import pytest


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("token_budget", "NaN"),
        ("cpu_budget", "Infinity"),
        ("storage_budget_gb", "-1"),
        ("api_call_budget", "NaN"),
        ("priority_score", "NaN"),
        ("priority_score", "1.5"),
        ("market_weight", "-1.01"),
        ("market_weight", "NaN"),
        ("roi_score", "NaN"),
        ("roi_score", "-0.1"),
    ],
)
def test_a_budget_envelope_refuses_impossible_values_and_writes_nothing(
    db: psycopg.Connection, column: str, value: str
) -> None:
    with pytest.raises(psycopg.errors.CheckViolation) as caught:
        db.execute(
            f"INSERT INTO resource_budgets (entity_type, entity_id, {column}) "
            "VALUES ('hypothesis', 'h-bad', %s::numeric)",
            (value,),
        )
    assert caught.value.sqlstate == "23514"
    assert db.execute("SELECT count(*) FROM resource_budgets").fetchone() == (0,)
    assert db.execute(
        "SELECT count(*) FROM budget_ledger WHERE entity_id = 'h-bad'"
    ).fetchone() == (0,)


def test_the_reserve_balance_refuses_nan(db: psycopg.Connection) -> None:
    with pytest.raises(psycopg.errors.CheckViolation):
        db.execute("UPDATE senate_reserve SET balance = 'NaN' WHERE resource_type = 'llm_tokens'")
    assert db.execute(
        "SELECT balance FROM senate_reserve WHERE resource_type = 'llm_tokens'"
    ).fetchone() == (0,)


def test_the_budget_ledger_refuses_update_delete_and_truncate(db: psycopg.Connection) -> None:
    db.execute(
        "INSERT INTO resource_budgets (entity_type, entity_id, token_budget) "
        "VALUES ('hypothesis', 'h1', 10)"
    )
    for statement in (
        "UPDATE budget_ledger SET note = 'x'",
        "DELETE FROM budget_ledger",
        "TRUNCATE budget_ledger",
    ):
        with pytest.raises(psycopg.Error) as caught:
            db.execute(statement)
        assert caught.value.sqlstate == "S4001", statement
    assert db.execute("SELECT count(*) FROM budget_ledger WHERE entity_id = 'h1'").fetchone() == (
        1,
    )
