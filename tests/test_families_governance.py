"""Nested budgets, point 5 (issue 19): governance in a family.

A proposal for a child is covered first by its parent's unallocated budget in the class (the
parent's base budget minus its direct children's, floored at 0), as a carve-out: the child's
envelope grows, the parent's is unchanged (it still caps the whole subtree) and the reserve is
not drawn for that part; only the rest comes from the reserve (S2029 when it cannot). An entity
without a parent is approved exactly as before. Every change is in budget_ledger with its cause
(proposal_carve_out for the parent's part, proposal_approval for the reserve's, which still nets
to zero per class), and check_ledger_invariant() stays clean.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from governance_support import (
    Conn,
    approve_votes,
    become_senator,
    budget,
    decide,
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
GAP = ("knowledge_gap", "g-1")


def envelope(db: Conn, kind: str, eid: str, tokens: int) -> None:
    db.execute(
        "INSERT INTO resource_budgets (entity_type, entity_id, token_budget) VALUES (%s, %s, %s)",
        (kind, eid, tokens),
    )


def link(db: Conn, child: tuple[str, str], parent: tuple[str, str]) -> None:
    db.execute("SELECT set_entity_parent(%s, %s, %s, %s, 'test')", (*child, *parent))


def gap_with_two_hypotheses(db: Conn, gap: int, h1: int, h2: int) -> None:
    """g-1 (envelope ``gap``) with children h-1 and h-2 (envelopes ``h1``, ``h2``)."""
    envelope(db, *GAP, gap)
    envelope(db, "hypothesis", "h-1", h1)
    envelope(db, "hypothesis", "h-2", h2)
    link(db, ("hypothesis", "h-1"), GAP)
    link(db, ("hypothesis", "h-2"), GAP)


def approve(db: Conn, entity_id: str, amount: int, entity_type: str = "hypothesis") -> Any:
    pid = file_proposal(db, entity_type=entity_type, entity_id=entity_id, amount=amount)
    approve_votes(db, pid)
    decide(db, pid, "approved", note="worth it")
    return pid


def coverage(db: Conn, pid: Any) -> tuple[Any, ...]:
    row = db.execute(
        "SELECT parent_entity_type, parent_entity_id, from_parent, from_reserve"
        " FROM allocation_proposal_coverage WHERE proposal_id = %s",
        (pid,),
    ).fetchone()
    assert row is not None
    return tuple(row)


def ledger_of(db: Conn, pid: Any) -> list[tuple[Any, ...]]:
    """The approval's ledger rows: cause, account, entity, delta (in recording order)."""
    return db.execute(
        "SELECT cause_type, account, entity_type, entity_id, delta FROM budget_ledger"
        " WHERE cause_id = %s AND cause_type IN ('proposal_approval', 'proposal_carve_out')"
        " ORDER BY ledger_id",
        (str(pid),),
    ).fetchall()


def assert_books_balance(db: Conn) -> None:
    assert ledger_invariant_violations(db) == []
    # Every credit under proposal_approval is a reserve debit: the cause nets to zero per class.
    assert (
        db.execute(
            "SELECT resource_type FROM budget_ledger WHERE cause_type = 'proposal_approval'"
            " GROUP BY resource_type HAVING sum(delta) <> 0"
        ).fetchall()
        == []
    )


def test_a_child_s_proposal_within_its_parent_s_unallocated_budget_draws_nothing_from_the_reserve(
    db: Conn,
) -> None:
    fund(db, 10_000)
    gap_with_two_hypotheses(db, 100_000, 20_000, 30_000)  # 50 000 unallocated
    pid = approve(db, "h-1", 40_000)

    assert budget(db, "h-1") == 60_000
    assert (
        budget(db, "g-1", entity_type="knowledge_gap") == 100_000
    )  # the parent's envelope is unchanged
    assert reserve(db) == 10_000
    assert coverage(db, pid) == ("knowledge_gap", "g-1", 40_000, 0)
    assert ledger_of(db, pid) == [
        ("proposal_carve_out", "entity_budget", "knowledge_gap", "g-1", 0),
        ("proposal_carve_out", "entity_budget", "hypothesis", "h-1", 40_000),
    ]
    note = scalar(
        db,
        "SELECT note FROM budget_ledger WHERE cause_id = %s AND entity_id = 'h-1'",
        (str(pid),),
    )
    assert "knowledge_gap g-1" in note and "worth it" in note
    assert_books_balance(db)


