"""``senate-db report``: the Senate report, read from the ``senate_report_*`` views.

Every figure comes from a view (migrations 0060-0061); this module only selects rows
(ORDER BY / LIMIT) and formats them as text (``report_format``). ``report_html`` draws the
charts and ``report_page`` renders the same data as one HTML page.
"""

from __future__ import annotations

import datetime as dt
import io
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import psycopg
from psycopg import sql
from psycopg.rows import dict_row

from senate_db import empty, server, urls
from senate_db.errors import SenateDbError
from senate_db.progress import Progress
from senate_db.report_format import (
    fmt_amount,
    fmt_bool,
    fmt_count,
    fmt_local_hour,
    fmt_pct,
    fmt_roi,
    fmt_score,
    fmt_short,
    fmt_signed,
    fmt_text,
    fmt_usd,
    fmt_weight,
    fmt_when,
    fmt_whole_pct,
)
from senate_db.target import Target

Conn = psycopg.Connection[Any]
Row = dict[str, Any]

#: Rows shown per ranked section.
DEFAULT_LIMIT = 10


# --- what the report shows ---------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    fmt: Callable[[Any], str] = fmt_text
    numeric: bool = True


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    view: str
    columns: tuple[Column, ...]
    order_by: str
    limit: int | None = DEFAULT_LIMIT
    empty: str = "none"
    #: One row per entity and resource class: the title counts entities and pairs, so the
    #: count matches the overview's entity counts.
    per_class: bool = False


KIND = Column("entity_type", "kind", numeric=False)
ENTITY = Column("entity_id", "entity", numeric=False)
CLASS = Column("resource_type", "class", numeric=False)
UNIT = Column("unit", "unit", numeric=False)

