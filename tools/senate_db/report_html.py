"""The charts of ``senate-db report --html FILE`` (the page around them: ``report_page``).

The tables are the text report's (same views, same formatting). The charts are drawn with
matplotlib (the optional extra ``report``: ``pip install 'senate-db[report]'``) into PNGs
embedded as base64 ``<img>`` data URIs, so the file opens offline in any browser: no
JavaScript, no CDN, nothing fetched. Chart data come from views too:
``senate_report_budget_by_period``, ``senate_report_roi_priority``,
``senate_report_reserve_history`` and the active policy's thresholds.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from psycopg.rows import dict_row

from senate_db import report as text_report
from senate_db.errors import SenateDbError
from senate_db.report_page import render_html as render_html  # the page: report_page

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Conn = text_report.Conn
Row = text_report.Row

ENTITY_TYPES = ("hypothesis", "knowledge_gap", "analysis", "entity")
COLORS = {
    "hypothesis": "#1f77b4",
    "knowledge_gap": "#ff7f0e",
    "analysis": "#2ca02c",
    "entity": "#9467bd",
}
#: Label of the strip under the ROI chart's log axis where envelopes with ROI 0 are drawn.
ZERO_ROI_LABEL = "0 (no KG edges)"


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    caption: str
    png: bytes

    def data_uri(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


@dataclass(frozen=True)
class ChartData:
    budget_by_period: list[Row]
    roi_priority: list[Row]
    reserve_history: list[Row]
    policy: Row
    #: First day of the current budget period (its bar is the period so far).
    current_period_start: dt.date | None = None


def fetch_chart_data(conn: Conn) -> ChartData:
    with conn.cursor(row_factory=dict_row) as cur:

        def rows(query: str) -> list[Row]:
            return cur.execute(query).fetchall()

        policy = cur.execute(
            "SELECT roi_low_threshold, roi_high_threshold, min_priority_for_market_weight "
            "FROM active_economics_policy()"
        ).fetchone()
        current = cur.execute("SELECT period_start FROM budget_period_bounds(now())").fetchone()
        return ChartData(
            current_period_start=current["period_start"] if current else None,
            budget_by_period=rows(
                "SELECT * FROM senate_report_budget_by_period WHERE resource_type = 'llm_tokens' "
                "ORDER BY period_start, entity_type"
            ),
            roi_priority=rows("SELECT * FROM senate_report_roi_priority"),
            reserve_history=rows(
                "SELECT * FROM senate_report_reserve_history ORDER BY resource_type, snapshot_at"
            ),
            policy=policy or {},
        )


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise SenateDbError(
            "the HTML report draws its charts with matplotlib: "
            "pip install 'senate-db[report]' (or pip install matplotlib)"
        ) from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()


def _millions(value: float, _pos: int) -> str:
    return f"{value / 1e6:.1f}M" if abs(value) >= 1e6 else f"{value:,.0f}"


def _no_data(ax: Any, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#777")
    ax.set_xticks([])
    ax.set_yticks([])


def period_label(start: dt.date, end: dt.date, *, so_far: bool = False) -> str:
    """The x-axis label of a budget period [start, end): an ISO week as ``W47`` over its first
    day (``Nov 16``), a day as ``Nov 16``, any other period as its first and last day.
    ``so_far`` marks the current period (its bar holds the spend up to now) on a last line."""
    last = end - dt.timedelta(days=1)
    first = f"{start:%b} {start.day}"
    if (end - start).days == 7 and start.isoweekday() == 1:
        label = f"W{start.isocalendar().week:02d}\n{first}"
    elif last == start:
        label = first
    else:
        tail = f"{last.day}" if last.month == start.month else f"{last:%b} {last.day}"
        label = f"{first}–{tail}"
    return label + ("\nso far" if so_far else "")


@dataclass(frozen=True)
class PeriodBars:
    """The budget-against-spend chart's data: one category per budget period (every panel
    shares them), and per kind of entity its spend and effective budget in each (None: no
    snapshot of that kind in that period)."""

    periods: list[dt.date]
    labels: list[str]
    spent: dict[str, list[float | None]]
    budget: dict[str, list[float | None]]
    unit: str


def period_bars(data: ChartData) -> PeriodBars:
    """Bars per budget period, labelled by :func:`period_label` from the rows' own periods."""
    ends: dict[dt.date, dt.date] = {}
    for r in data.budget_by_period:
        ends[r["period_start"]] = r["period_end"]
    periods = sorted(ends)
    labels = [period_label(p, ends[p], so_far=p == data.current_period_start) for p in periods]
    spent: dict[str, list[float | None]] = {}
    budget: dict[str, list[float | None]] = {}
    for kind in ENTITY_TYPES:
        by_period = {
            r["period_start"]: r for r in data.budget_by_period if r["entity_type"] == kind
        }
        spent[kind] = [float(by_period[p]["spent"]) if p in by_period else None for p in periods]
        budget[kind] = [
            float(by_period[p]["effective_budget"]) if p in by_period else None for p in periods
        ]
    units = {r["unit"] for r in data.budget_by_period if r.get("unit")}
    return PeriodBars(periods, labels, spent, budget, units.pop() if len(units) == 1 else "tokens")


