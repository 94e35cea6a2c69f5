"""Ingest figures of ``senate-db bench``: rows/s into ``resource_usage`` through every trigger and
constraint it carries against its bare copy, per write path; the peer's design (a) beside them
on the single-row paths; then what each trigger or foreign key costs on its own."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from psycopg import sql

from senate_db import bench_sql
from senate_db.bench_report import (
    Figure,
    Report,
    Size,
    cpu_note,
    fmt_rate,
    rate,
    ratio_of,
    verdict,
)
from senate_db.bench_sql import Conn, compose

#: The tables the ingest figures compare: ours, its bare copy, the peer's (a) spend log.
REAL = "public.resource_usage"
BARE = "bench.bare"
PEER = "bench.peer_spend_log"

#: Rows per multi-row INSERT statement, per COPY, and per transaction of pipelined single rows.
MULTI_ROW = 1_000
COPY_ROWS = 10_000
PIPELINE_TXN = 1_000

#: How the peer's rows are labelled in the table.
PEER_A = "peer (a) LiteLLM log + counter UPDATE"

Row = tuple[Any, ...]


def ingest_rows(n: int, tag: str, entities: int = 200) -> list[Row]:
    """``n`` usage rows (INGEST_COLUMNS) spread over ``entities`` entities and every class."""
    rows: list[Row] = []
    for i in range(n):
        kind = i % 10
        entity_type = bench_sql.ENTITY_TYPES[i % 4]
        entity_id = f"{tag}-{i % entities}"
        if kind < 7:
            model = bench_sql.MODELS[i % len(bench_sql.MODELS)]
            rows.append((entity_type, entity_id, "llm_tokens", 100 + i % 4000, model, None))
        elif kind == 7:
            rows.append((entity_type, entity_id, "cpu_seconds", 1 + i % 600, None, None))
        elif kind == 8:
            rows.append((entity_type, entity_id, "storage_gb_hours", 1, None, None))
        else:
            provider = bench_sql.PROVIDERS[i % len(bench_sql.PROVIDERS)]
            rows.append((entity_type, entity_id, "api_calls", 1, None, provider))
    return rows


def round_rows(n: int, tag: str, entities: int, r: int) -> list[Row]:
    """The rows of round ``r`` (entity ids tagged ``{tag}{r}``)."""
    return ingest_rows(n, f"{tag}{r}", entities)


def chunks(rows: Sequence[Row], size: int) -> Iterator[Sequence[Row]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def literal(value: Any) -> str:
    """SQL literal of a generated value (NULL, a number or a plain string)."""
    if value is None:
        return "NULL"
    if isinstance(value, int | float):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def copy_text(value: Any) -> str:
    return "\\N" if value is None else str(value)


def row_statement(table: str) -> sql.Composed:
    """The single-row write into ``table``: an INSERT, or for the peer's spend log its INSERT
    and counter UPDATE in one statement."""
    if table == PEER:
        return compose("peer_spend_row")
    return compose("insert_usage_row", table=table)


@dataclass(frozen=True)
class Batch:
    """Rows to write, with the client-side work (statement text, COPY data) done up front so
    that the timed part is what the server does."""

    table: str
    rows: Sequence[Row]
    row_sql: sql.Composed
    multirow_sql: list[bytes]
    copy_data: list[str]


def prepare_batch(conn: Conn, table: str, rows: Sequence[Row]) -> Batch:
    head = compose("insert_usage_rows", table=table).as_string(conn)
    multirow = [
        (head + " " + ", ".join("(" + ", ".join(map(literal, row)) + ")" for row in chunk)).encode()
        for chunk in chunks(rows, MULTI_ROW)
    ]
    copy = [
        "".join("\t".join(copy_text(v) for v in row) + "\n" for row in chunk)
        for chunk in chunks(rows, COPY_ROWS)
    ]
    return Batch(table, rows, row_statement(table), multirow, copy)


def write_autocommit(conn: Conn, batch: Batch) -> None:
    for row in batch.rows:
        conn.execute(batch.row_sql, row, prepare=True)


def write_pipelined(conn: Conn, batch: Batch) -> None:
    for chunk in chunks(batch.rows, PIPELINE_TXN):
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(batch.row_sql, chunk)


def write_multirow(conn: Conn, batch: Batch) -> None:
    for text in batch.multirow_sql:
        conn.execute(text)


def write_copy(conn: Conn, batch: Batch) -> None:
    statement = compose("copy_usage", table=batch.table)
    for data in batch.copy_data:
        with conn.cursor() as cur, cur.copy(statement) as copy:
            copy.write(data)


Writer = Callable[[Conn, Batch], None]


@dataclass(frozen=True)
class IngestPath:
    """One ingest figure. Rows of one entity fall in one class and one model, so ``entities``
    is the number of rollup keys a statement upserts (the rollup trigger's cost is one upsert
    per key, however many rows share it). ``peer``: the peer's design (a) is measured too."""

    label: str
    writer: Writer
    autocommit: bool  # rows per round: Size.autocommit_rows, else Size.ingest_rows
    goal: float
    entities: int = 200
    peer: bool = False