SECTIONS: tuple[Section, ...] = (
    Section(
        "top_allocations",
        "Top allocations (by effective token budget this period)",
        "senate_report_top_allocations",
        (
            Column("allocation_rank", "#", fmt_count),
            KIND,
            ENTITY,
            Column("priority_score", "priority", fmt_score),
            Column("market_weight", "market wt", fmt_weight),
            Column("effective_token_budget", "tokens budget", fmt_amount),
            Column("tokens_spent", "tokens spent", fmt_amount),
            Column("token_utilization", "used", fmt_pct),
            Column("roi_score", "ROI (edges/token)", fmt_roi),
            Column("period_cost_usd", "cost", fmt_usd),
        ),
        "allocation_rank",
    ),
    Section(
        "over_budget",
        "Over budget this period",
        "senate_report_over_budget",
        (
            KIND,
            ENTITY,
            CLASS,
            Column("effective_budget", "budget", fmt_amount),
            Column("spent", "spent", fmt_amount),
            Column("overrun", "overrun", fmt_amount),
            UNIT,
            Column("utilization", "used", fmt_pct),
            Column("throttled", "throttled", fmt_bool, numeric=False),
        ),
        "utilization DESC NULLS FIRST, entity_type, entity_id, resource_type",
        per_class=True,
    ),
    Section(
        "throttled",
        "Throttled by the daily check: the spend gate refuses them",
        "senate_report_throttled",
        (
            KIND,
            ENTITY,
            CLASS,
            Column("spent", "spent", fmt_amount),
            Column("effective_budget", "budget", fmt_amount),
            Column("daily_allowance", "daily allowance", fmt_amount),
            UNIT,
            Column("throttled_until", "until", fmt_when, numeric=False),
        ),
        "throttled_until DESC, utilization DESC NULLS FIRST, entity_type, entity_id, resource_type",
        per_class=True,
    ),
    Section(
        "runway",
        "Runway: projected to run out before the period ends, at the current daily rate",
        "senate_report_runway",
        (
            KIND,
            ENTITY,
            CLASS,
            Column("effective_budget", "budget", fmt_amount),
            Column("spent", "spent", fmt_amount),
            Column("daily_rate", "per day", fmt_amount),
            UNIT,
            Column("runway_days", "days left", fmt_score),
            Column("projected_utilization", "projected", fmt_whole_pct),
            Column("runs_out_local", "runs out (local)", fmt_local_hour, numeric=False),
        ),
        "runway_days, entity_type, entity_id, resource_type",
        empty="nothing is projected to run out this period",
        per_class=True,
    ),
    Section(
        "families",
        "Largest families as trees (top 5 by the root's token budget; tokens this period): "
        "each level's budget, its subtree's spend and holds, headroom, the level that binds",
        "senate_report_families",
        (
            Column("family_rank", "#", fmt_count),
            Column("tree", "family", numeric=False),
            Column("effective_budget", "budget", fmt_amount),
            Column("subtree_spent", "subtree spent", fmt_amount),
            Column("subtree_held", "held", fmt_amount),
            Column("headroom", "headroom", fmt_amount),
            Column("binding_level", "binds", numeric=False),
            Column("available", "may spend", fmt_amount),
            Column("children_not_shown", "more", fmt_count),
        ),
        "tree_order",
        limit=None,
        empty="no families (entity_parents is empty)",
    ),
    Section(
        "roi_leaders",
        "ROI leaders (KG edges per token, current ROI window)",
        "senate_report_roi_leaders",
        (
            Column("leader_rank", "#", fmt_count),
            KIND,
            ENTITY,
            Column("roi_score", "ROI", fmt_roi),
            Column("kg_edges_gained", "edges", fmt_count),
            Column("tokens_spent", "tokens", fmt_amount),
            Column("priority_score", "priority", fmt_score),
            Column("market_weight", "market wt", fmt_weight),
        ),
        "leader_rank",
    ),
    Section(
        "roi_laggards",
        "ROI laggards (lowest yield per token, current ROI window)",
        "senate_report_roi_laggards",
        (
            Column("laggard_rank", "#", fmt_count),
            KIND,
            ENTITY,
            Column("roi_score", "ROI", fmt_roi),
            Column("kg_edges_gained", "edges", fmt_count),
            Column("tokens_spent", "tokens", fmt_amount),
            Column("priority_score", "priority", fmt_score),
            Column("market_weight", "market wt", fmt_weight),
        ),
        "laggard_rank",
    ),
    Section(
        "pending_proposals",
        "Pending proposals (oldest first)",
        "senate_report_pending_proposals",
        (
            Column("proposal_id", "id", fmt_count),
            KIND,
            ENTITY,
            CLASS,
            Column("requested_amount", "requested", fmt_amount),
            Column("proposer", "proposer", numeric=False),
            Column("approvals", "for", fmt_count),
            Column("rejections", "against", fmt_count),
            Column("abstentions", "abstain", fmt_count),
            Column("approvable", "approvable", fmt_bool, numeric=False),
            Column("reserve_covers", "covered", fmt_bool, numeric=False),
        ),
        "filed_at, proposal_id",
    ),
    Section(
        "reserve",
        "Senate reserve",
        "senate_report_reserve",
        (
            CLASS,
            Column("balance", "balance", fmt_amount),
            Column("allocated", "allocated", fmt_amount),
            UNIT,
            Column("reserve_share", "share", fmt_pct),
            Column("pending_requested", "pending asks", fmt_amount),
            Column("last_change_cause", "last change", numeric=False),
            Column("last_change_delta", "amount", fmt_signed),
            Column("last_change_as_of", "as of", fmt_when, numeric=False),
        ),
        "resource_type",
        limit=None,
    ),
    Section(
        "last_rebalance_summary",
        "Last rebalance: what changed, by rule",
        "senate_report_last_rebalance_summary",
        (
            Column("run_id", "run", fmt_count),
            Column("window_start", "reviewed week from", numeric=False),
            CLASS,
            Column("reason", "rule", numeric=False),
            Column("changes", "changes", fmt_count),
            Column("total_delta", "total", fmt_signed),
            UNIT,
        ),
        "resource_type, reason",
        limit=None,
        empty="no rebalance has been applied yet",
    ),
    Section(
        "last_rebalance",
        "Last rebalance: largest changes and why",
        "senate_report_last_rebalance",
        (
            KIND,
            ENTITY,
            CLASS,
            Column("old_budget", "before", fmt_amount),
            Column("new_budget", "after", fmt_amount),
            Column("delta", "delta", fmt_signed),
            Column("reason", "rule", numeric=False),
            Column("detail", "evidence", fmt_short(70), numeric=False),
        ),
        "abs(delta) DESC, entity_type NULLS FIRST, entity_id, resource_type",
        empty="no rebalance has been applied yet",
    ),
    Section(
        "spend_mix",
        "Where this period's spend went",
        "senate_report_spend_mix",
        (
            CLASS,
            Column("tier_or_provider", "tier / provider", numeric=False),
            Column("amount", "amount", fmt_amount),
            UNIT,
            Column("cost_usd", "cost", fmt_usd),
            Column("usage_rows", "rows", fmt_count),
        ),
        "cost_usd DESC, resource_type, tier_or_provider",
        limit=None,
    ),
)

