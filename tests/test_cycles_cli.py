"""``senate-db cycle daily|weekly``: the review cycles where pg_cron is not installed."""

from __future__ import annotations

import os
import subprocess
import sys

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
