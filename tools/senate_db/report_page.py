"""The HTML page of ``senate-db report --html FILE``: the text report's tables (same views,
same formatting) and the charts ``report_html`` drew, in one self-contained file (CSS inline,
PNGs as data URIs: no JavaScript, nothing fetched)."""

from __future__ import annotations

import datetime as dt
import html
from typing import TYPE_CHECKING

from senate_db import report as text_report
from senate_db.report_format import fmt_when

if TYPE_CHECKING:
    from senate_db.report_html import Chart


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
    parts = [f"<h2>{html.escape(s.title)}{html.escape(data.count())}</h2>"]
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
    as_of = html.escape(fmt_when(o["as_of"]))
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
