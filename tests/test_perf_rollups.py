"""The usage rollups stay exact whatever path writes usage: the reconciliation check.

``reconcile_usage_rollups()`` returns every (entity, class, day, tier or provider) whose rolled-up
amount, cost or row count differs from ``resource_usage``; these tests drive every write path the
rollup trigger has (single-row and multi-row INSERT, COPY, INSERT ... SELECT, UPDATE that moves
usage between keys, UPDATE that changes nothing the rollups depend on, DELETE, savepoints rolled
back) from several connections, one after the other and at the same time, and require none.
"""

from __future__ import annotations

import datetime as dt
import random
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

Conn = psycopg.Connection[Any]

COLUMNS = "entity_type, entity_id, resource_type, amount, cost, model, provider, created_at"
ENTITY_TYPES = ("hypothesis", "knowledge_gap", "analysis", "entity")
MODELS = ("claude-opus", "claude-sonnet", "claude-haiku", "gpt-standard", "open-batch", None)
PROVIDERS = ("pubmed", "semantic_scholar", "openalex", "other", None)
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def allow_usage_changes(db: Conn) -> None:
    """UPDATE and DELETE of usage are what these tests exercise: if the append-only guard of
    the reliability migrations is installed, switch it off for this test's database."""
    row = db.execute(
        "SELECT to_regprocedure('public.set_senate_setting(text, boolean, text, text)')"
    ).fetchone()
    if row and row[0]:
        db.execute(
            "SELECT public.set_senate_setting('usage_append_only', false, 'test_perf_rollups', "
            "'exercise the rollup paths for UPDATE and DELETE')"
        )


def mismatches(db: Conn) -> list[tuple[Any, ...]]:
    return db.execute("SELECT * FROM public.reconcile_usage_rollups()").fetchall()


def usage_row(rng: random.Random) -> tuple[Any, ...]:
    """One usage row: any class, known or missing model/provider, with or without a cost, at a
    time in the last few days (some right around midnight UTC)."""
    resource_type = rng.choice(
        ("llm_tokens", "llm_tokens", "cpu_seconds", "storage_gb_hours", "api_calls")
    )
    model = rng.choice(MODELS) if resource_type == "llm_tokens" else None
    provider = rng.choice(PROVIDERS) if resource_type == "api_calls" else None
    amount: Any = rng.choice((rng.randint(0, 5000), Decimal(rng.randint(0, 10**6)) / 1000))
    cost = rng.choice((None, None, Decimal(rng.randint(0, 10**5)) / 10**4))
    midnight = NOW.replace(hour=0, minute=0, second=0)
    created_at = rng.choice(
        (
            NOW - dt.timedelta(seconds=rng.randint(0, 4 * 86400)),
            midnight - dt.timedelta(seconds=rng.randint(0, 2)),
            midnight + dt.timedelta(seconds=rng.randint(0, 2)),
        )
    )
    return (
        rng.choice(ENTITY_TYPES),
        f"e-{rng.randint(0, 6)}",
        resource_type,
        amount,
        cost,
        model,
        provider,
        created_at,
    )


def insert_one(conn: Conn, row: tuple[Any, ...]) -> None:
    conn.execute(
        f"INSERT INTO public.resource_usage ({COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        row,
    )


def insert_many(conn: Conn, rows: list[tuple[Any, ...]]) -> None:
    values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s)"] * len(rows))
    conn.execute(
        f"INSERT INTO public.resource_usage ({COLUMNS}) VALUES {values}",
        [v for row in rows for v in row],
    )


def copy_rows(conn: Conn, rows: list[tuple[Any, ...]]) -> None:
    with conn.cursor() as cur, cur.copy(f"COPY public.resource_usage ({COLUMNS}) FROM STDIN") as cp:
        for row in rows:
            cp.write_row(row)