def figure_budget_vs_spend(plt: Any, data: ChartData) -> Figure:
    """The bars of each kind of entity at fixed positions 0..n-1, one per budget period, with
    explicit tick labels from :func:`period_bars` (never matplotlib's automatic dates)."""
    from matplotlib.ticker import FuncFormatter

    bars = period_bars(data)
    positions = list(range(len(bars.periods)))
    fig, axes = plt.subplots(2, 2, figsize=(11, 6.5), sharex=True)
    for ax, kind in zip(axes.flat, ENTITY_TYPES, strict=True):
        ax.set_title(kind.replace("_", " "))
        spent = bars.spent[kind]
        if all(v is None for v in spent):
            _no_data(ax, "no snapshots yet")
            continue
        xs = [x for x, v in zip(positions, spent, strict=True) if v is not None]
        ax.bar(
            xs,
            [v for v in spent if v is not None],
            width=0.6,
            color=COLORS[kind],
            alpha=0.75,
            label=f"{bars.unit} spent",
        )
        budget = bars.budget[kind]
        ax.plot(
            [x for x, v in zip(positions, budget, strict=True) if v is not None],
            [v for v in budget if v is not None],
            color="black",
            marker="o",
            label=f"effective {bars.unit} budget",
        )
        ax.yaxis.set_major_formatter(FuncFormatter(_millions))
        ax.set_ylabel(f"{bars.unit} per budget period")
        ax.grid(axis="y", alpha=0.3)
    crowded = len(positions) > 8  # e.g. the large demo's 13 weeks: slant the labels
    for ax in axes.flat:
        ax.set_xticks(positions, bars.labels, fontsize="small")
        if crowded:
            ax.tick_params(axis="x", labelrotation=45)
        ax.set_xlim(-0.6, max(len(positions) - 0.4, 0.6))
    fig.suptitle("LLM tokens per budget period: effective budget against spend")
    drawn = [ax for ax in axes.flat if ax.get_legend_handles_labels()[0]]
    if drawn:
        # One legend for the four panels, under the title (never over a bar).
        handles, names = drawn[0].get_legend_handles_labels()
        fig.legend(
            handles,
            names,
            loc="upper center",
            bbox_to_anchor=(0.5, 0.955),
            ncol=2,
            fontsize="small",
            frameon=False,
        )
        fig.tight_layout(rect=(0, 0, 1, 0.93))
    else:
        fig.tight_layout()
    return fig  # type: ignore[no-any-return]


