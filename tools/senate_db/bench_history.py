"""History figures of ``senate-db bench``: the bulk path (INSERT ... SELECT) against the bare
table, then a generated usage history at a small and a big size, and at each the budget checks
(``can_spend``, ``budget_status``) beside the peer's design (b) (a sum over the usage rows of
the period, with the best index for it), one day of ``daily_spend``; ``run_rebalance`` at a
small and a big entity count."""

from __future__ import annotations

import statistics
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from senate_db import bench_sql
from senate_db.bench_ingest import BARE, REAL
from senate_db.bench_report import (
    Figure,
    Report,
    Size,
    count_label,
    cpu_note,
    fmt_ms,
    fmt_rate,
    fmt_s,
    rate,
    ratio_of,
    verdict,
)
from senate_db.bench_sql import Conn, compose, q
from senate_db.errors import describe_database_error

PEER_B = "peer (b) spec: SUM over usage rows"


def generator_params(size: Size, phase_lo: int, phase_rows: int) -> dict[str, Any]:
    return {
        "days": size.days,
        "active": size.active_entities,
        "hot_type": bench_sql.HOT_ENTITY[0],
        "hot_id": bench_sql.HOT_ENTITY[1],
        "phase_lo": phase_lo,
        "phase_rows": max(1, phase_rows),
    }


