"""Runway and forecast alerts (issue 18, points 1 and 2; migrations 0150-0152).

Histories are constructed relative to the database clock: spend at noon (policy time zone) on
each of the complete days before today, then budget_forecast_as_of(T) is read at one fixed
instant T (now, taken once), so every figure is checked against the documented formula:
rate = trimmed mean of the last N = 14 complete days (k = 2 dropped at each end),
projected = spent + rate x remaining_days, runs_out_at = T + (budget - spent) / rate days.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from cycles_support import Conn, can_spend, envelope, noon, rows, scalar, spend, today
from reliability_support import RoleSessions, role_sessions

WINDOW = 14


@pytest.fixture
def as_role(db_url: str, db: Conn) -> Iterator[RoleSessions]:
    yield from role_sessions(db_url, db)


def history(
    db: Conn, entity_id: str, daily: dict[int, int], resource_type: str = "llm_tokens"
) -> None:
    """Spend daily[n] at noon n complete days before today (n >= 1), or today (n = 0)."""
    day0 = today(db)
    for n, amount in sorted(daily.items()):
        if amount:
            spend(
                db,
                entity_id,
                amount,
                at=None if n == 0 else noon(db, day0 - timedelta(days=n)),
                resource_type=resource_type,
                model="claude-haiku" if resource_type == "llm_tokens" else None,
            )


def now(db: Conn) -> datetime:
    return scalar(db, "SELECT now()")  # type: ignore[no-any-return]


def forecast(
    db: Conn, at: datetime, entity_id: str, resource_type: str = "llm_tokens"
) -> dict[str, Any]:
    found = rows(
        db,
        "SELECT * FROM budget_forecast_as_of(%s) WHERE entity_type = 'hypothesis'"
        " AND entity_id = %s AND resource_type = %s",
        (at, entity_id, resource_type),
    )
    assert len(found) == 1, found
    return found[0]


def period_spend(db: Conn, daily: dict[int, int]) -> int:
    """What of a history falls in the current budget period (today included)."""
    start: date = scalar(db, "SELECT period_start FROM budget_period_bounds()")
    day0 = today(db)
    return sum(a for n, a in daily.items() if day0 - timedelta(days=n) >= start)


def test_a_steady_spender_s_rate_is_its_daily_spend_and_its_projection_follows_the_formula(
    db: Conn,
) -> None:
    daily = {n: 1_000 for n in range(1, WINDOW + 1)}
    history(db, "h-steady", daily)
    envelope(db, "h-steady", tokens=10_000_000)
    at = now(db)
    f = forecast(db, at, "h-steady")
    assert f["daily_rate"] == 1_000
    assert (f["window_days"], f["trimmed_days"], f["active_days"]) == (14, 2, 14)
    assert f["window_end"] == today(db)
    assert f["window_start"] == today(db) - timedelta(days=WINDOW)
    assert f["spent"] == period_spend(db, daily)
    ends_at: datetime = f["period_ends_at"]
    remaining = Decimal((ends_at - at).total_seconds()) / 86400
    assert abs(f["remaining_days"] - remaining) < Decimal("1e-6")
    assert abs(f["projected_spend"] - (f["spent"] + 1_000 * f["remaining_days"])) < Decimal("1e-9")
    assert f["runway_status"] == "lasts"
    assert f["runs_out_at"] is None and f["runs_out_local"] is None
    assert f["unit"] == "tokens"


def test_a_steady_spender_runs_out_at_the_hour_the_formula_says(db: Conn) -> None:
    daily = {n: 1_000 for n in range(0, WINDOW + 1)}
    history(db, "h-short", daily)
    at = now(db)
    spent = period_spend(db, daily)
    remaining = scalar(
        db,
        "SELECT extract(epoch FROM ends_at - %s) / 86400 FROM budget_period_bounds(%s)",
        (at, at),
    )
    # Half of what the rate would still spend by period end is left: it runs out half-way.
    budget = Decimal(spent) + 1_000 * Decimal(remaining) / 2
    envelope(db, "h-short", tokens=budget)
    f = forecast(db, at, "h-short")
    assert f["runway_status"] == "runs_out"
    expected = at + timedelta(days=float(Decimal(remaining) / 2))
    assert abs((f["runs_out_at"] - expected).total_seconds()) < 1
    local = scalar(db, "SELECT date_trunc('hour', %s AT TIME ZONE 'UTC')", (f["runs_out_at"],))
    assert f["runs_out_local"] == local
    assert f["projected_utilization"] > 1


def test_a_one_day_spike_does_not_move_the_rate(db: Conn) -> None:
    daily = {n: 1_000 for n in range(1, WINDOW + 1)}
    daily[3] = 50_000
    history(db, "h-spike", daily)
    envelope(db, "h-spike", tokens=10_000_000)
    f = forecast(db, now(db), "h-spike")
    assert f["daily_rate"] == 1_000  # the plain mean would be 4 500
    assert f["active_days"] == 14


def test_a_quiet_weekend_lowers_the_rate_only_by_the_untrimmed_weekend_days(db: Conn) -> None:
    day0 = today(db)
    daily = {
        n: (0 if (day0 - timedelta(days=n)).isoweekday() >= 6 else 1_000)
        for n in range(1, WINDOW + 1)
    }
    history(db, "h-weekday", daily)
    envelope(db, "h-weekday", tokens=10_000_000)
    f = forecast(db, now(db), "h-weekday")
    # 14 days hold 4 weekend days: 2 are trimmed with the 2 highest; (8 x 1000) / 10.
    assert f["active_days"] == 10
    assert f["daily_rate"] == 800
    assert Decimal(1_000) * 5 / 7 < f["daily_rate"] <= 1_000


def test_no_spend_means_a_rate_of_zero_and_no_run_out(db: Conn) -> None:
    envelope(db, "h-idle", tokens=1_000)
    f = forecast(db, now(db), "h-idle")
    assert (f["spent"], f["daily_rate"], f["projected_spend"], f["active_days"]) == (0, 0, 0, 0)
    assert f["runway_status"] == "lasts"
    assert f["runs_out_at"] is None
    assert f["projected_utilization"] == 0


def test_an_envelope_already_spent_is_exhausted_without_a_run_out_time(db: Conn) -> None:
    history(db, "h-spent", {0: 2_000})
    envelope(db, "h-spent", tokens=1_000)
    f = forecast(db, now(db), "h-spent")
    assert f["runway_status"] == "exhausted"
    assert f["runs_out_at"] is None


def test_each_class_has_its_own_runway_in_its_unit(db: Conn) -> None:
    history(db, "h-cpu", {n: 60 for n in range(1, WINDOW + 1)}, resource_type="cpu_seconds")
    envelope(db, "h-cpu", tokens=1_000, cpu=10_000)
    at = now(db)
    cpu = forecast(db, at, "h-cpu", "cpu_seconds")
    tokens = forecast(db, at, "h-cpu", "llm_tokens")
    assert (cpu["unit"], cpu["daily_rate"]) == ("CPU-seconds", 60)
    assert (tokens["unit"], tokens["daily_rate"]) == ("tokens", 0)


def test_the_window_is_policy_and_a_shorter_one_trims_one_day(db: Conn) -> None:
    db.execute(
        "SELECT adopt_economics_policy('{\"forecast_window_days\": 7}', 'ops', 'shorter window')"
    )
    daily = {n: 1_000 for n in range(1, 8)}
    daily[2] = 9_000
    daily[10] = 9_000  # outside the 7-day window
    history(db, "h-seven", daily)
    envelope(db, "h-seven", tokens=10_000_000)
    f = forecast(db, now(db), "h-seven")
    assert (f["window_days"], f["trimmed_days"]) == (7, 1)
    assert f["daily_rate"] == 1_000


def test_the_view_is_the_function_at_now_and_a_reader_reads_it(
    db: Conn, as_role: RoleSessions
) -> None:
    history(db, "h-read", {n: 1_000 for n in range(1, WINDOW + 1)})
    envelope(db, "h-read", tokens=10_000_000)
    reader = as_role("senate_reader")
    found = rows(
        reader,
        "SELECT resource_type, daily_rate FROM budget_forecast WHERE entity_id = 'h-read'"
        " ORDER BY resource_type",
    )
    assert [(r["resource_type"], r["daily_rate"]) for r in found] == [
        ("api_calls", 0),
        ("cpu_seconds", 0),
        ("llm_tokens", 1_000),
        ("storage_gb_hours", 0),
    ]


# --- policy: bad input is refused with its SQLSTATE and nothing is written -------------------

BAD_POLICY = [
    ("forecast_window_days", "2"),
    ("forecast_window_days", "91"),
    ("forecast_window_days", "-14"),
    ("forecast_alert_thresholds", "'{}'"),
    ("forecast_alert_thresholds", "'{0}'"),
    ("forecast_alert_thresholds", "'{-1}'"),
    ("forecast_alert_thresholds", "'{NaN}'"),
    ("forecast_alert_thresholds", "'{11}'"),
    ("forecast_alert_thresholds", "'{1e400}'"),
    ("forecast_alert_thresholds", "'{0.8,NULL}'"),
    ("forecast_alert_thresholds", "'{{0.8},{1.0}}'"),
    ("forecast_alert_thresholds", "'{0.5,0.6,0.7,0.8,0.9,1.0,1.1,1.2,1.3,1.4,1.5}'"),
    ("forecast_window_days", "NULL"),
]


def policy_versions(db: Conn) -> int:
    return int(scalar(db, "SELECT count(*) FROM economics_policy"))


@pytest.mark.parametrize(("column", "value"), BAD_POLICY)
def test_a_bad_forecast_setting_is_refused_by_the_table_naming_it_and_writes_nothing(
    db: Conn, column: str, value: str
) -> None:
    before = policy_versions(db)
    with pytest.raises(psycopg.Error) as exc:
        db.execute(
            f"INSERT INTO economics_policy (created_by, reason, {column})"
            f" VALUES ('ops', 'x', {value})"
        )
    expected = "23502" if value == "NULL" else "23514"
    assert exc.value.sqlstate == expected
    if expected == "23514":
        assert column in str(exc.value)  # the constraint is named after the column
    assert policy_versions(db) == before


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"forecast_window_days": 0}, "23514"),
        ({"forecast_window_days": 1000}, "23514"),
        ({"forecast_window_days": "fourteen"}, "22P02"),
        ({"forecast_window_days": 14.5}, "22P02"),
        ({"forecast_alert_thresholds": []}, "23514"),
        ({"forecast_alert_thresholds": [-0.5]}, "23514"),
        ({"forecast_alert_thresholds": [1.0, None]}, "23514"),
        ({"forecast_alert_thresholds": "1.0"}, "22P02"),
        ({"forecast_window_days": None}, "23502"),
    ],
)
def test_a_bad_forecast_setting_is_refused_by_adoption_and_writes_nothing(
    db: Conn, changes: dict[str, Any], expected: str
) -> None:
    before = policy_versions(db)
    with pytest.raises(psycopg.Error) as exc:
        db.execute("SELECT adopt_economics_policy(%s::jsonb, 'ops', 'why')", (json.dumps(changes),))
    assert exc.value.sqlstate == expected
    assert policy_versions(db) == before


def test_the_forecast_settings_default_to_a_two_week_window_and_one_threshold_of_100_percent(
    db: Conn,
) -> None:
    row = rows(
        db,
        "SELECT forecast_window_days, forecast_alert_thresholds"
        " FROM economics_policy WHERE is_active",
    )[0]
    assert row == {
        "forecast_window_days": 14,
        "forecast_alert_thresholds": [Decimal("1.0")],
    }


# --- forecast alerts ------------------------------------------------------------------------

CHANNEL = "senate_spend_alerts"


def runs_out_half_way(db: Conn, entity_id: str) -> datetime:
    """A steady 1 000 a day that, at now, runs out half-way through the rest of the period."""
    daily = {n: 1_000 for n in range(0, WINDOW + 1)}
    history(db, entity_id, daily)
    at = now(db)
    remaining = scalar(
        db,
        "SELECT extract(epoch FROM ends_at - %s) / 86400 FROM budget_period_bounds(%s)",
        (at, at),
    )
    envelope(
        db, entity_id, tokens=Decimal(period_spend(db, daily)) + 1_000 * Decimal(remaining) / 2
    )
    return at


def forecast_alerts(db: Conn, entity_id: str) -> list[dict[str, Any]]:
    return rows(
        db,
        "SELECT * FROM spend_alerts WHERE entity_id = %s AND alert_kind = 'forecast'"
        " ORDER BY threshold",
        (entity_id,),
    )


def test_a_forecast_alert_fires_once_per_threshold_per_period_and_is_pushed(
    db: Conn, connect: Any
) -> None:
    listener = connect()
    listener.execute(f"LISTEN {CHANNEL}")
    db.execute(
        "SELECT adopt_economics_policy('{\"forecast_alert_thresholds\": [0.5, 1.0]}', 'ops', 'two')"
    )
    at = runs_out_half_way(db, "h-alert")
    fired = rows(db, "SELECT * FROM check_forecast_alerts(%s)", (at,))
    assert [(a["entity_id"], a["threshold"], a["alert_kind"]) for a in fired] == [
        ("h-alert", Decimal("0.5"), "forecast"),
        ("h-alert", Decimal("1.0"), "forecast"),
    ]
    f = forecast(db, at, "h-alert")
    for a in fired:
        assert (a["spent"], a["projected_spend"], a["daily_rate"]) == (
            f["spent"],
            f["projected_spend"],
            f["daily_rate"],
        )
        assert a["runs_out_at"] == f["runs_out_at"]
        assert a["utilization"] == f["projected_utilization"]
    payloads = [json.loads(n.payload) for n in listener.notifies(timeout=5, stop_after=2)]
    assert [(p["alert_id"], p["alert_kind"]) for p in payloads] == [
        (a["alert_id"], "forecast") for a in fired
    ]
    # Again in the same period: nothing new, nothing pushed.
    assert rows(db, "SELECT * FROM check_forecast_alerts()") == []
    assert rows(db, "SELECT * FROM run_daily_check() WHERE action = 'forecast_alert'") == []
    assert list(listener.notifies(timeout=0.3)) == []
    assert len(forecast_alerts(db, "h-alert")) == 2


def test_the_daily_check_fires_the_forecast_alerts_due_once(db: Conn) -> None:
    runs_out_half_way(db, "h-daily")
    envelope(db, "h-lasting", tokens=10_000_000)
    history(db, "h-lasting", {n: 1_000 for n in range(1, WINDOW + 1)})
    first = rows(db, "SELECT * FROM run_daily_check() WHERE action = 'forecast_alert'")
    assert [(r["entity_id"], r["kind"]) for r in first] == [("h-daily", "forecast threshold 1.0")]
    assert "projected" in first[0]["detail"] and "runs out at" in first[0]["detail"]
    assert rows(db, "SELECT * FROM run_daily_check() WHERE action = 'forecast_alert'") == []
    assert len(forecast_alerts(db, "h-daily")) == 1
    assert forecast_alerts(db, "h-lasting") == []


def test_forecast_and_actual_alerts_of_one_threshold_are_distinct(db: Conn) -> None:
    history(db, "h-over", {0: 2_000})
    envelope(db, "h-over", tokens=1_000)
    rows(db, "SELECT * FROM run_daily_check()")
    kinds = rows(
        db,
        "SELECT alert_kind, threshold, projected_spend IS NULL AS no_projection"
        " FROM spend_alerts WHERE entity_id = 'h-over' ORDER BY alert_kind, threshold",
    )
    assert [(k["alert_kind"], k["threshold"], k["no_projection"]) for k in kinds] == [
        ("actual", Decimal("0.8"), True),
        ("actual", Decimal("1.0"), True),
        ("forecast", Decimal("1.0"), False),
    ]


def test_an_entity_with_no_spend_gets_no_forecast_alert_even_with_a_zero_budget(db: Conn) -> None:
    envelope(db, "h-zero", tokens=0)
    assert rows(db, "SELECT * FROM check_forecast_alerts()") == []


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        ("SELECT * FROM check_forecast_alerts(now() + interval '1 day')", "S3008"),
        ("SELECT * FROM check_forecast_alerts(NULL)", "S3008"),
        ("SELECT * FROM check_forecast_alerts(now(), 'hypothesis', NULL)", "22023"),
        ("SELECT * FROM check_forecast_alerts(now(), NULL, 'h-bad')", "22023"),
    ],
)
def test_check_forecast_alerts_refuses_bad_input_and_writes_nothing(
    db: Conn, call: str, expected: str
) -> None:
    runs_out_half_way(db, "h-bad")
    with pytest.raises(psycopg.Error) as exc:
        db.execute(call)
    assert exc.value.sqlstate == expected
    assert scalar(db, "SELECT count(*) FROM spend_alerts") == 0


def test_only_the_scheduler_may_fire_forecast_alerts(db: Conn, as_role: RoleSessions) -> None:
    runs_out_half_way(db, "h-role")
    for group in ("senate_reader", "senate_writer"):
        with pytest.raises(psycopg.Error) as exc:
            as_role(group).execute("SELECT * FROM check_forecast_alerts()")
        assert exc.value.sqlstate == "42501"
    assert len(rows(as_role("senate_admin"), "SELECT * FROM check_forecast_alerts()")) == 1


# --- throttling on forecast (0160) ----------------------------------------------------------


def runs_out_within_its_daily_allowance(db: Conn, entity_id: str) -> datetime:
    """runs_out_half_way with an explicit daily allowance far above its spend: only the
    forecast can throttle it."""
    at = runs_out_half_way(db, entity_id)
    db.execute(
        "SELECT set_daily_allowance('hypothesis', %s, 'llm_tokens', 1000000, 'chair', 'roomy')",
        (entity_id,),
    )
    return at


def throttle_actions(db: Conn) -> list[dict[str, Any]]:
    return rows(
        db,
        "SELECT * FROM run_daily_check() WHERE action IN ('throttled', 'released')"
        " ORDER BY action, entity_id, kind",
    )


def forecast_throttles(db: Conn, entity_id: str) -> list[dict[str, Any]]:
    return rows(
        db,
        "SELECT * FROM spend_throttles WHERE entity_id = %s AND kind = 'forecast'"
        " ORDER BY throttle_id",
        (entity_id,),
    )


def throttle_on_forecast(db: Conn, on: bool = True) -> None:
    db.execute(
        "SELECT adopt_economics_policy(%s::jsonb, 'ops', 'throttle on forecast')",
        (json.dumps({"throttle_on_forecast": on}),),
    )


def test_with_the_default_policy_a_forecast_to_run_out_throttles_nothing(db: Conn) -> None:
    assert scalar(db, "SELECT throttle_on_forecast FROM economics_policy WHERE is_active") is False
    runs_out_within_its_daily_allowance(db, "h-free")
    assert forecast(db, now(db), "h-free")["runway_status"] == "runs_out"
    actions = rows(db, "SELECT action, kind FROM run_daily_check()")
    assert {"action": "forecast_alert", "kind": "forecast threshold 1.0"} in actions
    assert [a for a in actions if a["action"] in ("throttled", "released")] == []
    assert scalar(db, "SELECT count(*) FROM spend_throttles") == 0
    assert can_spend(db, "h-free", 1)["allowed"] is True


def test_a_policy_that_throttles_on_forecast_throttles_a_runs_out_envelope_once(db: Conn) -> None:
    throttle_on_forecast(db)
    runs_out_within_its_daily_allowance(db, "h-runs-out")
    envelope(db, "h-lasting", tokens=10_000_000)
    history(db, "h-lasting", {n: 1_000 for n in range(1, WINDOW + 1)})

    first = throttle_actions(db)
    assert [(a["action"], a["entity_id"], a["resource_type"], a["kind"]) for a in first] == [
        ("throttled", "h-runs-out", "llm_tokens", "forecast")
    ]
    (placed,) = forecast_throttles(db, "h-runs-out")
    f = forecast(db, now(db), "h-runs-out")
    assert (placed["window_start"], placed["window_end"]) == (f["period_start"], f["period_end"])
    assert placed["throttled_until"] == f["period_ends_at"]
    assert (placed["spent"], placed["allowance"]) == (f["spent"], f["effective_budget"])
    assert placed["reason"].startswith("forecast: projected ")
    assert first[0]["detail"] == placed["reason"]
    # The gate refuses the class and the ledger says why.
    refused = can_spend(db, "h-runs-out", 1)
    assert refused["allowed"] is False and refused["reason"].startswith("throttled")
    ledger = rows(
        db,
        "SELECT cause_type, cause_id, note FROM budget_ledger"
        " WHERE account = 'entity_status' AND entity_id = 'h-runs-out'",
    )
    assert ledger == [
        {"cause_type": "throttle", "cause_id": str(placed["throttle_id"]), "note": placed["reason"]}
    ]
    # Again the same day: nothing released, nothing placed again.
    assert throttle_actions(db) == []
    assert len(forecast_throttles(db, "h-runs-out")) == 1
    assert forecast_throttles(db, "h-lasting") == []


def test_a_budget_rise_that_makes_the_forecast_last_releases_the_forecast_throttle(
    db: Conn,
) -> None:
    throttle_on_forecast(db)
    runs_out_within_its_daily_allowance(db, "h-raise")
    throttle_actions(db)
    db.execute(
        "UPDATE resource_budgets SET token_budget = token_budget * 10 WHERE entity_id = 'h-raise'"
    )
    (released,) = forecast_throttles(db, "h-raise")
    assert released["released_at"] is not None
    assert released["release_reason"].startswith("forecast within budget again")
    assert can_spend(db, "h-raise", 1)["allowed"] is True
    assert throttle_actions(db) == []


def test_turning_the_setting_off_releases_the_forecast_throttles_at_the_next_check(
    db: Conn,
) -> None:
    throttle_on_forecast(db)
    runs_out_within_its_daily_allowance(db, "h-off")
    throttle_actions(db)
    throttle_on_forecast(db, on=False)
    released = throttle_actions(db)
    assert [(a["action"], a["kind"]) for a in released] == [("released", "forecast")]
    assert "throttle_on_forecast is off" in released[0]["detail"]
    assert can_spend(db, "h-off", 1)["allowed"] is True


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"throttle_on_forecast": None}, "23502"),
        ({"throttle_on_forecast": "maybe"}, "22P02"),
        ({"throttle_on_forecast": 2}, "22P02"),
        ({"throttle_on_forecast": True, "forecast_window_days": 6}, "23514"),
    ],
)
def test_a_bad_throttle_on_forecast_setting_is_refused_and_writes_nothing(
    db: Conn, changes: dict[str, Any], expected: str
) -> None:
    before = policy_versions(db)
    with pytest.raises(psycopg.Error) as exc:
        db.execute("SELECT adopt_economics_policy(%s::jsonb, 'ops', 'why')", (json.dumps(changes),))
    assert exc.value.sqlstate == expected
    assert policy_versions(db) == before


def test_a_short_window_refuses_throttling_on_forecast_whichever_is_set_first(db: Conn) -> None:
    db.execute("SELECT adopt_economics_policy('{\"forecast_window_days\": 5}', 'ops', 'short')")
    before = policy_versions(db)
    with pytest.raises(psycopg.Error) as exc:
        throttle_on_forecast(db)
    assert exc.value.sqlstate == "23514"
    assert "throttle_on_forecast" in str(exc.value)  # the constraint is named after it
    assert policy_versions(db) == before
    db.execute("SELECT adopt_economics_policy('{\"forecast_window_days\": 7}', 'ops', 'a week')")
    throttle_on_forecast(db)
    with pytest.raises(psycopg.Error) as exc:
        db.execute("SELECT adopt_economics_policy('{\"forecast_window_days\": 6}', 'ops', 'x')")
    assert exc.value.sqlstate == "23514"
