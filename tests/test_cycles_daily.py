"""Budget periods, daily allowances, and the daily check: throttle and release."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import psycopg
import pytest
from cycles_support import (
    Conn,
    can_spend,
    days_before,
    envelope,
    noon,
    one,
    period_start,
    rows,
    scalar,
    spend,
    today,
)
from governance_support import as_senator


def daily_check(db: Conn, as_of: date | None = None) -> list[dict[str, object]]:
    return rows(db, "SELECT * FROM run_daily_check(%s)", (as_of,))


def throttles(db: Conn, as_of: date | None = None) -> list[dict[str, object]]:
    """The daily check's throttle and release actions (spend and forecast alerts left out)."""
    return [a for a in daily_check(db, as_of) if a["action"] not in ("alert", "forecast_alert")]


def status(db: Conn, entity_id: str, resource_type: str = "llm_tokens") -> dict[str, object]:
    return one(
        db,
        "SELECT * FROM budget_status WHERE entity_type = 'hypothesis' "
        "AND entity_id = %s AND resource_type = %s",
        (entity_id, resource_type),
    )


def status_ledger(db: Conn, entity_id: str) -> list[dict[str, object]]:
    return rows(
        db,
        "SELECT resource_type, balance_before, balance_after, delta, cause_type, "
        "cause_id, note FROM budget_ledger WHERE account = 'entity_status' "
        "AND entity_id = %s ORDER BY ledger_id",
        (entity_id,),
    )


# --- budget periods and allowances -------------------------------------------------------------


def test_the_default_budget_period_is_the_iso_week_from_monday_with_a_seventh_a_day(
    db: Conn,
) -> None:
    envelope(db, "h-1", tokens=7_000, cpu=70)
    s = status(db, "h-1")
    assert s["period_start"].isoweekday() == 1  # type: ignore[attr-defined]
    assert s["period_end"] - s["period_start"] == timedelta(days=7)  # type: ignore[operator]
    assert s["daily_allowance"] == 1_000
    assert status(db, "h-1", "cpu_seconds")["daily_allowance"] == 10


def test_the_derived_daily_allowance_follows_the_market_weighted_effective_budget(
    db: Conn,
) -> None:
    envelope(db, "h-1", tokens=7_000, priority=0.9, market_weight=0.5)
    assert status(db, "h-1")["daily_allowance"] == 1_500


def test_period_boundaries_are_calendar_weeks_in_the_policy_time_zone(db: Conn) -> None:
    db.execute("SELECT adopt_economics_policy('{\"time_zone\": \"Asia/Tokyo\"}', 'chair', 'Tokyo')")
    envelope(db, "h-1", tokens=10_000)
    # Sunday 23:30 and Monday 00:30 in Tokyo (both Sunday in UTC).
    spend(db, "h-1", 300, at=scalar(db, "SELECT '2025-03-02 23:30+09'::timestamptz"))
    spend(db, "h-1", 40, at=scalar(db, "SELECT '2025-03-03 00:30+09'::timestamptz"))
    position = one(
        db,
        "SELECT * FROM senate.spend_position('hypothesis', 'h-1', 'llm_tokens', "
        "NULL, '2025-03-05 12:00+09')",
    )
    assert (position["period_start"], position["spent"]) == (date(2025, 3, 3), 40)
    before = one(
        db,
        "SELECT * FROM senate.spend_position('hypothesis', 'h-1', 'llm_tokens', "
        "NULL, '2025-03-02 23:59+09')",
    )
    assert (before["period_start"], before["spent"]) == (date(2025, 2, 24), 300)


def test_an_explicit_daily_allowance_replaces_the_derived_one_until_it_is_removed(
    db: Conn,
) -> None:
    envelope(db, "h-1", tokens=7_000)
    assert (
        scalar(
            db,
            "SELECT set_daily_allowance('hypothesis', 'h-1', 'llm_tokens', 250, "
            "'chair', 'slow down')",
        )
        == 250
    )
    assert status(db, "h-1")["daily_allowance"] == 250
    assert (
        scalar(db, "SELECT set_daily_allowance('hypothesis', 'h-1', 'llm_tokens', NULL, 'chair')")
        is None
    )
    assert status(db, "h-1")["daily_allowance"] == 1_000


