"""``senate-db bench``: the performance figures of the Senate economics layer, side by side.

Every figure is measured against a baseline taken in the same run, on the same server:

* ingest: rows/s into ``resource_usage`` through every trigger and constraint it carries vs an
  identical table without them (``LIKE resource_usage INCLUDING DEFAULTS INCLUDING CONSTRAINTS
  INCLUDING INDEXES``, its own sequence), for single-row INSERTs, multi-row INSERTs and COPY;
  then what each trigger or foreign key costs on its own;
* contention: 16 concurrent writers (threads, one connection each) charging one hot entity, and
  16 spread over many entities, vs the same load on the bare table, counting deadlocks;
* budget checks (``can_spend``, ``budget_status``) at a small and a big usage history,
  ``daily_spend`` for one day, ``run_rebalance`` at a small and a big entity count;
* ``reconcile_usage_rollups()`` at the end: the rollups must still equal the usage rows.

The bench creates a scratch database on the target server, migrates it with the project's
migrations, and drops it at the end. Functions and views other migrations have not installed
yet are reported as ``n/a (function not installed)``.

Benchmarks are not tests: nothing here asserts a timing. The "result" column compares a figure
with the goal of issue 8 so a reader sees at once where the system stands.
"""

from __future__ import annotations

import os
import signal
import statistics
import threading
import time
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TextIO

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql

from senate_db import bench_live, bench_sql, migrations, server, urls
from senate_db.errors import describe_database_error

Conn = psycopg.Connection[Any]


# --------------------------------------------------------------------------------------------
# sizes


@dataclass(frozen=True)
class Size:
    """How much work each section does."""

    name: str
    rounds: int  # paired (bare, real) measurements per ingest path; the median is reported
    ingest_rows: int  # rows per round for the batch paths and pipelined single rows
    autocommit_rows: int  # rows per round for single-row INSERTs, one transaction each
    breakdown_rows: int  # rows per component measurement
    writers: int  # concurrent writers
    writer_rows: int  # single-row transactions per writer
    spread_entities: int  # entities the spread writers charge
    usage_small: int  # usage rows for the first budget-check measurement
    usage_big: int  # usage rows for the second one (and daily_spend, rebalance)
    entities_small: int  # budgets for the first rebalance measurement
    entities_big: int  # budgets for the second one; also the population usage is spread over
    calls: int  # timed calls per budget-check figure
    load_batch: int  # rows per generated INSERT ... SELECT
    days: int = 28  # usage history spread over this many days
    live_rows: int = 10_000  # deployed usage rows migrated under a live writer

    @property
    def active_entities(self) -> int:
        """Entities the generated history charges (1 in 20 of the budgeted population: the
        rest hold budgets and stay idle, as most of a large population does)."""
        return max(1, self.entities_big // 20)


SIZES: dict[str, Size] = {
    "tiny": Size(
        "tiny",
        rounds=1,
        ingest_rows=2_000,
        autocommit_rows=200,
        breakdown_rows=1_000,
        writers=16,
        writer_rows=20,
        spread_entities=1_000,
        usage_small=10_000,
        usage_big=100_000,
        entities_small=100,
        entities_big=1_000,
        calls=50,
        load_batch=50_000,
    ),
    "small": Size(
        "small",
        rounds=3,
        ingest_rows=10_000,
        autocommit_rows=500,
        breakdown_rows=5_000,
        writers=16,
        writer_rows=100,
        spread_entities=10_000,
        usage_small=100_000,
        usage_big=1_000_000,
        entities_small=1_000,
        entities_big=10_000,
        calls=300,
        load_batch=100_000,
        live_rows=200_000,
    ),
    "default": Size(
        "default",
        rounds=5,
        ingest_rows=20_000,
        autocommit_rows=1_000,
        breakdown_rows=10_000,
        writers=16,
        writer_rows=200,
        spread_entities=10_000,
        usage_small=1_000_000,
        usage_big=10_000_000,
        entities_small=10_000,
        entities_big=100_000,
        calls=1_000,
        load_batch=250_000,
        live_rows=2_000_000,
    ),
    "large": Size(
        "large",
        rounds=5,
        ingest_rows=20_000,
        autocommit_rows=1_000,
        breakdown_rows=10_000,
        writers=16,
        writer_rows=300,
        spread_entities=100_000,
        usage_small=1_000_000,
        usage_big=10_000_000,
        entities_small=10_000,
        entities_big=100_000,
        calls=2_000,
        load_batch=250_000,
        live_rows=2_000_000,
    ),
}

#: Rows per multi-row INSERT statement, per COPY, and per transaction of pipelined single rows.
MULTI_ROW = 1_000
COPY_ROWS = 10_000
PIPELINE_TXN = 1_000

NOT_INSTALLED = "n/a (function not installed)"


def count_label(n: int) -> str:
    """12_000_000 -> '12M', 100_000 -> '100k'."""
    for unit, div in (("M", 1_000_000), ("k", 1_000)):
        if n >= div and n % (div // 10) == 0:
            text = f"{n / div:.1f}".removesuffix(".0")
            return f"{text}{unit}"
    return str(n)


# --------------------------------------------------------------------------------------------
# the report


@dataclass
class Figure:
    """One row of the table."""

    section: str
    name: str
    measured: str
    baseline: str = ""
    ratio: float | None = None
    goal: str = ""
    result: str = ""


@dataclass
class Report:
    out: TextIO
    figures: list[Figure] = field(default_factory=list)

    WIDTHS = (10, 52, 24, 24, 6, 22)

    def say(self, line: str = "") -> None:
        print(line, file=self.out, flush=True)

    def header(self) -> None:
        self.say(
            self._line(("section", "figure", "measured", "baseline", "ratio", "goal") + ("result",))
        )
        self.say("-" * (sum(self.WIDTHS) + 2 * len(self.WIDTHS) + 6))

    def _line(self, cells: Sequence[str]) -> str:
        parts = [
            c.ljust(w) if i != 4 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, self.WIDTHS, strict=False))
        ]
        parts += list(cells[len(self.WIDTHS) :])
        return "  ".join(parts).rstrip()

    def add(self, figure: Figure) -> None:
        self.figures.append(figure)
        ratio = "" if figure.ratio is None else f"{figure.ratio:.2f}"
        self.say(
            self._line(
                (
                    figure.section,
                    figure.name,
                    figure.measured,
                    figure.baseline,
                    ratio,
                    figure.goal,
                    figure.result,
                )
            )
        )

    def table(self) -> str:
        """The whole table again (markdown), for db/docs/performance.md."""
        lines = [
            "| section | figure | measured | baseline | ratio | goal | result |",
            "|---|---|---|---|---:|---|---|",
        ]
        for f in self.figures:
            ratio = "" if f.ratio is None else f"{f.ratio:.2f}"
            lines.append(
                f"| {f.section} | {f.name} | {f.measured} | {f.baseline} | {ratio} | "
                f"{f.goal} | {f.result} |"
            )
        return "\n".join(lines)


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISS"


