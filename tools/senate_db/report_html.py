"""``senate-db report --html FILE``: the Senate report as one self-contained HTML file.

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
import html
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from psycopg.rows import dict_row

from senate_db import report as text_report
from senate_db.errors import SenateDbError

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
#: ROI of 0 cannot sit on a log axis: such points are drawn at this floor (stated in the caption).
ROI_FLOOR = 1e-6


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


def fetch_chart_data(conn: Conn) -> ChartData:
    with conn.cursor(row_factory=dict_row) as cur:

        def rows(query: str) -> list[Row]:
            return cur.execute(query).fetchall()

        policy = cur.execute(
            "SELECT roi_low_threshold, roi_high_threshold, min_priority_for_market_weight "
            "FROM active_economics_policy()"
        ).fetchone()
        return ChartData(
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


def chart_budget_vs_spend(plt: Any, data: ChartData) -> Chart:
    from matplotlib.ticker import FuncFormatter

    fig, axes = plt.subplots(2, 2, figsize=(11, 6.5), sharex=True)
    for ax, kind in zip(axes.flat, ENTITY_TYPES, strict=True):
        rows = [r for r in data.budget_by_period if r["entity_type"] == kind]
        ax.set_title(kind.replace("_", " "))
        if not rows:
            _no_data(ax, "no snapshots yet")
            continue
        days = [r["period_start"] for r in rows]
        spent = [float(r["spent"]) for r in rows]
        budget = [float(r["effective_budget"]) for r in rows]
        ax.bar(days, spent, width=5, color=COLORS[kind], alpha=0.75, label="tokens spent")
        ax.plot(days, budget, color="black", marker="o", label="effective token budget")
        ax.yaxis.set_major_formatter(FuncFormatter(_millions))
        ax.grid(axis="y", alpha=0.3)
        ax.tick_params(axis="x", labelrotation=30)
    if data.budget_by_period:
        axes.flat[0].legend(loc="lower left", fontsize="small")
    fig.suptitle("LLM tokens per budget period: effective budget against spend")
    fig.tight_layout()
    png = _png(fig)
    plt.close(fig)
    return Chart(
        "budget_vs_spend",
        "Budget against spend, by entity type, over time",
        "Each bar is a budget period's token spend by the envelopes of one kind of entity (the "
        "current period so far); the line is their effective token budget at the period's last "
        "snapshot (view senate_report_budget_by_period).",
        png,
    )


def chart_roi_vs_priority(plt: Any, data: ChartData) -> Chart:
    fig, ax = plt.subplots(figsize=(11, 6))
    zero = 0
    for kind in ENTITY_TYPES:
        rows = [
            r for r in data.roi_priority if r["entity_type"] == kind and r["roi_score"] is not None
        ]
        if not rows:
            continue
        xs = [float(r["priority_score"]) for r in rows]
        ys = [max(float(r["roi_score"]), ROI_FLOOR) for r in rows]
        zero += sum(1 for r in rows if float(r["roi_score"]) <= 0)
        sizes = [10 + 60 * float(r["effective_token_budget"] or 0) / 1e6 for r in rows]
        ax.scatter(xs, ys, s=sizes, alpha=0.6, color=COLORS[kind], label=kind.replace("_", " "))
    no_roi = sum(1 for r in data.roi_priority if r["roi_score"] is None)
    if not any(r["roi_score"] is not None for r in data.roi_priority):
        _no_data(ax, "no token spend in the current ROI window")
    else:
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
        if policy.get("min_priority_for_market_weight") is not None:
            ax.axvline(
                float(policy["min_priority_for_market_weight"]),
                color="grey",
                linestyle=":",
                label="market weight applies from here",
            )
        ax.set_xlabel("priority score")
        ax.set_ylabel("ROI: KG edges per token (log)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small", loc="lower right")
    ax.set_title("ROI in the current window against the Senate's priority score")
    fig.tight_layout()
    png = _png(fig)
    plt.close(fig)
    notes = [f"{no_roi} envelope(s) without token spend in the window are not shown."]
    if zero:
        notes.append(f"{zero} with no KG edges at all are drawn at {ROI_FLOOR:g}.")
    return Chart(
        "roi_vs_priority",
        "ROI against priority score",
        "One dot per envelope, sized by effective token budget (view senate_report_roi_priority); "
        "dashed lines are the policy's strong and low ROI thresholds. " + " ".join(notes),
        png,
    )


def chart_reserve(plt: Any, data: ChartData) -> Chart:
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
        ax.set_title(f"{classes[i]} ({rows[0]['unit']})")
        ax.yaxis.set_major_formatter(FuncFormatter(_millions))
        ax.grid(alpha=0.3)
        ax.tick_params(axis="x", labelrotation=30)
    fig.suptitle("Senate reserve over time")
    fig.tight_layout()
    png = _png(fig)
    plt.close(fig)
    return Chart(
        "reserve",
        "Reserve over time",
        "Reserve balance per resource class at each snapshot (view senate_report_reserve_history): "
        "funding and reclaimed budgets raise it, approvals and reassignments draw on it.",
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


STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1200px; color: #222; padding: 0 1em; }
h1 { margin-bottom: 0.2em; } .sub { color: #555; margin-top: 0; }
.overview { display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr));
            gap: 0.6em; margin: 1.5em 0; }
.figure { background: #f4f6f8; border-radius: 6px; padding: 0.6em 0.9em; }
.figure .label { color: #555; font-size: 0.85em; } .figure .value { font-size: 1.3em; }
table { border-collapse: collapse; margin: 0.5em 0 0.3em; font-size: 0.88em; }
th, td { padding: 0.25em 0.7em; border-bottom: 1px solid #e3e3e3; }
th { text-align: left; background: #f4f6f8; } td.num, th.num { text-align: right; }
.more { color: #666; font-size: 0.85em; } figure { margin: 1.5em 0; }
figure img { max-width: 100%; } figcaption { color: #555; font-size: 0.9em; }
code { background: #f4f6f8; padding: 0 0.3em; }
"""