INGEST_PATHS = (
    IngestPath("single-row INSERT, 1 transaction each", write_autocommit, True, 0.70, peer=True),
    IngestPath(
        f"single-row INSERT, pipelined, {PIPELINE_TXN}/txn", write_pipelined, False, 0.70, peer=True
    ),
    IngestPath(
        f"multi-row INSERT, {MULTI_ROW} rows/statement, 200 keys", write_multirow, False, 0.85
    ),
    IngestPath(
        f"multi-row INSERT, {MULTI_ROW} rows/statement, 10 keys", write_multirow, False, 0.85, 10
    ),
    IngestPath(f"COPY, {COPY_ROWS:,} rows/COPY, 200 keys", write_copy, False, 0.85),
)


@dataclass
class Ingest:
    """Timings of one ingest path: wall seconds and server-backend CPU seconds per table."""

    wall: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)


def timed_write(conn: Conn, writer: Writer, batch: Batch) -> tuple[float, float | None]:
    pid = conn.info.backend_pid
    cpu0 = bench_sql.backend_cpu_seconds(pid)
    t0 = time.perf_counter()
    writer(conn, batch)
    wall = time.perf_counter() - t0
    cpu1 = bench_sql.backend_cpu_seconds(pid)
    cpu = cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None
    return wall, cpu


def open_peer_counters(conn: Conn, entities: Sequence[tuple[str, str]]) -> None:
    """A zero spend counter for each entity that has none (not timed)."""
    conn.execute(
        bench_sql.q("open_peer_counters"), ([t for t, _ in entities], [i for _, i in entities])
    )


def paired(
    conn: Conn,
    writer: Writer,
    tables: Sequence[str],
    rounds: int,
    rows_for_round: Callable[[int], Sequence[Row]],
) -> Ingest:
    """Run ``writer`` on each table ``rounds`` times, alternating the order every round; each
    round writes the same rows to every table."""
    result = Ingest(wall={t: [] for t in tables}, cpu={t: [] for t in tables})
    for r in range(rounds):
        rows = rows_for_round(r)
        order = list(tables) if r % 2 == 0 else list(reversed(tables))
        for table in order:
            if table == PEER:
                open_peer_counters(conn, [(row[0], row[1]) for row in rows])
            wall, cpu = timed_write(conn, writer, prepare_batch(conn, table, rows))
            result.wall[table].append(wall)
            if cpu is not None:
                result.cpu[table].append(cpu)
    return result


def create_copy(conn: Conn, table: str, comment: str, *, partitioned: bool = False) -> None:
    """A bare copy of resource_usage (create_bare_copy), or one partitioned by month."""
    comment_literal = sql.Literal(comment)
    if partitioned:
        name = sql.Literal(table)
        conn.execute(
            compose("create_partitioned_copy", table=table, comment=comment_literal, name=name)
        )
    else:
        conn.execute(compose("create_bare_copy", table=table, comment=comment_literal))