def rate(rows: float, seconds: float) -> float:
    return rows / seconds if seconds > 0 else float("inf")


def fmt_rate(value: float) -> str:
    return f"{value:,.0f} rows/s"


def fmt_ms(value: float) -> str:
    return f"{value:.3f} ms" if value < 10 else f"{value:,.1f} ms"


def fmt_s(value: float) -> str:
    return f"{value:.2f} s"


# --------------------------------------------------------------------------------------------
# server helpers


def connect(url: str, **kwargs: Any) -> Conn:
    kwargs.setdefault("autocommit", True)
    return server.connect(url, **kwargs)


def function_signature(conn: Conn, name: str) -> str | None:
    """``public.name(args)`` if a function of that name is installed (first overload), else None.

    The signature of functions other helpers are still writing is not fixed yet, so the lookup
    is by name; ``to_regprocedure`` then confirms the exact signature resolves.
    """
    row = conn.execute(
        "SELECT p.oid::regprocedure::text FROM pg_proc AS p "
        "WHERE p.proname = %s AND p.pronamespace = 'public'::regnamespace "
        "  AND to_regprocedure(p.oid::regprocedure::text) IS NOT NULL "
        "ORDER BY p.pronargs LIMIT 1",
        (name,),
    ).fetchone()
    return str(row[0]) if row else None


def relation_exists(conn: Conn, name: str) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (name,)).fetchone()
    return bool(row and row[0])