def _section_html(data: text_report.SectionData) -> str:
    s = data.section
    count = f" ({data.total})" if s.limit is not None else ""
    parts = [f"<h2>{html.escape(s.title)}{count}</h2>"]
    if not data.rows:
        parts.append(f"<p class='more'>{html.escape(s.empty)}</p>")
        return "\n".join(parts)
    head = "".join(
        f"<th class='{'num' if c.numeric else ''}'>{html.escape(c.header)}</th>" for c in s.columns
    )
    body = "\n".join(
        "<tr>"
        + "".join(
            f"<td class='{'num' if c.numeric else ''}'>{html.escape(cell)}</td>"
            for c, cell in zip(s.columns, cells, strict=True)
        )
        + "</tr>"
        for cells in data.cells()
    )
    parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>\n{body}\n</tbody></table>")
    if data.total > len(data.rows):
        parts.append(
            f"<p class='more'>… and {data.total - len(data.rows)} more: "
            f"<code>SELECT * FROM {html.escape(s.view)};</code></p>"
        )
    return "\n".join(parts)


def render_html(report: text_report.Report, charts: list[Chart]) -> str:
    o = report.overview
    period_end = o["period_end"] - dt.timedelta(days=1)
    figures = "\n".join(
        f"<div class='figure'><div class='label'>{html.escape(label)}</div>"
        f"<div class='value'>{html.escape(fmt(o[key]))}</div></div>"
        for key, label, fmt in text_report.OVERVIEW
    )
    chart_html = "\n".join(
        f"<figure id='{c.key}'><h2>{html.escape(c.title)}</h2>"
        f"<img alt='{html.escape(c.title)}' src='{c.data_uri()}'>"
        f"<figcaption>{html.escape(c.caption)}</figcaption></figure>"
        for c in charts
    )
    sections = "\n".join(_section_html(d) for d in report.sections)
    as_of = html.escape(text_report.fmt_when(o["as_of"]))
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Senate report</title>
<style>{STYLE}</style>
</head>
<body>
<h1>Senate report</h1>
<p class="sub">{html.escape(report.database)} · as of {as_of}
· budget period {o["period_start"]} .. {period_end}</p>
<div class="overview">
{figures}
</div>
{chart_html}
{sections}
</body>
</html>
"""
