"""``senate-db bench --size tiny`` runs end to end and prints every figure (what CI runs).

Benchmarks are not tests: nothing here looks at a timing. It checks that every row of the table
is printed (measured, or ``n/a`` for functions other migrations have not installed yet), that the
bench's own correctness figures hold (no deadlock, rollups reconciled), and that the scratch
database is gone afterwards.
"""

from __future__ import annotations

import io
import re
from typing import Any

import psycopg
import pytest

from senate_db import cli, paths

#: Every figure of the table, as the start of its label.
FIGURES = (
    "single-row INSERT, 1 transaction each",
    "single-row INSERT, pipelined",
    "multi-row INSERT, 1000 rows/statement",
    "COPY, 10,000 rows/COPY",
    "INSERT ... SELECT",
    "16 writers, one hot entity, 1 row/txn",
    "16 writers, 1k entities, 1 row/txn",
    "deadlocks (SQLSTATE 40P01)",
    "can_spend, one entity",
    "budget_status, one entity",
    "daily_spend, one day",
    "run_rebalance",
    "reconcile_usage_rollups()",
    "longest writer wait, live migration of",
    "inserts lost, live migration of",
)


def scratch_databases(server_url: str) -> set[str]:
    with psycopg.connect(server_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE datname LIKE 'senate_bench_%'"
        ).fetchall()
    return {r[0] for r in rows}


@pytest.mark.slow
def test_the_bench_runs_at_tiny_size_and_prints_every_figure(
    server_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    before = scratch_databases(server_url)
    assert cli.main(["bench", "--size", "tiny", "--database", server_url]) == 0
    out = capsys.readouterr().out
    table = out.split("markdown:")[-1]
    rows = [line for line in table.splitlines() if line.startswith("| ")]
    for figure in FIGURES:
        matching = [r for r in rows if figure in r]
        assert matching, f"no row for {figure!r} in:\n{table}"
        for row in matching:
            cells = [c.strip() for c in row.strip("|").split("|")]
            assert cells[2], f"empty measurement in {row!r}"
    assert re.search(r"deadlocks \(SQLSTATE 40P01\), all runs \| 0 \|", table)
    assert re.search(r"reconcile_usage_rollups\(\) over [\d,]+ usage rows \| 0 mismatches", table)
    assert "server:" in out and "settings:" in out and "shared_buffers=" in out
    assert scratch_databases(server_url) == before


def test_the_bench_reports_functions_that_are_not_installed_as_n_a(
    db: psycopg.Connection[Any],
) -> None:
    from senate_db import bench

    report = bench.Report(io.StringIO())
    probe = bench.Probe("missing_function, one entity", None)
    bench.report_probe(report, probe, 10, 100, 1.0)
    assert report.figures[0].measured == "n/a (function not installed)"
    assert bench.function_signature(db, "surely_not_installed") is None
    assert bench.function_signature(db, "reconcile_usage_rollups") == "reconcile_usage_rollups()"


def test_the_readme_carries_a_measured_row_for_every_figure() -> None:
    """db/docs/performance.md holds the table a real run printed: a row per figure, each with a
    measurement (not n/a), at the issue's sizes (10M usage rows, 100k entities)."""
    section = (paths.repo_root() / "db" / "docs" / "performance.md").read_text(encoding="utf-8")
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    for figure in FIGURES:
        pattern = re.escape(figure).replace("1k", r"\d+k")
        matching = [row for row in rows if re.search(r"^\| \w+ \| " + pattern, row)]
        assert matching, f"db/docs/performance.md has no row for {figure!r}"
        for row in matching:
            measured = row.split(" | ")[2]
            assert measured and "n/a" not in measured, row
    assert any("@ 10M vs 1M usage rows" in row for row in rows)
    assert any("run_rebalance @ 100k vs 10k entities, 10M rows" in row for row in rows)
