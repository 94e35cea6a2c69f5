"""Shared helpers for the governance tests (tests/test_governance_*.py).

They call the governance functions exactly as a service or a reviewer would, with psycopg 3
parameters, and read the tables back. A vote or a decision is the session's senator's (0110,
0112): ``vote``, ``decide`` and ``reopen`` switch the (superuser) test connection to the LOGIN
role mapped to the named senator (created and mapped on first use, tolerant of roles other
databases of the cluster created) for the one call, with ``SET LOCAL SESSION AUTHORIZATION``
inside a savepoint, and switch back.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

Conn = psycopg.Connection[Any]

#: Evidence that satisfies the strict justification rule with a single grounding field.
GOOD_EVIDENCE: dict[str, Any] = {"pmids": ["31883511", "29625046"], "expected_kg_edges": 40}
GOOD_JUSTIFICATION = "New cohort data on APOE4 should add about 40 edges to the AD subgraph."

#: The budget column of each resource class (as in resource_types.budget_column).
BUDGET_COLUMN = {
    "llm_tokens": "token_budget",
    "cpu_seconds": "cpu_budget",
    "storage_gb_hours": "storage_budget_gb",
    "api_calls": "api_call_budget",
}


def scalar(conn: Conn, sql: str, params: Any = None) -> Any:
    row = conn.execute(sql, params).fetchone()
    assert row is not None, sql
    return row[0]


def count_rows(conn: Conn, table: str) -> int:
    return int(scalar(conn, f"SELECT count(*) FROM {table}"))


def fund(
    conn: Conn, amount: int | Decimal, resource_type: str = "llm_tokens", actor: str = "treasurer"
) -> Decimal:
    return Decimal(
        scalar(
            conn,
            "SELECT fund_reserve(%s, %s, %s, %s)",
            (resource_type, amount, actor, "test funding"),
        )
    )


def file_proposal(
    conn: Conn,
    *,
    entity_type: str = "hypothesis",
    entity_id: str = "h-1",
    amount: int | Decimal = 5000,
    proposer: str = "agent-7",
    justification: str = GOOD_JUSTIFICATION,
    evidence: Any = None,
    resource_type: str | None = None,
) -> Any:
    """The new proposal's id (an int on a fresh install; the deployment's id type otherwise)."""
    ev = Jsonb(GOOD_EVIDENCE if evidence is None else evidence)
    if resource_type is None:
        sql = "SELECT file_allocation_proposal(%s, %s, %s, %s, %s, %s)"
        params: tuple[Any, ...] = (entity_type, entity_id, amount, proposer, justification, ev)
    else:
        sql = "SELECT file_allocation_proposal(%s, %s, %s, %s, %s, %s, %s)"
        params = (entity_type, entity_id, amount, proposer, justification, ev, resource_type)
    return scalar(conn, sql, params)


def senator_login(senator: str) -> str:
    """The test LOGIN role that is senator ``senator`` (a valid identifier, at most 63 bytes)."""
    slug = re.sub(r"[^a-z0-9]+", "_", senator.lower()).strip("_") or "x"
    return f"senate_t_{slug}"[:63]


def ensure_login(conn: Conn, role: str, *groups: str) -> None:
    """Create LOGIN role ``role`` (cluster-global: tolerant of one that exists) in ``groups``."""
    ident = sql.Identifier(role).as_string(conn)
    grants = "".join(
        f"""
            IF NOT pg_has_role({sql.quote(role)}, {sql.quote(g)}, 'MEMBER') THEN
                BEGIN
                    GRANT {sql.Identifier(g).as_string(conn)} TO {ident};
                EXCEPTION WHEN unique_violation OR internal_error OR duplicate_object THEN
                    NULL;
                END;
            END IF;"""
        for g in groups
    )
    conn.execute(
        f"""
        DO $ensure$
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = {sql.quote(role)}) THEN
                BEGIN
                    CREATE ROLE {ident} LOGIN;
                EXCEPTION WHEN duplicate_object OR unique_violation THEN
                    NULL;
                END;
            END IF;{grants}
        END
        $ensure$"""
    )


def ensure_senator(conn: Conn, senator: str) -> str:
    """Make sure a LOGIN role is senator ``senator`` in this database; return the role."""
    role = senator_login(senator)
    mapped = conn.execute(
        "SELECT login_name FROM senate.senate_members WHERE senator_id = %s AND removed_at IS NULL",
        (senator,),
    ).fetchone()
    if mapped is not None:
        return str(mapped[0])
    ensure_login(conn, role, "senate_reviewer")
    try:
        with conn.transaction():
            conn.execute("SELECT add_senator(%s, %s)", (role, senator))
    except psycopg.Error as e:
        if e.sqlstate != "S5016":  # mapped meanwhile by another connection of the test
            raise
    return role


@contextmanager
def as_senator(conn: Conn, senator: str) -> Iterator[None]:
    """Run the body as the login of ``senator`` (a savepoint; switched back afterwards)."""
    if scalar(conn, "SELECT senate.session_senator() IS NOT DISTINCT FROM %s", (senator,)):
        yield
        return
    role = ensure_senator(conn, senator)
    with conn.transaction():
        conn.execute(sql.SQL("SET LOCAL SESSION AUTHORIZATION {}").format(sql.Identifier(role)))
        yield
        conn.execute("SET LOCAL SESSION AUTHORIZATION DEFAULT")


def become_senator(conn: Conn, senator: str) -> Conn:
    """Turn a dedicated superuser connection into a session of ``senator``'s login, for good."""
    role = ensure_senator(conn, senator)
    conn.execute(sql.SQL("SET SESSION AUTHORIZATION {}").format(sql.Identifier(role)))
    if not conn.autocommit:
        conn.commit()
    return conn


