"""Live-migration cost for ``senate-db bench`` (issue 14 point 10, issue 20 point 4).

A deployed-style ``resource_usage`` (the shape SciDEX's own table has: integer amounts, a
timestamp without time zone, a column of its own) is filled with N rows in a scratch database;
then every migration is applied while a legacy writer inserts without pause and a legacy
consumer updates and deletes deployed rows. The figure is the longest wait of one insert, with
the migration during which it started; the bench also checks that no insert was lost and that
the rollups reconcile afterwards.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg

from senate_db import migrations, server, urls
from senate_db.bench_sql import q


@dataclass
class LiveMigration:
    """What one live migration measured (times in seconds)."""

    deployed_rows: int
    applied: list[str] = field(default_factory=list)
    seconds: float = 0.0
    inserts: int = 0  # acknowledged, before, during and after the migrations
    inserts_during: int = 0
    edits: int = 0
    deletes: int = 0
    lost: int = 0
    rows_after: int = 0
    mismatches: int = 0
    longest_wait: float = 0.0  # over the inserts that started while migrating
    p99_wait: float = 0.0
    slowest: list[tuple[str, float]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # "migration: SQLSTATE message"


def measure(url: str, deployed_rows: int) -> LiveMigration:
    """Migrate a fresh scratch database beside ``url``'s holding ``deployed_rows`` deployed
    usage rows, under a live writer and editor; drop the scratch database afterwards."""
    name = f"senate_bench_live_{int(time.time() * 1000) % 10**9}"
    server.create_database(url, name)
    scratch = urls.with_database(url, name)
    try:
        with psycopg.connect(scratch, autocommit=True) as conn:
            conn.execute(q("create_deployed_usage"))
            conn.execute(q("fill_deployed_usage"), {"rows": deployed_rows})
            conn.execute(q("analyze_deployed_usage"))
        return migrate_under_live_writers(scratch, deployed_rows)
    finally:
        server.drop_database(url, name)


def migrate_under_live_writers(url: str, deployed_rows: int) -> LiveMigration:
    """Apply every pending migration to ``url``, whose ``resource_usage`` holds ids 1 ..
    ``deployed_rows``, while a legacy writer inserts (legacy_insert) and a consumer updates and
    deletes deployed rows; the writer runs before the first migration and half a second after
    the last."""
    result = LiveMigration(deployed_rows)
    stop = threading.Event()
    acked: list[int] = []
    starts: list[float] = []
    waits: list[float] = []
    finished: list[tuple[float, str]] = []

    def where(moment: float) -> str:
        return next((m for end, m in finished if moment <= end), "after the migrations")

    def guarded(body: Callable[[psycopg.Connection[Any]], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                with psycopg.connect(url, autocommit=True) as conn:
                    body(conn)
            except psycopg.Error as e:
                result.errors.append(
                    f"{where(time.monotonic())}: {e.sqlstate} {e.diag.message_primary}"
                )
                stop.set()

        return run

    def writer(conn: psycopg.Connection[Any]) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            model = "gpt-4-legacy" if n % 10 == 0 else "claude-sonnet"
            began = time.monotonic()
            row = conn.execute(
                q("legacy_insert"), ("hypothesis", f"live-{n % 5}", 10 + n % 90, model)
            ).fetchone()
            starts.append(began)
            waits.append(time.monotonic() - began)
            if row:
                acked.append(int(row[0]))

    def editor(conn: psycopg.Connection[Any]) -> None:
        n = 0
        while not stop.is_set():
            n += 1
            target = 1 + (n * 7919) % deployed_rows
            if n % 25 == 0:
                cur = conn.execute(q("legacy_delete"), (target,))
                result.deletes += cur.rowcount
            else:
                conn.execute(q("legacy_update"), (target,))
                result.edits += 1
            time.sleep(0.002)

    threads = [threading.Thread(target=guarded(writer)), threading.Thread(target=guarded(editor))]
    for t in threads:
        t.start()
    while len(acked) < 50 and not stop.is_set():
        time.sleep(0.01)
    started = time.monotonic()
    try:
        result.applied = migrations.apply_migrations(
            url, on_applied=lambda m: finished.append((time.monotonic(), m))
        )
        result.seconds = time.monotonic() - started
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    # Attribute each insert to the migration running when it started: the longest wait per
    # migration shows which ones hold locks that writers queue behind, and for how long.
    blocked: dict[str, float] = {}
    during: list[float] = []
    for began, waited in zip(starts, waits, strict=False):
        if began >= started and finished and began <= finished[-1][0]:
            during.append(waited)
            current = where(began)
            blocked[current] = max(blocked.get(current, 0.0), waited)
    result.slowest = sorted(blocked.items(), key=lambda kv: -kv[1])[:3]
    result.inserts = len(acked)
    result.inserts_during = len(during)
    result.longest_wait = max(waits, default=0.0)
    if len(waits) >= 100:
        result.p99_wait = statistics.quantiles(waits, n=100)[98]
    with psycopg.connect(url, autocommit=True) as conn:
        present = conn.execute(q("acknowledged_present"), (acked,)).fetchone()
        result.lost = len(acked) - int(present[0] if present else 0)
        total = conn.execute(q("deployed_row_count")).fetchone()
        result.rows_after = int(total[0] if total else 0)
        found = conn.execute(q("live_reconcile")).fetchone()
        result.mismatches = int(found[0] if found else -1)
    return result
