"""explain_budget tells an entity's story; the ledger's deltas add up to every balance."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import psycopg
import pytest
from governance_support import (
    BUDGET_COLUMN,
    GOOD_JUSTIFICATION,
    Conn,
    adopt_policy,
    approve_votes,
    decide,
    file_proposal,
    fund,
    ledger_invariant_violations,
    scalar,
    vote,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.rows import dict_row


def explain(db: Conn, entity_id: str, entity_type: str = "hypothesis") -> list[dict[str, Any]]:
    with db.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT * FROM explain_budget(%s, %s)", (entity_type, entity_id)
        ).fetchall()


def test_explain_budget_tells_an_entitys_story_in_order(db: Conn) -> None:
    fund(db, 100_000)
    fund(db, 3600, resource_type="cpu_seconds")
    first = file_proposal(db, entity_id="h-1", amount=5000)
    approve_votes(db, first)
    decide(db, first, "approved", reviewer="chair", note="strong PMIDs")
    # An administrator's direct correction, with no cause named.
    db.execute("UPDATE resource_budgets SET token_budget = 4000 WHERE entity_id = 'h-1'")
    second = file_proposal(
        db,
        entity_id="h-1",
        amount=600,
        resource_type="cpu_seconds",
        proposer="agent-9",
        justification="Run the edge extraction notebook.",
    )
    approve_votes(db, second)
    decide(db, second, "approved", reviewer="chair-2")
    # Another entity's changes are not part of h-1's story.
    other = file_proposal(db, entity_id="h-2", amount=10)
    approve_votes(db, other)
    decide(db, other, "approved")

    story = explain(db, "h-1")
    user = scalar(db, "SELECT session_user::text")
    assert [
        (
            r["resource_type"],
            r["balance_before"],
            r["balance_after"],
            r["delta"],
            r["unit"],
            r["cause"],
            r["actor"],
        )
        for r in story
    ] == [
        ("llm_tokens", 0, 5000, 5000, "tokens", f"proposal_approval {first}", "chair"),
        ("llm_tokens", 5000, 4000, -1000, "tokens", "direct_write", user),
        ("cpu_seconds", 0, 600, 600, "CPU-seconds", f"proposal_approval {second}", "chair-2"),
    ]
    assert story[0]["explanation"] == (
        f"proposal {first} by agent-7 approved: {GOOD_JUSTIFICATION} (strong PMIDs)"
    )
    assert story[2]["explanation"] == (
        f"proposal {second} by agent-9 approved: Run the edge extraction notebook. "
        f"(proposal {second} approved)"
    )
    assert story[1]["explanation"] == ""
    assert [r["ledger_id"] for r in story] == sorted(r["ledger_id"] for r in story)
    assert all(r["recorded_at"] is not None for r in story)
    # The last balance_after of each class is the current budget.
    current = db.execute(
        "SELECT token_budget, cpu_budget FROM resource_budgets WHERE entity_id = 'h-1'"
    ).fetchone()
    assert current == (story[1]["balance_after"], story[2]["balance_after"])


def test_explain_budget_shortens_a_long_justification(db: Conn) -> None:
    fund(db, 100)
    pid = file_proposal(db, amount=10, justification="why " * 100)
    approve_votes(db, pid)
    decide(db, pid, "approved")
    (row,) = explain(db, "h-1")
    assert row["explanation"].endswith(f"… (proposal {pid} approved)")
    assert len(row["explanation"]) < 250


def test_explain_budget_of_an_entity_without_history_is_empty(db: Conn) -> None:
    assert explain(db, "nobody") == []


def test_explain_budget_is_readable_in_psql(db: Conn) -> None:
    fund(db, 100_000)
    pid = file_proposal(db, amount=5000)
    approve_votes(db, pid)
    decide(db, pid, "approved", reviewer="chair", note="strong PMIDs")
    columns = [
        d.name
        for d in db.execute("SELECT * FROM explain_budget('hypothesis', 'h-1')").description or []
    ]
    assert columns == [
        "ledger_id",
        "recorded_at",
        "resource_type",
        "balance_before",
        "balance_after",
        "delta",
        "unit",
        "cause",
        "actor",
        "explanation",
        "login",
        "as_of",
    ]
    comment = scalar(
        db, "SELECT obj_description('public.explain_budget(text, text, boolean)'::regprocedure)"
    )
    assert "Why an entity has its budget" in comment


def test_the_ledger_invariant_holds_after_funding_approvals_and_direct_writes(db: Conn) -> None:
    fund(db, 10_000)
    pid = file_proposal(db, amount=1000)
    approve_votes(db, pid)
    decide(db, pid, "approved")
    db.execute(
        "INSERT INTO resource_budgets (entity_type, entity_id, cpu_budget) "
        "VALUES ('analysis', 'a-1', 30)"
    )
    db.execute("UPDATE resource_budgets SET api_call_budget = api_call_budget + 5")
    db.execute("UPDATE senate_reserve SET balance = balance + 1 WHERE resource_type = 'api_calls'")
    db.execute("DELETE FROM resource_budgets WHERE entity_id = 'a-1'")
    assert ledger_invariant_violations(db) == []


def test_the_ledger_invariant_check_reports_a_change_the_ledger_missed(db: Conn) -> None:
    fund(db, 10_000)
    pid = file_proposal(db, amount=1000)
    approve_votes(db, pid)
    decide(db, pid, "approved")
    # Simulate a write that bypassed the ledger (only a superuser can disable triggers).
    db.execute("ALTER TABLE resource_budgets DISABLE TRIGGER t50_record_budget_updates")
    db.execute("UPDATE resource_budgets SET token_budget = 1500 WHERE entity_id = 'h-1'")
    db.execute("ALTER TABLE resource_budgets ENABLE TRIGGER t50_record_budget_updates")
    db.execute("ALTER TABLE senate_reserve DISABLE TRIGGER t50_record_reserve_updates")
    db.execute("UPDATE senate_reserve SET balance = 1 WHERE resource_type = 'cpu_seconds'")
    db.execute("ALTER TABLE senate_reserve ENABLE TRIGGER t50_record_reserve_updates")
    assert ledger_invariant_violations(db) == [
        ("entity_budget", "hypothesis", "h-1", "llm_tokens", 1000, 1500, 500),
        ("reserve", None, None, "cpu_seconds", 0, 1, 1),
    ]


# --- property: random sequences of funding, approvals and direct writes -------------------

ENTITIES = ["h-1", "h-2", "h-3"]
CLASSES = list(BUDGET_COLUMN)
amounts = st.integers(min_value=1, max_value=5000) | st.decimals(
    min_value=Decimal("0.001"), max_value=Decimal("5000"), places=3
)
operations = st.lists(
    st.one_of(
        st.tuples(st.just("fund"), st.sampled_from(CLASSES), amounts),
        st.tuples(st.just("approve"), st.sampled_from(ENTITIES), st.sampled_from(CLASSES), amounts),
        st.tuples(st.just("reject"), st.sampled_from(ENTITIES), st.sampled_from(CLASSES), amounts),
        st.tuples(
            st.just("set_budget"),
            st.sampled_from(ENTITIES),
            st.sampled_from(CLASSES),
            st.integers(min_value=0, max_value=5000),
        ),
        st.tuples(st.just("drop_budget"), st.sampled_from(ENTITIES)),
        st.tuples(
            st.just("take_from_reserve"),
            st.sampled_from(CLASSES),
            st.integers(min_value=0, max_value=100),
        ),
    ),
    max_size=12,
)


def _apply(db: Conn, op: tuple[Any, ...]) -> None:
    kind = op[0]
    if kind == "fund":
        fund(db, op[2], resource_type=op[1])
    elif kind in ("approve", "reject"):
        pid = file_proposal(db, entity_id=op[1], resource_type=op[2], amount=op[3])
        vote(db, pid, "senator", "approve")
        try:
            decide(db, pid, "approved" if kind == "approve" else "rejected")
        except psycopg.Error as e:
            assert e.sqlstate == "S2029"  # the reserve did not cover it
    elif kind == "set_budget":
        db.execute(
            "INSERT INTO resource_budgets (entity_type, entity_id) VALUES ('hypothesis', %s) "
            "ON CONFLICT DO NOTHING",
            (op[1],),
        )
        db.execute(
            f"UPDATE resource_budgets SET {BUDGET_COLUMN[op[2]]} = %s WHERE entity_id = %s",
            (op[3], op[1]),
        )
    elif kind == "drop_budget":
        db.execute("DELETE FROM resource_budgets WHERE entity_id = %s", (op[1],))
    elif kind == "take_from_reserve":
        db.execute(
            "UPDATE senate_reserve SET balance = greatest(balance - %s, 0) "
            "WHERE resource_type = %s",
            (op[2], op[1]),
        )


@pytest.mark.slow
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
def test_ledger_deltas_add_up_to_every_budget_and_reserve_after_any_sequence_of_changes(
    db: Conn, ops: list[tuple[Any, ...]]
) -> None:
    # One database serves every example: the invariant must hold at every point, whatever
    # happened before.
    if scalar(db, "SELECT quorum FROM active_economics_policy()") != 1:
        adopt_policy(db, quorum=1)
    for op in ops:
        _apply(db, op)
        assert ledger_invariant_violations(db) == [], op
    negative = scalar(db, "SELECT count(*) FROM senate_reserve WHERE balance < 0")
    assert negative == 0
    # Approvals moved exactly what they credited: per class, the budget credits equal the
    # reserve debits.
    unbalanced = db.execute(
        "SELECT resource_type, sum(delta) FROM budget_ledger "
        "WHERE cause_type = 'proposal_approval' GROUP BY resource_type HAVING sum(delta) <> 0"
    ).fetchall()
    assert unbalanced == []
