"""``compact_usage_rollups()``: past days' writer-shard rollup rows merged into one row per key.

Budget checks add up one rollup row per (class, tier, day, shard); every writer that charged an
entity on a day leaves its own shard row. Compaction keeps what a check reads bounded by the
days of the period, not by how many writers there have been, and never changes a total.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

Conn = psycopg.Connection[Any]

KEY = "entity_type, entity_id, resource_type, usage_day, resource_subclass"
TODAY = "(now() AT TIME ZONE senate.policy_time_zone())::date"


def insert_usage(conn: Conn, entity_id: str, days_ago: int, amount: int) -> None:
    """One llm_tokens usage row of ``entity_id`` at noon, ``days_ago`` days before today (today:
    at noon or now, whichever is earlier: usage from the future is refused, S5031)."""
    conn.execute(
        "INSERT INTO public.resource_usage (entity_type, entity_id, resource_type, amount, "
        "model, created_at) VALUES ('hypothesis', %s, 'llm_tokens', %s, 'claude-sonnet', "
        f"least((({TODAY} - %s)::timestamp + interval '12 hours') "
        "AT TIME ZONE senate.policy_time_zone(), now()))",
        (entity_id, amount, days_ago),
    )


def spread_over_shards(
    connect: Callable[..., Conn], entity_id: str, days: list[int], writers: int
) -> None:
    """``writers`` transactions open at once, each charging ``entity_id`` on every day in
    ``days``: each holds its own shard, so every key ends up in ``writers`` shard rows."""
    conns = [connect(autocommit=False) for _ in range(writers)]
    for i, conn in enumerate(conns):
        for d in days:
            insert_usage(conn, entity_id, d, 100 + i)
    for conn in conns:
        conn.commit()


def rows_per_key(db: Conn, entity_id: str) -> dict[tuple[Any, ...], int]:
    rows = db.execute(
        f"SELECT {KEY}, count(*) FROM senate.usage_rollups WHERE entity_id = %s GROUP BY {KEY}",
        (entity_id,),
    ).fetchall()
    return {tuple(r[:5]): int(r[5]) for r in rows}


def totals_per_key(db: Conn) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    rows = db.execute(
        f"SELECT {KEY}, sum(amount_total), sum(cost_total_usd), sum(usage_rows) "
        f"FROM senate.usage_rollups GROUP BY {KEY}"
    ).fetchall()
    return {tuple(r[:5]): tuple(r[5:]) for r in rows}


def compact(db: Conn, *args: Any) -> tuple[int, int, int]:
    if args:
        row = db.execute("SELECT * FROM public.compact_usage_rollups(%s, %s)", args).fetchone()
    else:
        row = db.execute("SELECT * FROM public.compact_usage_rollups()").fetchone()
    assert row is not None
    return int(row[0]), int(row[1]), int(row[2])


def test_compaction_merges_each_past_days_shard_rows_into_one_and_keeps_every_total(
    db: Conn, connect: Callable[..., Conn]
) -> None:
    spread_over_shards(connect, "h-busy", [0, 1, 3], writers=4)
    before = totals_per_key(db)
    assert sorted(rows_per_key(db, "h-busy").values()) == [4, 4, 4]

    keys, removed, _ = compact(db)

    per_key = rows_per_key(db, "h-busy")
    days = dict(
        db.execute(
            f"SELECT usage_day, {TODAY} - usage_day FROM senate.usage_rollups "
            "WHERE entity_id = 'h-busy'"
        ).fetchall()
    )
    assert {days[k[3]]: n for k, n in per_key.items()} == {0: 4, 1: 1, 3: 1}
    assert (keys, removed) in ((2, 6), (2, 8))  # 3 or 4 rows folded into the compactor's shard
    assert totals_per_key(db) == before
    assert db.execute("SELECT * FROM public.reconcile_usage_rollups()").fetchall() == []


def test_a_budget_check_gives_the_same_answer_after_compaction(
    db: Conn, connect: Callable[..., Conn]
) -> None:
    db.execute(
        "INSERT INTO public.resource_budgets (entity_type, entity_id, token_budget) "
        "VALUES ('hypothesis', 'h-busy', 100000)"
    )
    spread_over_shards(connect, "h-busy", [0, 1, 2], writers=3)
    status = "SELECT * FROM public.budget_status WHERE entity_id = 'h-busy' ORDER BY 1, 2, 3"
    spend = "SELECT * FROM public.can_spend('hypothesis', 'h-busy', 'llm_tokens', 1000)"
    before = (db.execute(status).fetchall(), db.execute(spend).fetchall())

    compact(db, None, None)

    assert (db.execute(status).fetchall(), db.execute(spend).fetchall()) == before


def test_a_second_compaction_finds_nothing_to_merge_and_rewrites_nothing(
    db: Conn, connect: Callable[..., Conn]
) -> None:
    spread_over_shards(connect, "h-busy", [1, 2], writers=3)
    compact(db)
    versions = db.execute(
        "SELECT ctid::text, xmin::text FROM senate.usage_rollups ORDER BY 1"
    ).fetchall()

    assert compact(db)[:2] == (0, 0)
    assert (
        db.execute("SELECT ctid::text, xmin::text FROM senate.usage_rollups ORDER BY 1").fetchall()
        == versions
    )


def test_compaction_skips_a_row_a_writer_holds_and_never_waits_for_it(
    db: Conn, connect: Callable[..., Conn]
) -> None:
    writer = connect(autocommit=False)
    insert_usage(writer, "h-late", 2, 10)
    writer.commit()
    # Usage arriving late for that day: the writer's open transaction holds its shard row
    # (and its shard, so the other writers and the compactor use other shards).
    insert_usage(writer, "h-late", 2, 5)
    spread_over_shards(connect, "h-late", [2], writers=3)
    compactor = connect()
    compactor.execute("SET lock_timeout = '3s'")

    started = time.monotonic()
    keys, removed, _ = compact(compactor)
    took = time.monotonic() - started

    assert took < 3  # it did not wait for the writer's row (lock_timeout would have raised)
    assert (keys, removed) in ((1, 2), (1, 3))  # every shard row but the writer's (and its own)
    writer.commit()
    assert rows_per_key(db, "h-late") and list(rows_per_key(db, "h-late").values()) == [2]
    assert db.execute("SELECT * FROM public.reconcile_usage_rollups()").fetchall() == []
    compact(db)
    assert list(rows_per_key(db, "h-late").values()) == [1]
    assert db.execute("SELECT * FROM public.reconcile_usage_rollups()").fetchall() == []


def test_compaction_refuses_a_window_that_ends_before_it_starts_and_writes_nothing(
    db: Conn, connect: Callable[..., Conn]
) -> None:
    spread_over_shards(connect, "h-busy", [1], writers=2)
    before = db.execute("SELECT * FROM senate.usage_rollups ORDER BY 1, 2, 3, 4, 5, 6").fetchall()

    with pytest.raises(psycopg.Error) as caught:
        db.execute(
            f"SELECT * FROM public.compact_usage_rollups({TODAY} - 1, {TODAY} - 2)"
        ).fetchall()

    assert caught.value.sqlstate == "22023"
    assert db.execute(
        "SELECT * FROM senate.usage_rollups ORDER BY 1, 2, 3, 4, 5, 6"
    ).fetchall() == (before)


def test_only_an_administrator_may_compact(db: Conn) -> None:
    may = dict(
        db.execute(
            "SELECT r, has_function_privilege(r, "
            "'public.compact_usage_rollups(date, date)', 'EXECUTE') "
            "FROM unnest(ARRAY['senate_reader', 'senate_writer', 'senate_reviewer', "
            "'senate_admin']) AS r"
        ).fetchall()
    )
    assert may == {
        "senate_reader": False,
        "senate_writer": False,
        "senate_reviewer": False,
        "senate_admin": True,
    }


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 2),  # entity
            st.integers(0, 9),  # days ago
            st.integers(0, 15),  # shard
            st.integers(0, 10**6),  # amount
        ),
        min_size=1,
        max_size=40,
        unique_by=lambda r: r[:3],
    ),
    st.integers(1, 9),
)
def test_compaction_never_changes_a_total_and_leaves_one_row_per_key_in_its_window(
    db: Conn, rows: list[tuple[int, int, int, int]], window: int
) -> None:
    db.execute("DELETE FROM senate.usage_rollups WHERE entity_id LIKE 'p-%'")
    with db.cursor() as cur:
        cur.executemany(
            "INSERT INTO senate.usage_rollups (entity_type, entity_id, resource_type, "
            "usage_day, resource_subclass, shard, amount_total, cost_total_usd, usage_rows) "
            f"VALUES ('hypothesis', %s, 'cpu_seconds', {TODAY} - %s, '', %s, %s, %s, 1)",
            [(f"p-{e}", d, s, a, a / 1000) for e, d, s, a in rows],
        )
    before = totals_per_key(db)

    db.execute(
        f"SELECT * FROM public.compact_usage_rollups({TODAY} - %s, {TODAY} - 1)", (window,)
    ).fetchall()

    assert totals_per_key(db) == before
    in_window = db.execute(
        f"SELECT {KEY}, count(*) FROM senate.usage_rollups WHERE entity_id LIKE 'p-%%' "
        f"AND usage_day BETWEEN {TODAY} - %s AND {TODAY} - 1 GROUP BY {KEY}",
        (window,),
    ).fetchall()
    assert all(r[5] == 1 for r in in_window)
