"""The weekly rebalance on a scripted multi-week dataset: each rule fires for the right
entities and no others, totals are conserved, a dry run writes nothing, a window is applied
once, and usage keeps flowing while a rebalance applies."""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from cycles_support import (
    EXPECTED_PLAN,
    Conn,
    Connect,
    budget,
    days_before,
    envelope,
    fund,
    gain,
    ledger_count,
    ledger_invariant_violations,
    noon,
    period_start,
    reserve,
    reserve_spend,
    rows,
    scalar,
    scripted_weeks,
    spend,
    totals,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

DRY_RUN = "SELECT * FROM run_rebalance()"
APPLY = "SELECT * FROM run_rebalance(dry_run => false, actor => 'senate-chair')"


def plan(db: Conn, sql: str = DRY_RUN) -> list[dict[str, Any]]:
    return rows(db, sql)


def summary(found: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(r["entity_id"], r["resource_type"], r["delta"], r["reason"]) for r in found]


def state(db: Conn) -> dict[str, Any]:
    return {
        "budgets": db.execute("SELECT * FROM resource_budgets ORDER BY 1, 2").fetchall(),
        "reserve": db.execute("SELECT * FROM senate_reserve ORDER BY 1").fetchall(),
        "ledger": ledger_count(db),
        "runs": scalar(db, "SELECT count(*) FROM rebalance_runs"),
        "changes": scalar(db, "SELECT count(*) FROM rebalance_changes"),
    }


def test_a_dry_run_shows_each_rule_firing_for_the_right_entities_only_and_writes_nothing(
    db: Conn,
) -> None:
    scripted_weeks(db)
    before = state(db)
    found = plan(db)
    assert summary(found) == EXPECTED_PLAN
    assert state(db) == before
    by_entity = {(r["entity_id"], r["resource_type"]): r for r in found}
    strong = by_entity[("strong", "llm_tokens")]
    assert (strong["old_budget"], strong["new_budget"]) == (10_000, 12_500)
    assert "ROI 0.01" in strong["detail"] and "market weight 0.3" in strong["detail"]
    assert (
        "0 edges / 5000 tokens, 0 edges / 5000 tokens" in by_entity[("low", "llm_tokens")]["detail"]
    )
    assert "no cpu_seconds spend since" in by_entity[("idle", "cpu_seconds")]["detail"]
    assert "priority rank 1" in by_entity[("top", "llm_tokens")]["detail"]


def test_the_plan_conserves_budgets_plus_reserve_per_class(db: Conn) -> None:
    scripted_weeks(db)
    per_class: dict[str, Decimal] = {}
    for r in plan(db):
        per_class[r["resource_type"]] = per_class.get(r["resource_type"], Decimal(0)) + r["delta"]
    assert per_class == {"cpu_seconds": 0, "llm_tokens": 0}


def test_applying_writes_budgets_reserve_ledger_run_and_plan_and_conserves_totals(
    db: Conn,
) -> None:
    scripted_weeks(db)
    totals_before = totals(db)
    dry = plan(db)
    applied = plan(db, APPLY)
    assert applied == dry
    assert totals(db) == totals_before
    assert ledger_invariant_violations(db) == []
    assert (budget(db, "strong"), budget(db, "low"), budget(db, "top")) == (12_500, 7_500, 9_000)
    assert (budget(db, "idle"), budget(db, "idle", "cpu_seconds")) == (3_000, 300)
    assert (reserve(db), reserve(db, "cpu_seconds")) == (96_000, 100)

    run = rows(db, "SELECT * FROM rebalance_runs")
    assert len(run) == 1
    r = run[0]
    assert (r["window_end"], r["window_start"]) == (
        period_start(db),
        days_before(period_start(db), 7),
    )
    assert (r["actor"], r["gains"], r["reductions"], r["reclaims"], r["reassignments"]) == (
        "senate-chair",
        1,
        1,
        2,
        1,
    )
    ledger = rows(
        db,
        "SELECT account, entity_id, resource_type, delta, actor, note "
        "FROM budget_ledger WHERE cause_type = 'rebalance' AND cause_id = %s "
        "ORDER BY ledger_id",
        (str(r["run_id"]),),
    )
    assert [(x["entity_id"], x["resource_type"], x["delta"]) for x in ledger] == [
        ("idle", "cpu_seconds", -100),
        ("idle", "llm_tokens", -1_000),
        ("low", "llm_tokens", -2_500),
        ("strong", "llm_tokens", 2_500),
        ("top", "llm_tokens", 1_000),
        (None, "cpu_seconds", 100),
    ]
    assert {x["actor"] for x in ledger} == {"senate-chair"}
    assert "idle_reclaim" in ledger[0]["note"] and "sustained_low_roi" in ledger[2]["note"]
    stored = rows(
        db,
        "SELECT entity_id, resource_type, delta, reason FROM rebalance_changes "
        "WHERE run_id = %s ORDER BY resource_type, entity_id IS NULL, reason, "
        "entity_id",
        (r["run_id"],),
    )
    assert [tuple(x.values()) for x in stored] == EXPECTED_PLAN


def test_a_second_apply_of_the_same_window_changes_nothing(db: Conn) -> None:
    scripted_weeks(db)
    plan(db, APPLY)
    after_first = state(db)
    assert plan(db, APPLY) == []
    later = "SELECT * FROM run_rebalance(now() - interval '1 second', false)"
    assert plan(db, later) == []
    assert state(db) == after_first


def test_a_dry_run_after_an_apply_still_shows_what_the_rules_would_do_now(db: Conn) -> None:
    scripted_weeks(db)
    plan(db, APPLY)
    again = summary(plan(db))
    assert ("strong", "llm_tokens", 3_125, "strong_roi_market_support") in again


def test_every_change_is_bounded_by_the_policy_step(db: Conn) -> None:
    db.execute("SELECT adopt_economics_policy('{\"max_rebalance_step\": 0.1}', 'chair', 'gentler')")
    scripted_weeks(db)
    for r in plan(db):
        if r["entity_id"] is not None:
            assert abs(r["delta"]) <= Decimal("0.1") * r["old_budget"], r
    assert ("strong", "llm_tokens", 1_000, "strong_roi_market_support") in summary(plan(db))


def test_gains_are_funded_only_by_the_reserve_and_what_the_run_frees(db: Conn) -> None:
    monday = period_start(db)
    last_week, week_before = noon(db, days_before(monday, 5)), noon(db, days_before(monday, 12))
    for entity_id, priority in (("first", 0.9), ("second", 0.8), ("third", 0.7)):
        envelope(db, entity_id, tokens=16_000, priority=priority, market_weight=0.3)
        spend(db, entity_id, 1_000, at=last_week)
        gain(db, entity_id, 10, last_week)
        spend(db, entity_id, 10)
    envelope(db, "waster", tokens=20_000, priority=0.5)
    for at in (last_week, week_before):
        spend(db, "waster", 5_000, at=at)
    spend(db, "waster", 10)
    totals_before = totals(db)

    found = summary(plan(db, APPLY))  # reserve empty: only the waster's 5000 can fund gains
    assert found == [
        ("first", "llm_tokens", 4_000, "strong_roi_market_support"),
        ("second", "llm_tokens", 1_000, "strong_roi_market_support"),
        ("waster", "llm_tokens", -5_000, "sustained_low_roi"),
        (None, "llm_tokens", 0, "reserve"),
    ]
    detail = scalar(db, "SELECT detail FROM rebalance_changes WHERE entity_id = 'second'")
    assert "limited by the reserve: 1000 of a 4000 step" in detail
    assert totals(db) == totals_before
    assert reserve(db) == 0


def test_an_entity_with_no_token_spend_in_a_window_is_neither_low_nor_strong(db: Conn) -> None:
    monday = period_start(db)
    envelope(db, "gap", tokens=10_000, priority=0.9, market_weight=0.3)
    spend(db, "gap", 5_000, at=noon(db, days_before(monday, 12)))  # only the week before
    gain(db, "gap", 100, noon(db, days_before(monday, 5)))  # gains without spend: no ROI
    spend(db, "gap", 10)
    assert plan(db) == []


def test_rebalance_refuses_a_future_as_of_and_a_null_dry_run(db: Conn) -> None:
    for sql, sqlstate in (
        ("SELECT * FROM run_rebalance(now() + interval '1 day')", "S3008"),
        ("SELECT * FROM run_rebalance(NULL)", "S3008"),
        ("SELECT * FROM run_rebalance(now(), NULL)", "22023"),
        ("SELECT * FROM run_rebalance(now(), false, ' ')", "S2010"),
    ):
        with pytest.raises(psycopg.Error) as exc:
            db.execute(sql)
        assert exc.value.sqlstate == sqlstate, sql


def test_runs_and_their_plans_are_history(db: Conn) -> None:
    scripted_weeks(db)
    plan(db, APPLY)
    for sql in (
        "UPDATE rebalance_runs SET actor = 'someone else'",
        "DELETE FROM rebalance_changes",
        "TRUNCATE rebalance_runs",
    ):
        with pytest.raises(psycopg.Error) as exc:
            db.execute(sql)
        assert exc.value.sqlstate == "S4001", sql


def test_usage_inserts_are_neither_blocked_nor_lost_while_a_rebalance_applies(
    db: Conn, connect: Connect
) -> None:
    scripted_weeks(db)
    rows_before = scalar(db, "SELECT count(*) FROM resource_usage")
    chair = connect(autocommit=False)
    chair.execute(APPLY).fetchall()  # holds its locks until commit
    writer = connect()
    writer.execute("SET statement_timeout = '3s'")
    started = time.monotonic()
    for entity_id in ("strong", "low", "idle", "top", "plain"):  # locked envelopes included
        spend(writer, entity_id, 7)
    writer.execute(
        "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount) "
        "SELECT 'hypothesis', 'strong', 'llm_tokens', 1 FROM generate_series(1, 500)"
    )
    reserve_spend(writer, "plain", 10)  # an envelope the rebalance does not change
    elapsed = time.monotonic() - started
    chair.commit()
    print(f"\nusage written during an uncommitted rebalance apply: 505 rows in {elapsed:.3f} s")
    assert elapsed < 3
    assert scalar(db, "SELECT count(*) FROM resource_usage") == rows_before + 505
    assert db.execute("SELECT * FROM reconcile_usage_rollups()").fetchall() == []
    assert ledger_invariant_violations(db) == []


def test_two_applies_racing_for_one_window_apply_it_once(db: Conn, connect: Connect) -> None:
    scripted_weeks(db)
    first, second = connect(autocommit=False), connect()
    applied = first.execute(APPLY).fetchall()
    assert applied
    outcome: list[Any] = []
    thread = threading.Thread(target=lambda: outcome.append(second.execute(APPLY).fetchall()))
    thread.start()
    time.sleep(0.5)
    first.commit()
    thread.join(timeout=60)
    assert outcome == [[]]
    assert scalar(db, "SELECT count(*) FROM rebalance_runs") == 1


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 50_000),  # token budget
            st.integers(0, 5_000),  # cpu budget
            st.sampled_from([0.0, 0.3, 0.6, 0.9]),  # priority
            st.sampled_from([0.0, 0.05, 0.3]),  # market weight
            st.integers(0, 8_000),  # tokens last week
            st.integers(0, 8_000),  # tokens the week before
            st.integers(0, 40),  # edges last week
            st.booleans(),  # active today
            st.booleans(),  # cpu active today
        ),
        min_size=1,
        max_size=12,
    ),
    st.integers(0, 20_000),
)
def test_any_dataset_conserves_totals_and_bounds_every_change(
    db: Conn, entities: list[tuple[Any, ...]], reserve_funds: int
) -> None:
    with db.transaction(force_rollback=True):
        monday = period_start(db)
        last_week, week_before = noon(db, days_before(monday, 5)), noon(db, days_before(monday, 12))
        if reserve_funds:
            fund(db, reserve_funds)
        for i, (tok, cpu, prio, mw, t0, t1, edges, active, cpu_active) in enumerate(entities):
            e = f"e-{i}"
            envelope(db, e, tokens=tok, cpu=cpu, priority=prio, market_weight=mw)
            if t0:
                spend(db, e, t0, at=last_week)
            if t1:
                spend(db, e, t1, at=week_before)
            if edges:
                gain(db, e, edges, last_week)
            if active:
                spend(db, e, 1)
            if cpu_active:
                spend(db, e, 1, resource_type="cpu_seconds")
        before = totals(db)
        old = {
            r[0]: r[1:]
            for r in db.execute(
                "SELECT entity_id, token_budget, cpu_budget FROM resource_budgets"
            ).fetchall()
        }
        found = plan(db, APPLY)
        assert totals(db) == before
        assert scalar(db, "SELECT min(balance) FROM senate_reserve") >= 0
        step = Decimal("0.25")
        for r in found:
            if r["entity_id"] is None:
                continue
            column = 0 if r["resource_type"] == "llm_tokens" else 1
            assert r["old_budget"] == old[r["entity_id"]][column]
            assert 0 < abs(r["delta"]) <= step * r["old_budget"]
            assert (r["delta"] > 0) == (
                r["reason"] in ("strong_roi_market_support", "reassigned_idle_budget")
            )
        assert ledger_invariant_violations(db) == []
