"""The Senate report shows exactly the views' figures, as text and as one HTML file with charts;
`senate-db demo --size small` runs end to end and prints it."""

from __future__ import annotations

import base64
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from demo_support import migrated_database, simulate_small
from psycopg import sql
from psycopg.rows import dict_row
from pytest_postgresql.executors import NoopExecutor

from senate_db import demo, empty, report, server, urls

Conn = psycopg.Connection[Any]


@pytest.fixture(scope="module")
def todays_economy(postgresql_noproc: NoopExecutor) -> Iterator[str]:
    """The small workload simulated up to today, so the current period has spend to report."""
    with migrated_database(postgresql_noproc) as url:
        simulate_small(url, seed=11, last_day=None)
        yield url


@pytest.fixture
def economy(todays_economy: str) -> Iterator[Conn]:
    with psycopg.connect(todays_economy, autocommit=True) as conn:
        yield conn


def view_rows(conn: Conn, section: report.Section, limit: int | None) -> list[dict[str, Any]]:
    query = sql.SQL("SELECT * FROM {} ORDER BY {}").format(
        sql.Identifier(section.view), sql.SQL(section.order_by)
    )
    if limit is not None:
        query += sql.SQL(" LIMIT {}").format(sql.Literal(limit))
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(query).fetchall()


def test_every_section_holds_the_rows_of_its_view(economy: Conn) -> None:
    data = report.read(economy, "economy")
    assert [s.section.key for s in data.sections] == [s.key for s in report.SECTIONS]
    for section_data in data.sections:
        section = section_data.section
        expected = view_rows(economy, section, section.limit)
        shown = [{c.key: row[c.key] for c in section.columns} for row in expected]
        assert section_data.rows == shown, section.key
        total = economy.execute(
            sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(section.view))
        ).fetchone()
        assert total == (section_data.total,), section.key
    with economy.cursor(row_factory=dict_row) as cur:
        overview = cur.execute("SELECT * FROM senate_report_overview").fetchone()
    assert overview is not None
    assert {k: v for k, v in data.overview.items() if k != "as_of"} == {
        k: v for k, v in overview.items() if k != "as_of"
    }


def test_the_text_report_prints_the_views_figures(economy: Conn) -> None:
    data = report.read(economy, "economy")
    text = report.render_text(data)
    for key, label, fmt in report.OVERVIEW:
        figure = re.escape(fmt(data.overview[key]))
        assert re.search(rf"^  {re.escape(label)} +{figure}$", text, re.M)
    for section_data in data.sections:
        for cells in section_data.cells():
            line = next((ln for ln in text.splitlines() if all(cell in ln for cell in cells)), None)
            assert line is not None, (section_data.section.key, cells)


def test_the_small_demo_gives_every_section_something_to_show(economy: Conn) -> None:
    data = report.read(economy, "economy")
    shown = {s.section.key for s in data.sections if s.rows}
    expected = {"top_allocations", "over_budget", "roi_leaders", "roi_laggards",
                "pending_proposals", "reserve", "spend_mix", "families"}  # fmt: skip
    steps = economy.execute("SELECT * FROM demo.cycle_steps()").fetchone()
    if steps is not None and steps[0] and steps[1]:
        expected |= {"throttled", "last_rebalance", "last_rebalance_summary"}
    assert expected <= shown
    assert data.overview["over_budget_entities"] > 0
    assert data.overview["pending_proposals"] > 0


def test_the_per_class_sections_count_the_overviews_entities(economy: Conn) -> None:
    """The headline counts entities; the over-budget and throttled tables have one row per
    entity and class. Their titles count both, so the headline's number is in the title."""
    data = report.read(economy, "economy")
    text = report.render_text(data)
    pairs = (("over_budget", "over_budget_entities"), ("throttled", "throttled_entities"))
    for key, figure in pairs:
        section = data.section(key)
        assert section is not None and section.entities is not None
        assert section.entities == data.overview[figure]
        assert section.total >= section.entities
        count = section.count()
        assert count.startswith(f" ({section.entities:,} entit"), count
        assert f"{section.total:,} entity-class pair" in count
        assert f"{section.section.title}{count}" in text.splitlines()