def backend_cpu_seconds(pid: int) -> float | None:
    """CPU time the server backend ``pid`` has used (Linux, server on this host), else None."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        return None


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


# --------------------------------------------------------------------------------------------
# ingest


@dataclass
class Ingest:
    """Timings of one ingest path: wall seconds and server-backend CPU seconds per table."""

    wall: dict[str, list[float]] = field(default_factory=dict)
    cpu: dict[str, list[float]] = field(default_factory=dict)


def ingest_rows(n: int, tag: str, entities: int = 200) -> list[tuple[Any, ...]]:
    """``n`` usage rows (INGEST_COLUMNS) spread over ``entities`` entities and every class."""
    rows: list[tuple[Any, ...]] = []
    for i in range(n):
        kind = i % 10
        entity_type = bench_sql.ENTITY_TYPES[i % 4]
        entity_id = f"{tag}-{i % entities}"
        if kind < 7:
            rows.append(
                (
                    entity_type,
                    entity_id,
                    "llm_tokens",
                    100 + i % 4000,
                    bench_sql.MODELS[i % len(bench_sql.MODELS)],
                    None,
                )
            )
        elif kind == 7:
            rows.append((entity_type, entity_id, "cpu_seconds", 1 + i % 600, None, None))
        elif kind == 8:
            rows.append((entity_type, entity_id, "storage_gb_hours", 1, None, None))
        else:
            rows.append(
                (
                    entity_type,
                    entity_id,
                    "api_calls",
                    1,
                    None,
                    bench_sql.PROVIDERS[i % len(bench_sql.PROVIDERS)],
                )
            )
    return rows


def round_rows(n: int, tag: str, entities: int, r: int) -> list[tuple[Any, ...]]:
    """The rows of round ``r`` (entity ids tagged ``{tag}{r}``)."""
    return ingest_rows(n, f"{tag}{r}", entities)


def chunks(rows: Sequence[tuple[Any, ...]], size: int) -> Iterator[Sequence[tuple[Any, ...]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]


def insert_sql(table: str, n_rows: int = 1) -> sql.Composed:
    cols = sql.SQL(", ").join(sql.Identifier(c) for c in bench_sql.INGEST_COLUMNS)
    one = sql.SQL("({})").format(
        sql.SQL(", ").join(sql.Placeholder() for _ in bench_sql.INGEST_COLUMNS)
    )
    return sql.SQL("INSERT INTO {} ({}) VALUES {}").format(
        sql.SQL(table), cols, sql.SQL(", ").join([one] * n_rows)
    )


def literal(value: Any) -> str:
    """SQL literal of a generated value (NULL, a number or a plain string)."""
    if value is None:
        return "NULL"
    if isinstance(value, int | float):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def copy_text(value: Any) -> str:
    return "\\N" if value is None else str(value)


@dataclass(frozen=True)
class Batch:
    """Rows to write, with the client-side work (statement text, COPY data) done up front so
    that the timed part is what the server does."""

    rows: Sequence[tuple[Any, ...]]
    multirow_sql: list[str]
    copy_data: list[str]


def prepare_batch(table: str, rows: Sequence[tuple[Any, ...]]) -> Batch:
    cols = ", ".join(bench_sql.INGEST_COLUMNS)
    multirow = [
        f"INSERT INTO {table} ({cols}) VALUES "
        + ", ".join("(" + ", ".join(literal(v) for v in row) + ")" for row in chunk)
        for chunk in chunks(rows, MULTI_ROW)
    ]
    copy = [
        "".join("\t".join(copy_text(v) for v in row) + "\n" for row in chunk)
        for chunk in chunks(rows, COPY_ROWS)
    ]
    return Batch(rows, multirow, copy)


def write_autocommit(conn: Conn, table: str, batch: Batch) -> None:
    stmt = insert_sql(table)
    for row in batch.rows:
        conn.execute(stmt, row, prepare=True)


def write_pipelined(conn: Conn, table: str, batch: Batch) -> None:
    stmt = insert_sql(table)
    for chunk in chunks(batch.rows, PIPELINE_TXN):
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(stmt, chunk)


def write_multirow(conn: Conn, table: str, batch: Batch) -> None:
    for text in batch.multirow_sql:
        conn.execute(text.encode())


def write_copy(conn: Conn, table: str, batch: Batch) -> None:
    cols = ", ".join(bench_sql.INGEST_COLUMNS)
    for data in batch.copy_data:
        with conn.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
            copy.write(data)


Writer = Callable[[Conn, str, Batch], None]

#: (label, writer, which row count, goal, entities the rows charge). Rows of one entity fall in
#: one class and one model, so the entity count is the number of rollup keys a statement upserts
#: (the rollup trigger's cost is one upsert per key, however many rows share it).
INGEST_PATHS: tuple[tuple[str, Writer, str, float, int], ...] = (
    ("single-row INSERT, 1 transaction each", write_autocommit, "autocommit", 0.70, 200),
    (f"single-row INSERT, pipelined, {PIPELINE_TXN}/txn", write_pipelined, "ingest", 0.70, 200),
    (
        f"multi-row INSERT, {MULTI_ROW} rows/statement, 200 keys",
        write_multirow,
        "ingest",
        0.85,
        200,
    ),
    (
        f"multi-row INSERT, {MULTI_ROW} rows/statement, 10 keys",
        write_multirow,
        "ingest",
        0.85,
        10,
    ),
    (f"COPY, {COPY_ROWS:,} rows/COPY, 200 keys", write_copy, "ingest", 0.85, 200),
)


def timed_write(conn: Conn, writer: Writer, table: str, batch: Batch) -> tuple[float, float | None]:
    pid = conn.info.backend_pid
    cpu0 = backend_cpu_seconds(pid)
    t0 = time.perf_counter()
    writer(conn, table, batch)
    wall = time.perf_counter() - t0
    cpu1 = backend_cpu_seconds(pid)
    cpu = cpu1 - cpu0 if cpu0 is not None and cpu1 is not None else None
    return wall, cpu


def paired(
    conn: Conn,
    writer: Writer,
    tables: Sequence[str],
    rounds: int,
    rows_for_round: Callable[[int], Sequence[tuple[Any, ...]]],
) -> Ingest:
    """Run ``writer`` on each table ``rounds`` times, alternating the order every round; each
    round writes the same rows to every table."""
    result = Ingest(wall={t: [] for t in tables}, cpu={t: [] for t in tables})
    for r in range(rounds):
        rows = rows_for_round(r)
        order = list(tables) if r % 2 == 0 else list(reversed(tables))
        for table in order:
            wall, cpu = timed_write(conn, writer, table, prepare_batch(table, rows))
            result.wall[table].append(wall)
            if cpu is not None:
                result.cpu[table].append(cpu)
    return result


def ratio_of(times: dict[str, list[float]], real: str, bare: str) -> float | None:
    """Median over rounds of bare_time / real_time (= real rows/s over bare rows/s)."""
    pairs = [b / t for t, b in zip(times.get(real, []), times.get(bare, []), strict=False) if t > 0]
    return statistics.median(pairs) if pairs else None


def cpu_note(times: dict[str, list[float]], real: str, bare: str) -> str:
    cpu_ratio = ratio_of(times, real, bare)
    return f" (server CPU {cpu_ratio:.2f})" if cpu_ratio is not None else ""


def create_copy(conn: Conn, table: str, comment: str, *, partitioned: bool = False) -> None:
    """A table like resource_usage (columns, defaults, CHECKs; indexes unless partitioned)
    with no trigger and no foreign key, numbered from the bench's own sequence."""
    if partitioned:
        conn.execute(
            f"CREATE TABLE {table} (LIKE public.resource_usage INCLUDING DEFAULTS "
            "INCLUDING CONSTRAINTS) PARTITION BY RANGE (created_at)"
        )
        conn.execute(f"ALTER TABLE {table} ADD PRIMARY KEY (id, created_at)")
        conn.execute(f"CREATE INDEX ON {table} (entity_type, entity_id, created_at)")
        months = conn.execute(
            "SELECT m::date, (m + interval '1 month')::date FROM generate_series("
            "date_trunc('month', now() - interval '2 months'), date_trunc('month', now()), "
            "interval '1 month') AS m"
        ).fetchall()
        for i, (lo, hi) in enumerate(months):
            conn.execute(
                f"CREATE TABLE {table}_m{i} PARTITION OF {table} "
                f"FOR VALUES FROM ('{lo}') TO ('{hi}')"
            )
        conn.execute(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")
    else:
        conn.execute(
            f"CREATE TABLE {table} (LIKE public.resource_usage INCLUDING DEFAULTS "
            "INCLUDING CONSTRAINTS INCLUDING INDEXES)"
        )
    conn.execute(f"COMMENT ON TABLE {table} IS {literal(comment)}")
    if _has_serial_id(conn):
        conn.execute(
            f"ALTER TABLE {table} ALTER COLUMN id SET DEFAULT nextval('bench.bare_id_seq')"
        )


def section_ingest(conn: Conn, size: Size, report: Report) -> None:
    conn.execute("CREATE SEQUENCE bench.bare_id_seq")
    create_copy(
        conn, "bench.bare", "resource_usage without triggers or foreign keys: the ingest baseline."
    )
    real, bare = "public.resource_usage", "bench.bare"
    for name, writer, kind, goal, entities in INGEST_PATHS:
        n = size.autocommit_rows if kind == "autocommit" else size.ingest_rows
        rows = partial(round_rows, n, f"ingest{entities}-", entities)
        result = paired(conn, writer, (bare, real), size.rounds, rows)
        real_rate = rate(n, statistics.median(result.wall[real]))
        bare_rate = rate(n, statistics.median(result.wall[bare]))
        ratio = ratio_of(result.wall, real, bare)
        report.add(
            Figure(
                "ingest",
                name,
                fmt_rate(real_rate),
                fmt_rate(bare_rate) + " bare",
                ratio,
                f">= {goal:.2f}{cpu_note(result.cpu, real, bare)}",
                verdict(ratio is not None and ratio >= goal),
            )
        )


def insert_components(conn: Conn) -> list[tuple[str, list[str]]]:
    """What resource_usage carries beyond the bare copy, as (label, DDL templates) per
    component; the templates name the table ``{table}``."""
    components: list[tuple[str, list[str]]] = []
    fks = conn.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = 'public.resource_usage'::regclass AND contype = 'f' ORDER BY conname"
    ).fetchall()
    if fks:
        components.append(
            (
                f"{len(fks)} foreign keys (checked per row)",
                [
                    f"ALTER TABLE {{table}} ADD CONSTRAINT {name} {definition}"
                    for name, definition in fks
                ],
            )
        )
    triggers = conn.execute(
        "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger "
        "WHERE tgrelid = 'public.resource_usage'::regclass AND NOT tgisinternal "
        "  AND tgenabled <> 'D' AND (tgtype & 4) <> 0 "  # fires on INSERT
        "ORDER BY tgname"
    ).fetchall()
    for name, definition in triggers:
        ddl = str(definition).replace(" ON public.resource_usage ", " ON {table} ")
        components.append((f"trigger {name}", [ddl]))
    return components


