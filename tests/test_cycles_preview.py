"""preview_rebalance (issue 16, point 4 "Preview"): a labelled dry run of the window that will
be reviewed next (the previous week until it is applied, then the current week so far) that an
analyst (senate_reader, a real LOGIN role) can run and that writes nothing; a plain NOTICE with
the run id when the window asked for was already applied; a future as_of allowed for a preview.
run_rebalance's own dry run now says so too when its window was applied."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from cycles_support import (
    EXPECTED_PLAN,
    Conn,
    ledger_count,
    period_start,
    rows,
    scalar,
    scripted_weeks,
)
from reliability_support import DENIED, RoleSessions, role_sessions, sqlstate_of

APPLY = "SELECT * FROM run_rebalance(dry_run => false, actor => 'senate-chair')"


@pytest.fixture
def as_role(db_url: str, db: Conn) -> Iterator[RoleSessions]:
    yield from role_sessions(db_url, db)


Found = tuple[list[dict[str, Any]], list[str]]


def with_notices(conn: Conn, sql: str, params: Any = None) -> Found:
    """The rows of ``sql`` and the NOTICEs it raised."""
    notices: list[str] = []

    def keep(diag: psycopg.errors.Diagnostic) -> None:
        notices.append(diag.message_primary or "")

    conn.add_notice_handler(keep)
    try:
        found = rows(conn, sql, params)
    finally:
        conn.remove_notice_handler(keep)
    return found, notices


def preview(conn: Conn, which: str = "next") -> Found:
    return with_notices(conn, "SELECT * FROM preview_rebalance(%s)", (which,))


def written(db: Conn) -> dict[str, Any]:
    """Everything a rebalance could write."""
    return {
        "runs": scalar(db, "SELECT count(*) FROM rebalance_runs"),
        "changes": scalar(db, "SELECT count(*) FROM rebalance_changes"),
        "ledger": ledger_count(db),
        "budgets": db.execute("SELECT * FROM resource_budgets ORDER BY 1, 2").fetchall(),
        "reserve": db.execute("SELECT * FROM senate_reserve ORDER BY 1").fetchall(),
    }


def windows(found: list[dict[str, Any]]) -> set[tuple[date, date, str, Any]]:
    return {(r["window_start"], r["window_end"], r["label"], r["run_id"]) for r in found}


def plan_of(found: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(r["entity_id"], r["resource_type"], r["delta"], r["reason"]) for r in found]


def conserved(found: list[dict[str, Any]]) -> bool:
    per_class: dict[str, Decimal] = {}
    for r in found:
        per_class[r["resource_type"]] = per_class.get(r["resource_type"], Decimal(0)) + r["delta"]
    return all(total == 0 for total in per_class.values())


def test_the_reader_can_preview_the_previous_and_the_current_week_without_writing(
    db: Conn, as_role: RoleSessions
) -> None:
    scripted_weeks(db)
    monday = period_start(db)
    before = written(db)
    reader = as_role("senate_reader")

    previous, notices = preview(reader, "previous")
    assert windows(previous) == {
        (monday - timedelta(days=7), monday, "previous week, not applied yet", None)
    }
    assert plan_of(previous) == EXPECTED_PLAN  # exactly what run_rebalance() plans
    assert {r["unit"] for r in previous} == {"tokens", "CPU-seconds"}
    assert any("previous week, not applied yet" in n for n in notices)
    assert any("nothing was written" in n for n in notices)

    current, notices = preview(reader, "current")
    assert windows(current) == {(monday, monday + timedelta(days=7), "current week so far", None)}
    next_monday = scalar(db, "SELECT ends_at FROM budget_period_bounds()")
    assert {r["run_as_of"] for r in current} == {next_monday}
    assert current and conserved(current)
    assert any("current week so far" in n for n in notices)

    assert written(db) == before, "a preview writes no run, plan, ledger, budget or reserve row"


def test_next_is_the_previous_week_until_it_is_applied_then_the_current_week_so_far(
    db: Conn, as_role: RoleSessions
) -> None:
    scripted_weeks(db)
    monday = period_start(db)
    reader = as_role("senate_reader")

    due, _ = preview(reader)
    assert windows(due) == {
        (monday - timedelta(days=7), monday, "next window: previous week, not applied yet", None)
    }
    db.execute(APPLY).fetchall()
    after, _ = preview(reader)
    assert windows(after) == {
        (monday, monday + timedelta(days=7), "next window: current week so far", None)
    }


def test_an_applied_window_is_not_planned_again_and_a_notice_names_its_run(
    db: Conn, as_role: RoleSessions
) -> None:
    scripted_weeks(db)
    monday = period_start(db)
    db.execute(APPLY).fetchall()
    run_id = scalar(db, "SELECT max(run_id) FROM rebalance_runs")
    before = written(db)
    reader = as_role("senate_reader")

    applied, notices = preview(reader, "previous")
    label = f"already applied by run {run_id}"
    assert windows(applied) == {(monday - timedelta(days=7), monday, label, run_id)}
    assert sorted(plan_of(applied), key=str) == sorted(
        db.execute(
            "SELECT entity_id, resource_type, delta, reason FROM rebalance_changes"
            " WHERE run_id = %s",
            (run_id,),
        ).fetchall(),
        key=str,
    )
    assert any(f"already applied by run {run_id}" in n for n in notices)
    assert written(db) == before

    # The scheduler's own dry run of that window still shows what the rules would do now, but
    # no longer silently: its NOTICE names the run that applied the window.
    found, notices = with_notices(db, "SELECT * FROM run_rebalance()")
    assert found
    assert any(f"already applied by run {run_id}" in n for n in notices)
    assert written(db) == before


def test_a_future_as_of_is_allowed_for_a_preview_up_to_the_current_window(
    db: Conn, as_role: RoleSessions
) -> None:
    scripted_weeks(db)
    monday = period_start(db)
    reader = as_role("senate_reader")
    next_week: datetime = scalar(db, "SELECT now() + interval '7 days'")
    found, _ = with_notices(reader, "SELECT * FROM preview_rebalance(as_of => %s)", (next_week,))
    assert windows(found) == {(monday, monday + timedelta(days=7), "current week so far", None)}
    assert {r["run_as_of"] for r in found} == {next_week}

    # run_rebalance still refuses the future; a window that has not begun cannot be previewed.
    assert sqlstate_of(db, "SELECT * FROM run_rebalance(now() + interval '1 day')") == "S3008"
    too_far = "SELECT * FROM preview_rebalance(as_of => now() + interval '14 days')"
    assert sqlstate_of(reader, too_far) == "S3008"
    assert sqlstate_of(reader, "SELECT * FROM preview_rebalance(as_of => NULL)") == "S3008"
    assert sqlstate_of(reader, "SELECT * FROM preview_rebalance('tomorrow')") == "22023"
    assert sqlstate_of(reader, "SELECT * FROM preview_rebalance(NULL::text)") == "22023"


def test_a_preview_in_a_read_only_transaction_says_it_needs_a_read_write_one(
    db: Conn, as_role: RoleSessions
) -> None:
    scripted_weeks(db)
    reader = as_role("senate_reader", autocommit=False)
    reader.execute("SET TRANSACTION READ ONLY")
    with pytest.raises(psycopg.Error) as caught:
        reader.execute("SELECT * FROM preview_rebalance('current')").fetchall()
    assert caught.value.sqlstate == "25006"
    reader.rollback()

    # An applied window is read, not planned: that works read-only too.
    db.execute(APPLY).fetchall()
    reader.execute("SET TRANSACTION READ ONLY")
    assert reader.execute("SELECT count(*) FROM preview_rebalance('previous')").fetchone() != (0,)
    reader.rollback()


def test_the_reader_reads_the_runs_and_plans_but_can_neither_apply_nor_call_the_engine(
    db: Conn, as_role: RoleSessions
) -> None:
    scripted_weeks(db)
    db.execute(APPLY).fetchall()
    reader = as_role("senate_reader")
    assert scalar(reader, "SELECT count(*) FROM rebalance_runs") == 1
    assert scalar(reader, "SELECT count(*) FROM rebalance_changes") == len(EXPECTED_PLAN)
    assert sqlstate_of(reader, "SELECT * FROM run_rebalance()") == DENIED
    engine = "SELECT * FROM senate.plan_rebalance(now(), true, 'x')"
    assert sqlstate_of(reader, engine) == DENIED
    assert sqlstate_of(reader, "INSERT INTO rebalance_runs DEFAULT VALUES") == DENIED
    for role in ("senate_writer", "senate_reviewer", "senate_admin"):
        member = as_role(role)
        assert scalar(member, "SELECT count(*) FROM preview_rebalance('current')") >= 0
