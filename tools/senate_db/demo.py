"""``senate-db demo``: a simulated Senate economy, end to end, in its own database.

On the target server (the embedded one by default) the demo recreates the database
``<name>_demo`` (``senate_demo`` on the embedded server) so it never touches the user's own data,
applies every migration, loads the workload generator (``db/demo/workload.sql``), simulates the
days one by one (usage, Exchange prices, KG gains, Senate sessions, then the daily checks and
weekly rebalances the database has), prints the Senate report and ends with the psql command
that opens the same data. All the economics run in SQL; this module only drives and prints.
"""

from __future__ import annotations

import datetime as dt
import shlex
import sys
import time
from decimal import Decimal
from typing import Any, TextIO

import psycopg

from senate_db import migrations, psql, report, server, urls, workload
from senate_db.empty import DEMO_SUFFIX, demo_database_name, display_url
from senate_db.progress import Progress
from senate_db.target import Target

__all__ = ["DEMO_SUFFIX", "demo_database_name", "display_url", "run", "simulate"]


def recreate_database(target: Target, dbname: str) -> str:
    server.drop_database(target.url, dbname)
    server.create_database(target.url, dbname)
    return urls.with_database(target.url, dbname)


def migrate(url: str, err: TextIO) -> list[str]:
    pending = migrations.pending(url)
    with Progress("migrating", len(pending), err) as bar:
        return migrations.apply_migrations(url, on_applied=lambda mid: bar.advance(note=mid))


def _amount(value: Any) -> str:
    number = Decimal(value or 0)
    for size, suffix in ((Decimal(10**9), "G"), (Decimal(10**6), "M"), (Decimal(10**3), "k")):
        if abs(number) >= size:
            return f"{number / size:+.1f}{suffix}"
    return f"{number:+.0f}"


RULES = (
    ("strong_roi_market_support", "raised for strong ROI"),
    ("sustained_low_roi", "cut for low ROI"),
    ("idle_reclaim", "idle reclaimed"),
    ("family_lending", "lent in families"),
    ("reassigned_idle_budget", "reassigned"),
)


def checks_text(summary: dict[str, int] | None) -> str:
    if summary is None:
        return ""
    period = summary.get("throttled period_budget", 0)
    daily = summary.get("throttled daily_allowance", 0)
    return (
        f"daily checks: {period} throttled over the period budget, {daily} over a daily "
        f"allowance, {summary.get('released', 0)} released, {summary.get('alert', 0)} alerts"
    )


def rebalance_text(summary: dict[str, Any] | None) -> str:
    if summary is None:
        return ""
    rules = ", ".join(f"{int(summary.get(key, 0))} {label}" for key, label in RULES)
    reserve = _amount(summary.get("reserve_tokens_delta"))
    return f"Monday rebalance: {rules}; token reserve {reserve}"


def _pct(value: Any) -> str:
    return f"{Decimal(value) * 100:.1f} %"


def backtest_lines(conn: psycopg.Connection[Any], first_day: dt.date) -> list[str]:
    """How good the runway forecast was on the simulated history (forecast_backtest, 0161), in
    two lines: the forecasts made at the start of each day with a full estimator window, in the
    budget periods that have ended. Nothing when the database has no forecast_backtest."""
    found = conn.execute(
        "SELECT to_regprocedure('public.forecast_backtest(date, date)') IS NOT NULL, "
        "(SELECT forecast_window_days FROM economics_policy WHERE is_active), "
        "(SELECT period_start FROM budget_period_bounds())"
    ).fetchone()
    if found is None or not found[0]:
        return []
    window, current_start = int(found[1]), found[2]
    from_day, to_day = first_day + dt.timedelta(days=window), current_start - dt.timedelta(days=1)
    if to_day < from_day:
        return []
    rows = conn.execute(
        "SELECT resource_type, unit, day_of_period, forecasts, wape, bias "
        "FROM forecast_backtest(%s, %s) WHERE entity_type IS NULL "
        "ORDER BY resource_type = 'llm_tokens' DESC, resource_type, day_of_period NULLS FIRST",
        (from_day, to_day),
    ).fetchall()
    overall = [r for r in rows if r[2] is None and r[4] is not None]
    if not overall:
        return []
    first = overall[0]
    days = [r for r in rows if r[0] == first[0] and r[2] is not None and r[4] is not None]
    detail = f"bias {Decimal(first[5]) * 100:+.1f} %"
    if days:
        detail += (
            f"; {_pct(days[0][4])} on day {days[0][2]} of the period, "
            f"{_pct(days[-1][4])} on day {days[-1][2]}"
        )
    errors = [f"{first[1]} {_pct(first[4])} ({detail})"]
    errors += [f"{r[1]} {_pct(r[4])}" for r in overall[1:]]
    return [
        f"runway backtest, SELECT * FROM forecast_backtest('{from_day}', '{to_day}'): "
        f"{sum(int(r[3]) for r in overall):,} forecasts at the start of a day vs what the "
        "period spent",
        f"  weighted error (WAPE) {', '.join(errors)}",
    ]


