"""``senate-db cycle KIND``: run one of the Senate's periodic jobs where pg_cron is not available.

The jobs themselves live in the database; this module only calls them and prints what they
return. Each kind is one job of ``public.senate_schedule`` (``senate-db schedule`` prints the
crontab that runs them), plus ``daily``, the whole daily round in one command:

* ``alerts``       ``check_spend_alerts(as_of)``: the spend alerts due (every minute).
* ``reservations`` ``cleanup_spend_reservations()``: expired holds marked, old ones deleted
  (every 10 minutes).
* ``check``        ``run_daily_check(as_of)``: releases, throttles and spend alerts (hourly).
* ``snapshot``     ``record_economy_snapshot(as_of)``: the report's history (daily, late).
* ``compact``      ``compact_usage_rollups()``: the week's writer-shard rollup rows merged, so
  budget checks stay flat (daily).
* ``daily``        the four daily duties in this order: compaction, reservation clean-up, the
  daily check, the snapshot (for a single daily crontab line; the schedule runs them apart so
  that the check is hourly). Applied, each commits on its own.
* ``weekly``       ``run_rebalance(as_of, dry_run, actor)``: the rebalance plan, or its
  application.

Without ``--apply`` nothing is written: the weekly cycle is a dry run, every other kind runs in
a transaction that is rolled back (so no throttle, alert, snapshot or notification survives).
With ``--apply`` the cycle commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TextIO

import psycopg

from senate_db import urls
from senate_db.errors import SenateDbError, cannot_connect
from senate_db.target import Target

#: Every kind, in the order of ``senate_schedule`` (most frequent first), then the daily round.
KINDS = ("alerts", "reservations", "check", "snapshot", "compact", "daily", "weekly")

#: What each kind is called in the first line of its output.
TITLES = {
    "alerts": "spend alerts",
    "reservations": "spend reservation clean-up",
    "check": "daily spend check",
    "snapshot": "economy snapshot",
    "compact": "usage rollup compaction",
    "daily": "daily cycle (compaction, reservation clean-up, daily spend check, snapshot)",
    "weekly": "weekly rebalance",
}

#: What ``--as-of`` means for each kind (``None``: not accepted).
AS_OF = {
    "alerts": "a time (default now)",
    "reservations": None,
    "check": "a date (default today, policy time zone)",
    "snapshot": "a time (default now)",
    "compact": "a date: compacts the 7 days before it (default today)",
    "daily": "a date (default today, policy time zone)",
    "weekly": "a time (default now)",
}

#: ``--as-of`` as an instant, else now.
_NOW = "coalesce(%s::timestamptz, now())"
#: The end of a policy day (its last microsecond), but never later than now.
_END_OF_DAY = (
    "least(now(), ((%s::date + 1)::timestamp AT TIME ZONE"
    " (SELECT p.time_zone FROM economics_policy AS p WHERE p.is_active))"
    " - interval '1 microsecond')"
)


@dataclass(frozen=True)
class CycleResult:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    notices: list[str]
    applied: bool


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f") if value == value.to_integral() else str(value)
        return text if "." not in text else text.rstrip("0").rstrip(".")
    return str(value)


def render_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A psql-like aligned table (no borders)."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    lines = [" | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines.append("-+-".join("-" * w for w in widths))
    for r in cells:
        lines.append(" | ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip())
    return "\n".join(lines)


def _has_function(cur: psycopg.Cursor[Any], signature: str) -> bool:
    """Whether the database has this function (a database migrated before it has not)."""
    cur.execute("SELECT to_regprocedure(%s) IS NOT NULL", (signature,))
    row = cur.fetchone()
    return bool(row and row[0])


def _fetch(cur: psycopg.Cursor[Any]) -> tuple[list[str], list[tuple[Any, ...]]]:
    return [d.name for d in cur.description or []], cur.fetchall()


def _compact(cur: psycopg.Cursor[Any], as_of: str | None) -> None:
    if as_of is None:
        cur.execute("SELECT * FROM compact_usage_rollups()")
    else:
        cur.execute(
            "SELECT * FROM compact_usage_rollups(%s::date - 7, %s::date - 1)", (as_of, as_of)
        )


def _snapshot(cur: psycopg.Cursor[Any], at: str, as_of: str | None) -> None:
    """``record_economy_snapshot`` at the instant the SQL expression ``at`` (of ``%s`` =
    ``as_of``) gives."""
    cur.execute(
        "SELECT s.at AS snapshot_at, record_economy_snapshot(s.at) AS rows_written"
        f" FROM (SELECT {at} AS at) AS s",
        (as_of,),
    )


def _daily(
    cur: psycopg.Cursor[Any], as_of: str | None, notices: list[str], *, apply: bool
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The daily round; returns the daily check's rows (what the round prints).

    Applied, each duty commits on its own, so that one failing (a lock wait past its 5 s, say)
    keeps what the earlier ones wrote: the throttles never wait for a snapshot. A dry run
    runs all four in the one transaction that is rolled back."""

    def done() -> None:
        if apply:
            cur.connection.commit()

    if _has_function(cur, "public.compact_usage_rollups(date, date)"):
        _compact(cur, as_of)
        compacted = cur.fetchone()
        if compacted is not None:
            notices.append(
                f"usage rollups compacted: {compacted[0]} keys, {compacted[1]} shard rows merged"
            )
        done()
    cur.execute("SELECT * FROM cleanup_spend_reservations()")
    cleaned = cur.fetchone()
    if cleaned is not None:
        notices.append(f"spend reservations: {cleaned[0]} expired, {cleaned[1]} deleted")
    done()
    cur.execute("SELECT * FROM run_daily_check(%s::date)", (as_of,))
    checked = _fetch(cur)
    done()
    # The day's point of the report's history: now, or the end of a past day.
    _snapshot(cur, _NOW if as_of is None else _END_OF_DAY, as_of)
    snapshot = cur.fetchone()
    if snapshot is not None:
        notices.append(f"economy snapshot at {snapshot[0]}: {snapshot[1]} rows written")
    return checked


