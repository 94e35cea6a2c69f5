"""The Senate report shows exactly the views' figures, as text and as one HTML file with charts;
`senate-db demo --size small` runs end to end and prints it."""

from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from demo_support import migrated_database, simulate_small
from psycopg import sql
from psycopg.rows import dict_row
from pytest_postgresql.executors import NoopExecutor

from senate_db import demo, report, server, urls

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
                "pending_proposals", "reserve", "spend_mix"}  # fmt: skip
    steps = economy.execute("SELECT * FROM demo.cycle_steps()").fetchone()
    if steps is not None and steps[0] and steps[1]:
        expected |= {"throttled", "last_rebalance", "last_rebalance_summary"}
    assert expected <= shown
    assert data.overview["over_budget_entities"] > 0
    assert data.overview["pending_proposals"] > 0


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