def load_usage(
    url: str, conn: Conn, size: Size, phase: tuple[int, int], start_i: int, report: Report
) -> None:
    """Generate usage rows start_i .. phase end in the server (two loader connections in
    parallel, batches of ``size.load_batch`` rows, each its own transaction through every
    trigger). ``phase`` is (first index, row count) of the load phase."""
    phase_lo, phase_rows = phase
    end = phase_lo + phase_rows - 1
    batches = [
        (lo, min(lo + size.load_batch - 1, end)) for lo in range(start_i, end + 1, size.load_batch)
    ]
    queue = list(reversed(batches))
    lock = threading.Lock()
    failures: list[BaseException] = []
    statement = compose("generate_usage", table=REAL)
    params = generator_params(size, phase_lo, phase_rows)

    def loader() -> None:
        try:
            with bench_sql.connect(url) as c:
                c.execute(q("set_loader_memory"))
                while True:
                    with lock:
                        if not queue or failures:
                            return
                        lo, hi = queue.pop()
                    c.execute(statement, {**params, "lo": lo, "hi": hi})
        except BaseException as e:  # noqa: BLE001 - re-raised below
            with lock:
                failures.append(e)

    rows = sum(hi - lo + 1 for lo, hi in batches)
    if not rows:
        conn.execute(q("analyze_usage"))
        return
    t0 = time.perf_counter()
    threads = [threading.Thread(target=loader, daemon=True) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    if failures:
        raise failures[0]
    conn.execute(q("analyze_usage"))
    report.add(
        Figure(
            "load",
            f"generated usage to {count_label(end)} rows (2 loaders)",
            fmt_rate(rate(rows, seconds)),
            f"{rows:,} rows in {fmt_s(seconds)}",
            None,
            "INSERT ... SELECT, all triggers",
            "info",
        )
    )


def section_server_side_ingest(conn: Conn, size: Size, report: Report) -> int:
    """INSERT ... SELECT of generated rows (the bulk path: backfills, imports), real vs bare,
    alternating; the rows written to resource_usage count towards the history. Returns the
    next generator index."""
    n = min(size.load_batch, size.usage_small // 2)
    statement = {t: compose("generate_usage", table=t) for t in (BARE, REAL)}
    params = generator_params(size, 1, size.usage_small)
    times: dict[str, list[float]] = {t: [] for t in statement}
    cpu: dict[str, list[float]] = {t: [] for t in statement}
    next_i = 1
    conn.execute(q("set_loader_memory"))
    for r in range(2):
        lo, hi = next_i, next_i + n - 1
        for table in statement if r == 0 else reversed(list(statement)):
            pid = conn.info.backend_pid
            c0 = bench_sql.backend_cpu_seconds(pid)
            t0 = time.perf_counter()
            conn.execute(statement[table], {**params, "lo": lo, "hi": hi})
            times[table].append(time.perf_counter() - t0)
            c1 = bench_sql.backend_cpu_seconds(pid)
            if c0 is not None and c1 is not None:
                cpu[table].append(c1 - c0)
        next_i = hi + 1
    conn.execute(q("reset_loader_memory"))
    conn.execute(compose("empty_table", table=BARE))
    ratio = ratio_of(times, REAL, BARE)
    report.add(
        Figure(
            "ingest",
            f"INSERT ... SELECT, {count_label(n)} generated rows/statement",
            fmt_rate(rate(n, statistics.median(times[REAL]))),
            fmt_rate(rate(n, statistics.median(times[BARE]))) + " bare",
            ratio,
            f">= 0.85{cpu_note(cpu, REAL, BARE)}",
            verdict(ratio is not None and ratio >= 0.85),
        )
    )
    return next_i


def load_budgets(conn: Conn, lo: int, hi: int) -> None:
    hot_type, hot_id = bench_sql.HOT_ENTITY
    params = {"lo": lo, "hi": hi, "hot_type": hot_type, "hot_id": hot_id, "with_hot": lo == 0}
    conn.execute(q("generate_budgets"), params)
    conn.execute(q("analyze_budgets"))


@dataclass
class Timing:
    p50: float
    p99: float


def time_calls(conn: Conn, statement: sql.Composable, calls: int) -> Timing:
    """p50 / p99 of ``statement`` run ``calls`` times in the server with its plan cached, as a
    service's driver runs a prepared statement (no client round trip, no planning)."""
    row = conn.execute(q("time_statement"), (statement.as_string(conn), calls)).fetchone()
    assert row is not None
    return Timing(float(row[0]), float(row[1]))


@dataclass
class Probe:
    """A budget-check style call, timed at each history size; ``peer``: the same question
    answered by the peer's design, timed at the same moments."""

    label: str
    statement: sql.Composable
    peer: Probe | None = None
    timings: list[Timing] = field(default_factory=list)
    error: str | None = None


def probe(
    label: str, name: str, entity: tuple[str, str] = bench_sql.HOT_ENTITY, peer: Probe | None = None
) -> Probe:
    """The probe of statement ``name`` about ``entity`` (composed in as literals)."""
    entity_type, entity_id = (sql.Literal(v) for v in entity)
    return Probe(label, compose(name, entity_type=entity_type, entity_id=entity_id), peer)


def measure(conn: Conn, probe: Probe, calls: int) -> None:
    if probe.error:
        return
    try:
        probe.timings.append(time_calls(conn, probe.statement, calls))
    except psycopg.Error as e:
        probe.error = f"n/a (call failed: {describe_database_error(e)})"


def measure_peers(conn: Conn, peers: list[Probe], calls: int) -> tuple[int, int]:
    """The peer's (b) checks, with its index built and the table vacuumed, then the index
    dropped again (the next load does not maintain it). Returns how many usage rows its
    one-class check sums for the hot and for the busiest entity."""
    conn.execute(q("create_peer_check_index"))
    conn.execute(q("vacuum_usage"))
    try:
        for peer in peers:
            measure(conn, peer, calls)
    finally:
        conn.execute(q("drop_peer_check_index"))
    hot, busy = (
        conn.execute(q("peer_rows_summed"), entity).fetchone()
        for entity in (bench_sql.HOT_ENTITY, bench_sql.BUSY_ENTITY)
    )
    assert hot is not None and busy is not None
    return int(hot[0]), int(busy[0])


def report_probe(
    report: Report,
    probe: Probe,
    small: int,
    big: int,
    goal_ms: float | None,
    section: str = "budget",
    *,
    flat: bool = True,
) -> None:
    """Report a probe at the big history against the small one. ``flat``: the goal is the same
    cost however long the history (budget checks); otherwise the figure is informative (one
    day of daily_spend grows with the entities active that day, not with the history). With a
    peer, our figure over the peer's at the big history."""
    label = f"{probe.label} @ {count_label(big)} vs {count_label(small)} usage rows"
    if probe.error or len(probe.timings) < 2:
        report.add(Figure(section, label, probe.error or "n/a (not measured)", result="n/a"))
        return
    peer = probe.peer if probe.peer and len(probe.peer.timings) == 2 else None
    small_t, big_t = probe.timings[0], probe.timings[1]
    for q_name, a, b in (("p50", small_t.p50, big_t.p50), ("p99", small_t.p99, big_t.p99)):
        ratio = b / a if a > 0 else None
        goal = "flat (<= 1.20)" if flat else "one day's rows, not the history"
        ok = ratio is not None and ratio <= 1.20
        if goal_ms is not None and q_name == "p50":
            goal += f", < {goal_ms:g} ms"
            ok = ok and b < goal_ms
        result = verdict(ok) if flat else "info"
        if section == "peer":
            goal, result = "the peer's design", "info"
        theirs = getattr(peer.timings[1], q_name) if peer else None
        report.add(
            Figure(
                section,
                f"{label}, {q_name}",
                fmt_ms(b),
                fmt_ms(a) + f" @ {count_label(small)}",
                ratio,
                goal,
                result,
                peer=b / theirs if theirs else None,
            )
        )


def time_rebalance(conn: Conn) -> tuple[float, float, int] | str:
    """(dry-run seconds, apply seconds, rows planned) or an n/a text. The apply runs in a
    transaction that is rolled back, so both entity counts start from the same budgets."""
    try:
        t0 = time.perf_counter()
        row = conn.execute(q("rebalance_dry_run")).fetchone()
        dry = time.perf_counter() - t0
        with conn.transaction(force_rollback=True):
            t0 = time.perf_counter()
            conn.execute(q("rebalance_apply")).fetchone()
            apply = time.perf_counter() - t0
        return dry, apply, int(row[0]) if row else 0
    except psycopg.Error as e:
        return f"n/a (call failed: {describe_database_error(e)})"


def compact_history(conn: Conn, size: Size, report: Report, usage_rows: int) -> None:
    """What the daily cycle does to past days (``compact_usage_rollups``), done here for the
    whole generated history at once, so budget checks read what a deployment's would."""
    t0 = time.perf_counter()
    row = conn.execute(q("compact_history"), (size.days,)).fetchone()
    seconds = time.perf_counter() - t0
    conn.execute(q("analyze_rollups"))
    assert row is not None
    report.add(
        Figure(
            "compact",
            f"compact_usage_rollups, {size.days} past days @ {count_label(usage_rows)} rows",
            fmt_s(seconds),
            f"{row[1]:,} shard rows merged into {row[0]:,}",
            None,
            "the daily cycle's step, all days at once",
            "info",
        )
    )


def section_history(conn: Conn, url: str, size: Size, report: Report) -> None:
    load_budgets(conn, 0, size.entities_small - 1)
    conn.execute(q("link_family"))
    busy = bench_sql.BUSY_ENTITY
    peers = [
        probe(f"{PEER_B}, one class", "peer_check_one_class"),
        probe(f"{PEER_B}, every class", "peer_check_every_class"),
        probe(f"{PEER_B}, one class, busiest entity", "peer_check_one_class", busy),
    ]
    checks = [
        probe("can_spend, one entity", "probe_can_spend", peer=peers[0]),
        probe("budget_status, one entity", "probe_budget_status", peer=peers[1]),
        probe("can_spend, busiest entity", "probe_can_spend", busy, peers[2]),
        probe("budget_forecast, one entity", "probe_budget_forecast"),
        probe("can_spend, five levels deep", "probe_can_spend", bench_sql.FAMILY_DEEPEST),
    ]
    daily = Probe("daily_spend, one day", compose("probe_daily_spend"))
    daily_calls = max(10, size.calls // 20)
    next_i = section_server_side_ingest(conn, size, report)
    load_usage(url, conn, size, (1, size.usage_small), next_i, report)
    compact_history(conn, size, report, size.usage_small)
    for each in checks:
        measure(conn, each, size.calls)
    measure(conn, daily, daily_calls)
    summed = [measure_peers(conn, peers, size.calls)]
    big_phase = (size.usage_small + 1, size.usage_big - size.usage_small)
    load_usage(url, conn, size, big_phase, big_phase[0], report)
    compact_history(conn, size, report, size.usage_big)
    for each in checks:
        measure(conn, each, size.calls)
    measure(conn, daily, daily_calls)
    summed.append(measure_peers(conn, peers, size.calls))
    for each in checks:
        report_probe(report, each, size.usage_small, size.usage_big, 1.0)
    for each in peers:
        report_probe(report, each, size.usage_small, size.usage_big, None, "peer")
    report.add(
        Figure(
            "peer",
            f"{PEER_B}: token rows summed, this period @ {count_label(size.usage_big)} vs "
            f"{count_label(size.usage_small)} usage rows",
            f"{summed[1][0]:,} one entity, {summed[1][1]:,} busiest",
            f"{summed[0][0]:,}, {summed[0][1]:,} @ {count_label(size.usage_small)}",
            None,
            "its cost grows with them",
            "info",
        )
    )
    report_probe(report, daily, size.usage_small, size.usage_big, None, "daily", flat=False)
    day_rows = conn.execute(q("rollup_rows_yesterday")).fetchone()
    assert day_rows is not None
    report.add(
        Figure(
            "daily",
            "rollup rows read for that day / all rollup rows",
            f"{day_rows[0]:,}",
            f"{day_rows[1]:,} in all",
            None,
            "",
            "info",
        )
    )
    section_rebalance(conn, size, report)


def section_rebalance(conn: Conn, size: Size, report: Report) -> None:
    label = (
        f"run_rebalance @ {count_label(size.entities_big)} vs "
        f"{count_label(size.entities_small)} entities, {count_label(size.usage_big)} rows"
    )
    small = time_rebalance(conn)
    load_budgets(conn, size.entities_small, size.entities_big - 1)
    big = time_rebalance(conn)
    if isinstance(small, str) or isinstance(big, str):
        report.add(
            Figure("rebalance", label, small if isinstance(small, str) else str(big), result="n/a")
        )
        return
    linear = size.entities_big / size.entities_small
    for i, kind in ((0, "dry run"), (1, "apply (rolled back)")):
        ratio = big[i] / small[i] if small[i] > 0 else None
        ok = big[i] < 10 and ratio is not None and ratio <= linear * 1.5
        report.add(
            Figure(
                "rebalance",
                f"{label}, {kind}",
                fmt_s(big[i]),
                fmt_s(small[i]) + f" @ {count_label(size.entities_small)}",
                ratio,
                f"< 10 s, linear (~{linear:g})",
                verdict(ok),
            )
        )
    report.add(
        Figure("rebalance", "rows planned", f"{big[2]:,}", f"{small[2]:,}", None, "", "info")
    )