def test_the_report_views_round_what_a_person_reads_and_the_exact_values_stay(
    economy: Conn,
) -> None:
    scales = economy.execute(
        "SELECT max(scale(effective_token_budget)), max(scale(token_utilization)), "
        "max(scale(roi_score)), max(scale(market_weight)), max(scale(period_cost_usd)) "
        "FROM senate_report_top_allocations"
    ).fetchone()
    assert scales is not None
    assert scales[0] <= 2 and scales[1] <= 4 and scales[2] <= 8 and scales[3] <= 3
    assert scales[4] <= 2
    # The exact figures are still in budget_status, and the rounded ones are within rounding.
    worst = economy.execute(
        "SELECT max(abs(t.effective_token_budget - b.effective_budget)), "
        "       max(abs(t.token_utilization - b.utilization)), "
        "       bool_or(scale(b.effective_budget) > 2) "
        "FROM senate_report_top_allocations AS t JOIN budget_status AS b "
        "USING (entity_type, entity_id) WHERE b.resource_type = 'llm_tokens'"
    ).fetchone()
    assert worst is not None
    assert worst[0] <= Decimal("0.005") and worst[1] <= Decimal("0.00005")
    assert worst[2]  # the economy has budgets with more than 2 decimals: rounding did something


def test_the_demo_prints_the_runway_backtest_s_error_from_the_function(economy: Conn) -> None:
    first_day = economy.execute("SELECT min(usage_day) FROM senate.usage_rollups").fetchone()
    assert first_day is not None
    lines = demo.backtest_lines(economy, first_day[0])
    assert len(lines) == 2
    call = re.search(r"forecast_backtest\('([0-9-]+)', '([0-9-]+)'\)", lines[0])
    assert call is not None
    with economy.cursor(row_factory=dict_row) as cur:
        tokens = cur.execute(
            "SELECT * FROM forecast_backtest(%s, %s) WHERE resource_type = 'llm_tokens'"
            " AND entity_type IS NULL AND day_of_period IS NULL",
            (call[1], call[2]),
        ).fetchone()
    assert tokens is not None and tokens["forecasts"] > 0
    wape = f"{tokens['wape'] * 100:.1f} %"
    bias = f"{tokens['bias'] * 100:+.1f} %"
    assert lines[1].startswith(f"  weighted error (WAPE) tokens {wape} (bias {bias}; ")


def test_the_runway_section_lists_what_runs_out_soonest_first(economy: Conn) -> None:
    data = report.read(economy, "economy")
    runway = data.section("runway")
    assert runway is not None
    days = [row["runway_days"] for row in runway.rows]
    assert days == sorted(days)
    exact = economy.execute(
        "SELECT count(*) FROM budget_forecast WHERE runway_status = 'runs_out'"
    ).fetchone()
    assert exact == (runway.total,)


