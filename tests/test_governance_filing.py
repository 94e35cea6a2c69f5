"""Filing allocation proposals: the strict justification rule, on every write path."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from governance_support import (
    GOOD_EVIDENCE,
    GOOD_JUSTIFICATION,
    Conn,
    approve_votes,
    count_rows,
    decide,
    file_proposal,
    fund,
    scalar,
    status_of,
)
from psycopg.types.json import Jsonb

EXPECTED = {"expected_kg_edges": 40}

VALID_EVIDENCE = {
    "pmids": {"pmids": ["12345678"], **EXPECTED},
    "several pmids": {"pmids": ["1", "31883511", "2962504612"], **EXPECTED},
    "market_confidence_delta": {"market_confidence_delta": 0.12, **EXPECTED},
    "a negative market_confidence_delta": {"market_confidence_delta": -0.05, **EXPECTED},
    "kg_edges_gained": {"kg_edges_gained": 17, **EXPECTED},
    "benchmark_results": {
        "benchmark_results": [
            {"name": "BEIR-nfcorpus", "value": 0.41},
            {"name": "x", "value": "pass"},
        ],
        **EXPECTED,
    },
    "gap_resolution_progress of 1": {"gap_resolution_progress": 1, **EXPECTED},
    "gap_resolution_progress of 0.25": {"gap_resolution_progress": 0.25, **EXPECTED},
    "every grounding field": {
        "pmids": ["12345678"],
        "market_confidence_delta": 0.1,
        "kg_edges_gained": 3.5,
        "benchmark_results": [{"name": "recall@10", "value": 0.8}],
        "gap_resolution_progress": 0.5,
        "expected_kg_edges": 0.5,
    },
    "extra context keys": {"kg_edges_gained": 2, "notes": "see notebook 12", **EXPECTED},
}

# (case, justification, evidence, sqlstate)
INVALID_JUSTIFICATION: list[tuple[str, str | None, Any, str]] = [
    ("justification missing", None, GOOD_EVIDENCE, "S2001"),
    ("justification empty", "", GOOD_EVIDENCE, "S2001"),
    ("justification blank", " \t\n ", GOOD_EVIDENCE, "S2001"),
    ("justification too long", "x" * 20001, GOOD_EVIDENCE, "S2001"),
    ("evidence missing", GOOD_JUSTIFICATION, None, "S2002"),
    ("evidence an array", GOOD_JUSTIFICATION, [GOOD_EVIDENCE], "S2002"),
    ("evidence a string", GOOD_JUSTIFICATION, "pmid 12345678", "S2002"),
    ("evidence a number", GOOD_JUSTIFICATION, 40, "S2002"),
    ("evidence empty", GOOD_JUSTIFICATION, {}, "S2003"),
    ("evidence only expected gain", GOOD_JUSTIFICATION, EXPECTED, "S2003"),
    ("evidence with unknown keys only", GOOD_JUSTIFICATION, {"papers": 3, **EXPECTED}, "S2003"),
    ("pmids not an array", GOOD_JUSTIFICATION, {"pmids": "12345678", **EXPECTED}, "S2004"),
    ("pmids empty", GOOD_JUSTIFICATION, {"pmids": [], **EXPECTED}, "S2004"),
    ("pmids as numbers", GOOD_JUSTIFICATION, {"pmids": [12345678], **EXPECTED}, "S2004"),
    ("pmids not digits", GOOD_JUSTIFICATION, {"pmids": ["PMC123"], **EXPECTED}, "S2004"),
    ("pmids blank", GOOD_JUSTIFICATION, {"pmids": [""], **EXPECTED}, "S2004"),
    ("pmids too long", GOOD_JUSTIFICATION, {"pmids": ["12345678901"], **EXPECTED}, "S2004"),
    ("pmids null", GOOD_JUSTIFICATION, {"pmids": None, **EXPECTED}, "S2004"),
    (
        "market_confidence_delta a string",
        GOOD_JUSTIFICATION,
        {"market_confidence_delta": "0.1", **EXPECTED},
        "S2004",
    ),
    ("kg_edges_gained zero", GOOD_JUSTIFICATION, {"kg_edges_gained": 0, **EXPECTED}, "S2004"),
    ("kg_edges_gained negative", GOOD_JUSTIFICATION, {"kg_edges_gained": -3, **EXPECTED}, "S2004"),
    ("kg_edges_gained a string", GOOD_JUSTIFICATION, {"kg_edges_gained": "3", **EXPECTED}, "S2004"),
    (
        "benchmark_results empty",
        GOOD_JUSTIFICATION,
        {"benchmark_results": [], **EXPECTED},
        "S2004",
    ),
    (
        "benchmark_results an object",
        GOOD_JUSTIFICATION,
        {"benchmark_results": {"name": "a", "value": 1}, **EXPECTED},
        "S2004",
    ),
    (
        "benchmark result without value",
        GOOD_JUSTIFICATION,
        {"benchmark_results": [{"name": "a"}], **EXPECTED},
        "S2004",
    ),
    (
        "benchmark result without name",
        GOOD_JUSTIFICATION,
        {"benchmark_results": [{"value": 1}], **EXPECTED},
        "S2004",
    ),
    (
        "benchmark result with blank name",
        GOOD_JUSTIFICATION,
        {"benchmark_results": [{"name": " ", "value": 1}], **EXPECTED},
        "S2004",
    ),
    (
        "benchmark result with null value",
        GOOD_JUSTIFICATION,
        {"benchmark_results": [{"name": "a", "value": None}], **EXPECTED},
        "S2004",
    ),
    (
        "benchmark result not an object",
        GOOD_JUSTIFICATION,
        {"benchmark_results": ["a=1"], **EXPECTED},
        "S2004",
    ),
    (
        "gap_resolution_progress zero",
        GOOD_JUSTIFICATION,
        {"gap_resolution_progress": 0, **EXPECTED},
        "S2004",
    ),
    (
        "gap_resolution_progress above one",
        GOOD_JUSTIFICATION,
        {"gap_resolution_progress": 1.01, **EXPECTED},
        "S2004",
    ),
    (
        "gap_resolution_progress a string",
        GOOD_JUSTIFICATION,
        {"gap_resolution_progress": "0.5", **EXPECTED},
        "S2004",
    ),
    (
        "one malformed field next to a valid one",
        GOOD_JUSTIFICATION,
        {"kg_edges_gained": 5, "pmids": [], **EXPECTED},
        "S2004",
    ),
    ("expected_kg_edges missing", GOOD_JUSTIFICATION, {"pmids": ["12345678"]}, "S2005"),
    (
        "expected_kg_edges zero",
        GOOD_JUSTIFICATION,
        {"pmids": ["12345678"], "expected_kg_edges": 0},
        "S2005",
    ),
    (
        "expected_kg_edges negative",
        GOOD_JUSTIFICATION,
        {"pmids": ["12345678"], "expected_kg_edges": -1},
        "S2005",
    ),
    (
        "expected_kg_edges a string",
        GOOD_JUSTIFICATION,
        {"pmids": ["12345678"], "expected_kg_edges": "40"},
        "S2005",
    ),
    (
        "expected_kg_edges null",
        GOOD_JUSTIFICATION,
        {"pmids": ["12345678"], "expected_kg_edges": None},
        "S2005",
    ),
    (
        "evidence over 100000 bytes",
        GOOD_JUSTIFICATION,
        {**GOOD_EVIDENCE, "notes": "x" * 100_001},
        "S2011",
    ),
]


def _file_raw(conn: Conn, justification: str | None, evidence: Any) -> None:
    conn.execute(
        "SELECT file_allocation_proposal('hypothesis', 'h-1', 5000, 'agent-7', %s, %s)",
        (justification, None if evidence is None else Jsonb(evidence)),
    )


@pytest.mark.parametrize("evidence", VALID_EVIDENCE.values(), ids=VALID_EVIDENCE.keys())
def test_a_proposal_grounded_in_any_one_kind_of_evidence_is_filed_pending(
    db: Conn, evidence: dict[str, Any]
) -> None:
    pid = file_proposal(db, evidence=evidence)
    row = db.execute(
        "SELECT status, evidence, requested_tokens, proposer_agent, resource_type "
        "FROM allocation_proposals WHERE id = %s",
        (pid,),
    ).fetchone()
    assert row == ("pending", evidence, 5000, "agent-7", "llm_tokens")


@pytest.mark.parametrize(
    ("justification", "evidence", "sqlstate"),
    [case[1:] for case in INVALID_JUSTIFICATION],
    ids=[case[0] for case in INVALID_JUSTIFICATION],
)
def test_a_proposal_without_strict_justification_is_refused_and_nothing_is_written(
    db: Conn, justification: str | None, evidence: Any, sqlstate: str
) -> None:
    with pytest.raises(psycopg.Error) as exc:
        _file_raw(db, justification, evidence)
    assert exc.value.sqlstate == sqlstate
    assert count_rows(db, "allocation_proposals") == 0
    assert count_rows(db, "allocation_proposal_transitions") == 0


def test_the_error_names_the_field_and_the_value_that_is_wrong(db: Conn) -> None:
    with pytest.raises(psycopg.Error) as exc:
        _file_raw(db, GOOD_JUSTIFICATION, {"gap_resolution_progress": 1.5, **EXPECTED})
    message = exc.value.diag.message_primary or ""
    assert "gap_resolution_progress" in message and "1.5" in message
    assert exc.value.diag.message_hint


@pytest.mark.parametrize(
    ("args", "sqlstate"),
    [
        (("gene", "h-1", 5000, "agent-7", "llm_tokens"), "S2007"),
        ((None, "h-1", 5000, "agent-7", "llm_tokens"), "S2007"),
        (("hypothesis", "", 5000, "agent-7", "llm_tokens"), "S2009"),
        (("hypothesis", "   ", 5000, "agent-7", "llm_tokens"), "S2009"),
        (("hypothesis", None, 5000, "agent-7", "llm_tokens"), "S2009"),
        (("hypothesis", "h" * 201, 5000, "agent-7", "llm_tokens"), "S2009"),
        (("hypothesis", "h-1", 5000, "agent-7", "gpu_hours"), "S2008"),
        (("hypothesis", "h-1", 5000, "agent-7", None), "S2008"),
        (("hypothesis", "h-1", 0, "agent-7", "llm_tokens"), "S2006"),
        (("hypothesis", "h-1", -5, "agent-7", "llm_tokens"), "S2006"),
        (("hypothesis", "h-1", None, "agent-7", "llm_tokens"), "S2006"),
        (("hypothesis", "h-1", "NaN", "agent-7", "llm_tokens"), "S2006"),
        (("hypothesis", "h-1", "Infinity", "agent-7", "llm_tokens"), "S2006"),
        (("hypothesis", "h-1", "-Infinity", "agent-7", "llm_tokens"), "S2006"),
        (("hypothesis", "h-1", 5000, "", "llm_tokens"), "S2010"),
        (("hypothesis", "h-1", 5000, None, "llm_tokens"), "S2010"),
        (("hypothesis", "h-1", 5000, "p" * 201, "llm_tokens"), "S2010"),
    ],
    ids=[
        "unknown entity type",
        "no entity type",
        "empty entity id",
        "blank entity id",
        "no entity id",
        "entity id too long",
        "unknown resource type",
        "no resource type",
        "zero amount",
        "negative amount",
        "no amount",
        "NaN amount",
        "infinite amount",
        "minus infinite amount",
        "empty proposer",
        "no proposer",
        "proposer too long",
    ],
)
def test_a_proposal_with_a_bad_target_amount_or_proposer_is_refused_and_nothing_is_written(
    db: Conn, args: tuple[Any, ...], sqlstate: str
) -> None:
    entity_type, entity_id, amount, proposer, resource_type = args
    with pytest.raises(psycopg.Error) as exc:
        db.execute(
            "SELECT file_allocation_proposal(%s, %s, %s::numeric, %s, %s, %s, %s)",
            (
                entity_type,
                entity_id,
                amount,
                proposer,
                GOOD_JUSTIFICATION,
                Jsonb(GOOD_EVIDENCE),
                resource_type,
            ),
        )
    assert exc.value.sqlstate == sqlstate
    assert count_rows(db, "allocation_proposals") == 0


def test_sql_injection_in_text_arguments_is_stored_as_text(db: Conn) -> None:
    evil = "h'); DROP TABLE allocation_proposals; --"
    pid = file_proposal(db, entity_id=evil, proposer=evil, justification=evil)
    assert scalar(db, "SELECT entity_id FROM allocation_proposals WHERE id = %s", (pid,)) == evil
    with pytest.raises(psycopg.Error) as exc:
        file_proposal(db, resource_type="llm_tokens'; DROP TABLE senate_reserve; --")
    assert exc.value.sqlstate == "S2008"
    assert count_rows(db, "senate_reserve") == 4


@pytest.mark.parametrize(
    "resource_type", ["llm_tokens", "cpu_seconds", "storage_gb_hours", "api_calls"]
)
def test_a_proposal_records_the_requested_resource_class(db: Conn, resource_type: str) -> None:
    pid = file_proposal(db, resource_type=resource_type, amount=12)
    assert scalar(db, "SELECT resource_type FROM allocation_proposals WHERE id = %s", (pid,)) == (
        resource_type
    )


def test_a_proposal_records_the_policy_version_in_force_when_it_was_filed(db: Conn) -> None:
    active = scalar(db, "SELECT policy_version FROM active_economics_policy()")
    pid = file_proposal(db)
    recorded = scalar(db, "SELECT policy_version FROM allocation_proposals WHERE id = %s", (pid,))
    assert recorded == active


def test_filing_records_who_filed_it_in_the_transition_log(db: Conn) -> None:
    pid = file_proposal(db, proposer="agent-9")
    rows = db.execute(
        "SELECT from_status, to_status, actor, note FROM allocation_proposal_transitions "
        "WHERE proposal_id = %s",
        (pid,),
    ).fetchall()
    assert rows == [(None, "pending", "agent-9", "filed")]


def test_a_direct_insert_obeys_the_same_justification_rule(db: Conn) -> None:
    with pytest.raises(psycopg.Error) as exc:
        db.execute(
            "INSERT INTO allocation_proposals "
            "(entity_type, entity_id, requested_tokens, proposer_agent, justification, evidence) "
            "VALUES ('hypothesis', 'h-1', 10, 'svc', 'more please', '{}')"
        )
    assert exc.value.sqlstate == "S2003"
    db.execute(
        "INSERT INTO allocation_proposals "
        "(entity_type, entity_id, requested_tokens, proposer_agent, justification, evidence) "
        "VALUES ('hypothesis', 'h-1', 10, 'svc', %s, %s)",
        (GOOD_JUSTIFICATION, Jsonb(GOOD_EVIDENCE)),
    )
    assert count_rows(db, "allocation_proposals") == 1


def test_a_direct_insert_cannot_choose_an_older_policy_version(db: Conn) -> None:
    with pytest.raises(psycopg.Error) as exc:
        db.execute(
            "INSERT INTO allocation_proposals "
            "(entity_type, entity_id, requested_tokens, proposer_agent, justification, evidence, "
            " policy_version) VALUES ('hypothesis', 'h-1', 10, 'svc', %s, %s, 999)",
            (GOOD_JUSTIFICATION, Jsonb(GOOD_EVIDENCE)),
        )
    assert exc.value.sqlstate == "S2030"


def test_rewriting_the_evidence_of_a_pending_proposal_is_checked_again(db: Conn) -> None:
    pid = file_proposal(db)
    with pytest.raises(psycopg.Error) as exc:
        db.execute(
            "UPDATE allocation_proposals SET evidence = %s WHERE id = %s",
            (Jsonb({"pmids": ["1"]}), pid),
        )
    assert exc.value.sqlstate == "S2005"
    with pytest.raises(psycopg.Error) as exc:
        db.execute("UPDATE allocation_proposals SET justification = ' ' WHERE id = %s", (pid,))
    assert exc.value.sqlstate == "S2001"


def test_legacy_writers_may_file_free_form_evidence_but_such_a_proposal_is_never_approved(
    db: Conn,
) -> None:
    fund(db, 100_000)
    db.execute("SELECT add_legacy_proposal_writer(current_user, 'a legacy writer (test)')")
    db.execute(
        "INSERT INTO allocation_proposals "
        "(entity_type, entity_id, requested_tokens, proposer_agent, justification) "
        "VALUES ('hypothesis', 'h-1', 10, 'legacy-svc', 'more tokens')"
    )
    db.execute("SELECT remove_legacy_proposal_writer(current_user)")
    pid = int(scalar(db, "SELECT max(id) FROM allocation_proposals"))
    assert status_of(db, pid) == "pending"
    approve_votes(db, pid)
    with pytest.raises(psycopg.Error) as exc:
        decide(db, pid, "approved")
    assert exc.value.sqlstate == "S2003"
    assert status_of(db, pid) == "pending"
    assert count_rows(db, "resource_budgets") == 0
    decide(db, pid, "rejected", note="no evidence")
    assert status_of(db, pid) == "rejected"


def test_a_legacy_writers_direct_approval_is_recorded_but_moves_no_budget(db: Conn) -> None:
    fund(db, 100_000)
    pid = file_proposal(db, amount=5000)
    db.execute("SELECT add_legacy_proposal_writer(current_user, 'a legacy writer (test)')")
    db.execute("UPDATE allocation_proposals SET status = 'approved' WHERE id = %s", (pid,))
    db.execute("SELECT remove_legacy_proposal_writer(current_user)")
    assert status_of(db, pid) == "approved"
    assert count_rows(db, "resource_budgets") == 0
    assert scalar(db, "SELECT balance FROM senate_reserve WHERE resource_type = 'llm_tokens'") == (
        100_000
    )
    note = scalar(db, "SELECT decision_note FROM allocation_proposals WHERE id = %s", (pid,))
    assert note.startswith("legacy write")


def test_the_governance_functions_apply_every_rule_even_in_a_legacy_session(db: Conn) -> None:
    fund(db, 100_000)
    db.execute("SELECT add_legacy_proposal_writer(current_user, 'a legacy writer (test)')")
    with pytest.raises(psycopg.Error) as exc:
        _file_raw(db, GOOD_JUSTIFICATION, {"pmids": ["1"]})
    assert exc.value.sqlstate == "S2005"
    pid = file_proposal(db, amount=5000)
    with pytest.raises(psycopg.Error) as exc:
        decide(db, pid, "approved")
    assert exc.value.sqlstate == "S2027"
    approve_votes(db, pid)
    decide(db, pid, "approved")
    assert scalar(db, "SELECT token_budget FROM resource_budgets WHERE entity_id = 'h-1'") == 5000
    assert scalar(db, "SELECT senate.legacy_proposal_writes_allowed()") is True


def test_filing_is_not_executable_by_public(db: Conn) -> None:
    rows = db.execute(
        "SELECT p.proname FROM pg_proc AS p "
        "WHERE p.proname IN ('fund_reserve', 'file_allocation_proposal', 'cast_allocation_vote', "
        "                    'decide_allocation_proposal', 'reopen_allocation_proposal') "
        "  AND (p.proacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(p.proacl) AS a "
        "        WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')) "
        "   OR (p.proname IN ('fund_reserve', 'file_allocation_proposal', 'cast_allocation_vote', "
        "                     'decide_allocation_proposal', 'reopen_allocation_proposal') "
        "       AND NOT p.prosecdef)"
    ).fetchall()
    assert rows == []
    unpinned = db.execute(
        "SELECT proname FROM pg_proc "
        "WHERE proname IN ('fund_reserve', 'file_allocation_proposal', 'cast_allocation_vote', "
        "                  'decide_allocation_proposal', 'reopen_allocation_proposal') "
        "  AND NOT 'search_path=pg_catalog, pg_temp' = ANY (proconfig)"
    ).fetchall()
    assert unpinned == []