def test_a_child_s_proposal_partly_covered_by_its_parent_draws_exactly_the_rest_from_the_reserve(
    db: Conn,
) -> None:
    fund(db, 100_000)
    gap_with_two_hypotheses(db, 100_000, 20_000, 30_000)  # 50 000 unallocated
    pid = approve(db, "h-2", 70_000)

    assert budget(db, "h-2") == 100_000
    assert budget(db, "g-1", entity_type="knowledge_gap") == 100_000
    assert reserve(db) == 80_000
    assert coverage(db, pid) == ("knowledge_gap", "g-1", 50_000, 20_000)
    assert ledger_of(db, pid) == [
        ("proposal_carve_out", "entity_budget", "knowledge_gap", "g-1", 0),
        ("proposal_carve_out", "entity_budget", "hypothesis", "h-2", 50_000),
        ("proposal_approval", "entity_budget", "hypothesis", "h-2", 20_000),
        ("proposal_approval", "reserve", None, None, -20_000),
    ]
    assert_books_balance(db)
    # The next sibling's proposal finds nothing left unallocated: all from the reserve.
    second = approve(db, "h-1", 5_000)
    assert coverage(db, second) == (None, None, 0, 5_000)
    assert reserve(db) == 75_000
    assert_books_balance(db)


def test_a_partly_covered_proposal_the_reserve_cannot_finish_is_refused_with_s2029_nothing_moved(
    db: Conn,
) -> None:
    fund(db, 1_000)
    gap_with_two_hypotheses(db, 100_000, 20_000, 30_000)
    pid = file_proposal(db, entity_id="h-1", amount=60_000)  # 50 000 carved, 10 000 short
    approve_votes(db, pid)
    with pytest.raises(psycopg.Error) as e:
        decide(db, pid, "approved")
    assert e.value.sqlstate == "S2029"
    assert (status_of(db, pid), budget(db, "h-1"), reserve(db)) == ("pending", 20_000, 1_000)
    assert ledger_of(db, pid) == []
    assert_books_balance(db)


@pytest.mark.parametrize("parent_envelope", [60_000, 40_000, None])
def test_a_child_whose_parent_has_no_unallocated_budget_draws_everything_from_the_reserve(
    db: Conn, parent_envelope: int | None
) -> None:
    fund(db, 100_000)
    if parent_envelope is None:  # a parent without an envelope covers nothing
        envelope(db, "hypothesis", "h-1", 20_000)
        envelope(db, "hypothesis", "h-2", 40_000)
        link(db, ("hypothesis", "h-1"), GAP)
        link(db, ("hypothesis", "h-2"), GAP)
    else:  # children's envelopes equal (60 000) or exceed (40 000) the parent's
        gap_with_two_hypotheses(db, parent_envelope, 20_000, 40_000)
    pid = approve(db, "h-1", 7_000)

    assert (budget(db, "h-1"), reserve(db)) == (27_000, 93_000)
    assert coverage(db, pid) == (None, None, 0, 7_000)
    assert ledger_of(db, pid) == [
        ("proposal_approval", "entity_budget", "hypothesis", "h-1", 7_000),
        ("proposal_approval", "reserve", None, None, -7_000),
    ]
    assert_books_balance(db)