def section_breakdown(conn: Conn, size: Size, report: Report) -> None:
    """What each trigger / foreign key costs alone (the bare copy plus that one component),
    and what time partitioning by month would cost the bare table."""
    components = insert_components(conn)
    tables = ["bench.bare"]
    labels: dict[str, str] = {}
    for i, (label, ddl) in enumerate(components):
        table = f"bench.with_{i}"
        create_copy(conn, table, f"bench.bare + {label}")
        for statement in ddl:
            conn.execute(statement.replace("{table}", table))
        tables.append(table)
        labels[table] = f"bare + {label}"
    create_copy(
        conn, "bench.part", "bench.bare partitioned by month of created_at", partitioned=True
    )
    tables.append("bench.part")
    labels["bench.part"] = "bare, partitioned by month (design option)"
    found = conn.execute(
        "SELECT to_regprocedure('senate.check_usage_references()') IS NOT NULL "
        "AND to_regprocedure('senate.validate_usage_inserts()') IS NOT NULL"
    ).fetchone()
    if found and found[0]:
        # The floor of any design that moves the rollups off the insert path but still refuses
        # bad rows in the writer's statement: the pre-0058 reference-check and validation
        # triggers alone, no rollup (two statement triggers: an upper bound of that floor).
        create_copy(conn, "bench.checks", "bench.bare + insert checks without rollups")
        for function in ("senate.check_usage_references", "senate.validate_usage_inserts"):
            conn.execute(
                f"CREATE TRIGGER t10_{function.split('.')[1]} AFTER INSERT ON bench.checks "
                f"REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION "
                f"{function}()"
            )
        tables.append("bench.checks")
        labels["bench.checks"] = (
            "bare + reference check and strict validation, no rollup (design option: the floor "
            "with rollups off the insert path)"
        )
    for name, writer in (
        (f"multi-row INSERT, {MULTI_ROW}/stmt", write_multirow),
        (f"COPY, {COPY_ROWS:,}/COPY", write_copy),
        ("single-row INSERT, pipelined", write_pipelined),
    ):
        result = paired(
            conn, writer, tables, size.rounds, lambda r: ingest_rows(size.breakdown_rows, f"bd{r}")
        )
        bare_rate = rate(size.breakdown_rows, statistics.median(result.wall["bench.bare"]))
        for table in tables[1:]:
            report.add(
                Figure(
                    "breakdown",
                    f"{name}: {labels[table]}",
                    fmt_rate(rate(size.breakdown_rows, statistics.median(result.wall[table]))),
                    fmt_rate(bare_rate) + " bare",
                    ratio_of(result.wall, table, "bench.bare"),
                    f"cost of one part{cpu_note(result.cpu, table, 'bench.bare')}",
                    "info",
                )
            )
    # The copies' rollup triggers wrote rollups for rows resource_usage does not hold: remove
    # them (their entities are tagged bd*), so the final reconciliation stays meaningful.
    conn.execute("DELETE FROM senate.usage_rollups WHERE entity_id LIKE 'bd%'")
    for table in tables[1:]:
        conn.execute(f"DROP TABLE {table}")
    conn.execute("TRUNCATE bench.bare")