def chart_budget_vs_spend(plt: Any, data: ChartData) -> Chart:
    fig = figure_budget_vs_spend(plt, data)
    png = _png(fig)
    plt.close(fig)
    return Chart(
        "budget_vs_spend",
        "Budget against spend, by entity type, week by week",
        "Each bar is a budget period's token spend by the envelopes of one kind of entity, "
        "labelled with its week (ISO week number and first day; the current one so far); the line "
        "is their effective token budget at the period's last snapshot (view "
        "senate_report_budget_by_period). Amounts in tokens (M = million).",
        png,
    )


@dataclass(frozen=True)
class RoiPoints:
    """The ROI chart's points per kind of entity: ``positive`` on the log axis, ``zero`` (spent
    tokens, gained no KG edges) in the strip under it; rows without token spend are left out."""

    positive: dict[str, list[Row]]
    zero: dict[str, list[Row]]
    without_spend: int

    @property
    def zero_count(self) -> int:
        return sum(len(v) for v in self.zero.values())


def roi_points(data: ChartData) -> RoiPoints:
    positive: dict[str, list[Row]] = {}
    zero: dict[str, list[Row]] = {}
    for kind in ENTITY_TYPES:
        rows = [
            r for r in data.roi_priority if r["entity_type"] == kind and r["roi_score"] is not None
        ]
        positive[kind] = [r for r in rows if float(r["roi_score"]) > 0]
        zero[kind] = [r for r in rows if float(r["roi_score"]) <= 0]
    without = sum(1 for r in data.roi_priority if r["roi_score"] is None)
    return RoiPoints(positive, zero, without)


def _dot_sizes(rows: list[Row]) -> list[float]:
    return [10 + 60 * float(r["effective_token_budget"] or 0) / 1e6 for r in rows]


def figure_roi_vs_priority(plt: Any, data: ChartData) -> Figure:
    """ROI on a log axis; envelopes with ROI 0 (no KG edges for their tokens) in a strip under
    it, at 0, instead of at a made-up floor on the log axis."""
    points = roi_points(data)
    if points.zero_count:
        fig, (ax, strip) = plt.subplots(
            2, 1, figsize=(11, 6.5), sharex=True, gridspec_kw={"height_ratios": [10, 1]}
        )
    else:
        fig, ax = plt.subplots(figsize=(11, 6))
        strip = None
    for kind in ENTITY_TYPES:
        rows = points.positive[kind]
        if rows:
            ax.scatter(
                [float(r["priority_score"]) for r in rows],
                [float(r["roi_score"]) for r in rows],
                s=_dot_sizes(rows),
                alpha=0.6,
                color=COLORS[kind],
                label=kind.replace("_", " "),
            )
        if strip is not None and points.zero[kind]:
            zero = points.zero[kind]
            strip.scatter(
                [float(r["priority_score"]) for r in zero],
                [0.0] * len(zero),
                s=_dot_sizes(zero),
                alpha=0.6,
                color=COLORS[kind],
                marker="X",
            )
    if not any(points.positive.values()) and not points.zero_count:
        _no_data(ax, "no token spend in the current ROI window")
    else:
        if any(points.positive.values()):
            ax.set_yscale("log")
        policy = data.policy
        if policy.get("roi_high_threshold") is not None:
            ax.axhline(
                float(policy["roi_high_threshold"]),
                color="green",
                linestyle="--",
                label="strong ROI (policy)",
            )
        if policy.get("roi_low_threshold") is not None:
            ax.axhline(
                float(policy["roi_low_threshold"]),
                color="red",
                linestyle="--",
                label="low ROI (policy)",
            )
        for axis in (ax, strip):
            if axis is not None and policy.get("min_priority_for_market_weight") is not None:
                axis.axvline(
                    float(policy["min_priority_for_market_weight"]),
                    color="grey",
                    linestyle=":",
                    label="market weight applies from here" if axis is ax else None,
                )
        ax.set_ylabel("ROI: KG edges per token (log scale)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small", loc="lower right")
        if strip is not None:
            strip.set_yticks([0.0], [ZERO_ROI_LABEL])
            strip.set_ylim(-1, 1)
            strip.grid(axis="x", alpha=0.3)
            strip.set_xlabel("priority score (unitless, 0 to 1)")
        else:
            ax.set_xlabel("priority score (unitless, 0 to 1)")
    ax.set_title("ROI in the current window against the Senate's priority score")
    fig.tight_layout()
    return fig  # type: ignore[no-any-return]


