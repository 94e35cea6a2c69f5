"""How good is the runway forecast (issue 18, point 3; migration 0161): forecast_backtest.

Histories are spend at noon (policy time zone, UTC) on days before today, far enough back that
every scored forecast has a full 14-day window. The forecast made at the start of day d of a
week is spent-before-d + rate x days left, with rate the trimmed mean of the 14 days before d
(2 dropped at each end); it is scored against what the week spent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from cycles_support import Conn, envelope, noon, period_start, rows, scalar, today
from reliability_support import RoleSessions, role_sessions

HISTORY_DAYS = 56


@pytest.fixture
def as_role(db_url: str, db: Conn) -> Iterator[RoleSessions]:
    yield from role_sessions(db_url, db)


def spend_on(
    db: Conn,
    entity_id: str,
    amount_of: Callable[[date], int],
    *,
    entity_type: str = "hypothesis",
    days: int = HISTORY_DAYS,
) -> None:
    """Spend amount_of(day) tokens at noon of each of the `days` days before today."""
    day0 = today(db)
    for n in range(1, days + 1):
        day = day0 - timedelta(days=n)
        amount = amount_of(day)
        if amount:
            db.execute(
                "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount, model,"
                " created_at) VALUES (%s, %s, 'llm_tokens', %s, 'claude-haiku', %s)",
                (entity_type, entity_id, amount, noon(db, day)),
            )


def weekdays_only(day: date) -> int:
    return 0 if day.isoweekday() >= 6 else 1_000


def two_weeks(db: Conn) -> tuple[date, date]:
    """The two complete weeks before the current one."""
    monday = period_start(db)
    return monday - timedelta(days=14), monday - timedelta(days=1)


def backtest(db: Conn, from_day: date, to_day: date, **where: Any) -> list[dict[str, Any]]:
    found = rows(db, "SELECT * FROM forecast_backtest(%s, %s)", (from_day, to_day))
    return [r for r in found if all(r[k] == v for k, v in where.items())]


def test_a_steady_spender_is_forecast_without_error_on_every_day_of_the_period(db: Conn) -> None:
    spend_on(db, "h-steady", lambda _: 1_000)
    found = backtest(db, *two_weeks(db))
    assert found, "nothing scored"
    for r in found:
        assert (r["wape"], r["bias"], r["mape"], r["median_ape"], r["mean_abs_error"]) == (
            0,
            0,
            0,
            0,
            0,
        ), r
    overall = backtest(db, *two_weeks(db), entity_type=None, day_of_period=None)
    assert [(r["resource_type"], r["unit"], r["forecasts"], r["zero_actual"]) for r in overall] == [
        ("llm_tokens", "tokens", 14, 0)
    ]


def test_a_weekday_spender_s_errors_follow_the_documented_formula_day_by_day(db: Conn) -> None:
    spend_on(db, "h-weekday", weekdays_only)
    by_day = {
        r["day_of_period"]: r
        for r in backtest(db, *two_weeks(db), entity_type="hypothesis")
        if r["day_of_period"] is not None
    }
    assert sorted(by_day) == list(range(1, 8))
    # Any 14 days hold 4 weekend days: drop 2 of them and 2 busy days, (8 x 1000) / 10 = 800.
    for d, r in by_day.items():
        projected = 1_000 * min(d - 1, 5) + 800 * (8 - d)
        error = Decimal(projected - 5_000)
        assert r["forecasts"] == 2
        assert r["mean_abs_error"] == abs(error)
        assert r["bias"] == round(error / 5_000, 6)
        assert r["wape"] == r["mape"] == r["median_ape"] == round(abs(error) / 5_000, 6)
    # Over the whole week it over-projects: the rate is below a weekday's and above a weekend's.
    (week,) = backtest(db, *two_weeks(db), entity_type="hypothesis", day_of_period=None)
    assert week["forecasts"] == 14 and week["bias"] > 0


def test_each_entity_kind_has_its_own_errors_and_the_all_kinds_row_pools_them(db: Conn) -> None:
    spend_on(db, "h-steady", lambda _: 1_000)
    spend_on(db, "a-weekday", weekdays_only, entity_type="analysis")
    kinds = {
        r["entity_type"]: r
        for r in backtest(db, *two_weeks(db), day_of_period=None)
        if r["resource_type"] == "llm_tokens"
    }
    assert set(kinds) == {None, "analysis", "hypothesis"}
    assert kinds["hypothesis"]["wape"] == 0
    assert kinds["analysis"]["wape"] > 0
    assert kinds[None]["forecasts"] == 28
    assert 0 < kinds[None]["mape"] < kinds["analysis"]["mape"]


def test_only_budget_periods_that_have_ended_are_scored(db: Conn) -> None:
    spend_on(db, "h-steady", lambda _: 1_000)
    monday = period_start(db)
    (overall,) = backtest(
        db, monday - timedelta(days=7), today(db), day_of_period=None, entity_type=None
    )
    assert overall["forecasts"] == 7  # last week's days; this week's period has not ended


def test_a_period_that_spent_nothing_counts_apart_and_stays_out_of_the_percentages(
    db: Conn,
) -> None:
    monday = period_start(db)
    last_week = monday - timedelta(days=7)
    # Spent every day until the week before last ended, nothing last week.
    spend_on(db, "h-stopped", lambda day: 1_000 if day < last_week else 0)
    (overall,) = backtest(
        db, last_week, monday - timedelta(days=1), day_of_period=None, entity_type=None
    )
    assert overall["forecasts"] == overall["zero_actual"] > 0
    assert overall["mape"] is None and overall["wape"] is None and overall["bias"] is None
    assert overall["mean_abs_error"] > 0


def test_no_spend_means_nothing_to_score(db: Conn) -> None:
    envelope(db, "h-idle", tokens=1_000)
    assert backtest(db, *two_weeks(db)) == []


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("NULL, current_date - 1", "S3008"),
        ("current_date - 7, NULL", "S3008"),
        ("current_date - 7, current_date + 1", "S3008"),
        ("current_date - 1, current_date - 7", "S3009"),
        ("current_date - 400, current_date - 1", "S3009"),
    ],
)
def test_a_bad_range_is_refused_with_its_sqlstate(db: Conn, args: str, expected: str) -> None:
    with pytest.raises(psycopg.Error) as exc:
        db.execute(f"SELECT * FROM forecast_backtest({args})")
    assert exc.value.sqlstate == expected


def test_a_reader_may_run_the_backtest(db: Conn, as_role: RoleSessions) -> None:
    spend_on(db, "h-steady", lambda _: 1_000)
    reader = as_role("senate_reader")
    found = rows(reader, "SELECT * FROM forecast_backtest(current_date - 21, current_date - 1)")
    assert found and all(r["wape"] == 0 for r in found)


def test_the_report_s_runway_lists_what_runs_out_soonest_first(db: Conn) -> None:
    at = scalar(db, "SELECT now()")
    remaining = scalar(
        db,
        "SELECT extract(epoch FROM ends_at - %s) / 86400 FROM budget_period_bounds(%s)",
        (at, at),
    )
    spend_on(db, "h-soon", lambda _: 1_000, days=14)
    spend_on(db, "h-later", lambda _: 1_000, days=14)
    spend_on(db, "h-lasting", lambda _: 1_000, days=14)
    spent = scalar(
        db,
        "SELECT coalesce(sum(amount_total), 0) FROM senate.usage_rollups "
        "WHERE entity_id = 'h-soon' AND usage_day >= %s",
        (period_start(db),),
    )
    left = 1_000 * Decimal(remaining)
    envelope(db, "h-soon", tokens=Decimal(spent) + left / 4)
    envelope(db, "h-later", tokens=Decimal(spent) + left / 2)
    envelope(db, "h-lasting", tokens=Decimal(spent) + left * 2)
    found = rows(db, "SELECT * FROM senate_report_runway")
    assert [(r["entity_id"], r["resource_type"]) for r in found] == [
        ("h-soon", "llm_tokens"),
        ("h-later", "llm_tokens"),
    ]
    exact = rows(
        db,
        "SELECT entity_id FROM budget_forecast WHERE runway_status = 'runs_out'"
        " ORDER BY runs_out_at",
    )
    assert [r["entity_id"] for r in found] == [r["entity_id"] for r in exact]
    assert [r["runway_days"] for r in found] == sorted(r["runway_days"] for r in found)
    assert all(r["runs_out_local"].date() < r["period_end"] for r in found)
    assert all(r["daily_rate"] == 1_000 for r in found)
