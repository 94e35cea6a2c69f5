"""``senate-db bench --size tiny`` runs end to end and prints every figure (what CI runs).

Benchmarks are not tests: nothing here looks at a timing. It checks that every row of the table
is printed with a measurement, the peers' designs beside ours, that the bench's own correctness
figures hold (no deadlock, rollups reconciled after every section, the peer's counters equal to
its log), that the scratch database is gone afterwards, and that the bench's SQL lives in its
``.sql`` files.
"""

from __future__ import annotations

import ast
import io
import re
from pathlib import Path
from typing import Any

import psycopg
import pytest

from senate_db import bench_sql, cli, paths

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
    "can_spend, five levels deep",
    "budget_status, one entity",
    "budget_forecast, one entity",
    "daily_spend, one day",
    "run_rebalance",
    "reconcile_usage_rollups()",
    "longest writer wait, live migration of",
    "inserts lost, live migration of",
    # The price of each part of the one-row path (issue 20 point 3).
    "single-row INSERT, pipelined: bare + one-row part: an empty statement trigger",
    "single-row INSERT, pipelined: bare + one-row part: the same, SECURITY DEFINER",
    "single-row INSERT, pipelined: bare + one-row part: read the row",
    "single-row INSERT, pipelined: bare + one-row part: lock its kind and class",
    "single-row INSERT, pipelined: bare + one-row part: upsert its rollup",
)

#: The peers' rows (issue 20 point 1), and our figures that carry a ``vs peer`` ratio.
PEER_FIGURES = (
    "peer (a) LiteLLM log + counter UPDATE: single-row INSERT, 1 transaction each",
    "peer (a) LiteLLM log + counter UPDATE: single-row INSERT, pipelined",
    "peer (a) LiteLLM log + counter UPDATE: 16 writers, one hot entity, 1 row/txn",
    "peer (a) LiteLLM log + counter UPDATE: 16 writers, one hot entity: p99 latency per row",
    "peer (a) LiteLLM log + counter UPDATE: 16 writers, 1k entities, 1 row/txn",
    "peer (a) LiteLLM log + counter UPDATE: 16 writers, 1k entities: p99 latency per row",
    "peer (a) LiteLLM log + counter UPDATE: deadlocks (SQLSTATE 40P01), all runs",
    "peer (b) spec: SUM over usage rows, one class",
    "peer (b) spec: SUM over usage rows, every class",
    "peer (b) spec: SUM over usage rows, one class, busiest entity",
    "peer (b) spec: SUM over usage rows: token rows summed",
)
COMPARED = (
    "single-row INSERT, 1 transaction each",
    "single-row INSERT, pipelined",
    "16 writers, one hot entity, 1 row/txn",
    "16 writers, one hot entity: p99 latency per row",
    "16 writers, 1k entities, 1 row/txn",
    "16 writers, 1k entities: p99 latency per row",
    "can_spend, one entity",
    "budget_status, one entity",
    "can_spend, busiest entity",
)

#: The bench's Python modules, which hold no SQL of their own.
BENCH_MODULES = sorted(Path(bench_sql.__file__).parent.glob("bench*.py"))


def cells_of(row: str) -> list[str]:
    return [c.strip() for c in row.strip().strip("|").split("|")]


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
    assert cells_of(rows[0])[4:6] == ["ratio", "vs peer"]
    for figure in FIGURES + PEER_FIGURES:
        matching = [r for r in rows if figure in r]
        assert matching, f"no row for {figure!r} in:\n{table}"
        for row in matching:
            assert cells_of(row)[2], f"empty measurement in {row!r}"
            assert "n/a" not in cells_of(row)[2], row
    for figure in COMPARED:
        ours = [
            r
            for r in rows
            if cells_of(r)[0] in ("ingest", "contention", "budget")
            and cells_of(r)[1].startswith(figure)
        ]
        assert ours, figure
        for row in ours:
            assert re.fullmatch(r"\d+\.\d\d", cells_of(row)[5]), f"no vs peer ratio in {row!r}"
    assert re.search(r"\| deadlocks \(SQLSTATE 40P01\), all runs \| 0 \|", table)
    assert re.search(r"counters = its log: 0 mismatches", table)
    assert re.search(
        r"reconcile_usage_rollups\(\) over [\d,]+ usage rows \| 0 mismatches \| [^|]*"
        r"0 after ingest, 0 after breakdown, 0 after contention",
        table,
    )
    assert "server:" in out and "settings:" in out and "shared_buffers=" in out
    assert scratch_databases(server_url) == before


