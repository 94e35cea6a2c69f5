"""Shared helpers for the review-cycle tests (tests/test_cycles_*.py).

Datasets are scripted relative to the database clock: ``period_start(db)`` is the Monday that
starts the current budget period (policy time zone, UTC by default), and spend, gains and
envelopes are dated from it, so the same script describes the same weeks whenever it runs.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
from governance_support import as_senator
from psycopg.rows import dict_row

Conn = psycopg.Connection[Any]
Connect = Callable[..., Conn]

BUDGET_COLUMN = {
    "llm_tokens": "token_budget",
    "cpu_seconds": "cpu_budget",
    "storage_gb_hours": "storage_budget_gb",
    "api_calls": "api_call_budget",
}


def scalar(conn: Conn, sql: str, params: Any = None) -> Any:
    row = conn.execute(sql, params).fetchone()
    assert row is not None, sql
    return row[0]


def rows(conn: Conn, sql: str, params: Any = None) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(sql, params).fetchall()


def one(conn: Conn, sql: str, params: Any = None) -> dict[str, Any]:
    found = rows(conn, sql, params)
    assert len(found) == 1, (sql, found)
    return found[0]


def period_start(conn: Conn) -> date:
    """First day of the current budget period (the policy's time zone)."""
    return scalar(conn, "SELECT period_start FROM budget_period_bounds()")  # type: ignore[no-any-return]


def today(conn: Conn) -> date:
    return scalar(  # type: ignore[no-any-return]
        conn,
        "SELECT (now() AT TIME ZONE "
        "(SELECT time_zone FROM economics_policy WHERE is_active))::date",
    )


def noon(conn: Conn, day: date) -> datetime:
    """12:00 of a local day in the policy time zone, as an instant."""
    return scalar(  # type: ignore[no-any-return]
        conn,
        "SELECT (%s::date + time '12:00') AT TIME ZONE "
        "(SELECT time_zone FROM economics_policy WHERE is_active)",
        (day,),
    )


def envelope(
    conn: Conn,
    entity_id: str,
    *,
    entity_type: str = "hypothesis",
    tokens: int | Decimal = 0,
    cpu: int | Decimal = 0,
    storage: int | Decimal = 0,
    api: int | Decimal = 0,
    priority: float = 0.0,
    market_weight: float = 0.0,
    created_days_ago: int = 60,
) -> None:
    conn.execute(
        "INSERT INTO resource_budgets (entity_type, entity_id, token_budget, cpu_budget, "
        "storage_budget_gb, api_call_budget, priority_score, market_weight, created_at) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, now() - make_interval(days => %s))",
        (
            entity_type,
            entity_id,
            tokens,
            cpu,
            storage,
            api,
            priority,
            market_weight,
            created_days_ago,
        ),
    )


def spend(
    conn: Conn,
    entity_id: str,
    amount: int | Decimal,
    *,
    at: datetime | None = None,
    resource_type: str = "llm_tokens",
    entity_type: str = "hypothesis",
    model: str | None = None,
    reservation_id: int | None = None,
) -> None:
    conn.execute(
        "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount, model, "
        "created_at, reservation_id) VALUES (%s, %s, %s, %s, %s, coalesce(%s, now()), %s)",
        (entity_type, entity_id, resource_type, amount, model, at, reservation_id),
    )


def gain(
    conn: Conn, entity_id: str, edges: int, at: datetime, entity_type: str = "hypothesis"
) -> None:
    conn.execute(
        "INSERT INTO world_model_gains (entity_type, entity_id, kg_edges_gained, observed_at, "
        "source) VALUES (%s, %s, %s, %s, 'atlas-test')",
        (entity_type, entity_id, edges, at),
    )


def budget(
    conn: Conn, entity_id: str, resource_type: str = "llm_tokens", entity_type: str = "hypothesis"
) -> Decimal:
    return Decimal(
        scalar(
            conn,
            f"SELECT {BUDGET_COLUMN[resource_type]} FROM resource_budgets "
            "WHERE entity_type = %s AND entity_id = %s",
            (entity_type, entity_id),
        )
    )


def reserve(conn: Conn, resource_type: str = "llm_tokens") -> Decimal:
    return Decimal(
        scalar(
            conn, "SELECT balance FROM senate_reserve WHERE resource_type = %s", (resource_type,)
        )
    )


def fund(conn: Conn, amount: int, resource_type: str = "llm_tokens") -> None:
    conn.execute(
        "SELECT fund_reserve(%s, %s, 'treasurer', 'test funding')", (resource_type, amount)
    )


def totals(conn: Conn) -> dict[str, Decimal]:
    """Per class: sum of all envelopes + the reserve (what a rebalance must conserve)."""
    found = conn.execute(
        "SELECT rt.resource_type, "
        "  coalesce((SELECT sum(senate.budget_amount(b, rt.resource_type)) "
        "            FROM resource_budgets AS b), 0) + r.balance "
        "FROM resource_types AS rt JOIN senate_reserve AS r USING (resource_type)"
    ).fetchall()
    return {str(k): Decimal(v) for k, v in found}


def can_spend(
    conn: Conn,
    entity_id: str,
    amount: int | Decimal,
    resource_type: str = "llm_tokens",
    model: str | None = None,
    entity_type: str = "hypothesis",
) -> dict[str, Any]:
    return one(
        conn,
        "SELECT * FROM can_spend(%s, %s, %s, %s, %s)",
        (entity_type, entity_id, resource_type, amount, model),
    )


def reserve_spend(
    conn: Conn,
    entity_id: str,
    amount: int | Decimal,
    ttl: str = "10 minutes",
    resource_type: str = "llm_tokens",
    model: str | None = None,
    entity_type: str = "hypothesis",
) -> int:
    return int(
        scalar(
            conn,
            "SELECT reserve_spend(%s, %s, %s, %s, %s::interval, %s)",
            (entity_type, entity_id, resource_type, amount, ttl, model),
        )
    )


def ledger_count(conn: Conn) -> int:
    return int(scalar(conn, "SELECT count(*) FROM budget_ledger"))


def ledger_invariant_violations(conn: Conn) -> list[tuple[Any, ...]]:
    return conn.execute("SELECT * FROM check_ledger_invariant()").fetchall()


def start_together(n: int, work: Callable[[int], None]) -> list[BaseException]:
    """Run work(i) for i in range(n) on n threads released at the same instant."""
    barrier = threading.Barrier(n)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=60)
            work(i)
        except BaseException as e:  # collected, re-raised by the test
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return errors