#: Headline figures: (view column, label, formatter).
OVERVIEW: tuple[tuple[str, str, Callable[[Any], str]], ...] = (
    ("envelopes", "envelopes", fmt_count),
    ("over_budget_entities", "entities over budget", fmt_count),
    ("effective_token_budget", "token budget (effective)", fmt_amount),
    ("tokens_spent", "tokens spent", fmt_amount),
    ("token_utilization", "token budget used", fmt_pct),
    ("spent_cost_usd", "cost this period", fmt_usd),
    ("kg_edges_gained", "KG edges in ROI window", fmt_count),
    ("roi_window_roi", "ROI in window (edges/token)", fmt_roi),
    ("throttled_entities", "entities throttled", fmt_count),
    ("alerts_this_period", "spend alerts this period", fmt_count),
    ("pending_proposals", "pending proposals", fmt_count),
    ("reserve_tokens", "token reserve", fmt_amount),
    ("last_rebalance_run", "last rebalance run", fmt_count),
)


def plural(count: int, noun: str, nouns: str | None = None) -> str:
    return f"{count:,} {noun if count == 1 else (nouns or noun + 's')}"


@dataclass
class SectionData:
    section: Section
    rows: list[Row]
    total: int
    #: Distinct entities among all the view's rows (sections with ``per_class``).
    entities: int | None = None

    def cells(self) -> list[list[str]]:
        return [[c.fmt(row[c.key]) for c in self.section.columns] for row in self.rows]

    def count(self) -> str:
        """What the title counts: ``(12)``, or for one row per entity and class
        ``(67 entities, 68 entity-class pairs)``; nothing for unranked sections."""
        if self.section.limit is None:
            return ""
        if self.entities is not None:
            pairs = plural(self.total, "entity-class pair")
            return f" ({plural(self.entities, 'entity', 'entities')}, {pairs})"
        return f" ({self.total:,})"


@dataclass
class Report:
    database: str
    overview: Row
    sections: list[SectionData] = field(default_factory=list)

    def section(self, key: str) -> SectionData | None:
        return next((s for s in self.sections if s.section.key == key), None)


def missing_views(conn: Conn, sections: Sequence[Section] = SECTIONS) -> list[str]:
    """The report views (``view``) and columns (``view.column``) this database lacks."""
    wanted = [("senate_report_overview", None)] + [
        (s.view, c.key) for s in sections for c in s.columns
    ]
    rows = conn.execute(
        "SELECT w.v || coalesce('.' || w.c, '') FROM unnest(%s::text[], %s::text[]) AS w (v, c) "
        "WHERE to_regclass('public.' || w.v) IS NULL "
        "   OR (w.c IS NOT NULL AND NOT EXISTS ("
        "       SELECT 1 FROM pg_attribute AS a WHERE a.attrelid = to_regclass('public.' || w.v)"
        "       AND a.attname = w.c AND a.attnum > 0 AND NOT a.attisdropped))",
        ([v for v, _ in wanted], [c for _, c in wanted]),
    ).fetchall()
    missing = [str(r[0]) for r in rows]
    views = [m for m in missing if "." not in m]
    return views + [m for m in missing if "." in m and m.split(".")[0] not in views]


def fetch_section(conn: Conn, section: Section, limit: int | None = None) -> SectionData:
    limit = section.limit if limit is None else limit
    cols = sql.SQL(", ").join(sql.Identifier(c.key) for c in section.columns)
    query = sql.SQL("SELECT {} FROM {} ORDER BY {}").format(
        cols, sql.Identifier("public", section.view), sql.SQL(section.order_by)
    )
    if section.limit is not None:
        query += sql.SQL(" LIMIT {}").format(sql.Literal(limit))
    entities: int | None = None
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(query).fetchall()
        if section.limit is None:
            total = len(rows)
        else:
            count = cur.execute(
                sql.SQL("SELECT count(*) AS n, count(DISTINCT ({})) AS entities FROM {}").format(
                    sql.SQL("entity_type, entity_id" if section.per_class else "1, 1"),
                    sql.Identifier("public", section.view),
                )
            ).fetchone()
            total = int(count["n"]) if count else len(rows)
            if section.per_class and count:
                entities = int(count["entities"])
    return SectionData(section, rows, total, entities)