def _has_serial_id(conn: Conn) -> bool:
    row = conn.execute(
        "SELECT pg_get_expr(d.adbin, d.adrelid) LIKE 'nextval%' FROM pg_attrdef AS d "
        "JOIN pg_attribute AS a ON (a.attrelid, a.attnum) = (d.adrelid, d.adnum) "
        "WHERE d.adrelid = 'public.resource_usage'::regclass AND a.attname = 'id'"
    ).fetchone()
    return bool(row and row[0])


# --------------------------------------------------------------------------------------------
# contention


@dataclass
class WriterRun:
    seconds: float
    rows: int
    latencies: list[float]
    deadlocks: int
    backends: list[int]


def run_writers(
    url: str, table: str, size: Size, entity_of: Callable[[int, int], tuple[str, str]]
) -> WriterRun:
    """``size.writers`` threads, one connection each, each inserting ``size.writer_rows`` rows
    one transaction at a time; a deadlock (40P01) is counted and the row retried."""
    stmt = insert_sql(table)
    start = threading.Barrier(size.writers + 1)
    lock = threading.Lock()
    latencies: list[float] = []
    backends: list[int] = []
    deadlocks = [0]
    failures: list[BaseException] = []

    def work(w: int) -> None:
        mine: list[float] = []
        try:
            with connect(url) as conn:
                with lock:
                    backends.append(conn.info.backend_pid)
                start.wait()
                for i in range(size.writer_rows):
                    entity_type, entity_id = entity_of(w, i)
                    row = (
                        entity_type,
                        entity_id,
                        "llm_tokens",
                        100 + i % 900,
                        bench_sql.MODELS[(w + i) % len(bench_sql.MODELS)],
                        None,
                    )
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


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[k]