@pytest.mark.parametrize(
    ("args", "sqlstate"),
    [
        (("hypothesis", "h-1", "llm_tokens", -1, "chair"), "S2006"),
        (("hypothesis", "h-1", "llm_tokens", Decimal("Infinity"), "chair"), "S2006"),
        (("hypothesis", "nobody", "llm_tokens", 10, "chair"), "S3003"),
        (("hypothesis", "h-1", "gpu", 10, "chair"), "S2008"),
        (("hypothesis", "h-1", "llm_tokens", 10, " "), "S2010"),
    ],
)
def test_set_daily_allowance_refuses_bad_arguments(
    db: Conn, args: tuple[object, ...], sqlstate: str
) -> None:
    envelope(db, "h-1", tokens=7_000)
    with pytest.raises(psycopg.Error) as exc:
        db.execute("SELECT set_daily_allowance(%s, %s, %s, %s, %s)", args)
    assert exc.value.sqlstate == sqlstate


def test_a_mid_period_budget_change_applies_to_the_whole_periods_spend_without_moving_the_window(
    db: Conn,
) -> None:
    envelope(db, "h-1", tokens=1_000)
    spend(db, "h-1", 900, at=noon(db, days_before(period_start(db), 2)))  # last period: never
    spend(db, "h-1", 600)
    window = (status(db, "h-1")["period_start"], status(db, "h-1")["period_end"])

    db.execute("UPDATE resource_budgets SET token_budget = 800 WHERE entity_id = 'h-1'")
    assert can_spend(db, "h-1", 200)["allowed"] is True  # a cut above the spend refuses nothing
    assert can_spend(db, "h-1", 201)["allowed"] is False
    assert (status(db, "h-1")["period_start"], status(db, "h-1")["period_end"]) == window

    db.execute("UPDATE resource_budgets SET token_budget = 500 WHERE entity_id = 'h-1'")
    cut = can_spend(db, "h-1", 1)
    assert (cut["allowed"], cut["remaining"]) == (False, 0)  # refused: 600 already spent > 500
    assert status(db, "h-1")["over_budget"] is True

    db.execute("UPDATE resource_budgets SET token_budget = 2000 WHERE entity_id = 'h-1'")
    assert can_spend(db, "h-1", 1_400)["allowed"] is True  # a rise helps at once
    assert can_spend(db, "h-1", 1_401)["allowed"] is False


def test_with_a_daily_budget_period_the_allowance_is_the_budget_and_only_the_period_throttles(
    db: Conn,
) -> None:
    db.execute("SELECT adopt_economics_policy('{\"budget_period\": \"day\"}', 'chair', 'daily')")
    envelope(db, "h-1", tokens=1_000)
    spend(db, "h-1", 1_200)
    assert status(db, "h-1")["daily_allowance"] == 1_000
    actions = throttles(db)
    assert [(a["action"], a["kind"]) for a in actions] == [("throttled", "period_budget")]


# --- throttle ------------------------------------------------------------------------------


def test_the_daily_check_throttles_an_entity_past_its_daily_allowance_and_records_why(
    db: Conn,
) -> None:
    envelope(db, "h-1", tokens=7_000)
    spend(db, "h-1", 1_500)
    actions = daily_check(db)
    assert len(actions) == 1
    a = actions[0]
    assert (a["action"], a["entity_id"], a["resource_type"], a["kind"]) == (
        "throttled",
        "h-1",
        "llm_tokens",
        "daily_allowance",
    )
    assert (a["window_start"], a["window_end"]) == (today(db), today(db) + timedelta(days=1))
    assert (a["spent"], a["allowance"]) == (1_500, 1_000)

    s = status(db, "h-1")
    assert s["throttled"] is True and s["throttle_reason"] == a["detail"]
    ledger = status_ledger(db, "h-1")
    throttle_id = scalar(db, "SELECT throttle_id FROM spend_throttles")
    assert ledger == [
        {
            "resource_type": "llm_tokens",
            "balance_before": 7_000,
            "balance_after": 7_000,
            "delta": 0,
            "cause_type": "throttle",
            "cause_id": str(throttle_id),
            "note": a["detail"],
        }
    ]
    explained = rows(db, "SELECT cause, explanation FROM explain_budget('hypothesis', 'h-1')")
    assert explained[-1]["explanation"] == f"status: {a['detail']}"


