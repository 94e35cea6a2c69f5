"""Nested budgets, point 4 (issue 19): lending inside the family in the weekly rebalance.

The reclaimed idle budget of a family's idle members is reassigned to its other members
(siblings, cousins, the root) before the global ranking, within the policy's lending limit
(what an idle member may lend) and borrowing limit (what a member may take), split fairly
(equal shares, capped; not by priority and not first-come); each move is a rebalance change of
the rule family_lending, budgets + reserve are conserved per class, and the ledger invariant
holds.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import psycopg
import pytest
from cycles_support import (
    Conn,
    budget,
    envelope,
    fund,
    ledger_invariant_violations,
    rows,
    scalar,
    spend,
    totals,
)

DRY_RUN = "SELECT * FROM run_rebalance()"
APPLY = "SELECT * FROM run_rebalance(dry_run => false, actor => 'senate-chair')"


def link(db: Conn, child: tuple[str, str], parent: tuple[str, str]) -> None:
    db.execute("SELECT set_entity_parent(%s, %s, %s, %s, 'test family')", (*child, *parent))


def family(db: Conn, priorities: tuple[float, float, float] = (0.9, 0.5, 0.2)) -> None:
    """gap G (idle, 40,000 tokens) over hypotheses H1 (8,000), H2 and H3 (40,000 each), and
    analysis I (idle, 40,000) under H2; H1-H3 spend today. Outside any family: X (idle, 8,000)
    and O (spends today, the highest priority of all)."""
    fund(db, 100_000)
    envelope(db, "G", entity_type="knowledge_gap", tokens=40_000, priority=0.3)
    for eid, tokens, priority in zip(
        ("H1", "H2", "H3"), (8_000, 40_000, 40_000), priorities, strict=True
    ):
        envelope(db, eid, tokens=tokens, priority=priority)
        link(db, ("hypothesis", eid), ("knowledge_gap", "G"))
        spend(db, eid, 10)
    envelope(db, "I", entity_type="analysis", tokens=40_000, priority=0.3)
    link(db, ("analysis", "I"), ("hypothesis", "H2"))
    envelope(db, "X", tokens=8_000, priority=0.3)
    envelope(db, "O", tokens=40_000, priority=0.99)
    spend(db, "O", 10)


def moves(found: list[dict[str, Any]], reason: str) -> dict[str, Decimal]:
    return {r["entity_id"]: r["delta"] for r in found if r["reason"] == reason}


def test_idle_budget_of_a_family_goes_to_its_members_first_in_fair_capped_shares(
    db: Conn,
) -> None:
    family(db)
    found = rows(db, DRY_RUN)
    # G and I each reclaim a step of 10,000 (0.25 of 40,000), X one of 2,000.
    assert moves(found, "idle_reclaim") == {"G": -10_000, "I": -10_000, "X": -2_000}
    # 20,000 lendable in the family; caps 2,000 (H1) and 10,000 (H2, H3): H1 takes its cap,
    # H2 and H3 share the rest equally whatever their priority (0.9 > 0.5 > 0.2).
    assert moves(found, "family_lending") == {"H1": 2_000, "H2": 9_000, "H3": 9_000}
    # The global ranking gets what the families did not lend: X's 2,000, to the top (O).
    assert moves(found, "reassigned_idle_budget") == {"O": 2_000}
    lent = {r["entity_id"]: r["detail"] for r in found if r["reason"] == "family_lending"}
    assert "root knowledge_gap G" in lent["H2"] and "equal share 9000" in lent["H2"]


def test_shares_do_not_depend_on_priority_or_order(db: Conn) -> None:
    family(db, priorities=(0.2, 0.9, 0.5))
    assert moves(rows(db, DRY_RUN), "family_lending") == {"H1": 2_000, "H2": 9_000, "H3": 9_000}


def test_the_lending_limit_bounds_what_an_idle_member_lends_and_the_rest_goes_to_the_ranking(
    db: Conn,
) -> None:
    family(db)
    db.execute(
        "SELECT adopt_economics_policy('{\"family_lending_limit\": 0.1}', 'ops', 'lend less')"
    )
    found = rows(db, DRY_RUN)
    assert moves(found, "idle_reclaim") == {"G": -10_000, "I": -10_000, "X": -2_000}
    # 4,000 from each idle member (0.1 of 40,000): 8,000, shared 2,000 / 3,000 / 3,000.
    assert moves(found, "family_lending") == {"H1": 2_000, "H2": 3_000, "H3": 3_000}
    # The other 14,000 reclaimed go by the global ranking: O first (its step 10,000), then the
    # next ranked envelopes that did not borrow.
    # The other 14,000 reclaimed go by the global ranking to members that did not borrow: O
    # takes its step (10,000); the rest stays in the reserve.
    assert moves(found, "reassigned_idle_budget") == {"O": 10_000}


def test_the_borrowing_limit_caps_every_share_and_what_nobody_may_take_goes_to_the_ranking(
    db: Conn,
) -> None:
    family(db)
    db.execute(
        "SELECT adopt_economics_policy('{\"family_borrowing_limit\": 0.05}', 'ops', 'take less')"
    )
    found = rows(db, DRY_RUN)
    # Caps 400 (H1) and 2,000 (H2, H3): 4,400 of the 20,000 lendable.
    assert moves(found, "family_lending") == {"H1": 400, "H2": 2_000, "H3": 2_000}
    assert moves(found, "reassigned_idle_budget") == {"O": 10_000}
    db.execute(
        "SELECT adopt_economics_policy('{\"family_lending_limit\": 0}', 'ops', 'no lending')"
    )
    found = rows(db, DRY_RUN)
    assert moves(found, "family_lending") == {}
    assert moves(found, "reassigned_idle_budget")["O"] == 10_000


def test_an_applied_rebalance_with_families_conserves_every_class_and_the_ledger_invariant(
    db: Conn,
) -> None:
    family(db)
    before = totals(db)
    applied = rows(db, APPLY)
    assert totals(db) == before
    assert ledger_invariant_violations(db) == []
    assert budget(db, "H2") == 49_000 and budget(db, "H1") == 10_000
    assert budget(db, "G", entity_type="knowledge_gap") == 30_000
    assert scalar(db, "SELECT family_loans FROM rebalance_runs") == 3
    assert scalar(
        db, "SELECT count(*) FROM rebalance_changes WHERE reason = 'family_lending'"
    ) == len(moves(applied, "family_lending"))
    # Each move is ledgered with its rule and its evidence.
    evidence = db.execute(
        "SELECT rule, evidence, delta FROM budget_move_evidence WHERE entity_id = 'H3'"
        " AND cause_type = 'rebalance'"
    ).fetchall()
    assert [(r[0], r[2]) for r in evidence] == [("family_lending", 9_000)]
    assert "root knowledge_gap G" in evidence[0][1]
    note = scalar(
        db,
        "SELECT note FROM budget_ledger WHERE entity_id = 'H3' AND cause_type = 'rebalance'",
    )
    assert "family_lending" in note


BAD_LIMITS = [
    ("family_lending_limit", "-0.1", "23514"),
    ("family_lending_limit", "1.5", "23514"),
    ("family_borrowing_limit", '"NaN"', "23514"),
    ("family_borrowing_limit", "null", "23502"),
]


@pytest.mark.parametrize(("field", "value", "sqlstate"), BAD_LIMITS)
def test_a_bad_lending_limit_is_refused_with_its_sqlstate_and_the_policy_is_unchanged(
    db: Conn, field: str, value: str, sqlstate: str
) -> None:
    version = scalar(db, "SELECT policy_version FROM economics_policy WHERE is_active")
    with pytest.raises(psycopg.Error) as caught:
        db.execute(
            "SELECT adopt_economics_policy(%s::jsonb, 'ops', 'bad')", (f'{{"{field}": {value}}}',)
        )
    assert caught.value.sqlstate == sqlstate
    assert scalar(db, "SELECT policy_version FROM economics_policy WHERE is_active") == version
    assert scalar(db, "SELECT count(*) FROM economics_policy") == 1
