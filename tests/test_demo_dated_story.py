"""The demo tells a dated story: its ledger, throttle and alert rows carry the simulated days
(as_of columns) while recorded_at / throttled_at / fired_at keep the wall-clock time of the run,
and explain_budget tells an entity's story day by day, without its unchanged rows on request."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from demo_support import LAST_DAY, migrated_database, simulate_small
from psycopg.rows import dict_row
from pytest_postgresql.executors import NoopExecutor

Conn = psycopg.Connection[Any]


@pytest.fixture(scope="module")
def story_url(postgresql_noproc: NoopExecutor) -> Iterator[str]:
    with migrated_database(postgresql_noproc) as url:
        simulate_small(url, seed=5)  # LAST_DAY: a fixed Wednesday in the past
        yield url


@pytest.fixture
def economy(story_url: str) -> Iterator[Conn]:
    with psycopg.connect(story_url, autocommit=True) as conn:
        yield conn


def rows(conn: Conn, query: str, params: Any = None) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query, params).fetchall()


def simulated_days(conn: Conn) -> tuple[dt.date, dt.date]:
    (row,) = rows(conn, "SELECT first_day, last_day FROM demo.settings")
    return row["first_day"], row["last_day"]


def day_of(conn: Conn, instant: dt.datetime) -> dt.date:
    found = conn.execute(
        "SELECT (%s::timestamptz AT TIME ZONE (SELECT time_zone FROM demo.settings))::date",
        (instant,),
    ).fetchone()
    assert found is not None
    return found[0]  # type: ignore[no-any-return]


def test_every_ledger_row_is_dated_in_the_simulated_days_and_recorded_now(economy: Conn) -> None:
    first, last = simulated_days(economy)
    ledger = rows(economy, "SELECT cause_type, as_of, recorded_at FROM budget_ledger")
    assert ledger
    for row in ledger:
        assert first <= day_of(economy, row["as_of"]) <= last, row
        # Written by this run, after the last simulated day: the ledger says when it was written.
        assert day_of(economy, row["recorded_at"]) > LAST_DAY, row
    # The story spans the simulated weeks, not one second.
    days = {day_of(economy, r["as_of"]) for r in ledger}
    assert len(days) >= 10
    assert min(days) == first
    recorded = [r["recorded_at"] for r in ledger]
    assert max(recorded) - min(recorded) < dt.timedelta(hours=1)


def test_each_rebalance_is_dated_at_its_as_of_and_each_throttle_on_its_day(economy: Conn) -> None:
    mismatched = rows(
        economy,
        "SELECT l.ledger_id FROM budget_ledger AS l JOIN rebalance_runs AS r "
        "ON l.cause_type = 'rebalance' AND l.cause_id = r.run_id::text WHERE l.as_of <> r.as_of",
    )
    assert mismatched == []
    assert rows(economy, "SELECT 1 FROM budget_ledger WHERE cause_type = 'rebalance'")

    throttles = rows(economy, "SELECT * FROM spend_throttles ORDER BY throttle_id")
    assert throttles
    for t in throttles:
        if t["kind"] == "daily_allowance":
            # Placed by the daily check of the day it judged: its window is that day.
            assert day_of(economy, t["throttled_as_of"]) == t["window_start"], t
        if t["released_at"] is not None:
            assert t["released_as_of"] >= t["throttled_as_of"], t
            assert day_of(economy, t["released_as_of"]) <= LAST_DAY, t
    released = [t for t in throttles if t["released_as_of"] is not None]
    assert len({day_of(economy, t["released_as_of"]) for t in released}) >= 3


def test_spend_alerts_are_dated_at_the_end_of_the_day_that_fired_them(economy: Conn) -> None:
    first, last = simulated_days(economy)
    alerts = rows(economy, "SELECT * FROM spend_alerts")
    assert alerts
    for a in alerts:
        day = day_of(economy, a["fired_as_of"])
        assert first <= day <= last and a["period_start"] <= day < a["period_end"], a
        assert day_of(economy, a["fired_at"]) > LAST_DAY, a


def test_explain_budget_tells_a_throttled_entitys_story_by_day(economy: Conn) -> None:
    (entity,) = rows(
        economy,
        "SELECT entity_type, entity_id FROM spend_throttles "
        "GROUP BY 1, 2 ORDER BY count(*) DESC, 1, 2 LIMIT 1",
    )
    args = (entity["entity_type"], entity["entity_id"])
    story = rows(economy, "SELECT * FROM explain_budget(%s, %s)", args)
    changed = rows(
        economy, "SELECT * FROM explain_budget(%s, %s, include_unchanged => false)", args
    )
    assert changed == [r for r in story if r["delta"] != 0]
    assert len(changed) < len(story)
    assert all(r["cause"].startswith(("throttle", "release")) for r in story if r["delta"] == 0)
    # In ledger order the simulated days never go back (within a day a release is as of its
    # start, though the daily check writes it after the Senate's session), and they span weeks.
    days = [day_of(economy, r["as_of"]) for r in story]
    assert days == sorted(days)
    assert days[-1] - days[0] >= dt.timedelta(days=14)