def section_contention(conn: Conn, url: str, size: Size, report: Report) -> None:
    hot = bench_sql.HOT_ENTITY
    loads: tuple[tuple[str, Callable[[int, int], tuple[str, str]]], ...] = (
        (f"{size.writers} writers, one hot entity", lambda w, i: hot),
        (
            f"{size.writers} writers, {count_label(size.spread_entities)} entities",
            lambda w, i: (
                bench_sql.ENTITY_TYPES[(w + i) % 4],
                f"spread-{(w * 7919 + i * 104729) % size.spread_entities}",
            ),
        ),
    )
    total_deadlocks = 0
    for name, entity_of in loads:
        runs: dict[str, list[WriterRun]] = {"bench.bare": [], "public.resource_usage": []}
        for r in range(max(1, min(size.rounds, 3))):
            order = list(runs) if r % 2 == 0 else list(reversed(list(runs)))
            for table in order:
                runs[table].append(run_writers(url, table, size, entity_of))
        real = runs["public.resource_usage"]
        bare = runs["bench.bare"]
        ratios = [b.seconds / t.seconds for t, b in zip(real, bare, strict=True) if t.seconds]
        ratio = statistics.median(ratios) if ratios else None
        real_run = real[len(real) // 2]
        deadlocks = sum(x.deadlocks for x in real) + sum(x.deadlocks for x in bare)
        total_deadlocks += deadlocks
        p99_real = statistics.median(percentile(x.latencies, 0.99) for x in real) * 1000
        p99_bare = statistics.median(percentile(x.latencies, 0.99) for x in bare) * 1000
        report.add(
            Figure(
                "contention",
                f"{name}, 1 row/txn",
                fmt_rate(statistics.median(rate(x.rows, x.seconds) for x in real)),
                fmt_rate(statistics.median(rate(x.rows, x.seconds) for x in bare)) + " bare",
                ratio,
                ">= 0.70 of bare",
                verdict(ratio is not None and ratio >= 0.70),
            )
        )
        report.add(
            Figure(
                "contention",
                f"{name}: p99 latency per row",
                fmt_ms(p99_real),
                fmt_ms(p99_bare) + " bare",
                p99_real / p99_bare if p99_bare else None,
                "",
                "info",
            )
        )
        if "hot" in name:
            shards = conn.execute(
                "SELECT count(DISTINCT shard) FROM senate.usage_rollups "
                "WHERE (entity_type, entity_id) = (%s, %s) AND usage_day = "
                "  (now() AT TIME ZONE senate.policy_time_zone())::date",
                hot,
            ).fetchone()
            report.add(
                Figure(
                    "contention",
                    "hot entity: rollup shards written today",
                    f"{shards[0] if shards else 0} of 16",
                    f"{len(real_run.backends)} writers",
                    None,
                    "spread, no shared row",
                    "info",
                )
            )
    report.add(
        Figure(
            "contention",
            "deadlocks (SQLSTATE 40P01), all runs",
            str(total_deadlocks),
            "",
            None,
            "0",
            verdict(total_deadlocks == 0),
        )
    )


# --------------------------------------------------------------------------------------------
# history: budget checks, daily spend, rebalance


def usage_rows_now(conn: Conn) -> int:
    row = conn.execute("SELECT count(*) FROM public.resource_usage").fetchone()
    return int(row[0]) if row else 0


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
    url: str,
    conn: Conn,
    size: Size,
    phase: tuple[int, int],
    start_i: int,
    report: Report,
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
    statement = bench_sql.GENERATE_USAGE.format(table="public.resource_usage")
    params = generator_params(size, phase_lo, phase_rows)

    def loader() -> None:
        try:
            with connect(url) as c:
                c.execute("SET work_mem = '64MB'")
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
        conn.execute("ANALYZE public.resource_usage; ANALYZE senate.usage_rollups")
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
    conn.execute("ANALYZE public.resource_usage; ANALYZE senate.usage_rollups")
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
    statement = {
        t: bench_sql.GENERATE_USAGE.format(table=t) for t in ("bench.bare", "public.resource_usage")
    }
    params = generator_params(size, 1, size.usage_small)
    times: dict[str, list[float]] = {t: [] for t in statement}
    cpu: dict[str, list[float]] = {t: [] for t in statement}
    next_i = 1
    conn.execute("SET work_mem = '64MB'")
    for r in range(2):
        lo, hi = next_i, next_i + n - 1
        for table in statement if r == 0 else reversed(list(statement)):
            pid = conn.info.backend_pid
            c0 = backend_cpu_seconds(pid)
            t0 = time.perf_counter()
            conn.execute(statement[table], {**params, "lo": lo, "hi": hi})
            times[table].append(time.perf_counter() - t0)
            c1 = backend_cpu_seconds(pid)
            if c0 is not None and c1 is not None:
                cpu[table].append(c1 - c0)
        next_i = hi + 1
    conn.execute("RESET work_mem")
    conn.execute("TRUNCATE bench.bare")
    real, bare = "public.resource_usage", "bench.bare"
    ratio = ratio_of(times, real, bare)
    report.add(
        Figure(
            "ingest",
            f"INSERT ... SELECT, {count_label(n)} generated rows/statement",
            fmt_rate(rate(n, statistics.median(times[real]))),
            fmt_rate(rate(n, statistics.median(times[bare]))) + " bare",
            ratio,
            f">= 0.85{cpu_note(cpu, real, bare)}",
            verdict(ratio is not None and ratio >= 0.85),
        )
    )
    return next_i


def load_budgets(conn: Conn, lo: int, hi: int) -> None:
    conn.execute(
        bench_sql.GENERATE_BUDGETS,
        {
            "lo": lo,
            "hi": hi,
            "hot_type": bench_sql.HOT_ENTITY[0],
            "hot_id": bench_sql.HOT_ENTITY[1],
            "with_hot": lo == 0,
        },
    )
    conn.execute("ANALYZE public.resource_budgets")


@dataclass
class Timing:
    p50: float
    p99: float


TIMER = """
CREATE OR REPLACE FUNCTION {name}(p_calls integer)
RETURNS TABLE (p50_ms float8, p99_ms float8, mean_ms float8)
LANGUAGE plpgsql
AS $timer$
DECLARE
    v_t0 timestamptz;
    v_ms float8[] := '{{}}';
BEGIN
    FOR i IN 1 .. greatest(p_calls / 10, 5) LOOP  -- warm caches; the plan is cached from here
        PERFORM * FROM ({statement}) AS q;
    END LOOP;
    FOR i IN 1 .. p_calls LOOP
        v_t0 := clock_timestamp();
        PERFORM * FROM ({statement}) AS q;
        v_ms := v_ms || (extract(epoch FROM clock_timestamp() - v_t0) * 1000)::float8;
    END LOOP;
    RETURN QUERY
        SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY x),
               percentile_cont(0.99) WITHIN GROUP (ORDER BY x), avg(x)
        FROM unnest(v_ms) AS x;
END;
$timer$
"""


def time_calls(conn: Conn, statement: sql.Composable, calls: int) -> Timing:
    """p50 / p99 of ``statement`` run ``calls`` times in the server with its plan cached, as a
    service's driver runs a prepared statement (no client round trip, no planning)."""
    text = statement.as_string(conn)
    name = f"bench.time_{zlib.crc32(text.encode())}"
    conn.execute(TIMER.format(name=name, statement=text).encode())
    row = conn.execute(f"SELECT * FROM {name}(%s)", (calls,)).fetchone()
    assert row is not None
    return Timing(float(row[0]), float(row[1]))


@dataclass
class Probe:
    """A budget-check style call, timed at each history size."""

    label: str
    statement: sql.Composable | None  # None: not installed
    missing: str = NOT_INSTALLED
    timings: list[Timing] = field(default_factory=list)
    error: str | None = None


def probes(conn: Conn) -> list[Probe]:
    hot_type, hot_id = bench_sql.HOT_ENTITY
    out: list[Probe] = []
    can_spend = function_signature(conn, "can_spend")
    out.append(
        Probe(
            "can_spend, one entity",
            sql.SQL("SELECT * FROM public.can_spend({}, {}, 'llm_tokens', 1000)").format(
                sql.Literal(hot_type), sql.Literal(hot_id)
            )
            if can_spend
            else None,
        )
    )
    if relation_exists(conn, "public.budget_status"):
        stmt: sql.Composable | None = sql.SQL(
            "SELECT * FROM public.budget_status WHERE entity_type = {} AND entity_id = {}"
        ).format(sql.Literal(hot_type), sql.Literal(hot_id))
    elif function_signature(conn, "budget_status"):
        stmt = sql.SQL("SELECT * FROM public.budget_status({}, {})").format(
            sql.Literal(hot_type), sql.Literal(hot_id)
        )
    else:
        stmt = None
    out.append(Probe("budget_status, one entity", stmt, "n/a (view not installed)"))
    return out


def daily_spend_statement(conn: Conn) -> sql.Composable | None:
    """One day of ``daily_spend`` (a view filtered on its date column, or a function of a day)."""
    day = sql.SQL("((now() AT TIME ZONE senate.policy_time_zone())::date - 1)")
    if relation_exists(conn, "public.daily_spend"):
        row = conn.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = 'public.daily_spend'::regclass "
            "AND attnum > 0 AND NOT attisdropped AND atttypid = 'date'::regtype "
            "ORDER BY attnum LIMIT 1"
        ).fetchone()
        if row is None:
            return sql.SQL("SELECT * FROM public.daily_spend")
        return sql.SQL("SELECT * FROM public.daily_spend WHERE {} = {}").format(
            sql.Identifier(str(row[0])), day
        )
    if function_signature(conn, "daily_spend"):
        return sql.SQL("SELECT * FROM public.daily_spend({})").format(day)
    return None