def days_before(day: date, n: int) -> date:
    return day - timedelta(days=n)


def scripted_weeks(db: Conn) -> None:
    """Two complete weeks of history before the current budget period (policy defaults:
    step 0.25, ROI low < 0.0001 and high >= 0.001 edges/token, market support >= 0.1,
    2 low-ROI windows, 7-day ROI and idle windows, market weight applies from priority 0.5).

    last week (review window, k = 0) and the week before (k = 1), per entity:
      strong             2000 tokens / 20 edges both weeks, market weight 0.3  -> gain
      strong-unsupported same ROI, market weight 0.05                          -> nothing
      strong-unscored    same ROI, market weight 0.3 but priority 0.3 (weight not applied)
      strong-blocked     same ROI and weight, unresolved governance block      -> nothing
      low                5000 tokens / 0 edges both weeks                      -> reduced
      low-once           5000 / 0 last week, 5000 / 10 the week before        -> nothing
      top                1000 / 0.5 edges, highest priority                    -> reassigned
      plain              1000 tokens / 0 edges last week only                  -> nothing
      idle               no spend ever, tokens and CPU, old envelope           -> reclaimed
      idle-new           no spend, envelope created 2 days ago                 -> nothing
      idle-approved      no spend, old envelope, approval this week            -> nothing
    Every entity except the idle ones also spends 10 tokens today.
    """
    monday = period_start(db)
    last_week, week_before = noon(db, days_before(monday, 5)), noon(db, days_before(monday, 12))
    fund(db, 100_000)

    strongish = {
        "strong": dict(priority=0.8, market_weight=0.3),
        "strong-unsupported": dict(priority=0.8, market_weight=0.05),
        "strong-unscored": dict(priority=0.3, market_weight=0.3),
        "strong-blocked": dict(priority=0.8, market_weight=0.3),
    }
    for entity_id, scores in strongish.items():
        envelope(db, entity_id, tokens=10_000, **scores)  # type: ignore[arg-type]
        for at in (last_week, week_before):
            spend(db, entity_id, 2_000, at=at)
            gain(db, entity_id, 20, at)
    db.execute(
        "SELECT place_governance_block('hypothesis', 'strong-blocked', 'under review', 'chair')"
    )
    db.execute("UPDATE resource_budgets SET market_weight = 0.3 WHERE entity_id = 'strong-blocked'")

    envelope(db, "low", tokens=10_000, priority=0.5)
    spend(db, "low", 5_000, at=last_week)
    spend(db, "low", 5_000, at=week_before)
    envelope(db, "low-once", tokens=10_000, priority=0.45)
    spend(db, "low-once", 5_000, at=last_week)
    spend(db, "low-once", 5_000, at=week_before)
    gain(db, "low-once", 10, week_before)

    envelope(db, "top", tokens=8_000, priority=0.95)
    spend(db, "top", 1_000, at=last_week)
    envelope(db, "plain", tokens=8_000, priority=0.6)
    spend(db, "plain", 1_000, at=last_week)
    gain(db, "plain", 0, last_week)

    envelope(db, "idle", tokens=4_000, cpu=400, priority=0.4)
    envelope(db, "idle-new", tokens=4_000, priority=0.3, created_days_ago=2)
    envelope(db, "idle-approved", tokens=0, priority=0.3)
    pid = scalar(
        db,
        "SELECT file_allocation_proposal('hypothesis', 'idle-approved', 4000, "
        "'agent-7', 'A new assay should add about 40 edges.', "
        '\'{"pmids": ["31883511"], "expected_kg_edges": 40}\')',
    )
    for voter in ("s1", "s2", "s3"):
        with as_senator(db, voter):
            db.execute("SELECT cast_allocation_vote(%s, %s, 'approve')", (pid, voter))
    with as_senator(db, "chair"):
        db.execute("SELECT decide_allocation_proposal(%s, 'approved', 'chair')", (pid,))

    for entity_id in (*strongish, "low", "low-once", "top", "plain"):
        spend(db, entity_id, 10)


EXPECTED_PLAN = [
    ("idle", "cpu_seconds", -100, "idle_reclaim"),
    (None, "cpu_seconds", 100, "reserve"),
    ("idle", "llm_tokens", -1_000, "idle_reclaim"),
    ("top", "llm_tokens", 1_000, "reassigned_idle_budget"),
    ("strong", "llm_tokens", 2_500, "strong_roi_market_support"),
    ("low", "llm_tokens", -2_500, "sustained_low_roi"),
    (None, "llm_tokens", 0, "reserve"),
]