def test_the_families_section_draws_the_largest_families_as_trees_with_their_binding_levels(
    economy: Conn,
) -> None:
    data = report.read(economy, "economy")
    families = data.section("families")
    assert families is not None and families.rows
    with economy.cursor(row_factory=dict_row) as cur:
        rows = cur.execute("SELECT * FROM senate_report_families ORDER BY tree_order").fetchall()
        # The five roots with the largest effective token budget, largest first.
        roots = cur.execute(
            """
            SELECT p.parent_type AS entity_type, p.parent_id AS entity_id
            FROM (SELECT DISTINCT parent_type, parent_id FROM entity_parents) AS p
            LEFT JOIN budget_status AS s
              ON s.entity_type = p.parent_type AND s.entity_id = p.parent_id
             AND s.resource_type = 'llm_tokens'
            WHERE NOT EXISTS (SELECT 1 FROM entity_parents AS q
                              WHERE (q.entity_type, q.entity_id) = (p.parent_type, p.parent_id))
            ORDER BY s.effective_budget DESC NULLS LAST, 1, 2 LIMIT 5
            """
        ).fetchall()
        levels = cur.execute(
            "SELECT entity_type, entity_id, level, level_entity_type, level_entity_id,"
            " effective_budget, spent, held, available, binds"
            " FROM budget_levels WHERE resource_type = 'llm_tokens'"
        ).fetchall()
    assert [(r["entity_type"], r["entity_id"]) for r in rows if r["depth"] == 0] == [
        (r["entity_type"], r["entity_id"]) for r in roots
    ]
    assert [r["family_rank"] for r in rows] == sorted(r["family_rank"] for r in rows)
    assert {r["family_rank"] for r in rows} == set(range(1, len(roots) + 1))
    assert max(r["depth"] for r in rows) <= 2
    # Every member with an envelope: its figures and its binding level are budget_levels'.
    by_entity: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for lv in levels:
        by_entity.setdefault((lv["entity_type"], lv["entity_id"]), []).append(lv)
    checked = 0
    for row in rows:
        own = by_entity.get((row["entity_type"], row["entity_id"]))
        if own is None:
            continue
        mine = next(lv for lv in own if lv["level"] == 0)
        binding = next(lv for lv in own if lv["binds"])
        assert row["effective_budget"] == round(mine["effective_budget"], 2)
        assert row["subtree_spent"] == round(mine["spent"], 2)
        assert row["subtree_held"] == round(mine["held"], 2)
        assert row["headroom"] == round(mine["available"], 2)
        assert row["available"] == round(binding["available"], 2)
        expected = (
            "itself"
            if binding["level"] == 0
            else f"{binding['level_entity_type']} {binding['level_entity_id']} "
            f"({binding['level']} up)"
        )
        assert row["binding_level"] == expected, row
        checked += 1
    assert checked > 0
    # Some member of the demo's families is bound by an ancestor, and the text shows the tree.
    assert any(r["binding_level"] not in (None, "itself") for r in rows)
    text = report.render_text(data)
    assert families.section.title in text
    assert any(line.lstrip().startswith("1  \u2514 ") for line in text.splitlines())


def test_the_weekly_bars_are_labelled_with_their_weeks(economy: Conn) -> None:
    """A test on the chart data: one bar position per budget period in the data, its tick label
    the ISO week and days of that period (the current one marked so far), set explicitly on the
    axes; no automatic date ticks."""
    pytest.importorskip("matplotlib")
    from senate_db import report_html

    plt = report_html._pyplot()
    data = report_html.fetch_chart_data(economy)
    periods = sorted({(r["period_start"], r["period_end"]) for r in data.budget_by_period})
    assert len(periods) >= 4
    bars = report_html.period_bars(data)
    assert bars.periods == [start for start, _ in periods]
    assert len(bars.labels) == len(periods)
    for (start, end), label in zip(periods, bars.labels, strict=True):
        assert (end - start).days == 7 and start.isoweekday() == 1  # ISO weeks by default
        week, first_day, *rest = label.split("\n")
        assert week == f"W{start.isocalendar().week:02d}", label
        assert first_day == f"{start:%b} {start.day}", label
        assert rest == (["so far"] if start == data.current_period_start else []), label
    assert data.current_period_start == periods[-1][0]
    fig = report_html.figure_budget_vs_spend(plt, data)
    try:
        fig.canvas.draw()  # tick label texts are filled in at draw time
        for ax in fig.axes:  # the panels share the x axis: one position per period
            assert list(ax.get_xticks()) == list(range(len(periods)))
        for ax in fig.axes[2:4]:  # the bottom row shows the labels
            assert [t.get_text() for t in ax.get_xticklabels()] == bars.labels
        for ax in fig.axes[:4]:
            assert "per budget period" in ax.get_ylabel()
    finally:
        plt.close(fig)


