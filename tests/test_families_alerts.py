"""Nested budgets (issue 19): the spend alerts of every level of a family.

An ancestor's envelope bounds its whole subtree's spend (can_spend, reserve_spend), so the
alerts measure it the same way: an ancestor whose subtree's spend reaches an alert threshold of
its envelope fires like an envelope does (spent = the subtree's), once per threshold and period,
also when the ancestor itself spends nothing. An entity in no family fires on its own spend, as
before.
"""

from __future__ import annotations

from decimal import Decimal

from cycles_support import Conn, envelope, rows, spend

GAP = ("knowledge_gap", "g-1")


def link(db: Conn, child: tuple[str, str], parent: tuple[str, str]) -> None:
    db.execute("SELECT set_entity_parent(%s, %s, %s, %s, 'test')", (*child, *parent))


def check(db: Conn, *entity: str) -> list[tuple[str, str, Decimal, Decimal]]:
    """check_spend_alerts(now()), or for one entity (kind, id)."""
    sql = (
        "SELECT * FROM check_spend_alerts(now(), %s, %s)"
        if entity
        else ("SELECT * FROM check_spend_alerts()")
    )
    fired = rows(db, sql, entity or None)
    return [(a["entity_type"], a["entity_id"], a["threshold"], a["spent"]) for a in fired]


def family(db: Conn) -> None:
    """g-1 (10 000 tokens) > h-1 (100 000) > a-1 (no envelope); h-2 (100 000) under g-1."""
    envelope(db, "g-1", entity_type="knowledge_gap", tokens=10_000)
    envelope(db, "h-1", tokens=100_000)
    envelope(db, "h-2", tokens=100_000)
    link(db, ("hypothesis", "h-1"), GAP)
    link(db, ("hypothesis", "h-2"), GAP)
    link(db, ("analysis", "a-1"), ("hypothesis", "h-1"))


def test_an_ancestor_whose_subtree_passes_a_threshold_fires_like_an_envelope(db: Conn) -> None:
    family(db)
    spend(db, "a-1", 5_000, entity_type="analysis")
    spend(db, "h-2", 2_999)
    assert check(db) == []  # g-1's subtree at 79.99 %, h-1's at 5 %, h-2's at 3 %
    spend(db, "h-2", 1)
    assert check(db) == [("knowledge_gap", "g-1", Decimal("0.8"), 8_000)]
    spend(db, "a-1", 2_000, entity_type="analysis")
    assert check(db) == [("knowledge_gap", "g-1", Decimal("1.0"), 10_000)]
    assert check(db) == []  # once per threshold and period
    # h-1 is measured on its subtree too (itself and a-1): 7 000 of 100 000, no alert.
    assert rows(db, "SELECT 1 FROM spend_alerts WHERE entity_id <> 'g-1'") == []


def test_one_entity_s_check_counts_its_subtree_and_an_entity_in_no_family_its_own_spend(
    db: Conn,
) -> None:
    family(db)
    envelope(db, "h-9", tokens=1_000)
    spend(db, "a-1", 9_000, entity_type="analysis")
    spend(db, "h-9", 800)
    assert check(db, "hypothesis", "h-1") == []
    assert check(db, "knowledge_gap", "g-1") == [("knowledge_gap", "g-1", Decimal("0.8"), 9_000)]
    assert check(db, "hypothesis", "h-9") == [("hypothesis", "h-9", Decimal("0.8"), 800)]
