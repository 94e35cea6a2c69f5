"""``senate-db bench``: the performance figures of the Senate economics layer, side by side.

Every figure is measured against a baseline taken in the same run, on the same server, and
where a peer's design answers the same question, beside that design built on the same data
(column ``vs peer``: our figure over the peer's):

* ingest (``bench_ingest``): rows/s into ``resource_usage`` through every trigger and
  constraint it carries vs an identical table without them, for single-row INSERTs, multi-row
  INSERTs and COPY; the peer's design (a) on the single-row paths (LiteLLM: a spend-log row
  and an UPDATE of the entity's spend counter in one transaction); then what each trigger or
  foreign key costs on its own;
* contention (``bench_contention``): 16 concurrent writers charging one hot entity, and 16
  spread over many entities, on the same three tables, counting deadlocks;
* history (``bench_history``): INSERT ... SELECT vs the bare table; budget checks
  (``can_spend``, ``budget_status``) at a small and a big usage history beside the peer's
  design (b) (the spec deployment's sum over the usage rows of the period, with a covering
  index); ``daily_spend`` for one day; ``run_rebalance`` at a small and a big entity count;
* ``reconcile_usage_rollups()`` after every section: the rollups must still equal the usage
  rows;
* a live migration (``bench_live``): the longest wait of a writer while every migration is
  applied to a deployed table.

The bench creates a scratch database on the target server, migrates it with the project's
migrations, and drops it at the end; its SQL is in ``sql/bench/*.sql`` (``bench_sql``).
Benchmarks are not tests: nothing here asserts a timing. The "result" column compares a figure
with the goal of issue 8 so a reader sees at once where the system stands.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

from senate_db import bench_live, bench_sql, migrations, server, urls
from senate_db.bench_contention import section_contention
from senate_db.bench_history import section_history
from senate_db.bench_ingest import section_breakdown, section_ingest
from senate_db.bench_report import SIZES, Figure, Report, Size, count_label, fmt_ms, fmt_s, verdict
from senate_db.bench_sql import Conn, q


@contextmanager
def scratch_database(url: str, keep: bool, report: Report) -> Iterator[str]:
    """Create an empty scratch database next to ``url``'s, yield its URL, drop it at the end."""
    name = f"senate_bench_{os.getpid()}_{int(time.time())}"
    server.create_database(url, name)
    scratch = urls.with_database(url, name)
    try:
        yield scratch
    finally:
        if keep:
            report.say(f"kept scratch database {name}: {urls.redact(scratch)}")
        else:
            server.drop_database(url, name)


def describe_server(conn: Conn, report: Report, size: Size) -> None:
    row = conn.execute(q("server_version")).fetchone()
    report.say(f"server:   {row[0] if row else '?'}")
    values = conn.execute(q("server_settings"), (list(bench_sql.SETTINGS),)).fetchall()
    report.say("settings: " + " ".join(f"{name}={value}" for name, value in values))
    host = conn.info.host
    local = host.startswith("/") or host in ("localhost", "127.0.0.1", "::1")
    where = f"this host ({os.cpu_count()} CPUs)" if local else f"remote host {host}"
    report.say(f"where:    server on {where}; client on {os.cpu_count()} CPUs")
    report.say(f"size:     {size}")
    report.say()


def mismatches(conn: Conn) -> int:
    """Rollup keys ``reconcile_usage_rollups()`` finds different from the usage rows."""
    row = conn.execute(q("reconcile")).fetchone()
    return int(row[0]) if row else -1


def section_reconcile(conn: Conn, report: Report, earlier: dict[str, int]) -> None:
    """The audit over the whole history (timed), with what it found after the earlier
    sections."""
    t0 = time.perf_counter()
    found = mismatches(conn)
    seconds = time.perf_counter() - t0
    row = conn.execute(q("usage_row_count")).fetchone()
    rows = int(row[0]) if row else 0
    after = ", ".join(f"{n} after {section}" for section, n in earlier.items())
    total = found + sum(earlier.values())
    report.add(
        Figure(
            "reconcile",
            f"reconcile_usage_rollups() over {rows:,} usage rows",
            f"{total} mismatches",
            f"audit took {fmt_s(seconds)}; {after}",
            None,
            "0 after every section",
            verdict(total == 0),
        )
    )


def section_live_migration(url: str, size: Size, report: Report) -> None:
    """Every migration applied to a deployed table of ``size.live_rows`` rows while a legacy
    writer inserts and a consumer updates and deletes (bench_live)."""
    live = bench_live.measure(url, size.live_rows)
    where = ", ".join(f"{m.split('_', 1)[0]} {w * 1000:,.0f} ms" for m, w in live.slowest)
    ok = not live.errors and live.lost == 0 and live.mismatches == 0
    report.add(
        Figure(
            "migrate",
            f"longest writer wait, live migration of {count_label(size.live_rows)} deployed rows",
            fmt_ms(live.longest_wait * 1000),
            f"p99 {fmt_ms(live.p99_wait * 1000)}; slowest {where}",
            None,
            "< 1 s",
            verdict(live.longest_wait < 1.0),
        )
    )
    report.add(
        Figure(
            "migrate",
            f"inserts lost, live migration of {count_label(size.live_rows)} deployed rows",
            f"{live.lost} lost, {live.mismatches} rollup mismatches",
            f"{live.inserts:,} inserts, {live.edits:,} updates, {live.deletes:,} deletes in "
            f"{fmt_s(live.seconds)}"
            + (f"; writer errors: {'; '.join(live.errors[:2])}" if live.errors else ""),
            None,
            "0",
            verdict(ok),
        )
    )


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def run(url: str, size_name: str, out: TextIO, *, keep: bool = False) -> Report:
    """Run the whole bench against the server of ``url``; return the report."""
    size = SIZES[size_name]
    report = Report(out)
    if threading.current_thread() is threading.main_thread():
        # `kill` (SIGTERM) unwinds like Ctrl-C, so the scratch database is still dropped.
        signal.signal(signal.SIGTERM, _interrupt)
    report.say(
        f"senate-db bench --size {size.name}: every ratio is against a baseline "
        "measured in this run; vs peer: our figure over the peer design's"
    )
    with scratch_database(url, keep, report) as scratch:
        t0 = time.perf_counter()
        applied = migrations.apply_migrations(scratch)
        report.say(
            f"scratch:  {urls.redact(scratch)} ({len(applied)} migrations applied in "
            f"{fmt_s(time.perf_counter() - t0)})"
        )
        with bench_sql.connect(scratch) as conn:
            describe_server(conn, report, size)
            conn.execute(q("setup"))
            report.header()
            earlier: dict[str, int] = {}
            section_ingest(conn, size, report)
            earlier["ingest"] = mismatches(conn)
            section_breakdown(conn, size, report)
            earlier["breakdown"] = mismatches(conn)
            section_contention(conn, scratch, size, report)
            earlier["contention"] = mismatches(conn)
            section_history(conn, scratch, size, report)
            section_reconcile(conn, report, earlier)
        section_live_migration(url, size, report)
    report.say()
    report.say("markdown:")
    report.say(report.table())
    return report