def insert_select(conn: Conn, n: int, seed: int) -> None:
    conn.execute(
        f"INSERT INTO public.resource_usage ({COLUMNS}) "
        "SELECT (ARRAY['hypothesis','analysis'])[1 + i %% 2], 'gen-' || (i %% 5), "
        "       (ARRAY['llm_tokens','cpu_seconds','api_calls'])[1 + i %% 3], i %% 97, NULL, "
        "       CASE WHEN i %% 3 = 0 THEN 'claude-sonnet' END, "
        "       CASE WHEN i %% 3 = 2 THEN 'semantic_scholar' END, "
        "       now() - make_interval(hours => i %% 50) "
        "FROM generate_series(%s::int, %s::int) AS i",
        (seed, seed + n - 1),
    )


def move_usage(conn: Conn, rng: random.Random) -> None:
    """UPDATEs that move usage between rollup keys (amount, entity, day, model, cost)."""
    choice = rng.randrange(5)
    if choice == 0:
        conn.execute(
            "UPDATE public.resource_usage SET amount = amount + 1 WHERE id %% 3 = %s",
            (rng.randrange(3),),
        )
    elif choice == 1:
        conn.execute(
            "UPDATE public.resource_usage SET entity_id = 'moved' WHERE id %% 7 = %s",
            (rng.randrange(7),),
        )
    elif choice == 2:
        conn.execute(
            "UPDATE public.resource_usage SET created_at = created_at - interval '1 day' "
            "WHERE id %% 5 = %s",
            (rng.randrange(5),),
        )
    elif choice == 3:
        conn.execute(
            "UPDATE public.resource_usage SET model = 'claude-haiku' "
            "WHERE resource_type = 'llm_tokens' AND id %% 4 = %s",
            (rng.randrange(4),),
        )
    else:
        conn.execute(
            "UPDATE public.resource_usage SET cost = coalesce(cost, 0) + 0.01 WHERE id %% 6 = %s",
            (rng.randrange(6),),
        )


def test_rollups_reconcile_after_every_write_path_from_several_connections(
    db: Conn, connect: Callable[..., Conn]
) -> None:
    allow_usage_changes(db)
    rng = random.Random(8)
    conns = [connect() for _ in range(4)]
    for step in range(40):
        conn = conns[step % len(conns)]
        kind = step % 8
        if kind == 0:
            insert_one(conn, usage_row(rng))
        elif kind == 1:
            insert_many(conn, [usage_row(rng) for _ in range(rng.randint(2, 40))])
        elif kind == 2:
            copy_rows(conn, [usage_row(rng) for _ in range(rng.randint(1, 60))])
        elif kind == 3:
            insert_select(conn, rng.randint(1, 300), step * 1000)
        elif kind == 4:
            move_usage(conn, rng)
        elif kind == 5:
            conn.execute(
                "UPDATE public.resource_usage SET metadata = jsonb_build_object('s', %s) "
                "WHERE id %% 2 = 0",
                (step,),
            )
        elif kind == 6:
            conn.execute(
                "DELETE FROM public.resource_usage WHERE id %% 11 = %s", (rng.randrange(11),)
            )
        else:
            with conn.transaction():
                insert_many(conn, [usage_row(rng) for _ in range(5)])
                with pytest.raises(psycopg.errors.DivisionByZero), conn.transaction():
                    insert_one(conn, usage_row(rng))
                    move_usage(conn, rng)
                    conn.execute("SELECT 1 / 0")
                insert_one(conn, usage_row(rng))
    total = db.execute("SELECT count(*) FROM public.resource_usage").fetchone()
    assert total is not None and total[0] > 500
    assert mismatches(db) == []


