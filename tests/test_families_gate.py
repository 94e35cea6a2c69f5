"""Nested budgets, point 2 (issue 19): every level enforced.

can_spend and reserve_spend check the entity's envelope and every ancestor's (an ancestor's
spend and holds are its whole subtree's, per class and budget period), answer with the level
that binds first, and hold a reservation at every level at once; siblings and cousins racing on
16 real connections (16 logins) for a parent's last headroom never pass it. An entity in no
family gets exactly the answers of the previous release, also where other entities have a tree.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from reliability_support import RoleSessions, role_sessions, scalar

from senate_db import migrations

Conn = psycopg.Connection[Any]

PREVIOUS_RELEASE = "0152_fire_forecast_alerts"
CAN = "SELECT allowed, reason, remaining FROM can_spend(%s, %s, %s, %s, %s)"
RESERVE = "SELECT reserve_spend(%s, %s, %s, %s, interval '10 minutes', %s)"


@pytest.fixture
def as_role(db_url: str, db: Conn) -> Iterator[RoleSessions]:
    yield from role_sessions(db_url, db)


def envelope(db: Conn, kind: str, eid: str, tokens: int, cpu: int = 0) -> None:
    db.execute(
        "INSERT INTO resource_budgets (entity_type, entity_id, token_budget, cpu_budget)"
        " VALUES (%s, %s, %s, %s)",
        (kind, eid, tokens, cpu),
    )


def link(db: Conn, child: tuple[str, str], parent: tuple[str, str]) -> None:
    db.execute("SELECT set_entity_parent(%s, %s, %s, %s, 'test')", (*child, *parent))


def spend(db: Conn, kind: str, eid: str, amount: int, resource: str = "llm_tokens") -> None:
    db.execute(
        "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount, model)"
        " VALUES (%s, %s, %s, %s, %s)",
        (kind, eid, resource, amount, "claude-haiku" if resource == "llm_tokens" else None),
    )


def can(db: Conn, kind: str, eid: str, amount: int, resource: str = "llm_tokens") -> Any:
    return db.execute(CAN, (kind, eid, resource, amount, None)).fetchone()


def family(db: Conn) -> None:
    """gap G (10,000 tokens) -> hypotheses H1, H2 (8,000 each) -> analysis A1 (6,000) under H1."""
    envelope(db, "knowledge_gap", "G", 10_000, cpu=500)
    envelope(db, "hypothesis", "H1", 8_000, cpu=500)
    envelope(db, "hypothesis", "H2", 8_000, cpu=500)
    envelope(db, "analysis", "A1", 6_000, cpu=500)
    link(db, ("hypothesis", "H1"), ("knowledge_gap", "G"))
    link(db, ("hypothesis", "H2"), ("knowledge_gap", "G"))
    link(db, ("analysis", "A1"), ("hypothesis", "H1"))


def test_a_parent_s_cap_refuses_a_child_that_is_within_its_own_budget(db: Conn) -> None:
    family(db)
    spend(db, "hypothesis", "H2", 7_000)  # the sibling spends most of the gap's budget
    allowed, reason, remaining = can(db, "analysis", "A1", 4_000)
    assert not allowed and reason.startswith("over_ancestor_budget:")
    assert remaining == 3_000
    # Within its own 6,000 and its parent's 8,000: only the grandparent refuses.
    with pytest.raises(psycopg.Error) as caught:
        db.execute(RESERVE, ("analysis", "A1", "llm_tokens", 4_000, None))
    assert caught.value.sqlstate == "S3001"
    assert scalar(db, "SELECT count(*) FROM spend_reservations") == 0
    assert can(db, "analysis", "A1", 3_000)[0]
    assert scalar(db, RESERVE, ("analysis", "A1", "llm_tokens", 3_000, None)) is not None
    # The gap's headroom is gone for the whole family, the gap itself included.
    for kind, eid in (("hypothesis", "H1"), ("hypothesis", "H2"), ("knowledge_gap", "G")):
        allowed, reason, remaining = can(db, kind, eid, 1)
        assert not allowed and remaining == 0, (eid, reason)
    # Other classes have their own levels: CPU is untouched.
    assert can(db, "analysis", "A1", 400, "cpu_seconds")[0]


def test_the_gate_answers_with_the_level_that_binds_first(db: Conn) -> None:
    family(db)
    # Own envelope binds: nothing spent anywhere, A1's 6,000 is the least headroom.
    allowed, reason, remaining = can(db, "analysis", "A1", 7_000)
    assert (allowed, reason.split(":")[0], remaining) == (False, "over_budget", 6_000)
    assert can(db, "analysis", "A1", 1)[1].endswith("; binding level 0: analysis A1")
    # The parent binds: H1 spent 4,000 itself (H1's headroom 4,000 < A1's 6,000 < G's 6,000).
    spend(db, "hypothesis", "H1", 4_000)
    assert can(db, "analysis", "A1", 1)[1].endswith("; binding level 1: hypothesis H1")
    assert can(db, "analysis", "A1", 5_000)[1].startswith("over_ancestor_budget:")
    # The grandparent binds: H2 spent 3,000 (G's family spent 7,000, headroom 3,000).
    spend(db, "hypothesis", "H2", 3_000)
    allowed, reason, remaining = can(db, "analysis", "A1", 1)
    assert allowed and reason.endswith("; binding level 2: knowledge_gap G") and remaining == 3_000
    # The parent's own check counts its descendants' spend too: A1 spends 2,000.
    spend(db, "analysis", "A1", 2_000)
    allowed, reason, remaining = can(db, "hypothesis", "H1", 1_000)
    assert allowed and remaining == 1_000  # G: 10,000 - 9,000; H1: 8,000 - 6,000
    allowed, reason, remaining = can(db, "hypothesis", "H1", 1_500)
    assert not allowed and reason.startswith("over_ancestor_budget:") and remaining == 1_000


def test_a_hold_counts_at_every_level_at_once_and_its_release_frees_every_level(
    db: Conn,
) -> None:
    family(db)
    hold = scalar(db, RESERVE, ("analysis", "A1", "llm_tokens", 5_000, None))
    assert can(db, "hypothesis", "H1", 1)[2] == 3_000  # H1: 8,000 - 5,000 held below it
    assert can(db, "hypothesis", "H2", 1)[2] == 5_000  # G: 10,000 - 5,000 held in the family
    assert can(db, "knowledge_gap", "G", 1)[2] == 5_000
    with pytest.raises(psycopg.Error) as caught:
        db.execute(RESERVE, ("hypothesis", "H2", "llm_tokens", 5_001, None))
    assert caught.value.sqlstate == "S3001"
    db.execute("SELECT release_spend_reservation(%s)", (hold,))
    assert can(db, "hypothesis", "H2", 1)[2] == 8_000
    assert can(db, "knowledge_gap", "G", 1)[2] == 10_000


def test_an_ancestor_without_an_envelope_groups_but_caps_nothing(db: Conn) -> None:
    envelope(db, "hypothesis", "H", 5_000)
    link(db, ("hypothesis", "H"), ("knowledge_gap", "no-envelope"))
    spend(db, "hypothesis", "H", 1_000)
    assert can(db, "hypothesis", "H", 4_000)[0]
    assert scalar(db, RESERVE, ("hypothesis", "H", "llm_tokens", 4_000, None)) is not None


def test_moving_a_subtree_applies_the_new_parent_s_cap_at_once_and_clearing_lifts_it(
    db: Conn,
) -> None:
    family(db)
    envelope(db, "knowledge_gap", "small", 1_000)
    assert can(db, "analysis", "A1", 5_000)[0]
    db.execute("SELECT set_entity_parent('hypothesis', 'H1', 'knowledge_gap', 'small', 'moved')")
    allowed, reason, remaining = can(db, "analysis", "A1", 5_000)
    assert not allowed and reason.startswith("over_ancestor_budget:") and remaining == 1_000
    db.execute("SELECT clear_entity_parent('hypothesis', 'H1', 'on its own')")
    assert can(db, "analysis", "A1", 5_000)[0]
    assert can(db, "analysis", "A1", 1)[2] == 6_000


def test_siblings_racing_on_16_connections_for_a_parent_s_last_headroom_never_overshoot(
    db: Conn, as_role: RoleSessions
) -> None:
    # gap G (100,000) -> 4 hypotheses (40,000 each) -> 16 analyses (20,000 each), 4 per
    # hypothesis; G itself spent 90,000: 10,000 left for the whole family.
    envelope(db, "knowledge_gap", "G", 100_000)
    analyses = []
    for h in range(4):
        envelope(db, "hypothesis", f"H{h}", 40_000)
        link(db, ("hypothesis", f"H{h}"), ("knowledge_gap", "G"))
        for a in range(4):
            envelope(db, "analysis", f"A{h}.{a}", 20_000)
            link(db, ("analysis", f"A{h}.{a}"), ("hypothesis", f"H{h}"))
            analyses.append(f"A{h}.{a}")
    spend(db, "knowledge_gap", "G", 90_000)
    writers = [as_role("senate_writer") for _ in analyses]  # 16 logins, 16 connections
    barrier = threading.Barrier(len(writers))
    outcomes: list[str] = []
    lock = threading.Lock()

    def reserve(conn: Conn, analysis: str) -> None:
        barrier.wait()
        for _ in range(5):  # 16 x 5 x 700 = 56,000 asked for against 10,000
            try:
                conn.execute(RESERVE, ("analysis", analysis, "llm_tokens", 700, None))
                result = "held"
            except psycopg.Error as e:
                result = e.sqlstate or "?"
            with lock:
                outcomes.append(result)

    threads = [
        threading.Thread(target=reserve, args=(conn, a))
        for conn, a in zip(writers, analyses, strict=True)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    counted = Counter(outcomes)
    print(f"[race] 16 connections over 16 analyses under 4 hypotheses: {dict(counted)}")
    held = scalar(db, "SELECT coalesce(sum(amount), 0) FROM spend_reservations")
    assert held <= 10_000
    # Every request was judged against what the ones before it held: exactly 14 fit.
    assert counted == Counter({"held": 14, "S3001": 16 * 5 - 14})
    assert held == 9_800
    assert scalar(db, "SELECT count(DISTINCT reserved_by) FROM spend_reservations") >= 2
    allowed, reason, remaining = can(db, "analysis", analyses[0], 700)
    assert not allowed and reason.startswith("over_ancestor_budget:") and remaining == 200


def setup_economy(conn: Conn) -> None:
    """Envelopes, a tier cap, usage in several classes and a throttle: the same in both."""
    envelope(conn, "hypothesis", "plain", 10_000, cpu=300)
    envelope(conn, "analysis", "capped", 8_000, cpu=50)
    envelope(conn, "knowledge_gap", "spent", 1_000)
    conn.execute(
        "INSERT INTO resource_budget_tiers (entity_type, entity_id, model_tier, token_budget)"
        " VALUES ('analysis', 'capped', 'reasoning', 2000)"
    )
    spend(conn, "hypothesis", "plain", 2_500)
    spend(conn, "hypothesis", "plain", 120, "cpu_seconds")
    conn.execute(
        "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount, model)"
        " VALUES ('analysis', 'capped', 'llm_tokens', 1500, 'claude-opus')"
    )
    spend(conn, "knowledge_gap", "spent", 1_200)
    conn.execute("SELECT count(*) FROM run_daily_check()")


GRID = [
    (kind, eid, resource, amount, model)
    for kind, eid in (
        ("hypothesis", "plain"),
        ("analysis", "capped"),
        ("knowledge_gap", "spent"),
        ("entity", "none"),
    )
    for resource, model in (
        ("llm_tokens", None),
        ("llm_tokens", "claude-opus"),
        ("llm_tokens", "claude-haiku"),
        ("cpu_seconds", None),
        ("api_calls", None),
    )
    for amount in (1, 500, 1_000, 7_500, 9_000, 20_000)
]


def answers(conn: Conn) -> list[Any]:
    out: list[Any] = []
    for args in GRID:
        out.append(conn.execute(CAN, args).fetchone())
    for args in (
        ("hypothesis", "plain", "llm_tokens", 5_000, None),
        ("hypothesis", "plain", "llm_tokens", 3_000, None),
        ("analysis", "capped", "llm_tokens", 600, "claude-opus"),
        ("analysis", "capped", "llm_tokens", 1, "claude-opus"),
        ("knowledge_gap", "spent", "llm_tokens", 1, None),
        ("entity", "none", "llm_tokens", 1, None),
        ("hypothesis", "plain", "cpu_seconds", 181, None),
    ):
        try:
            with conn.transaction():
                out.append(conn.execute(RESERVE, args).fetchone())
        except psycopg.Error as e:
            out.append(e.sqlstate)
    out.append(
        conn.execute(
            "SELECT entity_id, resource_type, amount FROM spend_reservations ORDER BY 1, 2, 3"
        ).fetchall()
    )
    return out


def test_an_entity_in_no_family_gets_exactly_the_previous_release_s_answers(
    db: Conn, empty_db_url: str
) -> None:
    migrations.apply_migrations(empty_db_url, until=PREVIOUS_RELEASE)
    with psycopg.connect(empty_db_url, autocommit=True) as previous:
        setup_economy(previous)
        setup_economy(db)
        # A tree elsewhere in this database: the entities above are in no family.
        envelope(db, "knowledge_gap", "other-gap", 100)
        link(db, ("hypothesis", "other-h"), ("knowledge_gap", "other-gap"))
        assert scalar(db, "SELECT count(*) FROM senate.entity_family") == 3
        before, now = answers(previous), answers(db)
    assert now == before
    assert any(isinstance(a, tuple) and a[0] is False for a in now)  # refusals compared too
    assert Decimal(0) in {a[2] for a in now[: len(GRID)] if isinstance(a, tuple)}
