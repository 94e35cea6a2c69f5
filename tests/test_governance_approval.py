"""Funding the reserve, and approvals moving resources from the reserve to a budget, once."""

from __future__ import annotations

from decimal import Decimal

import psycopg
import pytest
from governance_support import (
    BUDGET_COLUMN,
    Conn,
    approve_votes,
    approved_proposal,
    budget,
    count_rows,
    decide,
    file_proposal,
    fund,
    ledger_invariant_violations,
    reserve,
    scalar,
    status_of,
)


def test_funding_the_reserve_adds_to_it_and_the_ledger_says_who_and_why(db: Conn) -> None:
    assert fund(db, 1000, actor="treasurer") == 1000
    assert fund(db, Decimal("250.5"), actor="treasurer-2") == Decimal("1250.5")
    rows = db.execute(
        "SELECT account, resource_type, balance_before, balance_after, delta, cause_type, actor, "
        "note FROM budget_ledger ORDER BY ledger_id"
    ).fetchall()
    assert rows == [
        ("reserve", "llm_tokens", 0, 1000, 1000, "reserve_funding", "treasurer", "test funding"),
        (
            "reserve",
            "llm_tokens",
            1000,
            Decimal("1250.5"),
            Decimal("250.5"),
            "reserve_funding",
            "treasurer-2",
            "test funding",
        ),
    ]


@pytest.mark.parametrize("resource_type", list(BUDGET_COLUMN))
def test_every_resource_class_has_a_reserve_that_can_be_funded(
    db: Conn, resource_type: str
) -> None:
    fund(db, 42, resource_type=resource_type)
    assert reserve(db, resource_type) == 42
    assert sum(reserve(db, rt) for rt in BUDGET_COLUMN) == 42


def test_funding_a_class_whose_reserve_row_is_missing_creates_it(db: Conn) -> None:
    db.execute("DELETE FROM senate_reserve WHERE resource_type = 'api_calls'")
    assert fund(db, 7, resource_type="api_calls") == 7
    assert ledger_invariant_violations(db) == []


@pytest.mark.parametrize(
    ("resource_type", "amount", "actor", "note", "sqlstate"),
    [
        ("gpu_hours", 10, "treasurer", None, "S2008"),
        (None, 10, "treasurer", None, "S2008"),
        ("llm_tokens", 0, "treasurer", None, "S2006"),
        ("llm_tokens", -10, "treasurer", None, "S2006"),
        ("llm_tokens", "NaN", "treasurer", None, "S2006"),
        ("llm_tokens", "Infinity", "treasurer", None, "S2006"),
        ("llm_tokens", None, "treasurer", None, "S2006"),
        ("llm_tokens", 10, "", None, "S2010"),
        ("llm_tokens", 10, None, None, "S2010"),
        ("llm_tokens", 10, "treasurer", "n" * 2001, "S2011"),
    ],
    ids=[
        "unknown class",
        "no class",
        "zero",
        "negative",
        "NaN",
        "infinite",
        "no amount",
        "blank actor",
        "no actor",
        "note too long",
    ],
)
def test_bad_reserve_funding_is_refused_and_nothing_is_written(
    db: Conn,
    resource_type: str | None,
    amount: object,
    actor: str | None,
    note: str | None,
    sqlstate: str,
) -> None:
    with pytest.raises(psycopg.Error) as exc:
        db.execute(
            "SELECT fund_reserve(%s, %s::numeric, %s, %s)", (resource_type, amount, actor, note)
        )
    assert exc.value.sqlstate == sqlstate
    assert count_rows(db, "budget_ledger") == 0
    assert scalar(db, "SELECT sum(balance) FROM senate_reserve") == 0


def test_an_approval_creates_the_budget_row_and_moves_the_amount_from_the_reserve(
    db: Conn,
) -> None:
    fund(db, 100_000)
    pid = file_proposal(db, amount=5000)
    approve_votes(db, pid)
    result = decide(db, pid, "approved", reviewer="chair", note="good evidence")
    assert (
        result["status"],
        result["amount"],
        result["budget_after"],
        result["reserve_after"],
    ) == ("approved", 5000, 5000, 95_000)
    assert budget(db, "h-1") == 5000
    assert reserve(db) == 95_000
    ledger = db.execute(
        "SELECT account, entity_id, resource_type, delta, cause_type, cause_id, actor, note "
        "FROM budget_ledger WHERE cause_type = 'proposal_approval' ORDER BY ledger_id"
    ).fetchall()
    assert ledger == [
        (
            "entity_budget",
            "h-1",
            "llm_tokens",
            5000,
            "proposal_approval",
            str(pid),
            "chair",
            "good evidence",
        ),
        (
            "reserve",
            None,
            "llm_tokens",
            -5000,
            "proposal_approval",
            str(pid),
            "chair",
            "good evidence",
        ),
    ]
    same_transaction = scalar(
        db,
        "SELECT count(DISTINCT transaction_id) FROM budget_ledger WHERE cause_id = %s",
        (str(pid),),
    )
    assert same_transaction == 1