def collect(
    conn: Conn,
    database: str,
    *,
    limit: int | None = None,
    on_section: Callable[[str], None] | None = None,
) -> Report:
    """Read the report from the views; ``on_section`` is told each section read."""
    missing = missing_views(conn)
    if missing:
        what = f"{missing[0]} view" if "." not in missing[0] else f"column {missing[0]}"
        raise SenateDbError(f"this database has no {what}: run `senate-db migrate` on it first")
    with conn.cursor(row_factory=dict_row) as cur:
        overview = cur.execute("SELECT * FROM public.senate_report_overview").fetchone()
    assert overview is not None
    report = Report(database=database, overview=overview)
    if on_section:
        on_section("overview")
    for section in SECTIONS:
        report.sections.append(fetch_section(conn, section, limit))
        if on_section:
            on_section(section.key)
    return report


def read(
    conn: Conn, database: str, *, limit: int | None = None, progress: TextIO | None = None
) -> Report:
    """:func:`collect` inside one read-only snapshot, so every section agrees; with
    ``progress``, a progress bar on that stream (a terminal)."""
    with Progress("reading the report", len(SECTIONS) + 1, progress or io.StringIO()) as bar:

        def tick(key: str) -> None:
            bar.advance(note=key)

        if not conn.autocommit:
            return collect(conn, database, limit=limit, on_section=tick)
        conn.autocommit = False
        try:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            return collect(conn, database, limit=limit, on_section=tick)
        finally:
            conn.rollback()
            conn.autocommit = True


# --- text --------------------------------------------------------------------------------------


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: Sequence[bool]) -> str:
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=True)]

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.rjust(w) if num else cell.ljust(w)
            for cell, w, num in zip(cells, widths, numeric, strict=True)
        ]
        return "  " + "  ".join(parts).rstrip()

    rule = "  " + "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def render_section(data: SectionData) -> str:
    s = data.section
    shown = len(data.rows)
    lines = [f"{s.title}{data.count()}"]
    if not data.rows:
        lines.append(f"  {s.empty}")
        return "\n".join(lines)
    lines.append(table([c.header for c in s.columns], data.cells(), [c.numeric for c in s.columns]))
    if data.total > shown:
        lines.append(f"  ... and {data.total - shown} more: SELECT * FROM {s.view};")
    return "\n".join(lines)


def render_text(report: Report) -> str:
    o = report.overview
    lines = [
        f"Senate report: {report.database}",
        f"as of {fmt_when(o['as_of'])}; budget period {o['period_start']} .. "
        f"{o['period_end'] - dt.timedelta(days=1)}; ROI window {o['roi_window_start']} .. "
        f"{o['roi_window_end'] - dt.timedelta(days=1)}",
        "",
    ]
    width = max(len(label) for _, label, _ in OVERVIEW)
    lines += [f"  {label.ljust(width)}  {fmt(o[key])}" for key, label, fmt in OVERVIEW]
    for data in report.sections:
        lines += ["", render_section(data)]
    return "\n".join(lines)


def run(target: Target, out: TextIO, *, html: Path | None = None, limit: int | None = None) -> None:
    """``senate-db report``: print the report, or write it as HTML with charts.

    A database with nothing to report (no envelopes, proposals, spend this period or
    snapshots), or without the report views, raises :class:`~senate_db.empty.EmptyDatabase`:
    one line naming the demo's database and the exact command for it; nothing is written."""
    command = ["report", *(["--html", str(html)] if html else [])]
    with server.connect(target.url, autocommit=True) as conn:
        if not empty.has_report_views(conn):
            raise empty.EmptyDatabase(
                empty.empty_message(target, command, migrated=False, outcome="nothing to report")
            )
        if empty.is_empty(conn):
            raise empty.EmptyDatabase(
                empty.empty_message(target, command, outcome="nothing to report")
            )
        data = read(conn, urls.redact(target.url), limit=limit, progress=sys.stderr)
        if html is None:
            print(render_text(data), file=out, flush=True)
            return
        from senate_db import report_html, report_page

        with Progress("drawing charts", len(report_html.CHARTS)) as bar:
            charts = report_html.draw_charts(conn, on_chart=lambda key: bar.advance(note=key))
    html.write_text(report_page.render_html(data, charts), encoding="utf-8")
    print(f"wrote {html} ({len(charts)} charts, {html.stat().st_size:,} bytes)", file=out)