def measure(conn: Conn, probe: Probe, calls: int) -> None:
    if probe.statement is None or probe.error:
        return
    try:
        probe.timings.append(time_calls(conn, probe.statement, calls))
    except psycopg.Error as e:
        probe.error = f"n/a (call failed: {describe_database_error(e)})"


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
    day of daily_spend grows with the entities active that day, not with the history)."""
    label = f"{probe.label} @ {count_label(big)} vs {count_label(small)} usage rows"
    if probe.statement is None or probe.error or len(probe.timings) < 2:
        report.add(Figure(section, label, probe.error or probe.missing, result="n/a"))
        return
    small_t, big_t = probe.timings[0], probe.timings[1]
    for q, a, b in (("p50", small_t.p50, big_t.p50), ("p99", small_t.p99, big_t.p99)):
        ratio = b / a if a > 0 else None
        goal = "flat (<= 1.20)" if flat else "one day's rows, not the history"
        ok = ratio is not None and ratio <= 1.20
        if goal_ms is not None and q == "p50":
            goal += f", < {goal_ms:g} ms"
            ok = ok and b < goal_ms
        report.add(
            Figure(
                section,
                f"{label}, {q}",
                fmt_ms(b),
                fmt_ms(a) + f" @ {count_label(small)}",
                ratio,
                goal,
                verdict(ok) if flat else "info",
            )
        )


def time_rebalance(conn: Conn, signature: str) -> tuple[float, float, int] | str:
    """(dry-run seconds, apply seconds, rows planned) or an n/a text.

    The apply runs in a transaction that is rolled back, so both entity counts start from the
    same budgets.
    """
    try:
        t0 = time.perf_counter()
        row = conn.execute("SELECT count(*) FROM public.run_rebalance(now(), true)").fetchone()
        dry = time.perf_counter() - t0
        planned = int(row[0]) if row else 0
        conn.execute("BEGIN")
        try:
            t0 = time.perf_counter()
            conn.execute("SELECT count(*) FROM public.run_rebalance(now(), false)").fetchone()
            apply = time.perf_counter() - t0
        finally:
            conn.execute("ROLLBACK")
        return dry, apply, planned
    except psycopg.Error as e:
        if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            conn.execute("ROLLBACK")
        return f"n/a (call failed: {describe_database_error(e)}; signature {signature})"


def compact_history(conn: Conn, size: Size, report: Report, usage_rows: int) -> None:
    """What the daily cycle does to past days (``compact_usage_rollups``), done here for the
    whole generated history at once, so budget checks read what a deployment's would."""
    if function_signature(conn, "compact_usage_rollups") is None:
        return
    t0 = time.perf_counter()
    row = conn.execute(
        "SELECT * FROM public.compact_usage_rollups("
        "(now() AT TIME ZONE senate.policy_time_zone())::date - %s, NULL)",
        (size.days,),
    ).fetchone()
    seconds = time.perf_counter() - t0
    conn.execute("ANALYZE senate.usage_rollups")
    if row is not None:
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
    checks = probes(conn)
    daily = Probe("daily_spend, one day", daily_spend_statement(conn), "n/a (view not installed)")
    next_i = section_server_side_ingest(conn, size, report)
    load_usage(url, conn, size, (1, size.usage_small), next_i, report)
    compact_history(conn, size, report, size.usage_small)
    for probe in (*checks, daily):
        measure(conn, probe, size.calls if probe is not daily else max(10, size.calls // 20))
    big_phase = (size.usage_small + 1, size.usage_big - size.usage_small)
    load_usage(url, conn, size, big_phase, big_phase[0], report)
    compact_history(conn, size, report, size.usage_big)
    for probe in (*checks, daily):
        measure(conn, probe, size.calls if probe is not daily else max(10, size.calls // 20))
    for probe in checks:
        report_probe(report, probe, size.usage_small, size.usage_big, 1.0)
    report_probe(report, daily, size.usage_small, size.usage_big, None, "daily", flat=False)
    day_rows = conn.execute(
        "SELECT count(*), (SELECT count(*) FROM senate.usage_rollups) FROM senate.usage_rollups "
        "WHERE usage_day = (now() AT TIME ZONE senate.policy_time_zone())::date - 1"
    ).fetchone()
    if day_rows:
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

    signature = function_signature(conn, "run_rebalance")
    label = (
        f"run_rebalance @ {count_label(size.entities_big)} vs "
        f"{count_label(size.entities_small)} entities, {count_label(size.usage_big)} rows"
    )
    if signature is None:
        load_budgets(conn, size.entities_small, size.entities_big - 1)
        report.add(Figure("rebalance", label, NOT_INSTALLED, result="n/a"))
        return
    small = time_rebalance(conn, signature)
    load_budgets(conn, size.entities_small, size.entities_big - 1)
    big = time_rebalance(conn, signature)
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


def section_reconcile(conn: Conn, report: Report) -> None:
    t0 = time.perf_counter()
    row = conn.execute("SELECT count(*) FROM public.reconcile_usage_rollups()").fetchone()
    seconds = time.perf_counter() - t0
    mismatches = int(row[0]) if row else -1
    rows = usage_rows_now(conn)
    report.add(
        Figure(
            "reconcile",
            f"reconcile_usage_rollups() over {rows:,} usage rows",
            f"{mismatches} mismatches",
            f"audit took {fmt_s(seconds)}",
            None,
            "0",
            verdict(mismatches == 0),
        )
    )


# --------------------------------------------------------------------------------------------
# entry point


def describe_server(conn: Conn, report: Report, size: Size) -> None:
    row = conn.execute("SELECT version()").fetchone()
    report.say(f"server:   {row[0] if row else '?'}")
    values = conn.execute(
        "SELECT name, current_setting(name) FROM unnest(%s::text[]) AS name",
        (list(bench_sql.SETTINGS),),
    ).fetchall()
    settings = " ".join(f"{name}={value}" for name, value in values)
    report.say(f"settings: {settings}")
    host = conn.info.host
    local = host.startswith("/") or host in ("localhost", "127.0.0.1", "::1")
    where = f"this host ({os.cpu_count()} CPUs)" if local else f"remote host {host}"
    report.say(f"where:    server on {where}; client on {os.cpu_count()} CPUs")
    report.say(f"size:     {size}")
    report.say()


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
        "measured in this run"
    )
    with scratch_database(url, keep, report) as scratch:
        t0 = time.perf_counter()
        applied = migrations.apply_migrations(scratch)
        report.say(
            f"scratch:  {urls.redact(scratch)} ({len(applied)} migrations applied in "
            f"{fmt_s(time.perf_counter() - t0)})"
        )
        with connect(scratch) as conn:
            describe_server(conn, report, size)
            conn.execute(bench_sql.SETUP)
            report.header()
            section_ingest(conn, size, report)
            section_breakdown(conn, size, report)
            section_contention(conn, scratch, size, report)
            section_history(conn, scratch, size, report)
            section_reconcile(conn, report)
        section_live_migration(url, size, report)
    report.say()
    report.say("markdown:")
    report.say(report.table())
    return report