def _run_kind(
    cur: psycopg.Cursor[Any],
    kind: str,
    *,
    apply: bool,
    as_of: str | None,
    actor: str | None,
    notices: list[str],
) -> tuple[list[str], list[tuple[Any, ...]]]:
    if kind == "daily":
        return _daily(cur, as_of, notices, apply=apply)
    if kind == "alerts":
        cur.execute("SELECT * FROM check_spend_alerts(coalesce(%s::timestamptz, now()))", (as_of,))
    elif kind == "reservations":
        cur.execute("SELECT * FROM cleanup_spend_reservations()")
    elif kind == "check":
        cur.execute("SELECT * FROM run_daily_check(%s::date)", (as_of,))
    elif kind == "snapshot":
        _snapshot(cur, _NOW, as_of)
    elif kind == "compact":
        _compact(cur, as_of)
    else:
        cur.execute(
            "SELECT * FROM run_rebalance(coalesce(%s::timestamptz, now()), %s, %s)",
            (as_of, not apply, actor),
        )
    return _fetch(cur)


def check_options(kind: str, *, as_of: str | None, actor: str | None) -> None:
    """Refuse options the kind does not take (before anything is printed or run)."""
    if kind not in KINDS:
        raise ValueError(f"unknown cycle {kind!r}; expected one of {', '.join(KINDS)}")
    if as_of is not None and AS_OF[kind] is None:
        raise SenateDbError(f"cycle {kind} takes no --as-of (it works on the present)")
    if actor is not None and kind != "weekly":
        raise SenateDbError(f"cycle {kind} takes no --actor (only weekly records one)")


def run_cycle(
    url: str, kind: str, *, apply: bool, as_of: str | None = None, actor: str | None = None
) -> CycleResult:
    """Run one cycle on the database at ``url`` and return what it reported."""
    check_options(kind, as_of=as_of, actor=actor)
    notices: list[str] = []
    try:
        conn = psycopg.connect(url, autocommit=False)
    except psycopg.OperationalError as e:
        raise cannot_connect(urls.redact(url), e) from e
    with conn:
        conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
        with conn.cursor() as cur:
            columns, rows = _run_kind(
                cur, kind, apply=apply, as_of=as_of, actor=actor, notices=notices
            )
        if apply:
            conn.commit()
        else:
            conn.rollback()
    return CycleResult(columns=columns, rows=rows, notices=notices, applied=apply)


def run(
    target: Target,
    kind: str,
    out: TextIO,
    *,
    apply: bool = False,
    as_of: str | None = None,
    actor: str | None = None,
) -> int:
    """``senate-db cycle``: run the cycle and print its rows; returns the exit status."""
    check_options(kind, as_of=as_of, actor=actor)
    mode = "applied" if apply else "dry run, nothing written (add --apply to write)"
    when = f" as of {as_of}" if as_of else ""
    print(f"{TITLES[kind]} on {target.describe()}{when}: {mode}", file=out)
    result = run_cycle(target.url, kind, apply=apply, as_of=as_of, actor=actor)
    for notice in result.notices:
        print(f"notice: {notice}", file=out)
    if result.rows:
        print(render_table(result.columns, result.rows), file=out)
    print(f"({len(result.rows)} row{'' if len(result.rows) == 1 else 's'})", file=out, flush=True)
    return 0
