"""Concurrent writers charging one hot entity neither deadlock nor lose usage.

Every writing transaction claims its own rollup shard (``senate.usage_rollup_shard()``, 0041), so
up to 16 concurrent writers never update the same rollup row, whatever entities they charge and
in whatever order.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import errors as pg_errors

Conn = psycopg.Connection[Any]

HOT = ("hypothesis", "hot-1")
WRITERS = 16
TRANSACTIONS = 40


def test_sixteen_writers_on_one_hot_entity_never_deadlock_and_lose_nothing(
    db: Conn, connect: Callable[..., Conn]
) -> None:
    conns = [connect() for _ in range(WRITERS)]
    start = threading.Barrier(WRITERS)
    deadlocks: list[int] = []
    failures: list[BaseException] = []
    written: list[Decimal] = []
    lock = threading.Lock()

    def writer(n: int, conn: Conn) -> None:
        rng = random.Random(n)
        mine = Decimal(0)
        try:
            start.wait()
            for _ in range(TRANSACTIONS):
                # Each transaction charges the hot entity and one other entity, in either
                # order, over several statements: the shape that deadlocks when two writers
                # share a per-entity counter row.
                other = ("analysis", f"other-{rng.randint(0, 3)}")
                order = [HOT, other] if rng.random() < 0.5 else [other, HOT]
                amount = Decimal(rng.randint(1, 1000))
                while True:
                    try:
                        with conn.transaction():
                            for entity in order:
                                conn.execute(
                                    "INSERT INTO public.resource_usage "
                                    "(entity_type, entity_id, resource_type, amount, model) "
                                    "VALUES (%s, %s, 'llm_tokens', %s, 'claude-sonnet')",
                                    (*entity, amount),
                                )
                        break
                    except pg_errors.DeadlockDetected:
                        with lock:
                            deadlocks.append(n)
                mine += amount
            with lock:
                written.append(mine)
        except BaseException as e:  # noqa: BLE001 - reported by the main thread
            with lock:
                failures.append(e)

    threads = [threading.Thread(target=writer, args=(n, c)) for n, c in enumerate(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert failures == []
    assert deadlocks == []
    row = db.execute(
        "SELECT sum(amount_total), sum(usage_rows) FROM senate.usage_rollups "
        "WHERE (entity_type, entity_id) = (%s, %s)",
        HOT,
    ).fetchone()
    assert row == (sum(written), WRITERS * TRANSACTIONS)
    assert db.execute("SELECT * FROM public.reconcile_usage_rollups()").fetchall() == []


def test_concurrent_writing_transactions_each_hold_a_different_rollup_shard(
    connect: Callable[..., Conn],
) -> None:
    conns = [connect() for _ in range(17)]
    shards = []
    for conn in conns:
        conn.execute("BEGIN")
        row = conn.execute("SELECT senate.usage_rollup_shard()").fetchone()
        assert row is not None
        shards.append(row[0])
    # The first 16 open transactions hold 16 different shards; the 17th finds none free and
    # shares its backend's own (pid % 16) without waiting.
    assert sorted(shards[:16]) == list(range(16))
    assert shards[16] == conns[16].info.backend_pid % 16
    # Asking again within a transaction keeps the shard it holds.
    again = conns[0].execute("SELECT senate.usage_rollup_shard()").fetchone()
    assert again == (shards[0],)
    for conn in conns:
        conn.execute("COMMIT")
    # Shards are released at commit: the next transaction starts from pid % 16 again.
    conn = conns[3]
    row = conn.execute("SELECT senate.usage_rollup_shard()").fetchone()
    assert row == (conn.info.backend_pid % 16,)


def test_a_shard_claimed_inside_a_rolled_back_savepoint_is_released(
    connect: Callable[..., Conn],
) -> None:
    a, b = connect(), connect()
    with a.transaction():
        with a.transaction(force_rollback=True):
            row = a.execute("SELECT senate.usage_rollup_shard()").fetchone()
            assert row is not None
            claimed = row[0]
        held = b.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = %s "
            "AND classid = 1397050945 AND objid = %s",
            (a.info.backend_pid, claimed),
        ).fetchone()
        assert held == (0,)
