"""Shared by the demo tests: a small simulated economy in a database of its own."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from pytest_postgresql.executors import NoopExecutor
from pytest_postgresql.janitor import DatabaseJanitor

from senate_db import urls, workload

Conn = psycopg.Connection[Any]

#: A fixed last day in the past: every simulated instant is then a whole day, so two runs with
#: the same seed agree to the microsecond (with the default, today's instants depend on now()).
LAST_DAY = dt.date(2026, 3, 18)  # a Wednesday: three whole weeks, then Monday to Wednesday


@contextmanager
def migrated_database(noproc: NoopExecutor) -> Iterator[str]:
    """A new database cloned from the session's migrated template; dropped afterwards."""
    dbname = f"senate_demo_test_{uuid.uuid4().hex[:10]}"
    janitor = DatabaseJanitor(
        user=noproc.user,
        host=noproc.host,
        port=noproc.port,
        dbname=dbname,
        template_dbname=noproc.template_dbname,
        password=noproc.password,
        maintenance_dbname=noproc.maintenance_dbname,
    )
    params = {"host": noproc.host, "port": str(noproc.port), "user": noproc.user}
    if noproc.password:
        params["password"] = noproc.password
    with janitor:
        yield urls.from_params({"dbname": dbname, **params})


def simulate_small(url: str, seed: int = 7, last_day: dt.date | None = LAST_DAY) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        workload.simulate(conn, seed, "small", last_day=last_day)