def section_ingest(conn: Conn, size: Size, report: Report) -> None:
    create_copy(conn, BARE, "resource_usage without triggers or foreign keys: the ingest baseline.")
    conn.execute(bench_sql.q("create_peer_tables"))
    for path in INGEST_PATHS:
        n = size.autocommit_rows if path.autocommit else size.ingest_rows
        rows = partial(round_rows, n, f"ingest{path.entities}-", path.entities)
        tables = (BARE, REAL, PEER) if path.peer else (BARE, REAL)
        result = paired(conn, path.writer, tables, size.rounds, rows)
        ratio = ratio_of(result.wall, REAL, BARE)
        bare_rate = fmt_rate(rate(n, statistics.median(result.wall[BARE]))) + " bare"
        report.add(
            Figure(
                "ingest",
                path.label,
                fmt_rate(rate(n, statistics.median(result.wall[REAL]))),
                bare_rate,
                ratio,
                f">= {path.goal:.2f}{cpu_note(result.cpu, REAL, BARE)}",
                verdict(ratio is not None and ratio >= path.goal),
                peer=ratio_of(result.wall, REAL, PEER) if path.peer else None,
            )
        )
        if path.peer:
            report.add(
                Figure(
                    "peer",
                    f"{PEER_A}: {path.label}",
                    fmt_rate(rate(n, statistics.median(result.wall[PEER]))),
                    bare_rate,
                    ratio_of(result.wall, PEER, BARE),
                    f"the peer's design{cpu_note(result.cpu, PEER, BARE)}",
                    "info",
                )
            )


def with_parts(conn: Conn, parts: str, prefix: str, labels: dict[str, str]) -> list[str]:
    """A bare copy per (label, ddl) row the statement ``parts`` returns, with that one part
    attached."""
    tables = []
    for i, (label, ddl) in enumerate(conn.execute(parts).fetchall()):
        table = f"bench.{prefix}_{i}"
        create_copy(conn, table, f"bench.bare + {label}")
        conn.execute(str(ddl).replace("{table}", table).encode())
        tables.append(table)
        labels[table] = f"bare + {label}"
    return tables


def section_breakdown(conn: Conn, size: Size, report: Report) -> None:
    """What each trigger / foreign key costs alone (the bare copy plus that one component),
    what time partitioning by month would cost the bare table, and, on single rows, what
    each part of the rollup trigger's one-row path costs alone."""
    labels: dict[str, str] = {}
    tables = [BARE, *with_parts(conn, bench_sql.q("usage_insert_components"), "with", labels)]
    create_copy(
        conn, "bench.part", "bench.bare partitioned by month of created_at", partitioned=True
    )
    tables.append("bench.part")
    labels["bench.part"] = "bare, partitioned by month (design option)"
    conn.execute(bench_sql.q("create_single_row_parts"))
    one_row_parts = with_parts(conn, bench_sql.q("single_row_parts"), "one_row", labels)
    for name, writer, measured in (
        (f"multi-row INSERT, {MULTI_ROW}/stmt", write_multirow, tables),
        (f"COPY, {COPY_ROWS:,}/COPY", write_copy, tables),
        ("single-row INSERT, pipelined", write_pipelined, tables + one_row_parts),
    ):
        result = paired(
            conn,
            writer,
            measured,
            size.rounds,
            lambda r: ingest_rows(size.breakdown_rows, f"bd{r}"),
        )
        bare_rate = rate(size.breakdown_rows, statistics.median(result.wall[BARE]))
        for table in measured[1:]:
            report.add(
                Figure(
                    "breakdown",
                    f"{name}: {labels[table]}",
                    fmt_rate(rate(size.breakdown_rows, statistics.median(result.wall[table]))),
                    fmt_rate(bare_rate) + " bare",
                    ratio_of(result.wall, table, BARE),
                    f"cost of one part{cpu_note(result.cpu, table, BARE)}",
                    "info",
                )
            )
    conn.execute(bench_sql.q("forget_breakdown_rollups"))
    for table in tables[1:] + one_row_parts:
        conn.execute(compose("drop_table", table=table))
    conn.execute(compose("empty_table", table=BARE))