def test_an_entity_past_its_period_budget_is_throttled_until_the_period_ends(db: Conn) -> None:
    envelope(db, "h-1", tokens=7_000)
    spend(db, "h-1", 7_001)
    actions = throttles(db)
    assert [a["kind"] for a in actions] == ["daily_allowance", "period_budget"]
    period = actions[1]
    assert (period["window_start"], period["allowance"]) == (period_start(db), 7_000)
    until = scalar(db, "SELECT throttled_until FROM spend_throttles WHERE kind = 'period_budget'")
    assert until == scalar(db, "SELECT ends_at FROM budget_period_bounds()")
    assert status(db, "h-1")["throttled_until"] == until


def test_only_the_entities_and_classes_past_their_allowance_are_throttled(db: Conn) -> None:
    envelope(db, "h-over", tokens=7_000, cpu=700)
    envelope(db, "h-within", tokens=7_000)
    envelope(db, "h-quiet", tokens=7_000)
    envelope(db, "h-unbudgeted", tokens=0)
    spend(db, "h-over", 1_001)
    spend(db, "h-over", 100, resource_type="cpu_seconds")  # exactly its allowance: fine
    spend(db, "h-within", 1_000)
    spend(db, "h-unbudgeted", 5)  # no budget: anything is past it
    spend(db, "h-stranger", 500)  # spend without an envelope: nothing to throttle
    throttled = [
        (a["entity_id"], a["resource_type"], a["kind"])
        for a in daily_check(db)
        if a["action"] == "throttled"
    ]
    assert throttled == [
        ("h-over", "llm_tokens", "daily_allowance"),
        ("h-unbudgeted", "llm_tokens", "daily_allowance"),
        ("h-unbudgeted", "llm_tokens", "period_budget"),
    ]


def test_the_daily_check_is_idempotent_for_a_day(db: Conn) -> None:
    envelope(db, "h-1", tokens=7_000)
    spend(db, "h-1", 1_500)
    assert len(daily_check(db)) == 1
    ledger_rows = scalar(db, "SELECT count(*) FROM budget_ledger")
    assert daily_check(db) == []
    assert scalar(db, "SELECT count(*) FROM budget_ledger") == ledger_rows


def test_the_daily_check_refuses_a_day_in_the_future(db: Conn) -> None:
    with pytest.raises(psycopg.Error) as exc:
        daily_check(db, today(db) + timedelta(days=1))
    assert exc.value.sqlstate == "S3008"


# --- release -------------------------------------------------------------------------------


def test_a_budget_rise_releases_the_throttle_at_once_and_the_ledger_says_so(db: Conn) -> None:
    envelope(db, "h-1", tokens=7_000)
    spend(db, "h-1", 1_500)
    daily_check(db)
    db.execute("UPDATE resource_budgets SET token_budget = 10500 WHERE entity_id = 'h-1'")
    assert status(db, "h-1")["throttled"] is False
    assert can_spend(db, "h-1", 100)["allowed"] is True
    ledger = status_ledger(db, "h-1")
    assert [r["cause_type"] for r in ledger] == ["throttle", "release"]
    assert ledger[1]["balance_after"] == 10_500 and ledger[1]["delta"] == 0
    assert "daily allowance rose" in str(ledger[1]["note"])
    assert daily_check(db) == []  # nothing left to release, nothing to throttle