def chart_roi_vs_priority(plt: Any, data: ChartData) -> Chart:
    points = roi_points(data)
    fig = figure_roi_vs_priority(plt, data)
    png = _png(fig)
    plt.close(fig)
    notes = [f"{points.without_spend} envelope(s) without token spend in the window are not shown."]
    if points.zero_count:
        notes.append(
            f"{points.zero_count} spent tokens but gained no KG edges (ROI 0): crosses in the "
            f"strip under the log axis, labelled {ZERO_ROI_LABEL}."
        )
    return Chart(
        "roi_vs_priority",
        "ROI against priority score",
        "One dot per envelope, sized by effective token budget (view senate_report_roi_priority); "
        "ROI in KG edges per token on a log scale; dashed lines are the policy's strong and low "
        "ROI thresholds. " + " ".join(notes),
        png,
    )


def chart_reserve(plt: Any, data: ChartData) -> Chart:
    from matplotlib.dates import MO, DateFormatter, WeekdayLocator
    from matplotlib.ticker import FuncFormatter

    classes = sorted({r["resource_type"] for r in data.reserve_history})
    fig, axes = plt.subplots(2, 2, figsize=(11, 6), sharex=True)
    for i, ax in enumerate(axes.flat):
        if i >= len(classes):
            if not classes and i == 0:
                _no_data(ax, "no snapshots yet")
            else:
                ax.set_visible(False)
            continue
        rows = [r for r in data.reserve_history if r["resource_type"] == classes[i]]
        when = [r["snapshot_at"] for r in rows]
        ax.plot(when, [float(r["balance"]) for r in rows], color="#d62728", label="reserve")
        ax.fill_between(when, [float(r["balance"]) for r in rows], alpha=0.15, color="#d62728")
        unit = rows[0]["unit"] or classes[i]
        ax.set_title(f"{classes[i]} ({unit})")
        ax.set_ylabel(f"reserve balance, {unit}")
        ax.yaxis.set_major_formatter(FuncFormatter(_millions))
        if when and (max(when) - min(when)).days <= 140:
            # Up to 20 weeks: a tick on each Monday, where budget periods begin.
            ax.xaxis.set_major_locator(WeekdayLocator(byweekday=MO))  # type: ignore[no-untyped-call]
        ax.xaxis.set_major_formatter(DateFormatter("%b %d"))  # type: ignore[no-untyped-call]
        ax.grid(alpha=0.3)
        ax.tick_params(axis="x", labelrotation=30)
    fig.suptitle("Senate reserve over time")
    fig.tight_layout()
    png = _png(fig)
    plt.close(fig)
    return Chart(
        "reserve",
        "Reserve over time",
        "Reserve balance per resource class at each snapshot, in the unit of the class (M = "
        "million; view senate_report_reserve_history): funding and reclaimed budgets raise it, "
        "approvals and reassignments draw on it.",
        png,
    )


CHARTS: tuple[Callable[[Any, ChartData], Chart], ...] = (
    chart_budget_vs_spend,
    chart_roi_vs_priority,
    chart_reserve,
)


def draw_charts(conn: Conn, on_chart: Callable[[str], None] | None = None) -> list[Chart]:
    plt = _pyplot()
    data = fetch_chart_data(conn)
    charts = []
    for draw in CHARTS:
        chart = draw(plt, data)
        charts.append(chart)
        if on_chart:
            on_chart(chart.key)
    return charts
