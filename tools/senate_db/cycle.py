"""``senate-db cycle daily|weekly``: run a review cycle where pg_cron is not available.

The cycles themselves live in the database (``run_daily_check``, ``run_rebalance``); this
module only calls them and prints the rows they return.

* ``daily``  runs ``compact_usage_rollups()`` (the week's writer-shard rollup rows merged, so
  budget checks stay flat) and then ``run_daily_check(as_of)``: releases, throttles and spend
  alerts.
* ``weekly`` runs ``run_rebalance(as_of, dry_run)``: the rebalance plan, or its application.

Without ``--apply`` nothing is written: the weekly cycle is a dry run, and the daily check runs
in a transaction that is rolled back (so no throttle, ledger row or notification survives).
With ``--apply`` the cycle commits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, TextIO

import psycopg

from senate_db import urls
from senate_db.errors import cannot_connect
from senate_db.target import Target

KINDS = ("daily", "weekly")


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


def run_cycle(
    url: str, kind: str, *, apply: bool, as_of: str | None = None, actor: str | None = None
) -> CycleResult:
    """Run one cycle on the database at ``url`` and return what it reported."""
    if kind not in KINDS:
        raise ValueError(f"unknown cycle {kind!r}; expected one of {', '.join(KINDS)}")
    notices: list[str] = []
    try:
        conn = psycopg.connect(url, autocommit=False)
    except psycopg.OperationalError as e:
        raise cannot_connect(urls.redact(url), e) from e
    with conn:
        conn.add_notice_handler(lambda d: notices.append(d.message_primary or ""))
        with conn.cursor() as cur:
            if kind == "daily":
                if _has_function(cur, "public.compact_usage_rollups(date, date)"):
                    cur.execute("SELECT * FROM compact_usage_rollups()")
                    compacted = cur.fetchone()
                    if compacted is not None:
                        notices.append(
                            f"usage rollups compacted: {compacted[0]} keys, "
                            f"{compacted[1]} shard rows merged"
                        )
                cur.execute("SELECT * FROM run_daily_check(%s::date)", (as_of,))
            else:
                cur.execute(
                    "SELECT * FROM run_rebalance(coalesce(%s::timestamptz, now()), %s, %s)",
                    (as_of, not apply, actor),
                )
            columns = [d.name for d in cur.description or []]
            rows = cur.fetchall()
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
    what = "daily spend check" if kind == "daily" else "weekly rebalance"
    mode = "applied" if apply else "dry run, nothing written (add --apply to write)"
    print(f"{what} on {target.describe()}{' as of ' + as_of if as_of else ''}: {mode}", file=out)
    result = run_cycle(target.url, kind, apply=apply, as_of=as_of, actor=actor)
    for notice in result.notices:
        print(f"notice: {notice}", file=out)
    if result.rows:
        print(render_table(result.columns, result.rows), file=out)
    print(f"({len(result.rows)} row{'' if len(result.rows) == 1 else 's'})", file=out, flush=True)
    return 0
