"""Races between real connections: double decisions and approvals competing for the reserve."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from governance_support import (
    Conn,
    Outcome,
    approve_votes,
    become_senator,
    budget,
    count_rows,
    file_proposal,
    fund,
    ledger_invariant_violations,
    reserve,
    run_in_thread,
    scalar,
    status_of,
    wait_until_blocked,
)

Connect = Callable[..., Conn]
DECIDE = "SELECT status FROM decide_allocation_proposal(%s, %s, %s)"


@pytest.mark.parametrize(
    ("first_decision", "second_decision"),
    [
        ("approved", "approved"),
        ("approved", "rejected"),
        ("rejected", "approved"),
        ("deferred", "approved"),
    ],
)
def test_two_reviewers_deciding_one_proposal_at_once_one_wins_and_the_other_gets_s2021(
    db: Conn, connect: Connect, first_decision: str, second_decision: str
) -> None:
    fund(db, 100_000)
    pid = file_proposal(db, amount=5000)
    approve_votes(db, pid)
    first = become_senator(connect(autocommit=False), "reviewer-1")
    second = become_senator(connect(), "reviewer-2")

    first.execute(DECIDE, (pid, first_decision, "reviewer-1"))  # holds the proposal row lock
    thread, outcome = run_in_thread(
        second, lambda c: c.execute(DECIDE, (pid, second_decision, "reviewer-2")).fetchall()
    )
    wait_until_blocked(db, second.info.backend_pid)
    first.commit()
    thread.join(timeout=30)

    assert outcome.sqlstate == "S2021", outcome.error
    assert status_of(db, pid) == first_decision
    credited = 5000 if first_decision == "approved" else None
    assert budget(db, "h-1") == credited
    assert reserve(db) == 100_000 - (credited or 0)
    approvals_in_ledger = scalar(
        db, "SELECT count(*) FROM budget_ledger WHERE cause_type = 'proposal_approval'"
    )
    assert approvals_in_ledger == (2 if credited else 0)
    assert ledger_invariant_violations(db) == []


def test_a_reviewer_waiting_on_a_decision_that_rolls_back_then_decides_it(
    db: Conn, connect: Connect
) -> None:
    fund(db, 100_000)
    pid = file_proposal(db, amount=5000)
    approve_votes(db, pid)
    first = become_senator(connect(autocommit=False), "reviewer-1")
    second = become_senator(connect(), "reviewer-2")
    first.execute(DECIDE, (pid, "approved", "reviewer-1"))
    thread, outcome = run_in_thread(
        second, lambda c: c.execute(DECIDE, (pid, "approved", "reviewer-2")).fetchall()
    )
    wait_until_blocked(db, second.info.backend_pid)
    first.rollback()
    thread.join(timeout=30)
    assert outcome.error is None and outcome.rows == [("approved",)]
    assert (budget(db, "h-1"), reserve(db)) == (5000, 95_000)
    assert scalar(db, "SELECT reviewer FROM allocation_proposals WHERE id = %s", (pid,)) == (
        "reviewer-2"
    )


def _two_approvable(db: Conn, amount: int) -> tuple[int, int]:
    p1 = file_proposal(db, entity_id="h-1", amount=amount)
    p2 = file_proposal(db, entity_id="h-2", amount=amount)
    for pid in (p1, p2):
        approve_votes(db, pid)
    return p1, p2


def test_two_approvals_racing_for_the_last_of_the_reserve_never_overdraw_it(
    db: Conn, connect: Connect
) -> None:
    fund(db, 100)
    p1, p2 = _two_approvable(db, 60)
    first = become_senator(connect(autocommit=False), "reviewer-1")
    second = become_senator(connect(), "reviewer-2")
    first.execute(DECIDE, (p1, "approved", "reviewer-1"))  # holds the reserve row lock
    thread, outcome = run_in_thread(
        second, lambda c: c.execute(DECIDE, (p2, "approved", "reviewer-2")).fetchall()
    )
    wait_until_blocked(db, second.info.backend_pid)
    first.commit()
    thread.join(timeout=30)

    assert outcome.sqlstate == "S2029", outcome.error
    assert (status_of(db, p1), status_of(db, p2)) == ("approved", "pending")
    assert (budget(db, "h-1"), budget(db, "h-2"), reserve(db)) == (60, None, 40)
    assert ledger_invariant_violations(db) == []


def test_an_approval_waiting_for_the_reserve_gets_it_when_the_other_rolls_back(
    db: Conn, connect: Connect
) -> None:
    fund(db, 100)
    p1, p2 = _two_approvable(db, 60)
    first = become_senator(connect(autocommit=False), "reviewer-1")
    second = become_senator(connect(), "reviewer-2")
    first.execute(DECIDE, (p1, "approved", "reviewer-1"))
    thread, outcome = run_in_thread(
        second, lambda c: c.execute(DECIDE, (p2, "approved", "reviewer-2")).fetchall()
    )
    wait_until_blocked(db, second.info.backend_pid)
    first.rollback()
    thread.join(timeout=30)
    assert outcome.error is None
    assert (budget(db, "h-1"), budget(db, "h-2"), reserve(db)) == (None, 60, 40)


def _race(connections: list[Conn], work: Callable[[Conn, int], list[Any]]) -> list[Outcome]:
    """Start ``work(conn, i)`` on every connection at the same instant; wait for all."""
    barrier = threading.Barrier(len(connections))
    outcomes = [Outcome() for _ in connections]

    def target(i: int) -> None:
        conn = connections[i]
        barrier.wait()
        try:
            with conn.transaction():
                outcomes[i].rows = work(conn, i)
        except psycopg.Error as e:
            outcomes[i].error = e

    threads = [threading.Thread(target=target, args=(i,)) for i in range(len(connections))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return outcomes


def test_many_approvals_racing_for_a_reserve_that_covers_only_some_never_overdraw_it(
    db: Conn, connect: Connect
) -> None:
    n, amount, covered = 8, 100, 5
    fund(db, covered * amount)
    fund(db, 1000, resource_type="cpu_seconds")
    pids = [file_proposal(db, entity_id=f"h-{i}", amount=amount) for i in range(n)]
    cpu = [
        file_proposal(db, entity_id=f"h-{i}", amount=10, resource_type="cpu_seconds")
        for i in range(n)
    ]
    for pid in pids + cpu:
        approve_votes(db, pid)

    def work(conn: Conn, i: int) -> list[Any]:
        # Each connection approves one token and one CPU proposal for the same entity.
        rows = conn.execute(DECIDE, (cpu[i], "approved", f"reviewer-{i}")).fetchall()
        return rows + conn.execute(DECIDE, (pids[i], "approved", f"reviewer-{i}")).fetchall()

    outcomes = _race([become_senator(connect(), f"reviewer-{i}") for i in range(n)], work)
    codes = Counter(o.sqlstate for o in outcomes)
    print(f"\n{n} concurrent approvals, reserve for {covered}: {dict(codes)}")
    assert codes == {None: covered, "S2029": n - covered}
    assert reserve(db) == 0
    assert reserve(db, "cpu_seconds") == 1000 - 10 * covered
    total = scalar(db, "SELECT sum(token_budget) FROM resource_budgets")
    assert total == covered * amount
    assert scalar(db, "SELECT count(*) FROM allocation_proposals WHERE status = 'approved'") == (
        2 * covered
    )
    assert ledger_invariant_violations(db) == []


def test_many_reviewers_deciding_one_proposal_at_once_credit_the_budget_once(
    db: Conn, connect: Connect
) -> None:
    n = 8
    fund(db, 100_000)
    pid = file_proposal(db, amount=5000)
    approve_votes(db, pid)
    outcomes = _race(
        [become_senator(connect(), f"reviewer-{i}") for i in range(n)],
        lambda c, i: c.execute(DECIDE, (pid, "approved", f"reviewer-{i}")).fetchall(),
    )
    codes = Counter(o.sqlstate for o in outcomes)
    print(f"\n{n} reviewers deciding one proposal: {dict(codes)}")
    assert codes == {None: 1, "S2021": n - 1}
    assert (budget(db, "h-1"), reserve(db)) == (5000, 95_000)
    assert count_rows(db, "budget_ledger") == 3  # funding, budget credit, reserve debit