def test_a_budget_rise_that_does_not_cover_the_spend_keeps_the_throttle(db: Conn) -> None:
    envelope(db, "h-1", tokens=7_000)
    spend(db, "h-1", 1_500)
    daily_check(db)
    db.execute("UPDATE resource_budgets SET token_budget = 8400 WHERE entity_id = 'h-1'")
    assert status(db, "h-1")["throttled"] is True
    assert [r["cause_type"] for r in status_ledger(db, "h-1")] == ["throttle"]


def test_an_approval_that_raises_the_budget_releases_the_throttle(db: Conn) -> None:
    envelope(db, "h-1", tokens=7_000)
    spend(db, "h-1", 1_500)
    daily_check(db)
    db.execute("SELECT fund_reserve('llm_tokens', 100000, 'treasurer')")
    pid = scalar(
        db,
        "SELECT file_allocation_proposal('hypothesis', 'h-1', 7000, 'agent', "
        "'More data should add 40 edges.', "
        '\'{"pmids": ["31883511"], "expected_kg_edges": 40}\')',
    )
    for voter in ("s1", "s2", "s3"):
        with as_senator(db, voter):
            db.execute("SELECT cast_allocation_vote(%s, %s, 'approve')", (pid, voter))
    with as_senator(db, "chair"):
        db.execute("SELECT decide_allocation_proposal(%s, 'approved', 'chair')", (pid,))
    assert status(db, "h-1")["throttled"] is False
    release = status_ledger(db, "h-1")[-1]
    assert release["cause_type"] == "release" and release["balance_after"] == 14_000


def test_raising_an_explicit_daily_allowance_releases_the_daily_throttle(db: Conn) -> None:
    envelope(db, "h-1", tokens=70_000)
    db.execute("SELECT set_daily_allowance('hypothesis', 'h-1', 'llm_tokens', 500, 'chair')")
    spend(db, "h-1", 600)
    assert [a["kind"] for a in daily_check(db)] == ["daily_allowance"]
    db.execute("SELECT set_daily_allowance('hypothesis', 'h-1', 'llm_tokens', 800, 'chair')")
    assert status(db, "h-1")["throttled"] is False
    assert [r["cause_type"] for r in status_ledger(db, "h-1")] == ["throttle", "release"]


def test_throttles_of_a_past_period_are_released_when_the_new_period_is_checked(
    db: Conn,
) -> None:
    envelope(db, "h-1", tokens=7_000)
    last_sunday = days_before(period_start(db), 1)
    spend(db, "h-1", 8_000, at=noon(db, last_sunday))
    caught_up = throttles(db, last_sunday)  # catching up on a missed check
    assert [(a["action"], a["kind"], a["window_start"]) for a in caught_up] == [
        ("throttled", "daily_allowance", last_sunday),
        ("throttled", "period_budget", days_before(period_start(db), 7)),
    ]
    # Those windows are over: the throttles no longer count, in the gate or in the view.
    assert can_spend(db, "h-1", 7_000)["allowed"] is True
    assert status(db, "h-1")["throttled"] is False

    released = daily_check(db)
    assert [(a["action"], a["kind"]) for a in released] == [
        ("released", "daily_allowance"),
        ("released", "period_budget"),
    ]
    assert all("ended: a new" in str(a["detail"]) for a in released)
    assert [r["cause_type"] for r in status_ledger(db, "h-1")] == [
        "throttle",
        "throttle",
        "release",
        "release",
    ]
    assert scalar(db, "SELECT count(*) FROM spend_throttles WHERE released_at IS NULL") == 0


def test_throttles_are_history_only_their_release_may_be_written(db: Conn) -> None:
    envelope(db, "h-1", tokens=7_000)
    spend(db, "h-1", 1_500)
    daily_check(db)
    for sql in (
        "UPDATE spend_throttles SET reason = 'edited'",
        "DELETE FROM spend_throttles",
        "TRUNCATE spend_throttles",
    ):
        with pytest.raises(psycopg.Error) as exc:
            db.execute(sql)
        assert exc.value.sqlstate == "S4001", sql
