"""A review cycle run as of a past time dates its rows in that time (budget_ledger.as_of,
spend_throttles.throttled_as_of / released_as_of, spend_alerts.fired_as_of) and keeps the
wall-clock time they were written; explain_budget shows it and can leave out unchanged rows."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from cycles_support import (
    Conn,
    envelope,
    fund,
    noon,
    one,
    rows,
    scalar,
    scripted_weeks,
    spend,
    today,
)


def start_of(db: Conn, day: date) -> datetime:
    return scalar(  # type: ignore[no-any-return]
        db,
        "SELECT %s::date::timestamp AT TIME ZONE "
        "(SELECT time_zone FROM economics_policy WHERE is_active)",
        (day,),
    )


def end_of(db: Conn, day: date) -> datetime:
    return start_of(db, day + timedelta(days=1)) - timedelta(microseconds=1)


def clock(db: Conn) -> datetime:
    return scalar(db, "SELECT now()")  # type: ignore[no-any-return]


def test_a_past_days_check_dates_its_throttles_releases_and_alerts_in_that_day(db: Conn) -> None:
    before = clock(db)
    envelope(db, "h-1", tokens=7_000)
    first, second = today(db) - timedelta(days=2), today(db) - timedelta(days=1)
    # 6000 tokens in a day: over the derived daily allowance (1000) and past the 80 % alert.
    spend(db, "h-1", 6_000, at=noon(db, first))
    db.execute("SELECT * FROM run_daily_check(%s)", (first,))
    db.execute("SELECT * FROM run_daily_check(%s)", (second,))  # the day's window has ended

    throttle = one(db, "SELECT * FROM spend_throttles WHERE kind = 'daily_allowance'")
    assert throttle["throttled_as_of"] == end_of(db, first)
    assert throttle["released_as_of"] == start_of(db, second)
    # The clock columns still say when the rows were written: now, not in the past days.
    assert throttle["throttled_at"] >= before and throttle["released_at"] >= before

    ledger = rows(
        db,
        "SELECT cause_type, as_of, recorded_at FROM budget_ledger "
        "WHERE account = 'entity_status' AND entity_id = 'h-1' ORDER BY ledger_id",
    )
    assert [(r["cause_type"], r["as_of"]) for r in ledger] == [
        ("throttle", end_of(db, first)),
        ("release", start_of(db, second)),
    ]
    assert all(r["recorded_at"] >= before for r in ledger)

    alert = one(db, "SELECT * FROM spend_alerts WHERE entity_id = 'h-1' AND threshold = 0.8")
    assert alert["fired_as_of"] == end_of(db, first)
    assert alert["fired_at"] >= before

    story = rows(
        db,
        "SELECT cause, as_of FROM explain_budget('hypothesis', 'h-1') "
        "WHERE cause ~ '^(throttle|release)'",
    )
    assert [r["as_of"] for r in story] == [end_of(db, first), start_of(db, second)]


def test_todays_check_dates_its_rows_by_the_clock(db: Conn) -> None:
    envelope(db, "h-1", tokens=7_000)
    spend(db, "h-1", 1_500)
    db.execute("SELECT * FROM run_daily_check()")
    throttle = one(db, "SELECT * FROM spend_throttles")
    assert throttle["throttled_as_of"] == throttle["throttled_at"]
    (row,) = rows(
        db, "SELECT as_of, recorded_at FROM budget_ledger WHERE account = 'entity_status'"
    )
    assert row["as_of"] == row["recorded_at"]


def test_a_rebalance_applied_as_of_a_past_time_dates_its_ledger_rows_then(db: Conn) -> None:
    scripted_weeks(db)
    before = clock(db)
    as_of = scalar(db, "SELECT starts_at FROM budget_period_bounds()")
    changes = rows(
        db,
        "SELECT * FROM run_rebalance(as_of => %s, dry_run => false, actor => 'senate-chair')",
        (as_of,),
    )
    assert changes
    ledger = rows(db, "SELECT as_of, recorded_at FROM budget_ledger WHERE cause_type = 'rebalance'")
    assert ledger and all(r["as_of"] == as_of for r in ledger)
    assert all(r["recorded_at"] >= before for r in ledger)
    # Outside the rebalance, later changes in the session are as of their own time again.
    fund(db, 10)
    last = one(db, "SELECT as_of, recorded_at FROM budget_ledger ORDER BY ledger_id DESC LIMIT 1")
    assert last["as_of"] == last["recorded_at"]


def test_check_spend_alerts_dates_each_alert_at_its_as_of(db: Conn) -> None:
    envelope(db, "h-1", tokens=7_000)
    day = today(db) - timedelta(days=1)
    spend(db, "h-1", 6_000, at=noon(db, day))
    as_of = end_of(db, day)
    fired = rows(db, "SELECT * FROM check_spend_alerts(%s)", (as_of,))
    assert fired and all(a["fired_as_of"] == as_of for a in fired)


def test_a_ledger_insert_cannot_choose_its_as_of(db: Conn) -> None:
    db.execute(
        "INSERT INTO budget_ledger (account, resource_type, balance_before, balance_after, "
        "cause_type, actor, as_of) VALUES ('reserve', 'llm_tokens', 0, 0, 'direct_write', "
        "'someone', '2000-01-01')"
    )
    row = one(db, "SELECT as_of, recorded_at FROM budget_ledger")
    assert row["as_of"] == row["recorded_at"]


def test_only_the_owner_may_declare_the_as_of_of_changes(db: Conn) -> None:
    for role in ("senate_reader", "senate_writer", "senate_reviewer", "senate_admin"):
        assert not scalar(
            db,
            "SELECT has_function_privilege(%s, 'senate.set_change_as_of(timestamptz)', 'EXECUTE')",
            (role,),
        ), role


def test_explain_budget_can_leave_out_the_rows_that_changed_no_amount(db: Conn) -> None:
    envelope(db, "h-1", tokens=7_000, cpu=70)
    spend(db, "h-1", 1_500)
    db.execute("SELECT * FROM run_daily_check()")
    every = rows(db, "SELECT cause, delta FROM explain_budget('hypothesis', 'h-1')")
    changed = rows(
        db,
        "SELECT cause, delta FROM explain_budget('hypothesis', 'h-1', include_unchanged => false)",
    )
    assert any(r["delta"] == 0 for r in every)
    assert changed == [r for r in every if r["delta"] != 0]
    assert len(changed) == 2  # the envelope's tokens and CPU-seconds
    assert rows(db, "SELECT * FROM explain_budget('hypothesis', 'h-1', true)") == rows(
        db, "SELECT * FROM explain_budget('hypothesis', 'h-1')"
    )
