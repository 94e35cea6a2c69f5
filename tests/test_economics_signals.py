"""Inputs that drive the envelopes: assessments, market signals, governance blocks, gains.

priority_score follows the latest assessment; market weight is cohort-normalized, clamped,
and applied only above the score threshold without a governance block (a price spike cannot
lift an effective budget past the cap); ROI is edges per token over the policy window.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

D = Decimal
Conn = psycopg.Connection[Any]


def one(db: Conn, sql: str, *params: Any) -> Any:
    row = db.execute(sql, params).fetchone()
    assert row is not None
    return row[0]


def sqlstate(db: Conn, sql: str, *params: Any) -> str | None:
    with pytest.raises(psycopg.Error) as exc:
        db.execute(sql, params)
    return exc.value.sqlstate


def envelope(
    db: Conn,
    entity_id: str,
    token_budget: int = 1000,
    priority: str = "0",
    entity_type: str = "hypothesis",
) -> None:
    db.execute(
        "INSERT INTO resource_budgets (entity_type, entity_id, token_budget, priority_score)"
        " VALUES (%s, %s, %s, %s::numeric)",
        (entity_type, entity_id, token_budget, priority),
    )


def assess(db: Conn, entity_id: str, e: str, n: str, s: str, c: str, at: str = "now()") -> None:
    db.execute(
        "INSERT INTO allocation_signals (entity_type, entity_id, evidence_strength, novelty,"
        " strategic_alignment, community_interest, assessed_by, assessed_at)"
        f" VALUES ('hypothesis', %s, %s, %s, %s, %s, 'assessor', {at})",
        (entity_id, e, n, s, c),
    )


def signal(
    db: Conn, entity_id: str, value: str, ago: str = "1 hour", entity_type: str = "hypothesis"
) -> None:
    db.execute(
        "INSERT INTO market_signals (entity_type, entity_id, value, observed_at, source)"
        " VALUES (%s, %s, %s::numeric, now() - %s::interval, 'exchange')",
        (entity_type, entity_id, value, ago),
    )


def weights(db: Conn) -> dict[str, Decimal]:
    rows = db.execute("SELECT entity_id, market_weight FROM resource_budgets").fetchall()
    return {r[0]: r[1] for r in rows}


# -- allocation_signals -> priority_score ----------------------------------------------------------


def test_priority_score_follows_the_latest_assessment(db: Conn) -> None:
    envelope(db, "h1")
    assess(db, "h1", "0.8", "0.6", "0.5", "0.4", "now() - interval '1 day'")
    assert one(db, "SELECT priority_score FROM resource_budgets") == D("0.61")
    assess(db, "h1", "1", "1", "1", "1")
    assert one(db, "SELECT priority_score FROM resource_budgets") == D("1")


def test_a_backdated_assessment_does_not_override_a_newer_one(db: Conn) -> None:
    envelope(db, "h1")
    assess(db, "h1", "0.8", "0.6", "0.5", "0.4")
    assess(db, "h1", "0", "0", "0", "0", "now() - interval '30 days'")
    assert one(db, "SELECT priority_score FROM resource_budgets") == D("0.61")


def test_assessments_for_many_entities_in_one_statement_score_each(db: Conn) -> None:
    for i in range(1, 4):
        envelope(db, f"h{i}")
    db.execute(
        "INSERT INTO allocation_signals (entity_type, entity_id, evidence_strength, novelty,"
        " strategic_alignment, community_interest, assessed_by) VALUES"
        " ('hypothesis', 'h1', 1, 0, 0, 0, 'a'), ('hypothesis', 'h2', 0, 1, 0, 0, 'a'),"
        " ('hypothesis', 'h2', 0, 0, 0, 1, 'a'), ('hypothesis', 'h9', 1, 1, 1, 1, 'a')"
    )
    rows = dict(db.execute("SELECT entity_id, priority_score FROM resource_budgets").fetchall())
    # h2 got two assessments with the same assessed_at: the later signal_id wins (0.20).
    assert rows == {"h1": D("0.35"), "h2": D("0.20"), "h3": D("0")}


def test_a_new_envelope_starts_at_its_entitys_latest_score(db: Conn) -> None:
    assess(db, "h7", "1", "1", "0", "0")
    envelope(db, "h7")
    assert one(db, "SELECT priority_score FROM resource_budgets") == D("0.60")


def test_assessments_are_history(db: Conn) -> None:
    assess(db, "h1", "1", "1", "0", "0")
    assert sqlstate(db, "UPDATE allocation_signals SET novelty = 0") == "S4001"
    assert sqlstate(db, "DELETE FROM allocation_signals") == "S4001"


@pytest.mark.parametrize("bad", ["1.5", "-0.1", "NaN"])
def test_an_assessment_input_outside_the_unit_interval_is_refused(db: Conn, bad: str) -> None:
    assert (
        sqlstate(
            db,
            "INSERT INTO allocation_signals (entity_type, entity_id, evidence_strength, novelty,"
            " strategic_alignment, community_interest, assessed_by)"
            " VALUES ('hypothesis', 'h1', %s::numeric, 0, 0, 0, 'a')",
            bad,
        )
        == "23514"
    )


# -- market weight ------------------------------------------------------------------------------


def market_dataset(db: Conn) -> None:
    # Policy defaults: threshold 0.5, boost cap 0.5, penalty cap 0.5, window 7 days.
    envelope(db, "h1", priority="0.8")  # signals 0.6, 0.8 -> mean 0.7
    envelope(db, "h2", priority="0.6")  # 0.3 (plus 1.0 eight days ago: outside the window)
    envelope(db, "h3", priority="0.4")  # 0.8 but below the score threshold
    envelope(db, "h4", priority="0.9")  # 0.2 but governance-blocked
    envelope(db, "h5", priority="0.9")  # no signals at all
    envelope(db, "a1", priority="0.9", entity_type="analysis")  # alone in its cohort
    signal(db, "h1", "0.6")
    signal(db, "h1", "0.8", "2 days")
    signal(db, "h2", "0.3")
    signal(db, "h2", "1.0", "8 days")
    signal(db, "h3", "0.8")
    signal(db, "h4", "0.2")
    signal(db, "a1", "0.9", entity_type="analysis")
    db.execute(
        "SELECT place_governance_block('hypothesis', 'h4', 'deferred pending evidence', 'senate')"
    )


def test_market_weight_is_the_signal_relative_to_the_cohort_mean(db: Conn) -> None:
    market_dataset(db)
    # Cohort hypothesis: means 0.7, 0.3, 0.8, 0.2 -> cohort mean 0.5.
    rows = db.execute(
        "SELECT entity_id, signal_count, signal_mean, cohort_mean, cohort_entities,"
        " derived_weight, clamped_weight, meets_priority_threshold, governance_blocked,"
        " market_weight FROM market_weights() ORDER BY entity_type, entity_id"
    ).fetchall()
    assert [(r[0], r[1], r[2], r[3], r[4]) for r in rows] == [
        ("a1", 1, D("0.9"), D("0.9"), 1),
        ("h1", 2, D("0.7"), D("0.5"), 4),
        ("h2", 1, D("0.3"), D("0.5"), 4),
        ("h3", 1, D("0.8"), D("0.5"), 4),
        ("h4", 1, D("0.2"), D("0.5"), 4),
        ("h5", 0, None, D("0.5"), 4),
    ]
    assert [(r[0], r[5], r[6], r[7], r[8], r[9]) for r in rows] == [
        ("a1", D("0"), D("0"), True, False, D("0")),
        ("h1", D("0.4"), D("0.4"), True, False, D("0.4")),
        ("h2", D("-0.4"), D("-0.4"), True, False, D("-0.4")),
        ("h3", D("0.6"), D("0.5"), False, False, D("0")),
        ("h4", D("-0.6"), D("-0.5"), True, True, D("0")),
        ("h5", None, None, True, False, D("0")),
    ]


def test_refresh_market_weights_writes_them_once(db: Conn) -> None:
    market_dataset(db)
    assert one(db, "SELECT refresh_market_weights()") == 2
    assert weights(db) == {"a1": 0, "h1": D("0.4"), "h2": D("-0.4"), "h3": 0, "h4": 0, "h5": 0}
    assert one(db, "SELECT refresh_market_weights()") == 0


def test_market_weight_is_not_applied_below_the_score_threshold(db: Conn) -> None:
    envelope(db, "low", priority="0.49")
    envelope(db, "peer", priority="0.9")
    signal(db, "low", "1.0")
    signal(db, "peer", "0.1")
    db.execute("SELECT refresh_market_weights()")
    assert weights(db)["low"] == 0
    # Even a weight written directly is not applied by the views below the threshold.
    db.execute("UPDATE resource_budgets SET market_weight = 0.5 WHERE entity_id = 'low'")
    assert db.execute(
        "SELECT market_weight, effective_budget FROM budget_status"
        " WHERE entity_id = 'low' AND resource_type = 'llm_tokens'"
    ).fetchone() == (0, 1000)


def test_a_speculative_price_spike_cannot_lift_a_budget_past_the_boost_cap(db: Conn) -> None:
    for name in ("spiky", "calm1", "calm2"):
        envelope(db, name, token_budget=10000, priority="0.9")
        signal(db, name, "0.1", "3 days")
    signal(db, "spiky", "1.0", "1 minute")  # mean 0.55 vs cohort 0.25: derived +1.2
    db.execute("SELECT refresh_market_weights()")
    assert one(db, "SELECT derived_weight FROM market_weights() WHERE entity_id = 'spiky'") == D(
        "1.2"
    )
    assert weights(db)["spiky"] == D("0.5")
    effective = one(
        db,
        "SELECT effective_budget FROM budget_status"
        " WHERE entity_id = 'spiky' AND resource_type = 'llm_tokens'",
    )
    assert effective == 15000  # base * (1 + max_market_boost), not base * 2.2
    # A direct write past the cap is clamped by the views too.
    db.execute("UPDATE resource_budgets SET market_weight = 5 WHERE entity_id = 'spiky'")
    assert (
        one(
            db,
            "SELECT effective_budget FROM budget_status"
            " WHERE entity_id = 'spiky' AND resource_type = 'llm_tokens'",
        )
        == 15000
    )


def test_a_governance_block_zeroes_market_weight_until_resolved_and_refreshed(db: Conn) -> None:
    envelope(db, "h1", priority="0.9")
    envelope(db, "h2", priority="0.9")
    signal(db, "h1", "0.6")
    signal(db, "h2", "0.4")
    db.execute("SELECT refresh_market_weights()")
    assert weights(db)["h1"] == D("0.2")
    block = one(db, "SELECT place_governance_block('hypothesis', 'h1', 'audit', 'senate', '17')")
    assert weights(db)["h1"] == 0  # at once, in the same transaction
    db.execute("SELECT refresh_market_weights()")
    assert weights(db)["h1"] == 0
    resolved = db.execute(
        "SELECT resolved_by, resolution, proposal_id"
        " FROM resolve_governance_block(%s, 'bob', 'ok')",
        (block,),
    ).fetchone()
    assert resolved == ("bob", "ok", "17")
    db.execute("SELECT refresh_market_weights()")
    assert weights(db)["h1"] == D("0.2")


def test_governance_blocks_are_history(db: Conn) -> None:
    block = one(db, "SELECT place_governance_block('hypothesis', 'h1', 'audit', 'senate')")
    assert sqlstate(db, "UPDATE governance_blocks SET reason = 'other'") == "S1004"
    assert sqlstate(db, "DELETE FROM governance_blocks") == "S1004"
    db.execute("SELECT resolve_governance_block(%s, 'bob', 'ok')", (block,))
    assert sqlstate(db, "SELECT resolve_governance_block(%s, 'bob', 'again')", block) == "S1004"
    assert sqlstate(db, "SELECT resolve_governance_block(999, 'bob', 'x')") == "S1003"


signal_values = st.lists(st.decimals(min_value=0, max_value=1, places=3), min_size=1, max_size=4)


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    cohort=st.lists(
        st.tuples(st.decimals(min_value=0, max_value=1, places=2), signal_values),
        min_size=1,
        max_size=6,
    )
)
def test_refreshed_weights_always_stay_within_policy_bounds(
    db: Conn, cohort: list[tuple[Decimal, list[Decimal]]]
) -> None:
    with db.transaction(force_rollback=True):
        for i, (priority, values) in enumerate(cohort):
            envelope(db, f"e{i}", token_budget=1000, priority=str(priority))
            for v in values:
                signal(db, f"e{i}", str(v))
        db.execute("SELECT refresh_market_weights()")
        rows = db.execute(
            "SELECT b.priority_score, b.market_weight, s.effective_budget"
            " FROM resource_budgets AS b JOIN budget_status AS s USING (entity_type, entity_id)"
            " WHERE s.resource_type = 'llm_tokens'"
        ).fetchall()
        for priority, weight, effective in rows:
            assert D("-0.5") <= weight <= D("0.5")
            assert 500 <= effective <= 1500
            if priority < D("0.5"):
                assert weight == 0 and effective == 1000


# -- ROI ----------------------------------------------------------------------------------------


def gain(db: Conn, entity_id: str, edges: int, ago: str = "0 hours", papers: int = 0) -> None:
    db.execute(
        "INSERT INTO world_model_gains (entity_type, entity_id, kg_edges_gained, papers_added,"
        " observed_at, source) VALUES ('hypothesis', %s, %s, %s, now() - %s::interval, 'atlas')",
        (entity_id, edges, papers, ago),
    )


def tokens(
    db: Conn, entity_id: str, amount: int, ago: str = "0 hours", model: str = "claude-haiku"
) -> None:
    db.execute(
        "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount, model,"
        " created_at) VALUES ('hypothesis', %s, 'llm_tokens', %s, %s, now() - %s::interval)",
        (entity_id, amount, model, ago),
    )


def roi_dataset(db: Conn) -> None:
    for i in range(1, 6):
        envelope(db, f"h{i}")
    gain(db, "h1", 12, papers=2)
    gain(db, "h1", 3, "3 days")
    gain(db, "h1", 100, "10 days")  # outside the 7-day window
    tokens(db, "h1", 20000)
    tokens(db, "h1", 10000, "3 days", model="claude-opus")
    tokens(db, "h1", 50000, "10 days")  # outside
    db.execute(
        "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount)"
        " VALUES ('hypothesis', 'h1', 'cpu_seconds', 999)"  # not tokens: not in ROI
    )
    gain(db, "h2", 4)
    tokens(db, "h2", 1000)
    tokens(db, "h3", 500)
    gain(db, "h4", 7)


def test_roi_window_is_the_policy_window_in_whole_days_up_to_today(db: Conn) -> None:
    start, end, today = db.execute(
        "SELECT window_start, window_end, (now() AT TIME ZONE 'UTC')::date FROM roi_window_bounds()"
    ).fetchone() or (None, None, None)
    assert (end - today).days == 1 and (end - start).days == 7


def test_refresh_roi_scores_sets_edges_per_token_over_the_window(db: Conn) -> None:
    roi_dataset(db)
    assert one(db, "SELECT refresh_roi_scores()") == 3  # h1, h2, h3; h4 and h5 stay NULL
    rows = dict(db.execute("SELECT entity_id, roi_score FROM resource_budgets").fetchall())
    assert rows == {"h1": D("0.0005"), "h2": D("0.004"), "h3": D("0"), "h4": None, "h5": None}
    assert one(db, "SELECT refresh_roi_scores()") == 0


def test_roi_by_entity_reports_gains_and_spend_of_any_window(db: Conn) -> None:
    roi_dataset(db)
    row = db.execute(
        "SELECT kg_edges_gained, papers_added, tokens_spent, roi_score"
        " FROM roi_by_entity(((now() AT TIME ZONE 'UTC')::date - 13),"
        "                    ((now() AT TIME ZONE 'UTC')::date + 1)) WHERE entity_id = 'h1'"
    ).fetchone()
    assert row == (115, 2, 80000, D("115") / D("80000"))
