"""The analyst views of issue 16, point 6 (migrations 0135, 0136), on small scripted data:
reserve_queue judges pending proposals together, first filed first paid; over_budget_and_throttled,
budget_move_evidence and cost_by_tier_and_provider answer their question; a reader reads them
all."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

import pytest
from cycles_support import (
    Conn,
    envelope,
    noon,
    period_start,
    rows,
    scalar,
    scripted_weeks,
    spend,
)
from governance_support import file_proposal, fund
from reliability_support import RoleSessions, role_sessions

ANALYST_VIEWS = (
    "over_budget_and_throttled",
    "budget_move_evidence",
    "cost_by_tier_and_provider",
    "reserve_queue",
)


@pytest.fixture
def as_role(db_url: str, db: Conn) -> Iterator[RoleSessions]:
    yield from role_sessions(db_url, db)


def test_two_proposals_the_reserve_covers_alone_but_not_together_are_queued_in_filing_order(
    db: Conn,
) -> None:
    fund(db, 1_000)
    fund(db, 50, "cpu_seconds")
    first = file_proposal(db, entity_id="h-first", amount=600)
    second = file_proposal(db, entity_id="h-second", amount=500)
    cpu = file_proposal(db, entity_id="h-cpu", amount=40, resource_type="cpu_seconds")

    queue = rows(db, "SELECT * FROM reserve_queue")
    assert [
        (
            r["proposal_id"],
            r["queue_position"],
            r["requested_before"],
            r["requested_through"],
            r["reserve_after"],
            r["covers_alone"],
            r["covers_in_queue"],
        )
        for r in queue
    ] == [
        (cpu, 1, 0, 40, 10, True, True),  # its own class, its own reserve
        (first, 1, 0, 600, 400, True, True),
        (second, 2, 600, 1_100, -100, True, False),  # alone yes, after the first no
    ]
    assert {r["unit"] for r in queue} == {"tokens", "CPU-seconds"}
    assert db.execute(
        "SELECT proposal_id, reserve_covers FROM senate_report_pending_proposals"
        " WHERE resource_type = 'llm_tokens'"
    ).fetchall() == [(first, True), (second, False)]


def test_the_queue_follows_the_reserve_and_drops_decided_proposals(db: Conn) -> None:
    fund(db, 1_000)
    first = file_proposal(db, entity_id="h-first", amount=600)
    second = file_proposal(db, entity_id="h-second", amount=500)
    fund(db, 100)  # now 1 100: both fit
    assert db.execute(
        "SELECT proposal_id, covers_in_queue FROM reserve_queue ORDER BY queue_position"
    ).fetchall() == [(first, True), (second, True)]
    db.execute("UPDATE allocation_proposals SET status = 'rejected' WHERE id = %s", (first,))
    assert db.execute(
        "SELECT proposal_id, queue_position, requested_before FROM reserve_queue"
    ).fetchall() == [(second, 1, 0)]


def test_over_budget_and_throttled_gives_each_entity_its_standing(db: Conn) -> None:
    envelope(db, "over-throttled", tokens=100)
    envelope(db, "within-throttled", tokens=100_000)
    envelope(db, "over-later", tokens=100)
    envelope(db, "fine", tokens=100_000)
    db.execute(
        "SELECT set_daily_allowance('hypothesis', 'within-throttled', 'llm_tokens', 100, 'ops')"
    )
    spend(db, "over-throttled", 150)
    spend(db, "within-throttled", 150)
    spend(db, "fine", 10)
    db.execute("SELECT * FROM run_daily_check()").fetchall()
    spend(db, "over-later", 150)  # after the check: over budget, not throttled yet

    found = rows(db, "SELECT * FROM over_budget_and_throttled")
    assert [(r["entity_id"], r["standing"]) for r in found] == [
        ("over-throttled", "over budget, throttled"),
        ("over-later", "over budget, not throttled yet"),
        ("within-throttled", "throttled, within budget"),
    ]
    by_id = {r["entity_id"]: r for r in found}
    assert by_id["over-throttled"]["overrun"] == 50
    assert by_id["over-throttled"]["utilization"] == Decimal("1.5")
    assert by_id["within-throttled"]["overrun"] == 0
    assert by_id["over-later"]["throttled_until"] is None


def test_budget_move_evidence_names_each_moves_rule_and_its_evidence(db: Conn) -> None:
    scripted_weeks(db)
    monday = period_start(db)
    db.execute("SELECT * FROM run_rebalance(dry_run => false, actor => 'senate-chair')").fetchall()

    strong = rows(
        db,
        "SELECT * FROM budget_move_evidence WHERE entity_type = 'hypothesis'"
        " AND entity_id = 'strong' ORDER BY ledger_id",
    )
    moved = strong[-1]
    assert (moved["rule"], moved["delta"], moved["unit"]) == (
        "strong_roi_market_support",
        2_500,
        "tokens",
    )
    assert moved["evidence"].startswith("ROI ")
    assert "market weight" in moved["evidence"]
    assert (moved["rebalance_window_start"], moved["rebalance_window_end"]) == (
        monday - timedelta(days=7),
        monday,
    )

    approved = rows(
        db,
        "SELECT * FROM budget_move_evidence WHERE entity_id = 'idle-approved' ORDER BY ledger_id",
    )
    assert [r["rule"] for r in approved] == ["proposal_approval"]
    assert "by agent-7 approved: A new assay" in approved[0]["evidence"]
    assert approved[0]["rebalance_window_start"] is None

    idle = rows(db, "SELECT * FROM budget_move_evidence WHERE entity_id = 'idle' ORDER BY 1")
    assert {(r["resource_type"], r["rule"]) for r in idle if r["cause_type"] == "rebalance"} == {
        ("llm_tokens", "idle_reclaim"),
        ("cpu_seconds", "idle_reclaim"),
    }


def test_cost_by_tier_and_provider_ranks_each_periods_spend(db: Conn) -> None:
    envelope(db, "h-cost", tokens=1_000_000, api=1_000)
    spend(db, "h-cost", 1_000, model="claude-opus")  # reasoning: 1 000 x 0.000045 = 0.045 USD
    spend(db, "h-cost", 1_000, model="claude-haiku")  # batch: 0.001 USD
    db.execute(
        "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount, provider)"
        " VALUES ('hypothesis', 'h-cost', 'api_calls', 10, 'other')"  # 10 x 0.001 = 0.01 USD
    )
    last_week = noon(db, period_start(db) - timedelta(days=3))
    spend(db, "h-cost", 500, model="claude-haiku", at=last_week)

    this_period = rows(
        db,
        "SELECT * FROM cost_by_tier_and_provider"
        " WHERE period_start = (SELECT period_start FROM budget_period_bounds())"
        " ORDER BY cost_rank",
    )
    assert [
        (r["cost_rank"], r["kind"], r["tier_or_provider"], r["amount"], r["unit"])
        for r in this_period
    ] == [
        (1, "model tier", "reasoning", 1_000, "tokens"),
        (2, "provider", "other", 10, "calls"),
        (3, "model tier", "batch", 1_000, "tokens"),
    ]
    assert sum(r["cost_share"] for r in this_period) == pytest.approx(1)
    assert this_period[0]["cost_usd"] == Decimal("0.045")
    earlier = rows(
        db,
        "SELECT * FROM cost_by_tier_and_provider"
        " WHERE period_start = (SELECT period_start FROM budget_period_bounds()) - 7",
    )
    assert [(r["tier_or_provider"], r["amount"], r["cost_share"]) for r in earlier] == [
        ("batch", 500, 1)
    ]


def test_a_reader_reads_every_analyst_view(db: Conn, as_role: RoleSessions) -> None:
    scripted_weeks(db)
    reader = as_role("senate_reader")
    for view in ANALYST_VIEWS:
        assert scalar(reader, f"SELECT count(*) FROM {view}") >= 0, view
    assert scalar(reader, "SELECT count(*) FROM budget_move_evidence") > 0