def vote(
    conn: Conn, proposal_id: int, voter: str, choice: str, rationale: str | None = None
) -> dict[str, Any]:
    with as_senator(conn, voter), conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "SELECT * FROM cast_allocation_vote(%s, %s, %s, %s)",
            (proposal_id, voter, choice, rationale),
        ).fetchone()
    assert row is not None
    return row


def approve_votes(conn: Conn, proposal_id: int, n: int = 3) -> None:
    for i in range(n):
        vote(conn, proposal_id, f"senator-{i}", "approve")


def decide(
    conn: Conn,
    proposal_id: int,
    decision: str,
    reviewer: str = "senate-chair",
    note: str | None = None,
    revisit_at: datetime | None = None,
) -> dict[str, Any]:
    with as_senator(conn, reviewer), conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "SELECT * FROM decide_allocation_proposal(%s, %s, %s, %s, %s)",
            (proposal_id, decision, reviewer, note, revisit_at),
        ).fetchone()
    assert row is not None
    return row


def reopen(conn: Conn, proposal_id: int, reviewer: str = "senate-chair") -> dict[str, Any]:
    with as_senator(conn, reviewer), conn.cursor(row_factory=dict_row) as cur:
        row = cur.execute(
            "SELECT * FROM reopen_allocation_proposal(%s, %s)", (proposal_id, reviewer)
        ).fetchone()
    assert row is not None
    return row


def approved_proposal(
    conn: Conn, amount: int = 5000, entity_id: str = "h-1", resource_type: str = "llm_tokens"
) -> int:
    """File, vote (default quorum 3) and approve a proposal; the reserve must cover it."""
    pid = file_proposal(conn, entity_id=entity_id, amount=amount, resource_type=resource_type)
    approve_votes(conn, pid)
    decide(conn, pid, "approved")
    return pid


def status_of(conn: Conn, proposal_id: int) -> str:
    return str(
        scalar(conn, "SELECT status FROM allocation_proposals WHERE id = %s", (proposal_id,))
    )


def budget(
    conn: Conn, entity_id: str, resource_type: str = "llm_tokens", entity_type: str = "hypothesis"
) -> Decimal | None:
    row = conn.execute(
        f"SELECT {BUDGET_COLUMN[resource_type]} FROM resource_budgets "
        "WHERE entity_type = %s AND entity_id = %s",
        (entity_type, entity_id),
    ).fetchone()
    return None if row is None else Decimal(row[0])


def reserve(conn: Conn, resource_type: str = "llm_tokens") -> Decimal:
    return Decimal(
        scalar(
            conn,
            "SELECT coalesce((SELECT balance FROM senate_reserve WHERE resource_type = %s), 0)",
            (resource_type,),
        )
    )


def adopt_policy(conn: Conn, **settings: Any) -> int:
    """Adopt a new economics_policy version with these settings; return its number."""
    return int(
        scalar(
            conn,
            "SELECT policy_version FROM adopt_economics_policy(%s, %s, %s)",
            (Jsonb(settings), "governance tests", "policy change in a test"),
        )
    )


def ledger_invariant_violations(conn: Conn) -> list[tuple[Any, ...]]:
    return conn.execute("SELECT * FROM check_ledger_invariant()").fetchall()


def wait_until_blocked(observer: Conn, pid: int, timeout: float = 10.0) -> None:
    """Wait until backend ``pid`` is waiting for a lock (so a race is really a race)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row = observer.execute(
            "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)
        ).fetchone()
        if row is not None and row[0] == "Lock":
            return
        time.sleep(0.01)
    raise AssertionError(f"backend {pid} never waited for a lock")


class Outcome:
    """What a statement run in another thread did: its rows, or the error it raised."""

    def __init__(self) -> None:
        self.rows: list[Any] | None = None
        self.error: psycopg.Error | None = None

    @property
    def sqlstate(self) -> str | None:
        return None if self.error is None else self.error.sqlstate


def run_in_thread(
    conn: Conn, work: Callable[[Conn], list[Any]]
) -> tuple[threading.Thread, Outcome]:
    """Run ``work(conn)`` in a transaction on another thread; commit on success, else roll back."""
    outcome = Outcome()

    def target() -> None:
        try:
            with conn.transaction():
                outcome.rows = work(conn)
        except psycopg.Error as e:
            outcome.error = e

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, outcome
