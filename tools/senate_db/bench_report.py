"""The sizes of ``senate-db bench`` and its table: one :class:`Figure` per row, printed as it is
measured and again as markdown at the end (for ``db/docs/performance.md``)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TextIO

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


def count_label(n: int) -> str:
    """12_000_000 -> '12M', 100_000 -> '100k'."""
    for unit, div in (("M", 1_000_000), ("k", 1_000)):
        if n >= div and n % (div // 10) == 0:
            text = f"{n / div:.1f}".removesuffix(".0")
            return f"{text}{unit}"
    return str(n)


# --------------------------------------------------------------------------------------------
# the table


@dataclass
class Figure:
    """One row of the table. ``ratio`` is against the baseline measured in the same run;
    ``peer`` is our figure over the same figure of a peer's design (rows/s: above 1 favours
    us; ms: below 1 does)."""

    section: str
    name: str
    measured: str
    baseline: str = ""
    ratio: float | None = None
    goal: str = ""
    result: str = ""
    peer: float | None = None


COLUMNS = ("section", "figure", "measured", "baseline", "ratio", "vs peer", "goal", "result")
#: Widths of the printed columns (the last one is not padded); ratios are right-aligned.
WIDTHS = (10, 52, 24, 24, 6, 7, 22)
RIGHT = {4, 5}


def ratio_text(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


@dataclass
class Report:
    out: TextIO
    figures: list[Figure] = field(default_factory=list)

    def say(self, line: str = "") -> None:
        print(line, file=self.out, flush=True)

    def header(self) -> None:
        self.say(self._line(COLUMNS))
        self.say("-" * (sum(WIDTHS) + 2 * len(WIDTHS) + 6))

    def _line(self, cells: Sequence[str]) -> str:
        parts = [
            c.rjust(w) if i in RIGHT else c.ljust(w)
            for i, (c, w) in enumerate(zip(cells, WIDTHS, strict=False))
        ]
        parts += list(cells[len(WIDTHS) :])
        return "  ".join(parts).rstrip()

    @staticmethod
    def cells(f: Figure) -> tuple[str, ...]:
        return (
            f.section,
            f.name,
            f.measured,
            f.baseline,
            ratio_text(f.ratio),
            ratio_text(f.peer),
            f.goal,
            f.result,
        )

    def add(self, figure: Figure) -> None:
        self.figures.append(figure)
        self.say(self._line(self.cells(figure)))

    def table(self) -> str:
        """The whole table again (markdown), for db/docs/performance.md."""
        lines = [
            "| " + " | ".join(COLUMNS) + " |",
            "|" + "|".join("---:" if i in RIGHT else "---" for i in range(len(COLUMNS))) + "|",
        ]
        lines += ["| " + " | ".join(self.cells(f)) + " |" for f in self.figures]
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


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[k]


def ratio_of(times: dict[str, list[float]], real: str, bare: str) -> float | None:
    """Median over rounds of bare_time / real_time (= real rows/s over bare rows/s)."""
    pairs = [b / t for t, b in zip(times.get(real, []), times.get(bare, []), strict=False) if t > 0]
    return statistics.median(pairs) if pairs else None


def cpu_note(times: dict[str, list[float]], real: str, bare: str) -> str:
    cpu_ratio = ratio_of(times, real, bare)
    return f" (server CPU {cpu_ratio:.2f})" if cpu_ratio is not None else ""