def test_the_bench_reports_a_call_that_fails_as_n_a_with_its_sqlstate(
    db: psycopg.Connection[Any],
) -> None:
    from psycopg import sql

    from senate_db import bench_history, bench_report

    db.autocommit = True
    db.execute(bench_sql.q("setup"))
    probe = bench_history.Probe("failing_call, one entity", sql.SQL("SELECT 1 / 0"))
    bench_history.measure(db, probe, 5)
    report = bench_report.Report(io.StringIO())
    bench_history.report_probe(report, probe, 10, 100, 1.0)
    assert report.figures[0].measured.startswith("n/a (call failed: SQLSTATE 22012")
    assert report.figures[0].result == "n/a"


def statement_names(path: Path) -> set[str]:
    """The statement names a bench module passes as literals: ``q(NAME)``,
    ``compose(NAME, ...)``, ``probe(label, NAME, ...)`` (a name forwarded in a variable is
    counted where the literal is)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            func = node.func
            called = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            where = {"q": 0, "compose": 0, "probe": 1}.get(called)
            if where is not None and len(node.args) > where:
                arg = node.args[where]
                if isinstance(arg, ast.Constant):
                    found.add(str(arg.value))
    return found


def test_every_statement_the_bench_names_is_in_its_sql_files_and_each_is_used() -> None:
    named = bench_sql.statements()
    assert len(named) >= 30
    used = set().union(*(statement_names(p) for p in BENCH_MODULES))
    assert used - set(named) == set(), "named in Python, missing from sql/bench"
    assert set(named) - used == set(), "in sql/bench, used by no module"


def test_the_bench_modules_hold_no_sql_of_their_own() -> None:
    """Issue 17 point 6: the statements are in sql/bench/*.sql, not in Python strings."""
    statement = re.compile(
        r"^\s*(SELECT\s.*\bFROM\b|SELECT\s+[\w.]+\(|INSERT\s+INTO|UPDATE\s+\S+\s+SET|"
        r"DELETE\s+FROM|(CREATE|ALTER|DROP|COMMENT\s+ON)\s+(TABLE|INDEX|SEQUENCE|FUNCTION|"
        r"SCHEMA|TRIGGER|VIEW)|WITH\s+\w+\s+AS|SET\s+\w+\s*(=|TO)|RESET\s+\w|ANALYZE\s+\w|"
        r"VACUUM\b|COPY\s+\S+\s.*FROM|TRUNCATE\s+\w|BEGIN\b|COMMIT\b|ROLLBACK\b)",
        flags=re.S,
    )
    for path in BENCH_MODULES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert not statement.match(node.value), f"{path.name}: {node.value[:60]!r}"


def test_the_readme_carries_a_measured_row_for_every_figure() -> None:
    """db/docs/performance.md holds the tables real runs printed: a row per figure, each with a
    measurement (not n/a), the last one at the issue's sizes (10M usage rows, 100k entities),
    and our figures beside the peers' designs with their vs peer ratio."""
    section = (paths.repo_root() / "db" / "docs" / "performance.md").read_text(encoding="utf-8")
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    for figure in FIGURES + PEER_FIGURES + COMPARED:
        pattern = re.escape(figure).replace("1k", r"\d+k")
        matching = [row for row in rows if re.search(r"^\| \w+ \| " + pattern, row)]
        assert matching, f"db/docs/performance.md has no row for {figure!r}"
        for row in matching:
            measured = row.split(" | ")[2]
            assert measured and "n/a" not in measured, row
    for figure in COMPARED:
        pattern = re.escape(figure).replace("1k", r"\d+k")
        compared = [
            row
            for row in rows
            if re.search(r"^\| (ingest|contention|budget) \| " + pattern, row)
            and len(cells_of(row)) == 8
            and re.fullmatch(r"\d+\.\d\d", cells_of(row)[5])
        ]
        assert compared, f"db/docs/performance.md has no vs peer ratio for {figure!r}"
    assert any("@ 10M vs 1M usage rows" in row for row in rows)
    assert any("run_rebalance @ 100k vs 10k entities, 10M rows" in row for row in rows)