def test_an_entity_without_a_parent_is_approved_exactly_as_before_beside_a_family(
    db: Conn,
) -> None:
    fund(db, 100_000)
    gap_with_two_hypotheses(db, 100_000, 20_000, 30_000)
    envelope(db, "hypothesis", "h-9", 1_000)
    # Without a parent: the root of a family, an envelope outside any family, a new envelope.
    pids = [
        approve(db, "g-1", 4_000, entity_type="knowledge_gap"),
        approve(db, "h-9", 5_000),
        approve(db, "h-new", 6_000),
    ]
    assert budget(db, "g-1", entity_type="knowledge_gap") == 104_000
    assert (budget(db, "h-9"), budget(db, "h-new"), reserve(db)) == (6_000, 6_000, 85_000)
    for pid, (kind, eid, amount) in zip(
        pids,
        [
            ("knowledge_gap", "g-1", 4_000),
            ("hypothesis", "h-9", 5_000),
            ("hypothesis", "h-new", 6_000),
        ],
        strict=True,
    ):
        # Today's two rows, today's note (the reviewer's), nothing carved.
        assert ledger_of(db, pid) == [
            ("proposal_approval", "entity_budget", kind, eid, amount),
            ("proposal_approval", "reserve", None, None, -amount),
        ]
        notes = db.execute(
            "SELECT DISTINCT note FROM budget_ledger WHERE cause_id = %s", (str(pid),)
        ).fetchall()
        assert notes == [("worth it",)]
        assert coverage(db, pid) == (None, None, 0, amount)
    # And the reserve's refusal is today's.
    pid = file_proposal(db, entity_id="h-9", amount=1_000_000)
    approve_votes(db, pid)
    with pytest.raises(psycopg.Error) as e:
        decide(db, pid, "approved")
    assert e.value.sqlstate == "S2029"
    assert_books_balance(db)


def _two_sibling_proposals(db: Conn, amount: int) -> tuple[Any, Any]:
    p1 = file_proposal(db, entity_id="h-1", amount=amount)
    p2 = file_proposal(db, entity_id="h-2", amount=amount)
    for pid in (p1, p2):
        approve_votes(db, pid)
    return p1, p2


@pytest.mark.parametrize("funded", [100_000, 0])
def test_two_siblings_approved_at_once_never_carve_more_than_the_parent_s_unallocated_budget(
    db: Conn, connect: Connect, funded: int
) -> None:
    if funded:
        fund(db, funded)
    gap_with_two_hypotheses(db, 100_000, 35_000, 35_000)  # 30 000 unallocated
    p1, p2 = _two_sibling_proposals(db, 30_000)
    first = become_senator(connect(autocommit=False), "reviewer-1")
    second = become_senator(connect(), "reviewer-2")
    first.execute(DECIDE, (p1, "approved", "reviewer-1"))  # holds the parent's envelope
    thread, outcome = run_in_thread(
        second, lambda c: c.execute(DECIDE, (p2, "approved", "reviewer-2")).fetchall()
    )
    wait_until_blocked(db, second.info.backend_pid)
    first.commit()
    thread.join(timeout=30)

    carved = scalar(
        db,
        "SELECT coalesce(sum(from_parent), 0) FROM allocation_proposal_coverage"
        " WHERE parent_entity_id = 'g-1'",
    )
    assert carved == 30_000
    assert coverage(db, p1) == ("knowledge_gap", "g-1", 30_000, 0)
    if funded:  # the second finds nothing unallocated and draws all from the reserve
        assert outcome.error is None, outcome.error
        assert coverage(db, p2) == (None, None, 0, 30_000)
        assert (budget(db, "h-1"), budget(db, "h-2"), reserve(db)) == (65_000, 65_000, 70_000)
    else:  # ... and with no reserve it is refused, not carved again
        assert outcome.sqlstate == "S2029", outcome.error
        assert (status_of(db, p2), budget(db, "h-2")) == ("pending", 35_000)
    assert budget(db, "g-1", entity_type="knowledge_gap") == 100_000
    assert_books_balance(db)


