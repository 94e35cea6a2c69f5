"""``senate-db cycle KIND``: the periodic jobs and the daily round, without pg_cron."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from cycles_support import Conn, envelope, scalar, scripted_weeks, spend

from senate_db.target import DATABASE_ENV


def senate_db(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != DATABASE_ENV}
    return subprocess.run(
        [sys.executable, "-m", "senate_db", *args],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=180,
    )


def test_cycle_daily_without_apply_shows_the_throttles_and_writes_nothing(
    db: Conn, db_url: str
) -> None:
    envelope(db, "h-1", tokens=7_000)
    spend(db, "h-1", 1_500)
    result = senate_db("cycle", "daily", "--database", db_url)
    assert result.returncode == 0, result.stderr
    assert "dry run, nothing written" in result.stdout
    assert "throttled" in result.stdout and "daily_allowance" in result.stdout
    assert "(1 row)" in result.stdout
    assert scalar(db, "SELECT count(*) FROM spend_throttles") == 0


def test_cycle_daily_with_apply_throttles_and_a_second_run_finds_nothing_to_do(
    db: Conn, db_url: str
) -> None:
    envelope(db, "h-1", tokens=7_000)
    spend(db, "h-1", 1_500)
    first = senate_db("cycle", "daily", "--apply", "--database", db_url)
    assert first.returncode == 0, first.stderr
    assert "applied" in first.stdout
    assert scalar(db, "SELECT count(*) FROM spend_throttles") == 1
    second = senate_db("cycle", "daily", "--apply", "--database", db_url)
    assert "(0 rows)" in second.stdout


def test_cycle_daily_compacts_the_weeks_usage_rollups_first_and_only_with_apply(
    db: Conn, db_url: str
) -> None:
    envelope(db, "h-1", tokens=7_000)
    db.execute(
        "INSERT INTO senate.usage_rollups (entity_type, entity_id, resource_type, usage_day, "
        "resource_subclass, shard, amount_total, cost_total_usd, usage_rows) "
        "SELECT 'hypothesis', 'h-1', 'cpu_seconds', "
        "(now() AT TIME ZONE senate.policy_time_zone())::date - 2, '', s, 1, 0, 1 "
        "FROM generate_series(3, 7) AS s"
    )
    rows = "SELECT count(*) FROM senate.usage_rollups WHERE entity_id = 'h-1'"
    dry = senate_db("cycle", "daily", "--database", db_url)
    assert "usage rollups compacted: 1 keys" in dry.stdout, dry.stdout + dry.stderr
    assert scalar(db, rows) == 5
    applied = senate_db("cycle", "daily", "--apply", "--database", db_url)
    assert applied.returncode == 0, applied.stderr
    assert scalar(db, rows) == 1
    assert scalar(db, "SELECT sum(amount_total) FROM senate.usage_rollups") == 5


def test_cycle_weekly_prints_the_plan_and_applies_it_once(db: Conn, db_url: str) -> None:
    scripted_weeks(db)
    dry = senate_db("cycle", "weekly", "--database", db_url)
    assert dry.returncode == 0, dry.stderr
    for reason in (
        "idle_reclaim",
        "sustained_low_roi",
        "strong_roi_market_support",
        "reassigned_idle_budget",
        "reserve",
    ):
        assert reason in dry.stdout
    assert "(7 rows)" in dry.stdout
    assert scalar(db, "SELECT count(*) FROM rebalance_runs") == 0

    applied = senate_db(
        "cycle", "weekly", "--apply", "--actor", "senate-chair", "--database", db_url
    )
    assert applied.returncode == 0, applied.stderr
    assert "(7 rows)" in applied.stdout
    assert scalar(db, "SELECT actor FROM rebalance_runs") == "senate-chair"

    again = senate_db("cycle", "weekly", "--apply", "--database", db_url)
    assert again.returncode == 0, again.stderr
    assert "already applied" in again.stdout and "(0 rows)" in again.stdout
    assert scalar(db, "SELECT count(*) FROM rebalance_runs") == 1


def test_cycle_reports_a_bad_as_of_in_one_line(db_url: str) -> None:
    for kind, value, sqlstate in (
        ("daily", "not-a-date", "22007"),
        ("weekly", "2999-01-01", "S3008"),
    ):
        result = senate_db("cycle", kind, "--as-of", value, "--database", db_url)
        assert result.returncode != 0
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("senate-db: ")
        assert sqlstate in lines[0]


def an_economy_with_work_for_every_job(db: Conn) -> None:
    """h-1 over its period budget and daily allowance today, an expired hold on h-2, a rollup
    key of h-3 in five writer-shard rows two days ago."""
    envelope(db, "h-1", tokens=1_000)
    spend(db, "h-1", 1_500)
    envelope(db, "h-2", tokens=100_000)
    db.execute(
        "SELECT reserve_spend('hypothesis', 'h-2', 'llm_tokens', 10, interval '1 millisecond')"
    )
    db.execute("SELECT pg_sleep(0.01)")  # the hold is past its expiry
    envelope(db, "h-3", cpu=1_000)
    db.execute(
        "INSERT INTO senate.usage_rollups (entity_type, entity_id, resource_type, usage_day, "
        "resource_subclass, shard, amount_total, cost_total_usd, usage_rows) "
        "SELECT 'hypothesis', 'h-3', 'cpu_seconds', "
        "(now() AT TIME ZONE senate.policy_time_zone())::date - 2, '', s, 1, 0, 1 "
        "FROM generate_series(3, 7) AS s"
    )


#: Each job's cycle kind, what it writes (a count), that count before and after --apply.
JOB_WRITES = {
    # Spend alerts on actual spend (the daily cycle also fires forecast alerts, 0152).
    "alerts": (
        "SELECT count(*) FROM spend_alerts WHERE entity_id = 'h-1' AND alert_kind = 'actual'",
        0,
        2,
    ),
    "reservations": (
        "SELECT count(*) FROM spend_reservations WHERE release_reason = 'expired'",
        0,
        1,
    ),
    "check": ("SELECT count(*) FROM spend_throttles WHERE entity_id = 'h-1'", 0, 2),
    "snapshot": ("SELECT count(*) FROM reserve_snapshots", 0, 4),
    "compact": ("SELECT count(*) FROM senate.usage_rollups WHERE entity_id = 'h-3'", 5, 1),
}


@pytest.mark.parametrize("kind", sorted(JOB_WRITES))
def test_each_scheduled_job_has_a_cycle_that_writes_only_with_apply(
    db: Conn, db_url: str, kind: str
) -> None:
    an_economy_with_work_for_every_job(db)
    count, before, after = JOB_WRITES[kind]
    dry = senate_db("cycle", kind, "--database", db_url)
    assert dry.returncode == 0, dry.stderr
    assert "dry run, nothing written" in dry.stdout
    assert scalar(db, count) == before
    applied = senate_db("cycle", kind, "--apply", "--database", db_url)
    assert applied.returncode == 0, applied.stderr
    assert ": applied" in applied.stdout
    assert scalar(db, count) == after


def test_cycle_daily_also_cleans_up_reservations_and_takes_the_snapshot_only_with_apply(
    db: Conn, db_url: str
) -> None:
    an_economy_with_work_for_every_job(db)
    dry = senate_db("cycle", "daily", "--database", db_url)
    assert dry.returncode == 0, dry.stderr
    for notice in (
        "notice: usage rollups compacted: 1 keys, ",  # shard rows merged: 4 or 5
        "notice: spend reservations: 1 expired, 0 deleted",
        "notice: economy snapshot at ",
    ):
        assert notice in dry.stdout
    writes = {kind: scalar(db, count) for kind, (count, _, _) in JOB_WRITES.items()}
    assert writes == {kind: before for kind, (_, before, _) in JOB_WRITES.items()}

    applied = senate_db("cycle", "daily", "--apply", "--database", db_url)
    assert applied.returncode == 0, applied.stderr
    writes = {kind: scalar(db, count) for kind, (count, _, _) in JOB_WRITES.items()}
    assert writes == {kind: after for kind, (_, _, after) in JOB_WRITES.items()}
    assert scalar(db, "SELECT count(*) FROM budget_snapshots WHERE entity_type = 'hypothesis'")


def test_cycle_daily_for_a_past_day_records_the_snapshot_at_the_end_of_that_day(
    db: Conn, db_url: str
) -> None:
    day = scalar(
        db, "SELECT (now() AT TIME ZONE senate.policy_time_zone())::date - 3"
    )  # policy time zone
    applied = senate_db("cycle", "daily", "--apply", "--as-of", str(day), "--database", db_url)
    assert applied.returncode == 0, applied.stderr
    assert scalar(
        db,
        "SELECT DISTINCT snapshot_at = ((%s::date + 1)::timestamp AT TIME ZONE"
        " senate.policy_time_zone()) - interval '1 microsecond' FROM reserve_snapshots",
        (day,),
    )


def test_cycle_refuses_options_its_kind_does_not_take_in_one_line(db_url: str) -> None:
    for args in (
        ("reservations", "--as-of", "2026-01-01"),
        ("alerts", "--actor", "someone"),
    ):
        result = senate_db("cycle", *args, "--database", db_url)
        assert result.returncode == 1
        lines = result.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("senate-db: ")
        assert result.stdout == ""