def test_an_approval_adds_to_an_existing_budget_row(db: Conn) -> None:
    fund(db, 100_000)
    db.execute(
        "INSERT INTO resource_budgets (entity_type, entity_id, token_budget, cpu_budget) "
        "VALUES ('hypothesis', 'h-1', 1000, 50)"
    )
    approved_proposal(db, amount=2500)
    row = db.execute(
        "SELECT token_budget, cpu_budget FROM resource_budgets WHERE entity_id = 'h-1'"
    ).fetchone()
    assert row == (3500, 50)


@pytest.mark.parametrize("resource_type", list(BUDGET_COLUMN))
def test_an_approval_credits_only_the_requested_resource_class(
    db: Conn, resource_type: str
) -> None:
    for rt in BUDGET_COLUMN:
        fund(db, 1000, resource_type=rt)
    approved_proposal(db, amount=300, resource_type=resource_type)
    for rt in BUDGET_COLUMN:
        assert budget(db, "h-1", rt) == (300 if rt == resource_type else 0)
        assert reserve(db, rt) == (700 if rt == resource_type else 1000)
    assert ledger_invariant_violations(db) == []


def test_an_approval_the_reserve_cannot_cover_is_refused_and_nothing_moves(db: Conn) -> None:
    fund(db, 4999)
    pid = file_proposal(db, amount=5000)
    approve_votes(db, pid)
    ledger_rows = count_rows(db, "budget_ledger")
    with pytest.raises(psycopg.Error) as exc:
        decide(db, pid, "approved")
    assert exc.value.sqlstate == "S2029"
    assert status_of(db, pid) == "pending"
    assert budget(db, "h-1") is None
    assert reserve(db) == 4999
    assert count_rows(db, "budget_ledger") == ledger_rows
    fund(db, 1)
    decide(db, pid, "approved")
    assert (budget(db, "h-1"), reserve(db)) == (5000, 0)


def test_an_approval_with_an_empty_reserve_of_another_class_is_refused(db: Conn) -> None:
    fund(db, 10_000, resource_type="llm_tokens")
    pid = file_proposal(db, amount=10, resource_type="api_calls")
    approve_votes(db, pid)
    with pytest.raises(psycopg.Error) as exc:
        decide(db, pid, "approved")
    assert exc.value.sqlstate == "S2029"


def test_an_approval_by_direct_update_moves_the_amount_exactly_once(db: Conn) -> None:
    fund(db, 10_000)
    pid = file_proposal(db, amount=1000)
    approve_votes(db, pid)
    db.execute("UPDATE allocation_proposals SET status = 'approved' WHERE id = %s", (pid,))
    db.execute("UPDATE allocation_proposals SET status = 'approved' WHERE id = %s", (pid,))
    assert (budget(db, "h-1"), reserve(db)) == (1000, 9000)
    actor = scalar(
        db,
        "SELECT actor FROM budget_ledger WHERE cause_type = 'proposal_approval' "
        "AND account = 'reserve'",
    )
    assert actor == scalar(db, "SELECT session_user::text")


def test_rejecting_or_deferring_moves_nothing(db: Conn) -> None:
    fund(db, 10_000)
    for decision in ("rejected", "deferred"):
        pid = file_proposal(db, amount=1000)
        approve_votes(db, pid)
        decide(db, pid, decision)
    assert count_rows(db, "resource_budgets") == 0
    assert reserve(db) == 10_000


def test_an_approval_in_a_transaction_that_rolls_back_leaves_no_trace(db: Conn) -> None:
    fund(db, 10_000)
    pid = file_proposal(db, amount=1000)
    approve_votes(db, pid)
    ledger_rows = count_rows(db, "budget_ledger")
    with pytest.raises(RuntimeError), db.transaction():
        decide(db, pid, "approved")
        raise RuntimeError("caller gave up")
    assert status_of(db, pid) == "pending"
    assert (budget(db, "h-1"), reserve(db)) == (None, 10_000)
    assert count_rows(db, "budget_ledger") == ledger_rows


def test_an_approval_keeps_a_cause_the_caller_had_named(db: Conn) -> None:
    fund(db, 10_000)
    pid = file_proposal(db, amount=1000)
    approve_votes(db, pid)
    with db.transaction():
        db.execute("SELECT senate.set_change_cause('review_cycle', 'cycle-9', 'cycle-bot', NULL)")
        db.execute("UPDATE allocation_proposals SET status = 'approved' WHERE id = %s", (pid,))
        cause = scalar(db, "SELECT cause_type || '/' || actor FROM senate.current_change_cause()")
    assert cause == "review_cycle/cycle-bot"