def test_a_repeatable_read_sibling_approval_racing_a_carve_out_fails_with_40001_not_carving_twice(
    db: Conn, connect: Connect
) -> None:
    gap_with_two_hypotheses(db, 100_000, 35_000, 35_000)  # 30 000 unallocated, no reserve
    p1, p2 = _two_sibling_proposals(db, 30_000)
    first = become_senator(connect(autocommit=False), "reviewer-1")
    second = become_senator(connect(autocommit=False), "reviewer-2")
    second.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
    first.execute(DECIDE, (p1, "approved", "reviewer-1"))
    thread, outcome = run_in_thread(
        second, lambda c: c.execute(DECIDE, (p2, "approved", "reviewer-2")).fetchall()
    )
    wait_until_blocked(db, second.info.backend_pid)
    first.commit()
    thread.join(timeout=30)

    assert outcome.sqlstate == "40001", outcome.error
    assert (status_of(db, p1), status_of(db, p2)) == ("approved", "pending")
    assert (budget(db, "h-1"), budget(db, "h-2")) == (65_000, 35_000)
    assert_books_balance(db)


def test_a_carve_out_is_explained_on_the_parent_and_the_child(db: Conn) -> None:
    fund(db, 100_000)
    gap_with_two_hypotheses(db, 100_000, 20_000, 30_000)
    pid = approve(db, "h-1", 60_000)  # 50 000 carved, 10 000 from the reserve
    rules = db.execute(
        "SELECT entity_id, rule, delta FROM budget_move_evidence"
        " WHERE cause_id = %s ORDER BY ledger_id",
        (str(pid),),
    ).fetchall()
    assert rules == [
        ("g-1", "proposal_carve_out", 0),
        ("h-1", "proposal_carve_out", 50_000),
        ("h-1", "proposal_approval", 10_000),
    ]
    explained = scalar(
        db,
        "SELECT explanation FROM explain_budget('knowledge_gap', 'g-1') WHERE cause = %s",
        (f"proposal_carve_out {pid}",),
    )
    assert "50000 covered by parent knowledge_gap g-1" in explained
    assert (
        Decimal(scalar(db, "SELECT sum(delta) FROM budget_ledger WHERE cause_id = %s", (str(pid),)))
        == 60_000 - 10_000
    )


def test_the_rebalance_never_reclaims_carved_budget_into_the_reserve(db: Conn) -> None:
    """Budget carved out of a parent's unallocated budget was never drawn from the reserve: an
    idle child loses at most what it holds beyond its carve-outs, so the reserve never gains
    budget nobody funded (reserve + envelopes - carved budget still held = what was funded)."""
    from cycles_support import envelope as aged_envelope

    fund(db, 100_000)
    # The gap and its hypothesis are old enough for the idle rule; neither spends.
    aged_envelope(db, "g-1", entity_type="knowledge_gap", tokens=40_000)
    aged_envelope(db, "h-1", tokens=1_000)
    link(db, ("hypothesis", "h-1"), GAP)
    funded = reserve(db) + scalar(db, "SELECT sum(token_budget) FROM resource_budgets")
    pid = approve(db, "h-1", 20_000)
    assert coverage(db, pid)[2:] == (20_000, 0)
    assert budget(db, "h-1") == 21_000
    # The grant is a month old (a recent grant is not idle): dated back behind the guards.
    db.execute("SET session_replication_role = replica")
    db.execute(
        "UPDATE allocation_proposals SET decided_at = now() - interval '30 days' WHERE id = %s",
        (pid,),
    )
    db.execute("RESET session_replication_role")
    db.execute("SELECT * FROM run_rebalance(dry_run => false, actor => 'senate-chair')")
    # The idle rule's step (a quarter of 21,000) is held back to the 1,000 that came from
    # the reserve; the 20,000 carved stays in the family, under the gap's unchanged cap.
    assert budget(db, "h-1") >= 20_000
    held = budget(db, "h-1")
    assert held is not None
    carved_held = min(Decimal(20_000), held)
    envelopes = scalar(db, "SELECT sum(token_budget) FROM resource_budgets")
    assert reserve(db) + envelopes - carved_held == funded
    assert_books_balance(db)
