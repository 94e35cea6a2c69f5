"""Drive the demo workload generator (``db/demo/workload.sql``); the logic is all in SQL.

The SQL file creates schema ``demo`` in the database it is loaded into: ``demo.generate_workload``
sets up the economy, ``demo.advance_day`` simulates one day (workload, then the review cycles the
database has), ``demo.week_log`` sums the days per budget period. This module loads the file,
calls those functions in order and hands back their rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import class_row

from senate_db import paths
from senate_db.errors import SenateDbError

SIZES = ("small", "default", "large")
DEFAULT_SEED = 42

Conn = psycopg.Connection[Any]


def sql_file() -> Path:
    path = paths.db_dir() / "demo" / "workload.sql"
    if not path.is_file():
        raise SenateDbError(f"demo workload not found: {path} (install with `pip install -e .`)")
    return path


@dataclass(frozen=True)
class Setup:
    first_day: dt.date
    last_day: dt.date
    entities: int
    envelopes: int
    families: int  # families (issue 19): roots with descendants, a knowledge gap each
    family_members: int  # entities in those families, the roots included

    @property
    def days(self) -> list[dt.date]:
        count = (self.last_day - self.first_day).days + 1
        return [self.first_day + dt.timedelta(days=i) for i in range(count)]


@dataclass(frozen=True)
class CycleSteps:
    daily_check: bool
    rebalance: bool


@dataclass(frozen=True)
class DayLog:
    day: dt.date
    usage_rows: int
    usage_cost_usd: Decimal
    market_signals: int
    kg_edges: int
    proposals_filed: int
    approved: int
    rejected: int
    deferred: int
    daily_check: dict[str, int] | None
    rebalance_changes: int | None
    rebalance_summary: dict[str, Any] | None


@dataclass(frozen=True)
class WeekLog:
    week_start: dt.date
    first_day: dt.date
    last_day: dt.date
    usage_rows: int
    usage_cost_usd: Decimal
    kg_edges: int
    proposals_filed: int
    approved: int
    rejected: int
    deferred: int
    daily_check: dict[str, int] | None
    rebalance_changes: int | None
    rebalance_summary: dict[str, Any] | None


def install(conn: Conn) -> None:
    """Create (or replace) the generator's schema ``demo`` in ``conn``'s database."""
    conn.execute(sql_file().read_text(encoding="utf-8").encode())


def generate(conn: Conn, seed: int, size: str, last_day: dt.date | None = None) -> Setup:
    with conn.cursor(row_factory=class_row(Setup)) as cur:
        row = cur.execute(
            "SELECT * FROM demo.generate_workload(%s, %s, %s)", (seed, size, last_day)
        ).fetchone()
    assert row is not None
    return row


def cycle_steps(conn: Conn) -> CycleSteps:
    with conn.cursor(row_factory=class_row(CycleSteps)) as cur:
        row = cur.execute("SELECT * FROM demo.cycle_steps()").fetchone()
    assert row is not None
    return row


def advance(conn: Conn, day: dt.date) -> DayLog:
    with conn.cursor(row_factory=class_row(DayLog)) as cur:
        row = cur.execute("SELECT * FROM demo.advance_day(%s)", (day,)).fetchone()
    assert row is not None
    return row


def weeks(conn: Conn) -> list[WeekLog]:
    with conn.cursor(row_factory=class_row(WeekLog)) as cur:
        return cur.execute("SELECT * FROM demo.week_log ORDER BY week_start").fetchall()


def simulate(
    conn: Conn,
    seed: int,
    size: str,
    *,
    last_day: dt.date | None = None,
    on_day: Callable[[DayLog, Setup], None] | None = None,
) -> Setup:
    """Install the generator, set up the economy and simulate every day in order."""
    install(conn)
    setup = generate(conn, seed, size, last_day)
    for day in setup.days:
        log = advance(conn, day)
        if on_day:
            on_day(log, setup)
    return setup