def scenario_lines(conn: psycopg.Connection[Any]) -> list[str]:
    """The scenarios the workload stages (db/demo/workload.sql): claude-sonnet's price change
    mid-history (demo.change_price), the families' cost budgets in USD and the envelope aimed
    to run out on Thursday (demo.aim_runway), each with the query that shows it. Nothing for
    what did not happen."""
    lines: list[str] = []
    change = conn.execute(
        "SELECT priced_name, old_usd_per_unit * 1e6, new_usd_per_unit * 1e6, "
        "(window_start AT TIME ZONE "
        "(SELECT time_zone FROM economics_policy WHERE is_active))::date "
        "FROM price_changes WHERE change_kind = 'correction' AND reason LIKE 'demo:%' "
        "ORDER BY change_id LIMIT 1"
    ).fetchone()
    if change is not None:
        lines.append(
            f"price change mid-history: {change[0]} {Decimal(change[1]):.0f} -> "
            f"{Decimal(change[2]):.0f} USD per million tokens from {change[3]} (usage before "
            "it keeps the old price), SELECT * FROM price_changes"
        )
    money = conn.execute(
        "SELECT count(*), count(*) FILTER (WHERE spent >= 0.8 * effective_budget) "
        "FROM budget_levels WHERE resource_type = 'usd' AND level = 0"
    ).fetchone()
    if money is not None and money[0]:
        lines.append(
            f"money: {money[0]} families have a cost budget in USD (their gap's), "
            f"{money[1]} of them at 80 % or more this week, SELECT * FROM budget_levels "
            "WHERE resource_type = 'usd' AND level = 0"
        )
    runway = conn.execute(
        "SELECT f.entity_type, f.entity_id, f.runs_out_local, f.daily_rate, f.spent, "
        "f.effective_budget "
        "FROM budget_ledger AS l "
        "CROSS JOIN LATERAL budget_forecast_as_of(l.as_of) AS f "
        "WHERE l.cause_type = 'senate_adjustment' AND l.account = 'entity_budget' "
        "AND f.entity_type = l.entity_type AND f.entity_id = l.entity_id "
        "AND f.resource_type = 'llm_tokens' AND f.runs_out_local IS NOT NULL "
        "ORDER BY l.ledger_id DESC LIMIT 1"
    ).fetchone()
    if runway is not None:
        kind, entity, at = runway[0], runway[1], runway[2]
        lines.append(
            f"runway: {kind} {entity} runs out {at:%A %Y-%m-%d %H:00} at "
            f"{_amount(runway[3]).lstrip('+')} tokens/day (spent {_amount(runway[4]).lstrip('+')} "
            f"of {_amount(runway[5]).lstrip('+')} this week), SELECT * FROM budget_forecast "
            f"WHERE entity_id = '{entity}'"
        )
    return lines