def test_a_zero_roi_is_drawn_at_zero_under_the_log_axis_not_at_a_floor() -> None:
    pytest.importorskip("matplotlib")
    from senate_db import report_html

    def point(entity_id: str, roi: str | None) -> dict[str, Any]:
        return {
            "entity_type": "hypothesis",
            "entity_id": entity_id,
            "priority_score": Decimal("0.5"),
            "roi_score": None if roi is None else Decimal(roi),
            "effective_token_budget": Decimal(100_000),
        }

    data = report_html.ChartData(
        budget_by_period=[],
        roi_priority=[point("h-1", "0.002"), point("h-2", "0"), point("h-3", None)],
        reserve_history=[],
        policy={"roi_low_threshold": Decimal("0.0001"), "roi_high_threshold": Decimal("0.001")},
    )
    points = report_html.roi_points(data)
    assert [r["entity_id"] for r in points.positive["hypothesis"]] == ["h-1"]
    assert [r["entity_id"] for r in points.zero["hypothesis"]] == ["h-2"]
    assert points.without_spend == 1
    plt = report_html._pyplot()
    fig = report_html.figure_roi_vs_priority(plt, data)
    try:
        log_axis, strip = fig.axes
        assert log_axis.get_yscale() == "log"
        drawn = [y for c in log_axis.collections for _, y in c.get_offsets()]
        assert drawn == [0.002]
        assert [t.get_text() for t in strip.get_yticklabels()] == [report_html.ZERO_ROI_LABEL]
        assert [y for c in strip.collections for _, y in c.get_offsets()] == [0.0]
    finally:
        plt.close(fig)
    chart = report_html.chart_roi_vs_priority(plt, data)
    assert "1 spent tokens but gained no KG edges (ROI 0)" in chart.caption


def test_the_limit_option_bounds_ranked_sections(economy: Conn) -> None:
    data = report.read(economy, "economy", limit=3)
    for section_data in data.sections:
        if section_data.section.limit is not None:
            assert len(section_data.rows) <= 3
            assert section_data.total >= len(section_data.rows)


def test_the_html_report_is_one_file_with_its_charts_as_pngs(economy: Conn) -> None:
    pytest.importorskip("matplotlib")
    from senate_db import report_html

    data = report.read(economy, "economy")
    charts = report_html.draw_charts(economy)
    page = report_html.render_html(data, charts)
    images = re.findall(r"<img alt='([^']*)' src='data:image/png;base64,([A-Za-z0-9+/=]+)'>", page)
    assert [alt for alt, _ in images] == [c.title for c in charts]
    assert len(images) == 3
    for _, encoded in images:
        png = base64.b64decode(encoded)
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    assert "<script" not in page and "http://" not in page and "https://" not in page
    for section_data in data.sections:
        assert section_data.section.title in page.replace("&#x27;", "'")


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


def test_the_html_report_draws_its_charts_in_a_headless_browser(
    economy: Conn, tmp_path: Path
) -> None:
    """Rendered by a real browser, the page shows the three charts: the screenshot has the
    charts' coloured pixels (bars, dots, reserve lines), not only text on white."""
    pytest.importorskip("matplotlib")
    browser = chromium()
    if browser is None:
        pytest.skip("no chromium on this machine (apt-get install chromium)")
    import matplotlib.image

    from senate_db import report_html

    page = tmp_path / "report.html"
    page.write_text(
        report_html.render_html(report.read(economy, "economy"), report_html.draw_charts(economy))
    )
    shot = tmp_path / "report.png"
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--hide-scrollbars",
            "--window-size=1400,2600",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    pixels = matplotlib.image.imread(str(shot))[:, :, :3]
    saturation = pixels.max(axis=2) - pixels.min(axis=2)
    coloured = float((saturation > 0.25).mean())
    print(f"screenshot {pixels.shape[1]}x{pixels.shape[0]}: {coloured:.1%} coloured pixels")
    # Text and tables are grey on white (no saturation); only the drawn charts add colour.
    assert coloured > 0.02


def test_a_database_without_the_report_views_is_told_to_migrate(empty_db_url: str) -> None:
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        with pytest.raises(Exception, match="senate-db migrate"):
            report.read(conn, "empty")


