"""Nested budgets, point 3 (issue 19): shown at every level.

budget_levels lists, for an entity and class, each envelope that applies (its own and each
ancestor's), what each level still allows (its whole subtree's spend and holds counted) and
which level binds, agreeing with the spend gate; an entity in no family has one level that
agrees with budget_status. A reader answers "which level stops this analysis from spending?"
in one query.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from reliability_support import RoleSessions, role_sessions

Conn = psycopg.Connection[Any]

LEVELS = (
    "SELECT level, level_entity_type, level_entity_id, effective_budget, spent, held,"
    " available, binds, subtree_entities FROM budget_levels"
    " WHERE entity_type = %s AND entity_id = %s AND resource_type = %s ORDER BY level"
)


@pytest.fixture
def as_role(db_url: str, db: Conn) -> Iterator[RoleSessions]:
    yield from role_sessions(db_url, db)


def economy(db: Conn) -> None:
    """gap G over hypotheses H1, H2; analyses A1, A2 under H1; a loner L in no family."""
    for kind, eid, tokens, cpu in (
        ("knowledge_gap", "G", 20_000, 1_000),
        ("hypothesis", "H1", 12_000, 800),
        ("hypothesis", "H2", 12_000, 800),
        ("analysis", "A1", 9_000, 600),
        ("analysis", "A2", 9_000, 600),
        ("analysis", "L", 9_000, 600),
    ):
        db.execute(
            "INSERT INTO resource_budgets (entity_type, entity_id, token_budget, cpu_budget)"
            " VALUES (%s, %s, %s, %s)",
            (kind, eid, tokens, cpu),
        )
    for child, parent in (
        (("hypothesis", "H1"), ("knowledge_gap", "G")),
        (("hypothesis", "H2"), ("knowledge_gap", "G")),
        (("analysis", "A1"), ("hypothesis", "H1")),
        (("analysis", "A2"), ("hypothesis", "H1")),
    ):
        db.execute("SELECT set_entity_parent(%s, %s, %s, %s, 'test')", (*child, *parent))
    for kind, eid, amount, resource, model in (
        ("hypothesis", "H2", 9_000, "llm_tokens", "claude-haiku"),
        ("analysis", "A2", 4_000, "llm_tokens", "claude-haiku"),
        ("knowledge_gap", "G", 1_000, "llm_tokens", "claude-haiku"),
        ("analysis", "L", 2_000, "llm_tokens", "claude-haiku"),
        ("analysis", "A1", 100, "cpu_seconds", None),
    ):
        db.execute(
            "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount, model)"
            " VALUES (%s, %s, %s, %s, %s)",
            (kind, eid, resource, amount, model),
        )
    db.execute("SELECT reserve_spend('analysis', 'A1', 'llm_tokens', 1500)")


def test_every_level_that_applies_is_listed_with_its_subtree_s_spend_and_the_binding_one(
    db: Conn,
) -> None:
    economy(db)
    assert db.execute(LEVELS, ("analysis", "A1", "llm_tokens")).fetchall() == [
        (0, "analysis", "A1", 9_000, 0, 1_500, 7_500, False, 1),
        (1, "hypothesis", "H1", 12_000, 4_000, 1_500, 6_500, False, 3),
        (2, "knowledge_gap", "G", 20_000, 14_000, 1_500, 4_500, True, 5),
    ]
    # CPU: nothing spent above A1 but its own 100; its own envelope is the tightest.
    rows = db.execute(LEVELS, ("analysis", "A1", "cpu_seconds")).fetchall()
    assert [(r[0], r[6], r[7]) for r in rows] == [(0, 500, True), (1, 700, False), (2, 900, False)]
    # The loner: one level, its own.
    assert db.execute(LEVELS, ("analysis", "L", "llm_tokens")).fetchall() == [
        (0, "analysis", "L", 9_000, 2_000, 0, 7_000, True, 1)
    ]


def test_the_binding_level_and_its_headroom_are_what_the_spend_gate_says(db: Conn) -> None:
    economy(db)
    rows = db.execute(
        "SELECT entity_type, entity_id, resource_type, available, level, level_entity_type,"
        " level_entity_id FROM budget_levels WHERE binds"
    ).fetchall()
    assert len(rows) == 6 * 4  # one binding level per entity and class
    for kind, eid, resource, available, level, level_type, level_id in rows:
        row = db.execute("SELECT * FROM can_spend(%s, %s, %s, 1)", (kind, eid, resource)).fetchone()
        assert row is not None
        allowed, reason, remaining = row
        assert remaining == available, (eid, resource)
        assert allowed == (available >= 1), (eid, resource)
        if allowed and eid != "L":
            assert reason.endswith(f"; binding level {level}: {level_type} {level_id}"), reason


def test_an_entity_in_no_family_has_one_level_that_agrees_with_budget_status(db: Conn) -> None:
    economy(db)
    mismatches = db.execute(
        "SELECT s.entity_id, s.resource_type FROM budget_status AS s"
        " LEFT JOIN budget_levels AS l USING (entity_type, entity_id, resource_type)"
        " WHERE s.entity_id = 'L'"
        "   AND (l.level IS DISTINCT FROM 0 OR NOT l.binds OR l.spent <> s.spent"
        "        OR l.held <> s.held OR l.available <> s.available"
        "        OR l.effective_budget <> s.effective_budget)"
    ).fetchall()
    assert mismatches == []
    assert db.execute("SELECT count(*) FROM budget_levels WHERE entity_id = 'L'").fetchone() == (4,)


def test_a_reader_asks_which_level_stops_an_analysis_in_one_query(
    db: Conn, as_role: RoleSessions
) -> None:
    economy(db)
    reader = as_role("senate_reader")
    row = reader.execute(
        "SELECT level, level_entity_type, level_entity_id, available FROM budget_levels"
        " WHERE entity_type = 'analysis' AND entity_id = 'A2' AND resource_type = 'llm_tokens'"
        "   AND binds"
    ).fetchone()
    assert row == (2, "knowledge_gap", "G", Decimal(4_500))
