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

import psycopg

from senate_db import migrations, server, urls

DEPLOYED_USAGE_DDL = """
CREATE TABLE public.resource_usage (
    id             bigserial PRIMARY KEY,
    entity_type    text NOT NULL,
    entity_id      text NOT NULL,
    resource_type  text NOT NULL,
    amount         integer NOT NULL,
    cost           numeric(14, 6),
    model          text,
    created_at     timestamp without time zone NOT NULL DEFAULT now(),
    metadata       jsonb DEFAULT '{}'::jsonb,
    legacy_source  text DEFAULT 'scidex-core'
)
"""

DEPLOYED_USAGE_ROWS = """
INSERT INTO public.resource_usage (entity_type, entity_id, resource_type, amount, model, created_at)
SELECT (ARRAY['hypothesis', 'analysis'])[1 + i %% 2], 'legacy-' || (i %% 997),
       (ARRAY['llm_tokens', 'cpu_seconds'])[1 + i %% 2], 10 + i %% 5000,
       CASE WHEN i %% 2 = 0 THEN (ARRAY['claude-sonnet', 'gpt-4-legacy'])[1 + i %% 4 / 2] END,
       now() - make_interval(secs => i)
FROM generate_series(1, %(rows)s) AS i
"""

LEGACY_INSERT = (
    "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount, model, created_at)"
    " VALUES (%s, %s, 'llm_tokens', %s, %s, now()) RETURNING id"
)


@dataclass
class LiveMigration:
    """What one live migration measured."""

    deployed_rows: int
    migrations: int = 0
    seconds: float = 0.0
    inserts: int = 0
    edits: int = 0
    deletes: int = 0
    lost: int = 0
    mismatches: int = 0
    longest_wait: float = 0.0
    p99_wait: float = 0.0
    slowest: list[tuple[str, float]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def measure(url: str, deployed_rows: int) -> LiveMigration:
    """Migrate a fresh scratch database beside ``url``'s holding ``deployed_rows`` deployed
    usage rows, under a live writer and editor; drop the scratch database afterwards."""
    name = f"senate_bench_live_{int(time.time() * 1000) % 10**9}"
    server.create_database(url, name)
    scratch = urls.with_database(url, name)
    try:
        return _measure(scratch, deployed_rows)
    finally:
        server.drop_database(url, name)


def _measure(url: str, deployed_rows: int) -> LiveMigration:
    result = LiveMigration(deployed_rows)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(DEPLOYED_USAGE_DDL)
        conn.execute(DEPLOYED_USAGE_ROWS, {"rows": deployed_rows})
        conn.execute("ANALYZE public.resource_usage")
    stop = threading.Event()
    acked: list[int] = []
    starts: list[float] = []
    waits: list[float] = []

    def writer() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            n = 0
            while not stop.is_set():
                n += 1
                model = "gpt-4-legacy" if n % 10 == 0 else "claude-sonnet"
                began = time.monotonic()
                row = conn.execute(
                    LEGACY_INSERT, ("hypothesis", f"live-{n % 5}", 10 + n % 90, model)
                ).fetchone()
                starts.append(began)
                waits.append(time.monotonic() - began)
                if row:
                    acked.append(int(row[0]))

    def editor() -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            n = 0
            while not stop.is_set():
                n += 1
                target = 1 + (n * 7919) % deployed_rows
                if n % 25 == 0:
                    cur = conn.execute("DELETE FROM resource_usage WHERE id = %s", (target,))
                    result.deletes += cur.rowcount
                else:
                    conn.execute(
                        "UPDATE resource_usage SET amount = amount + 1 WHERE id = %s", (target,)
                    )
                    result.edits += 1
                time.sleep(0.002)

    def guarded(body: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                body()
            except psycopg.Error as e:
                result.errors.append(f"{e.sqlstate} {e.diag.message_primary}")
                stop.set()

        return run

    threads = [threading.Thread(target=guarded(writer)), threading.Thread(target=guarded(editor))]
    for t in threads:
        t.start()
    finished: list[tuple[float, str]] = []
    started = time.monotonic()
    try:
        applied = migrations.apply_migrations(
            url, on_applied=lambda m: finished.append((time.monotonic(), m))
        )
    finally:
        result.seconds = time.monotonic() - started
        stop.set()
        for t in threads:
            t.join(60)
    result.migrations = len(applied)
    result.inserts = len(acked)
    blocked: dict[str, float] = {}
    for began, waited in zip(starts, waits, strict=False):
        current = next((m for end, m in finished if began <= end), None)
        if current and began >= started:
            blocked[current] = max(blocked.get(current, 0.0), waited)
    result.slowest = sorted(blocked.items(), key=lambda kv: -kv[1])[:3]
    during = [w for b, w in zip(starts, waits, strict=False) if b >= started]
    result.longest_wait = max(during, default=0.0)
    if len(during) >= 100:
        result.p99_wait = statistics.quantiles(during, n=100)[98]
    with psycopg.connect(url, autocommit=True) as conn:
        present = conn.execute(
            "SELECT count(*) FROM resource_usage WHERE id = ANY(%s)", (acked,)
        ).fetchone()
        result.lost = len(acked) - int(present[0] if present else 0)
        result.mismatches = len(conn.execute("SELECT * FROM reconcile_usage_rollups()").fetchall())
    return result