def senate_db(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SENATE_DB_DEBUG": ""}
    env.pop("DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "senate_db", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )


@pytest.mark.slow
def test_the_small_demo_runs_end_to_end_and_prints_the_reports_figures(
    postgresql_noproc: NoopExecutor, tmp_path: Path
) -> None:
    with migrated_database(postgresql_noproc) as url:
        demo_name = urls.database_name(url) + demo.DEMO_SUFFIX  # type: ignore[operator]
        demo_url = urls.with_database(url, demo_name)
        try:
            result = senate_db("demo", "--size", "small", "--database", url)
            assert result.returncode == 0, result.stderr
            lines = result.stdout.splitlines()
            assert "pending:  0 migration(s)" in lines
            assert lines[-2] == "connect with:"
            assert f"/{demo_name}" in lines[-1]
            assert any(line.startswith("  week of ") for line in lines)
            assert any(line.startswith("runway backtest, SELECT * FROM forecast_backtest(")
                       for line in lines)  # fmt: skip
            assert any(line.startswith("  weighted error (WAPE) tokens ") for line in lines)
            assert any(line.startswith("Largest families as trees") for line in lines)
            # The printed report carries the views' figures of the demo database.
            with psycopg.connect(demo_url, autocommit=True) as conn:
                data = report.read(conn, demo_name)
                for key, label, fmt in report.OVERVIEW:
                    assert re.search(
                        rf"^  {re.escape(label)} +{re.escape(fmt(data.overview[key]))}$",
                        result.stdout,
                        re.M,
                    ), label
                for section_data in data.sections:
                    for cells in section_data.cells():
                        assert any(all(c in ln for c in cells) for ln in lines), cells
            # The user's database was left alone.
            with psycopg.connect(url) as conn:
                assert conn.execute("SELECT count(*) FROM resource_usage").fetchone() == (0,)
            html = tmp_path / "report.html"
            if _has_matplotlib():
                result = senate_db("report", "--database", demo_url, "--html", str(html))
                assert result.returncode == 0, result.stderr
                assert html.read_text().count("data:image/png;base64,") == 3
        finally:
            server.drop_database(url, demo_name)


def _has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def test_an_empty_database_gets_the_report_and_placeholder_charts(db: Conn) -> None:
    pytest.importorskip("matplotlib")
    import warnings

    from senate_db import report_html

    data = report.read(db, "empty")
    assert {s.section.key for s in data.sections if s.rows} == {"reserve"}
    assert "none" in report.render_text(data)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        charts = report_html.draw_charts(db)
    assert [c.key for c in charts] == ["budget_vs_spend", "roi_vs_priority", "reserve"]
    assert all(c.png.startswith(b"\x89PNG") for c in charts)


def test_a_report_of_an_empty_database_says_so_and_names_the_demo_database(
    db_url: str, tmp_path: Path
) -> None:
    """`senate-db report` on a database with nothing in it writes nothing and exits 1 with one
    line: the database is empty, and the exact command for the demo's database (or how to
    make one)."""
    dbname = urls.database_name(db_url)
    assert dbname is not None
    demo_name = dbname + empty.DEMO_SUFFIX
    result = senate_db("report", "--database", db_url)
    assert result.returncode == 1 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"senate-db: database {dbname} is empty (")
    assert "nothing to report" in line and "run `senate-db demo`" in line and demo_name in line

    demo_url = urls.with_database(db_url, demo_name)
    server.create_database(db_url, demo_name)
    try:
        page = tmp_path / "report.html"
        result = senate_db("report", "--database", db_url, "--html", str(page))
        assert result.returncode == 1 and not page.exists()
        (line,) = result.stderr.splitlines()
        command = shlex.join(
            ["report", "--database", empty.display_url(demo_url), "--html", str(page)]
        )
        assert line.endswith(f"the demo's economy is in {demo_name}: senate-db {command}"), line

        result = senate_db("psql", "--database", db_url, "--", "-XAtc", "SELECT 42")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "42"
        assert result.stderr.startswith(f"note: database {dbname} is empty (")
        assert f"senate-db psql --database {shlex.quote(empty.display_url(demo_url))}" in (
            result.stderr
        )

        result = senate_db("status", "--database", db_url)
        assert result.returncode == 0, result.stderr
        (data_line,) = [ln for ln in result.stdout.splitlines() if ln.startswith("data:")]
        assert f"database {dbname} is empty (" in data_line and demo_name in data_line
    finally:
        server.drop_database(db_url, demo_name)


def test_a_database_with_data_gets_no_empty_note(economy: Conn, todays_economy: str) -> None:
    assert not empty.is_empty(economy)
    result = senate_db("psql", "--database", todays_economy, "--", "-XAtc", "SELECT 1")
    assert result.returncode == 0 and "note:" not in result.stderr
    result = senate_db("status", "--database", todays_economy)
    assert result.returncode == 0 and "data:" not in result.stdout