def test_rollups_reconcile_when_connections_write_at_the_same_time(
    db: Conn, connect: Callable[..., Conn]
) -> None:
    allow_usage_changes(db)
    conns = [connect() for _ in range(6)]
    failures: list[BaseException] = []

    def writer(n: int, conn: Conn) -> None:
        rng = random.Random(n)
        try:
            for step in range(25):
                kind = (step + n) % 5
                if kind == 0:
                    insert_one(conn, usage_row(rng))
                elif kind == 1:
                    insert_many(conn, [usage_row(rng) for _ in range(20)])
                elif kind == 2:
                    copy_rows(conn, [usage_row(rng) for _ in range(30)])
                elif kind == 3:
                    with conn.transaction():
                        for _ in range(3):
                            insert_one(conn, usage_row(rng))
                        conn.execute(
                            "UPDATE public.resource_usage SET amount = amount + 1 "
                            "WHERE entity_id = %s AND id %% 5 = 0",
                            (f"e-{rng.randint(0, 6)}",),
                        )
                else:
                    conn.execute(
                        "DELETE FROM public.resource_usage WHERE entity_id = %s AND id %% 9 = 0",
                        (f"e-{rng.randint(0, 6)}",),
                    )
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            failures.append(e)

    threads = [threading.Thread(target=writer, args=(n, c)) for n, c in enumerate(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert failures == []
    assert mismatches(db) == []


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 10**6),
    plan=st.lists(
        st.sampled_from(("one", "many", "copy", "move", "noop", "delete")), min_size=1, max_size=8
    ),
)
def test_any_sequence_of_writes_leaves_the_rollups_equal_to_the_usage(
    db: Conn, seed: int, plan: list[str]
) -> None:
    allow_usage_changes(db)
    rng = random.Random(seed)
    for op in plan:
        if op == "one":
            insert_one(db, usage_row(rng))
        elif op == "many":
            insert_many(db, [usage_row(rng) for _ in range(rng.randint(1, 25))])
        elif op == "copy":
            copy_rows(db, [usage_row(rng) for _ in range(rng.randint(1, 25))])
        elif op == "move":
            move_usage(db, rng)
        elif op == "noop":
            db.execute("UPDATE public.resource_usage SET metadata = metadata || '{\"n\": 1}'")
        else:
            db.execute("DELETE FROM public.resource_usage WHERE id %% 4 = %s", (rng.randrange(4),))
    assert mismatches(db) == []


def test_a_single_row_and_the_same_rows_in_one_batch_roll_up_to_the_same_totals(
    db: Conn,
) -> None:
    rng = random.Random(42)
    rows = [usage_row(rng) for _ in range(60)]
    for row in rows:
        insert_one(db, (row[0], "single-" + row[1], *row[2:]))
    insert_many(db, [(row[0], "batch-" + row[1], *row[2:]) for row in rows])
    totals = db.execute(
        "SELECT split_part(entity_id, '-', 1) AS path, entity_type, split_part(entity_id, '-', 3),"
        "       resource_type, usage_day, resource_subclass,"
        "       sum(amount_total), sum(cost_total_usd), sum(usage_rows) "
        "FROM senate.usage_rollups GROUP BY 1, 2, 3, 4, 5, 6 ORDER BY 2, 3, 4, 5, 6, 1"
    ).fetchall()
    single = [t[1:] for t in totals if t[0] == "single"]
    batch = [t[1:] for t in totals if t[0] == "batch"]
    assert single == batch and single
    assert mismatches(db) == []


def test_an_update_that_changes_no_rolled_up_column_writes_no_rollup_row(db: Conn) -> None:
    allow_usage_changes(db)
    rng = random.Random(3)
    insert_many(db, [usage_row(rng) for _ in range(50)])
    before = db.execute("SELECT ctid, xmin::text FROM senate.usage_rollups ORDER BY 1").fetchall()
    db.execute(
        "UPDATE public.resource_usage SET metadata = '{\"reviewed\": true}', task_id = 'task-1'"
    )
    after = db.execute("SELECT ctid, xmin::text FROM senate.usage_rollups ORDER BY 1").fetchall()
    assert after == before
    assert mismatches(db) == []
