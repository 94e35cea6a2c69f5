"""Votes: one per voter, history kept, only while pending; quorum and majority by policy version."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from governance_support import (
    Conn,
    adopt_policy,
    as_senator,
    budget,
    count_rows,
    decide,
    file_proposal,
    fund,
    scalar,
    status_of,
    vote,
)
from psycopg.types.json import Jsonb


def current_votes(db: Conn, pid: int) -> list[dict[str, Any]]:
    votes = scalar(db, "SELECT votes FROM allocation_proposals WHERE id = %s", (pid,))
    assert isinstance(votes, list)
    return votes


def test_a_vote_is_stored_in_allocation_proposals_votes(db: Conn) -> None:
    pid = file_proposal(db)
    tally = vote(db, pid, "senator-a", "approve", "strong PMIDs")
    votes = current_votes(db, pid)
    assert [(v["voter"], v["vote"], v["rationale"]) for v in votes] == [
        ("senator-a", "approve", "strong PMIDs")
    ]
    assert set(votes[0]) == {"voter", "vote", "cast_at", "rationale"}
    assert (tally["approvals"], tally["rejections"], tally["abstentions"]) == (1, 0, 0)


def test_a_vote_without_rationale_has_no_rationale_key(db: Conn) -> None:
    pid = file_proposal(db)
    vote(db, pid, "senator-a", "abstain")
    assert set(current_votes(db, pid)[0]) == {"voter", "vote", "cast_at"}


def test_voting_again_replaces_the_earlier_vote_and_keeps_the_history(db: Conn) -> None:
    pid = file_proposal(db)
    vote(db, pid, "senator-a", "reject", "too expensive")
    vote(db, pid, "senator-b", "approve")
    tally = vote(db, pid, "senator-a", "approve", "convinced by the benchmark")
    assert [(v["voter"], v["vote"]) for v in current_votes(db, pid)] == [
        ("senator-b", "approve"),
        ("senator-a", "approve"),
    ]
    assert (tally["approvals"], tally["rejections"]) == (2, 0)
    history = db.execute(
        "SELECT voter, vote, rationale FROM allocation_votes WHERE proposal_id = %s "
        "ORDER BY vote_id",
        (pid,),
    ).fetchall()
    assert history == [
        ("senator-a", "reject", "too expensive"),
        ("senator-b", "approve", None),
        ("senator-a", "approve", "convinced by the benchmark"),
    ]


@pytest.mark.parametrize("choice", ["yes", "APPROVE", "approved", "", None])
def test_a_vote_other_than_approve_reject_or_abstain_is_refused(
    db: Conn, choice: str | None
) -> None:
    pid = file_proposal(db)
    with pytest.raises(psycopg.Error) as exc:
        with as_senator(db, "senator-a"):
            db.execute("SELECT cast_allocation_vote(%s, 'senator-a', %s)", (pid, choice))
    assert exc.value.sqlstate == "S2024"
    assert current_votes(db, pid) == []
    assert count_rows(db, "allocation_votes") == 0


@pytest.mark.parametrize(
    ("voter", "rationale", "sqlstate"),
    [
        ("", None, "S2010"),
        ("v" * 201, None, "S2010"),
        ("senator-a", "r" * 2001, "S2011"),
    ],
    ids=["blank voter", "voter too long", "rationale too long"],
)
def test_a_vote_without_a_voter_or_with_an_oversize_rationale_is_refused(
    db: Conn, voter: str | None, rationale: str | None, sqlstate: str
) -> None:
    pid = file_proposal(db)
    with pytest.raises(psycopg.Error) as exc:
        with as_senator(db, "senator-a"):
            db.execute(
                "SELECT cast_allocation_vote(%s, %s, 'approve', %s)", (pid, voter, rationale)
            )
    assert exc.value.sqlstate == sqlstate
    assert count_rows(db, "allocation_votes") == 0


def test_a_vote_naming_no_voter_is_the_session_senators(db: Conn) -> None:
    pid = file_proposal(db)
    with as_senator(db, "senator-a"):
        db.execute("SELECT cast_allocation_vote(%s, NULL, 'approve')", (pid,))
    assert [v["voter"] for v in current_votes(db, pid)] == ["senator-a"]


def test_a_vote_on_a_proposal_that_does_not_exist_is_refused(db: Conn) -> None:
    with pytest.raises(psycopg.Error) as exc:
        vote(db, 424242, "senator-a", "approve")
    assert exc.value.sqlstate == "S2023"


@pytest.mark.parametrize("status", ["approved", "rejected", "deferred"])
def test_votes_are_cast_only_while_the_proposal_is_pending(db: Conn, status: str) -> None:
    fund(db, 100_000)
    adopt_policy(db, quorum=1)
    pid = file_proposal(db)
    vote(db, pid, "senator-a", "approve")
    decide(db, pid, status)
    with pytest.raises(psycopg.Error) as exc:
        vote(db, pid, "senator-b", "approve")
    assert exc.value.sqlstate == "S2021"
    with pytest.raises(psycopg.Error) as exc:
        db.execute(
            "UPDATE allocation_proposals SET votes = votes || jsonb_build_array(jsonb_build_object("
            "'voter', 'senator-b', 'vote', 'reject', 'cast_at', now())) WHERE id = %s",
            (pid,),
        )
    assert exc.value.sqlstate == "S2021"
    assert len(current_votes(db, pid)) == 1


MALFORMED_VOTES: dict[str, Any] = {
    "not an array": {"voter": "a", "vote": "approve", "cast_at": "2025-01-01T00:00:00Z"},
    "an element that is not an object": ["approve"],
    "no voter": [{"vote": "approve", "cast_at": "2025-01-01T00:00:00Z"}],
    "a numeric voter": [{"voter": 7, "vote": "approve", "cast_at": "2025-01-01T00:00:00Z"}],
    "an unknown vote": [{"voter": "a", "vote": "maybe", "cast_at": "2025-01-01T00:00:00Z"}],
    "no cast_at": [{"voter": "a", "vote": "approve"}],
    "a cast_at that is not a time": [{"voter": "a", "vote": "approve", "cast_at": "yesterday"}],
    "a rationale that is not text": [
        {"voter": "a", "vote": "approve", "cast_at": "2025-01-01T00:00:00Z", "rationale": 5}
    ],
    "an unknown key": [
        {"voter": "a", "vote": "approve", "cast_at": "2025-01-01T00:00:00Z", "weight": 3}
    ],
}


@pytest.mark.parametrize("votes", MALFORMED_VOTES.values(), ids=MALFORMED_VOTES.keys())
def test_malformed_vote_json_written_directly_is_refused_by_the_votes_constraint(
    db: Conn, votes: Any
) -> None:
    pid = file_proposal(db)
    with pytest.raises(psycopg.Error) as exc:
        db.execute("UPDATE allocation_proposals SET votes = %s WHERE id = %s", (Jsonb(votes), pid))
    assert exc.value.sqlstate == "23514"
    assert current_votes(db, pid) == []
    assert count_rows(db, "allocation_votes") == 0


def test_two_votes_by_one_voter_written_directly_are_refused(db: Conn) -> None:
    pid = file_proposal(db)
    votes = [
        {"voter": "a", "vote": "approve", "cast_at": "2025-01-01T00:00:00Z"},
        {"voter": "a", "vote": "reject", "cast_at": "2025-01-02T00:00:00Z"},
    ]
    with pytest.raises(psycopg.Error) as exc:
        db.execute("UPDATE allocation_proposals SET votes = %s WHERE id = %s", (Jsonb(votes), pid))
    assert exc.value.sqlstate == "S2025"
    assert count_rows(db, "allocation_votes") == 0


def test_well_formed_votes_written_directly_are_kept_in_the_history_and_count_only_for_members(
    db: Conn,
) -> None:
    pid = file_proposal(db)
    votes = [
        {"voter": "b", "vote": "abstain", "cast_at": "2025-01-01T01:00:00Z", "rationale": "x"},
    ]
    db.execute("UPDATE allocation_proposals SET votes = %s WHERE id = %s", (Jsonb(votes), pid))
    vote(db, pid, "a", "approve")
    assert count_rows(db, "allocation_votes") == 2
    tally = db.execute(
        "SELECT approvals, abstentions FROM allocation_proposal_tallies WHERE proposal_id = %s",
        (pid,),
    ).fetchone()
    # "b" is no senator: the vote is kept but does not count.
    assert tally == (1, 0)


def test_a_vote_cannot_be_withdrawn_by_rewriting_the_array(db: Conn) -> None:
    pid = file_proposal(db)
    vote(db, pid, "senator-a", "reject")
    with pytest.raises(psycopg.Error) as exc:
        db.execute("UPDATE allocation_proposals SET votes = '[]' WHERE id = %s", (pid,))
    assert exc.value.sqlstate == "S2025"


def test_the_vote_history_is_append_only(db: Conn) -> None:
    pid = file_proposal(db)
    vote(db, pid, "senator-a", "approve")
    for sql in (
        "UPDATE allocation_votes SET vote = 'reject'",
        "DELETE FROM allocation_votes",
        "TRUNCATE allocation_votes",
    ):
        with pytest.raises(psycopg.Error) as exc:
            db.execute(sql)
        assert exc.value.sqlstate == "S4001"


# (approve, reject, abstain, quorum, expected outcome: None = approved, else SQLSTATE)
COUNTING = [
    (3, 0, 0, 3, None),
    (2, 1, 0, 3, None),
    (2, 0, 0, 3, "S2027"),
    (2, 0, 5, 3, "S2027"),  # abstentions do not count towards the quorum
    (0, 0, 0, 1, "S2027"),
    (1, 1, 0, 2, "S2028"),  # a tie is not a majority
    (1, 2, 0, 3, "S2028"),
    (0, 3, 0, 3, "S2028"),
    (1, 0, 0, 1, None),
    (3, 2, 4, 5, None),
]


@pytest.mark.parametrize(("approve", "reject", "abstain", "quorum", "outcome"), COUNTING)
def test_approval_needs_the_quorum_and_more_approve_than_reject_votes(
    db: Conn, approve: int, reject: int, abstain: int, quorum: int, outcome: str | None
) -> None:
    fund(db, 100_000)
    adopt_policy(db, quorum=quorum)
    pid = file_proposal(db)
    voters = iter(range(100))
    for choice, n in (("approve", approve), ("reject", reject), ("abstain", abstain)):
        for _ in range(n):
            vote(db, pid, f"senator-{next(voters)}", choice)
    tally = db.execute(
        "SELECT quorum_met, majority_reached, approvable FROM allocation_proposal_tallies "
        "WHERE proposal_id = %s",
        (pid,),
    ).fetchone()
    assert tally is not None
    if outcome is None:
        assert tally == (True, True, True)
        decide(db, pid, "approved")
        assert status_of(db, pid) == "approved"
    else:
        assert tally[2] is False
        with pytest.raises(psycopg.Error) as exc:
            decide(db, pid, "approved")
        assert exc.value.sqlstate == outcome
        assert status_of(db, pid) == "pending"
        assert budget(db, "h-1") is None
        # Failing to approve never blocks rejecting or deferring.
        decide(db, pid, "deferred")


def test_a_stricter_policy_adopted_after_filing_does_not_change_how_a_proposal_is_counted(
    db: Conn,
) -> None:
    fund(db, 100_000)
    lenient = adopt_policy(db, quorum=1)
    early = file_proposal(db, entity_id="h-early")
    strict = adopt_policy(db, quorum=5)
    late = file_proposal(db, entity_id="h-late")
    for pid in (early, late):
        vote(db, pid, "senator-a", "approve")
    versions = db.execute(
        "SELECT proposal_id, policy_version, quorum FROM allocation_proposal_tallies "
        "ORDER BY proposal_id"
    ).fetchall()
    assert versions == [(early, lenient, 1), (late, strict, 5)]
    decide(db, early, "approved")
    with pytest.raises(psycopg.Error) as exc:
        decide(db, late, "approved")
    assert exc.value.sqlstate == "S2027"


def test_a_more_lenient_policy_adopted_after_filing_does_not_lower_an_earlier_proposals_bar(
    db: Conn,
) -> None:
    fund(db, 100_000)
    adopt_policy(db, quorum=4)
    pid = file_proposal(db)
    adopt_policy(db, quorum=1)
    for i in range(3):
        vote(db, pid, f"senator-{i}", "approve")
    with pytest.raises(psycopg.Error) as exc:
        decide(db, pid, "approved")
    assert exc.value.sqlstate == "S2027"
    vote(db, pid, "senator-3", "approve")
    decide(db, pid, "approved")
    assert status_of(db, pid) == "approved"


def test_approval_by_direct_update_obeys_the_same_quorum(db: Conn) -> None:
    fund(db, 100_000)
    pid = file_proposal(db)
    vote(db, pid, "senator-a", "approve")
    with pytest.raises(psycopg.Error) as exc:
        db.execute("UPDATE allocation_proposals SET status = 'approved' WHERE id = %s", (pid,))
    assert exc.value.sqlstate == "S2027"
    assert status_of(db, pid) == "pending"
