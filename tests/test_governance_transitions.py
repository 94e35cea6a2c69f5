"""The proposal state machine holds for every write path; deferral and reopening."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from governance_support import (
    Conn,
    approve_votes,
    as_senator,
    count_rows,
    decide,
    file_proposal,
    fund,
    reopen,
    scalar,
    status_of,
)
from psycopg.types.json import Jsonb

STATUSES = ["pending", "approved", "rejected", "deferred"]
ALLOWED = {
    ("pending", "approved"),
    ("pending", "rejected"),
    ("pending", "deferred"),
    ("deferred", "pending"),
}
REFUSED = [(a, b) for a in STATUSES for b in STATUSES if a != b and (a, b) not in ALLOWED]


def proposal_in(db: Conn, status: str) -> int:
    """A proposal brought to ``status`` through the governance functions."""
    fund(db, 1_000_000)
    pid = file_proposal(db)
    if status == "approved":
        approve_votes(db, pid)
    if status != "pending":
        decide(db, pid, status)
    assert status_of(db, pid) == status
    return pid


@pytest.mark.parametrize(("from_status", "to_status"), sorted(ALLOWED))
def test_an_allowed_transition_succeeds_by_direct_update(
    db: Conn, from_status: str, to_status: str
) -> None:
    pid = proposal_in(db, from_status)
    if to_status == "approved":
        approve_votes(db, pid)
    db.execute("UPDATE allocation_proposals SET status = %s WHERE id = %s", (to_status, pid))
    assert status_of(db, pid) == to_status


@pytest.mark.parametrize(("from_status", "to_status"), REFUSED)
def test_a_forbidden_transition_by_direct_update_fails_and_changes_nothing(
    db: Conn, from_status: str, to_status: str
) -> None:
    pid = proposal_in(db, from_status)
    ledger_rows = count_rows(db, "budget_ledger")
    with pytest.raises(psycopg.Error) as exc:
        db.execute("UPDATE allocation_proposals SET status = %s WHERE id = %s", (to_status, pid))
    assert exc.value.sqlstate == "S2020"
    assert status_of(db, pid) == from_status
    assert count_rows(db, "budget_ledger") == ledger_rows


@pytest.mark.parametrize("status", ["approved", "rejected", "deferred"])
def test_a_new_proposal_cannot_be_inserted_already_decided(db: Conn, status: str) -> None:
    with pytest.raises(psycopg.Error) as exc:
        db.execute(
            "INSERT INTO allocation_proposals "
            "(entity_type, entity_id, requested_tokens, proposer_agent, justification, evidence, "
            " status) VALUES ('hypothesis', 'h-1', 10, 'svc', 'why', %s, %s)",
            (Jsonb({"kg_edges_gained": 1, "expected_kg_edges": 2}), status),
        )
    assert exc.value.sqlstate == "S2020"
    assert count_rows(db, "allocation_proposals") == 0


@pytest.mark.parametrize("status", ["approved", "rejected", "deferred"])
def test_deciding_a_proposal_that_is_not_pending_is_refused(db: Conn, status: str) -> None:
    pid = proposal_in(db, status)
    for decision in ("approved", "rejected", "deferred"):
        with pytest.raises(psycopg.Error) as exc:
            decide(db, pid, decision)
        assert exc.value.sqlstate == "S2021"
    assert status_of(db, pid) == status


@pytest.mark.parametrize("status", ["pending", "approved", "rejected"])
def test_only_a_deferred_proposal_can_be_reopened(db: Conn, status: str) -> None:
    pid = proposal_in(db, status)
    with pytest.raises(psycopg.Error) as exc:
        reopen(db, pid)
    assert exc.value.sqlstate == "S2022"
    assert status_of(db, pid) == status


def test_deciding_or_reopening_a_proposal_that_does_not_exist_is_refused(db: Conn) -> None:
    for call in (lambda: decide(db, 424242, "rejected"), lambda: reopen(db, 424242)):
        with pytest.raises(psycopg.Error) as exc:
            call()
        assert exc.value.sqlstate == "S2023"


@pytest.mark.parametrize("decision", ["pending", "approve", "APPROVED", "", None])
def test_a_decision_other_than_approved_rejected_or_deferred_is_refused(
    db: Conn, decision: str | None
) -> None:
    pid = file_proposal(db)
    with pytest.raises(psycopg.Error) as exc:
        with as_senator(db, "chair"):
            db.execute("SELECT decide_allocation_proposal(%s, %s, 'chair')", (pid, decision))
    assert exc.value.sqlstate == "S2026"
    assert status_of(db, pid) == "pending"


@pytest.mark.parametrize(
    ("reviewer", "note", "sqlstate"),
    [("", None, "S2010"), ("r" * 201, None, "S2010"), ("chair", "n" * 2001, "S2011")],
    ids=["blank reviewer", "reviewer too long", "note too long"],
)
def test_a_decision_without_a_reviewer_or_with_an_oversize_note_is_refused(
    db: Conn, reviewer: str | None, note: str | None, sqlstate: str
) -> None:
    pid = file_proposal(db)
    with pytest.raises(psycopg.Error) as exc, as_senator(db, "chair"):
        db.execute(
            "SELECT decide_allocation_proposal(%s, 'rejected', %s, %s)", (pid, reviewer, note)
        )
    assert exc.value.sqlstate == sqlstate
    assert status_of(db, pid) == "pending"


def test_rejection_is_final_and_records_reviewer_note_and_time(db: Conn) -> None:
    pid = file_proposal(db)
    result = decide(db, pid, "rejected", reviewer="chair", note="evidence too thin")
    assert result["status"] == "rejected" and result["reviewer"] == "chair"
    row = db.execute(
        "SELECT reviewer, decision_note, decided_at IS NOT NULL FROM allocation_proposals "
        "WHERE id = %s",
        (pid,),
    ).fetchone()
    assert row == ("chair", "evidence too thin", True)
    with pytest.raises(psycopg.Error) as exc:
        db.execute("UPDATE allocation_proposals SET status = 'pending' WHERE id = %s", (pid,))
    assert exc.value.sqlstate == "S2020"


def test_a_deferral_without_a_date_is_due_after_the_policy_deferral_period(db: Conn) -> None:
    pid = file_proposal(db)
    decide(db, pid, "deferred", note="wait for the benchmark")
    period_ok = scalar(
        db,
        "SELECT p.revisit_at = p.decided_at + pol.deferral_period "
        "FROM allocation_proposals AS p "
        "JOIN economics_policy AS pol USING (policy_version) WHERE p.id = %s",
        (pid,),
    )
    assert period_ok is True
    assert count_rows(db, "proposals_due_for_review") == 0


def test_a_deferral_carries_the_revisit_date_the_reviewer_gives(db: Conn) -> None:
    pid = file_proposal(db)
    when = datetime.now(UTC) + timedelta(days=3)
    result = decide(db, pid, "deferred", revisit_at=when)
    assert result["revisit_at"] == when


@pytest.mark.parametrize(
    ("decision", "offset"),
    [
        ("deferred", timedelta(days=-1)),
        ("rejected", timedelta(days=3)),
        ("approved", timedelta(days=3)),
    ],
    ids=["deferral into the past", "revisit date on a rejection", "revisit date on an approval"],
)
def test_a_revisit_date_in_the_past_or_on_a_final_decision_is_refused(
    db: Conn, decision: str, offset: timedelta
) -> None:
    pid = file_proposal(db)
    with pytest.raises(psycopg.Error) as exc:
        decide(db, pid, decision, revisit_at=datetime.now(UTC) + offset)
    assert exc.value.sqlstate == "S2031"
    assert status_of(db, pid) == "pending"


def test_deferred_proposals_past_their_revisit_date_show_up_for_review(db: Conn) -> None:
    due = file_proposal(db, entity_id="h-due")
    later = file_proposal(db, entity_id="h-later")
    file_proposal(db, entity_id="h-pending")
    decide(db, due, "deferred", note="revisit soon")
    decide(db, later, "deferred")
    # Move the first deferral's date into the past, as time passing would.
    db.execute("ALTER TABLE allocation_proposals DISABLE TRIGGER t10_guard_proposal_state")
    db.execute(
        "UPDATE allocation_proposals SET revisit_at = now() - interval '1 day' WHERE id = %s",
        (due,),
    )
    db.execute("ALTER TABLE allocation_proposals ENABLE TRIGGER t10_guard_proposal_state")
    rows = db.execute(
        "SELECT proposal_id, entity_id, deferred_by, decision_note, overdue_by > interval '0' "
        "FROM proposals_due_for_review"
    ).fetchall()
    assert rows == [(due, "h-due", "senate-chair", "revisit soon", True)]


def test_a_reopened_proposal_is_pending_again_keeps_its_votes_and_can_be_approved(
    db: Conn,
) -> None:
    fund(db, 100_000)
    pid = file_proposal(db)
    approve_votes(db, pid, 2)
    decide(db, pid, "deferred")
    with pytest.raises(psycopg.Error) as exc:
        approve_votes(db, pid, 3)
    assert exc.value.sqlstate == "S2021"
    result = reopen(db, pid, reviewer="chair-2")
    assert (result["status"], result["revisit_at"], result["decided_at"]) == ("pending", None, None)
    approve_votes(db, pid, 3)
    assert decide(db, pid, "approved")["status"] == "approved"
    history = db.execute(
        "SELECT from_status, to_status, actor FROM allocation_proposal_transitions "
        "WHERE proposal_id = %s ORDER BY transition_id",
        (pid,),
    ).fetchall()
    assert history == [
        (None, "pending", "agent-7"),
        ("pending", "deferred", "senate-chair"),
        ("deferred", "pending", "chair-2"),
        ("pending", "approved", "senate-chair"),
    ]


def test_postponing_a_deferral_is_recorded_and_a_past_date_is_refused(db: Conn) -> None:
    pid = file_proposal(db)
    decide(db, pid, "deferred")
    db.execute(
        "UPDATE allocation_proposals SET revisit_at = now() + interval '30 days' WHERE id = %s",
        (pid,),
    )
    with pytest.raises(psycopg.Error) as exc:
        db.execute(
            "UPDATE allocation_proposals SET revisit_at = now() - interval '1 day' WHERE id = %s",
            (pid,),
        )
    assert exc.value.sqlstate == "S2031"
    assert count_rows(db, "allocation_proposal_transitions") == 3


def test_a_pending_proposal_cannot_be_given_a_revisit_date(db: Conn) -> None:
    pid = file_proposal(db)
    with pytest.raises(psycopg.Error) as exc:
        db.execute(
            "UPDATE allocation_proposals SET revisit_at = now() + interval '1 day' WHERE id = %s",
            (pid,),
        )
    assert exc.value.sqlstate == "S2031"


def test_a_direct_status_change_is_attributed_to_the_session_user(db: Conn) -> None:
    pid = file_proposal(db)
    db.execute("UPDATE allocation_proposals SET status = 'rejected' WHERE id = %s", (pid,))
    reviewer = scalar(db, "SELECT reviewer FROM allocation_proposals WHERE id = %s", (pid,))
    assert reviewer == scalar(db, "SELECT session_user::text")


def test_rewriting_a_row_with_its_own_values_is_not_a_transition(db: Conn) -> None:
    pid = proposal_in(db, "approved")
    db.execute(
        "UPDATE allocation_proposals SET status = status, requested_tokens = requested_tokens, "
        "evidence = evidence, justification = justification WHERE id = %s",
        (pid,),
    )
    assert status_of(db, pid) == "approved"
    assert count_rows(db, "allocation_proposal_transitions") == 2


@pytest.mark.parametrize(
    ("status", "assignment"),
    [
        ("approved", "requested_tokens = requested_tokens * 10"),
        ("approved", "entity_id = 'someone-else'"),
        ("approved", "resource_type = 'cpu_seconds'"),
        ("approved", "justification = 'rewritten after the fact'"),
        ("approved", "evidence = evidence || '{\"kg_edges_gained\": 99}'"),
        ("rejected", "evidence = evidence || '{\"kg_edges_gained\": 99}'"),
        ("deferred", "requested_tokens = 1"),
        ("pending", "policy_version = policy_version + 1"),
        ("pending", "policy_version = NULL"),
    ],
)
def test_what_a_decision_rests_on_cannot_be_rewritten(
    db: Conn, status: str, assignment: str
) -> None:
    pid = proposal_in(db, status)
    with pytest.raises(psycopg.Error) as exc:
        db.execute(f"UPDATE allocation_proposals SET {assignment} WHERE id = %s", (pid,))
    assert exc.value.sqlstate == "S2030"


def test_the_request_is_fixed_once_voting_began_but_editable_before(db: Conn) -> None:
    pid = file_proposal(db)
    db.execute("UPDATE allocation_proposals SET requested_tokens = 7000 WHERE id = %s", (pid,))
    approve_votes(db, pid, 1)
    with pytest.raises(psycopg.Error) as exc:
        db.execute("UPDATE allocation_proposals SET requested_tokens = 9000 WHERE id = %s", (pid,))
    assert exc.value.sqlstate == "S2030"


def test_the_transition_log_is_append_only(db: Conn) -> None:
    file_proposal(db)
    for sql in (
        "UPDATE allocation_proposal_transitions SET actor = 'x'",
        "DELETE FROM allocation_proposal_transitions",
        "TRUNCATE allocation_proposal_transitions",
    ):
        with pytest.raises(psycopg.Error) as exc:
            db.execute(sql)
        assert exc.value.sqlstate == "S4001"
