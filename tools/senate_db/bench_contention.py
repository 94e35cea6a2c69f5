"""Contention figures of ``senate-db bench``: concurrent writers (threads, one connection each,
one row per transaction) charging one hot entity, and spread over many entities, into
``resource_usage``, its bare copy and the peer's design (a) (a spend log and a counter UPDATE),
counting deadlocks."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from psycopg import errors as pg_errors

from senate_db import bench_sql
from senate_db.bench_ingest import BARE, PEER, PEER_A, REAL, open_peer_counters, row_statement
from senate_db.bench_report import (
    Figure,
    Report,
    Size,
    count_label,
    fmt_ms,
    fmt_rate,
    percentile,
    rate,
    verdict,
)
from senate_db.bench_sql import Conn

EntityOf = Callable[[int, int], tuple[str, str]]


@dataclass
class WriterRun:
    seconds: float
    rows: int
    latencies: list[float]
    deadlocks: int
    backends: list[int]


def run_writers(url: str, table: str, size: Size, entity_of: EntityOf) -> WriterRun:
    """``size.writers`` threads, one connection each, each writing ``size.writer_rows`` rows
    one transaction at a time; a deadlock (40P01) is counted and the row retried."""
    stmt = row_statement(table)
    start = threading.Barrier(size.writers + 1)
    lock = threading.Lock()
    latencies: list[float] = []
    backends: list[int] = []
    deadlocks = [0]
    failures: list[BaseException] = []

    def work(w: int) -> None:
        mine: list[float] = []
        try:
            with bench_sql.connect(url) as conn:
                with lock:
                    backends.append(conn.info.backend_pid)
                start.wait()
                for i in range(size.writer_rows):
                    entity_type, entity_id = entity_of(w, i)
                    model = bench_sql.MODELS[(w + i) % len(bench_sql.MODELS)]
                    row = (entity_type, entity_id, "llm_tokens", 100 + i % 900, model, None)
                    while True:
                        t0 = time.perf_counter()
                        try:
                            conn.execute(stmt, row, prepare=True)
                            break
                        except pg_errors.DeadlockDetected:
                            with lock:
                                deadlocks[0] += 1
                    mine.append(time.perf_counter() - t0)
        except BaseException as e:  # noqa: BLE001 - re-raised in the main thread
            with lock:
                failures.append(e)
            start.abort()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=work, args=(w,), daemon=True) for w in range(size.writers)]
    for t in threads:
        t.start()
    try:
        start.wait()
    except threading.BrokenBarrierError:
        pass
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    if failures:
        raise failures[0]
    return WriterRun(seconds, size.writers * size.writer_rows, latencies, deadlocks[0], backends)


def loads(size: Size) -> tuple[tuple[str, EntityOf], ...]:
    """(label, which entity writer w charges with its i-th row): one hot entity, and spread."""
    hot = bench_sql.HOT_ENTITY
    return (
        (f"{size.writers} writers, one hot entity", lambda w, i: hot),
        (
            f"{size.writers} writers, {count_label(size.spread_entities)} entities",
            lambda w, i: (
                bench_sql.ENTITY_TYPES[(w + i) % 4],
                f"spread-{(w * 7919 + i * 104729) % size.spread_entities}",
            ),
        ),
    )


def p99_ms(runs: list[WriterRun]) -> float:
    return statistics.median(percentile(x.latencies, 0.99) for x in runs) * 1000


def throughput(runs: list[WriterRun]) -> float:
    return statistics.median(rate(x.rows, x.seconds) for x in runs)


def paired_ratio(runs: dict[str, list[WriterRun]], table: str, baseline: str) -> float | None:
    """Median over rounds of ``table``'s rows/s over ``baseline``'s."""
    pairs = zip(runs[table], runs[baseline], strict=True)
    ratios = [b.seconds / t.seconds for t, b in pairs if t.seconds]
    return statistics.median(ratios) if ratios else None


def section_contention(conn: Conn, url: str, size: Size, report: Report) -> None:
    deadlocks = {REAL: 0, BARE: 0, PEER: 0}
    for k, (name, entity_of) in enumerate(loads(size)):
        open_peer_counters(
            conn, [entity_of(w, i) for w in range(size.writers) for i in range(size.writer_rows)]
        )
        runs: dict[str, list[WriterRun]] = {BARE: [], REAL: [], PEER: []}
        for r in range(max(1, min(size.rounds, 3))):
            order = list(runs) if r % 2 == 0 else list(reversed(list(runs)))
            for table in order:
                runs[table].append(run_writers(url, table, size, entity_of))
        for table, table_runs in runs.items():
            deadlocks[table] += sum(x.deadlocks for x in table_runs)
        ratio = paired_ratio(runs, REAL, BARE)
        p99 = {table: p99_ms(table_runs) for table, table_runs in runs.items()}
        bare_rate = fmt_rate(throughput(runs[BARE])) + " bare"
        report.add(
            Figure(
                "contention",
                f"{name}, 1 row/txn",
                fmt_rate(throughput(runs[REAL])),
                bare_rate,
                ratio,
                ">= 0.70 of bare",
                verdict(ratio is not None and ratio >= 0.70),
                peer=paired_ratio(runs, REAL, PEER),
            )
        )
        report.add(
            Figure(
                "peer",
                f"{PEER_A}: {name}, 1 row/txn",
                fmt_rate(throughput(runs[PEER])),
                bare_rate,
                paired_ratio(runs, PEER, BARE),
                "the peer's design",
                "info",
            )
        )
        report.add(
            Figure(
                "contention",
                f"{name}: p99 latency per row",
                fmt_ms(p99[REAL]),
                fmt_ms(p99[BARE]) + " bare",
                p99[REAL] / p99[BARE] if p99[BARE] else None,
                "",
                "info",
                peer=p99[REAL] / p99[PEER] if p99[PEER] else None,
            )
        )
        report.add(
            Figure(
                "peer",
                f"{PEER_A}: {name}: p99 latency per row",
                fmt_ms(p99[PEER]),
                fmt_ms(p99[BARE]) + " bare",
                p99[PEER] / p99[BARE] if p99[BARE] else None,
                "the peer's design",
                "info",
            )
        )
        if k == 0:  # the hot entity
            shards = conn.execute(bench_sql.q("hot_shards_today"), bench_sql.HOT_ENTITY).fetchone()
            report.add(
                Figure(
                    "contention",
                    "hot entity: rollup shards written today",
                    f"{shards[0] if shards else 0} of 16",
                    f"{size.writers} writers",
                    None,
                    "spread, no shared row",
                    "info",
                )
            )
    ours = deadlocks[REAL] + deadlocks[BARE]
    report.add(
        Figure(
            "contention",
            "deadlocks (SQLSTATE 40P01), all runs",
            str(ours),
            "",
            None,
            "0",
            verdict(ours == 0),
        )
    )
    mismatches = conn.execute(bench_sql.q("peer_counter_mismatches")).fetchone()
    assert mismatches is not None
    report.add(
        Figure(
            "peer",
            f"{PEER_A}: deadlocks (SQLSTATE 40P01), all runs",
            str(deadlocks[PEER]),
            f"counters = its log: {mismatches[0]} mismatches over {mismatches[1]:,} rows",
            None,
            "the peer's design",
            "info",
        )
    )