def week_lines(week: workload.WeekLog) -> list[str]:
    lines = [
        f"  week of {week.week_start}: {week.usage_rows:,} usage rows "
        f"(${week.usage_cost_usd:,.2f}), {week.kg_edges:,} KG edges; proposals "
        f"{week.proposals_filed} filed, {week.approved} approved, {week.rejected} rejected, "
        f"{week.deferred} deferred"
    ]
    lines += [
        f"    {text}"
        for text in (rebalance_text(week.rebalance_summary), checks_text(week.daily_check))
        if text
    ]
    return lines


def simulate(conn: psycopg.Connection[Any], seed: int, size: str, out: TextIO, err: TextIO) -> None:
    workload.install(conn)
    setup = workload.generate(conn, seed, size)
    days = setup.days
    print(
        f"workload: {setup.entities} entities ({setup.envelopes} with envelopes; "
        f"{setup.family_members} in {setup.families} families of a knowledge gap, its "
        f"hypotheses and their analyses), {len(days)} days from {setup.first_day} to "
        f"{setup.last_day}",
        file=out,
    )
    steps = workload.cycle_steps(conn)
    missing = [
        name
        for name, present in (
            ("run_daily_check(date)", steps.daily_check),
            ("run_rebalance(timestamptz, boolean)", steps.rebalance),
        )
        if not present
    ]
    if missing:
        print(
            f"note: this database has no {' or '.join(missing)} (review cycles, migrations "
            "0030-0039): the demo skips those steps.",
            file=out,
        )
    started = time.monotonic()
    printed: set[Any] = set()
    with Progress("simulating", len(days), err) as bar:
        for day in days:
            workload.advance(conn, day)
            bar.advance(note=str(day))
            if day.isoweekday() == 7 or day == setup.last_day:
                bar.clear()
                for week in workload.weeks(conn):
                    if week.week_start not in printed:
                        printed.add(week.week_start)
                        print("\n".join(week_lines(week)), file=out, flush=True)
    totals = conn.execute(
        "SELECT (SELECT count(*) FROM resource_usage), "
        "(SELECT count(*) FROM allocation_proposals), "
        "(SELECT count(*) FROM allocation_proposals WHERE status = 'pending')"
    ).fetchone()
    assert totals is not None
    print(
        f"simulated {len(days)} days in {time.monotonic() - started:.1f} s: {totals[0]:,} usage "
        f"rows, {totals[1]} proposals ({totals[2]} pending)",
        file=out,
    )
    for line in [*scenario_lines(conn), *backtest_lines(conn, setup.first_day)]:
        print(line, file=out)


def run(
    target: Target,
    out: TextIO,
    *,
    size: str = "default",
    seed: int = workload.DEFAULT_SEED,
    err: TextIO | None = None,
) -> None:
    err = err if err is not None else sys.stderr
    started = time.monotonic()
    if target.embedded:
        print(f"embedded PostgreSQL is running in {target.data_dir}", file=out)
    dbname = demo_database_name(target)
    url = recreate_database(target, dbname)
    print(
        f"demo database {dbname} (re)created next to {target.describe()}: "
        "your own database is left untouched",
        file=out,
    )
    applied = migrate(url, err)
    info = server.server_info(url)
    print(f"database: {urls.redact(url)}", file=out)
    print(f"server:   {info.version}", file=out)
    print(f"applied:  {len(applied)} migration(s)", file=out)
    print(f"pending:  {len(migrations.pending(url))} migration(s)", file=out)
    print(file=out)
    print(f"simulating a Senate economy (size {size}, seed {seed})", file=out, flush=True)
    with server.connect(url, autocommit=True) as conn:
        simulate(conn, seed, size, out, err)
        print(file=out)
        print(report.render_text(report.read(conn, dbname, progress=err)), file=out)
    print(file=out)
    shown = display_url(url)
    print(f"demo finished in {time.monotonic() - started:.1f} s", file=out)
    print(
        "the same report as HTML with charts: senate-db report --database "
        f"{shlex.quote(shown)} --html senate-report.html",
        file=out,
    )
    print("connect with:", file=out)
    print(f"  {psql.shell_line(url)}", file=out, flush=True)
