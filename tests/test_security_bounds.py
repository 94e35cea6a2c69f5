"""Bounded values against a hostile writer (issue 15, points 5-7: "Poison rows", "Forged alerts",
"Lock hijack", and the unbounded ``metadata`` / ``provider`` of "Smaller").

Every attack runs as a real LOGIN role (``reliability_support.role_sessions``) with only the
rights of its group. Each poison usage row is tried on every write path (one-row INSERT,
multi-row INSERT, INSERT ... SELECT, COPY, record_resource_usage) and must be refused with its
SQLSTATE, writing nothing (resource_usage and its rollups unchanged). Then, with rows at the
bounds and with legacy rows beyond them (written before migration 0121), the daily check, the
alerts, the rebalance, the snapshots, the gate, budget_status and every view still work.

Bounds (senate.value_bounds, migration 0120): a usage amount at most 1e15 in absolute value with
at most 18 decimal places (22003), a cost at most 1e9 USD (22003), created_at within the policy
window (S5031), metadata at most 16384 bytes and names at most 200 characters (22001); stored
envelopes and the reserve at most 1e18, requests and holds at most 1e15 (22003).
"""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from reliability_support import RoleSessions, role_sessions, scalar

from senate_db import migrations
from senate_db.paths import migrations_dir

Conn = psycopg.Connection[Any]

#: The columns every poison row sets, with a good row's values (SQL expressions).
GOOD = {
    "entity_type": "'hypothesis'",
    "entity_id": "'h-poison'",
    "resource_type": "'llm_tokens'",
    "amount": "10",
    "model": "'claude-haiku'",
    "cost": "NULL",
    "provider": "NULL",
    "created_at": "now()",
    "metadata": "'{}'::jsonb",
    "task_id": "NULL",
}
COLUMNS = list(GOOD)

#: (id, columns that differ from GOOD, expected SQLSTATE, column named in the message).
POISON: list[tuple[str, dict[str, str], str, str]] = [
    ("amount-1e8000", {"amount": "1e8000"}, "22003", "amount"),
    ("amount-9e131071", {"amount": "9e131071"}, "22003", "amount"),
    ("amount-just-above-1e15", {"amount": "1000000000000000.5"}, "22003", "amount"),
    ("amount-19-decimal-places", {"amount": "0.0000000000000000001"}, "22003", "amount"),
    ("cost-above-1e9-usd", {"cost": "1000000001"}, "22003", "cost"),
    ("created-at-infinity", {"created_at": "'infinity'"}, "S5031", "created_at"),
    ("created-at-minus-infinity", {"created_at": "'-infinity'"}, "S5031", "created_at"),
    ("created-at-a-year-ahead", {"created_at": "now() + interval '1 year'"}, "S5031", "created_at"),
    ("created-at-in-year-1", {"created_at": "'0001-01-01 00:00+00'"}, "S5031", "created_at"),
    (
        "metadata-of-a-megabyte",
        {"metadata": "jsonb_build_object('blob', repeat('x', 1000000))"},
        "22001",
        "metadata",
    ),
    (
        "provider-of-201-characters",
        {"resource_type": "'api_calls'", "model": "NULL", "provider": "repeat('p', 201)"},
        "22001",
        "provider",
    ),
]

PATHS = ("single_row", "multi_row", "insert_select", "copy", "record_resource_usage")


@pytest.fixture
def as_role(db_url: str, db: Conn) -> Iterator[RoleSessions]:
    yield from role_sessions(db_url, db)


def row_sql(values: dict[str, str]) -> str:
    return "(" + ", ".join(values[c] for c in COLUMNS) + ")"


def usage_state(db: Conn) -> tuple[int, int, Any]:
    return (
        int(scalar(db, "SELECT count(*) FROM resource_usage")),
        int(scalar(db, "SELECT count(*) FROM senate.usage_rollups")),
        scalar(db, "SELECT coalesce(sum(amount_total), 0) FROM senate.usage_rollups"),
    )


def attempt(db: Conn, writer: Conn, path: str, bad: dict[str, str]) -> psycopg.Error:
    """Write the poison row ``bad`` through ``path`` as ``writer``; return the error raised."""
    values = {**GOOD, **bad}
    insert = f"INSERT INTO resource_usage ({', '.join(COLUMNS)}) "
    try:
        with writer.transaction():
            if path == "single_row":
                writer.execute(insert + "VALUES " + row_sql(values))
            elif path == "multi_row":
                writer.execute(
                    insert + "VALUES " + ", ".join([row_sql(GOOD), row_sql(values), row_sql(GOOD)])
                )
            elif path == "insert_select":
                writer.execute(
                    insert
                    + "SELECT "
                    + ", ".join(values[c] for c in COLUMNS)
                    + " FROM generate_series(1, 3)"
                )
            elif path == "copy":
                # The server renders each value as text (COPY's input format); the writer sends
                # a good row, the poison row and a good row.
                def render(v: dict[str, str]) -> tuple[Any, ...]:
                    row = db.execute(
                        "SELECT " + ", ".join(f"({v[c]})::text" for c in COLUMNS)
                    ).fetchone()
                    assert row is not None
                    return tuple(row)

                cur = writer.cursor()
                with cur.copy(f"COPY resource_usage ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                    for v in (GOOD, values, GOOD):
                        copy.write_row(render(v))
            else:
                writer.execute(
                    "SELECT * FROM record_resource_usage("
                    f"p_entity_type => {values['entity_type']},"
                    f" p_entity_id => {values['entity_id']},"
                    f" p_resource_type => {values['resource_type']},"
                    f" p_amount => {values['amount']},"
                    f" p_idempotency_key => 'poison-key', p_model => {values['model']},"
                    f" p_cost => {values['cost']}, p_provider => {values['provider']},"
                    f" p_task_id => {values['task_id']}, p_created_at => {values['created_at']},"
                    f" p_metadata => {values['metadata']})"
                )
    except psycopg.Error as e:
        return e
    raise AssertionError(f"{path}: the poison row was accepted")


@pytest.mark.parametrize(("case", "bad", "state", "column"), POISON, ids=[p[0] for p in POISON])
def test_a_poison_usage_row_is_refused_on_every_write_path_and_writes_nothing(
    db: Conn, as_role: RoleSessions, case: str, bad: dict[str, str], state: str, column: str
) -> None:
    writer = as_role("senate_writer")
    before = usage_state(db)
    for path in PATHS:
        error = attempt(db, writer, path, bad)
        assert error.sqlstate == state, f"{case} via {path}: {error.sqlstate} {error}"
        assert column in str(error), f"{case} via {path}: message does not name {column}"
        message = error.diag.message_primary or ""
        assert len(message) < 400, f"{case} via {path}: the message echoes the whole value"
        assert usage_state(db) == before, f"{case} via {path} wrote something"


def test_values_at_the_bounds_are_accepted(db: Conn, as_role: RoleSessions) -> None:
    writer = as_role("senate_writer")
    writer.execute(
        "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount, cost, model,"
        " created_at, metadata) VALUES"
        " ('hypothesis', 'h-edge', 'llm_tokens', 1e15, 1e9, 'claude-haiku', now(),"
        "  jsonb_build_object('k', repeat('m', 16000))),"
        " ('hypothesis', 'h-edge', 'cpu_seconds', 0.000000000000000001, 0, NULL,"
        "  now() - interval '10 years' + interval '1 hour', '{}')"
    )
    assert scalar(db, "SELECT count(*) FROM resource_usage WHERE entity_id = 'h-edge'") == 2


@pytest.mark.parametrize(
    ("statement", "column"),
    [
        (
            "INSERT INTO resource_budgets (entity_type, entity_id, token_budget)"
            " VALUES ('hypothesis', 'h-b', 1e19)",
            "token_budget",
        ),
        (
            "INSERT INTO resource_budgets (entity_type, entity_id, cpu_budget)"
            " VALUES ('hypothesis', 'h-b', 1e400)",
            "cpu_budget",
        ),
        ("SELECT fund_reserve('llm_tokens', 1e400, 'ops', 'poison')", "balance"),
        ("SELECT fund_reserve('llm_tokens', 0.0000000000000000001, 'ops', 'poison')", "balance"),
        (
            "SELECT file_allocation_proposal('hypothesis', 'h-b', 1e400, 'agent-7',"
            " 'New cohort data should add 40 edges.',"
            ' \'{"pmids": ["31883511"], "expected_kg_edges": 40}\')',
            "requested",
        ),
        (
            "INSERT INTO resource_budget_tiers (entity_type, entity_id, model_tier, token_budget)"
            " VALUES ('hypothesis', 'h-b', 'premium', 1e19)",
            "token_budget",
        ),
    ],
    ids=[
        "budget-1e19",
        "budget-1e400",
        "reserve-1e400",
        "reserve-19-places",
        "request-1e400",
        "tier-1e19",
    ],
)
def test_an_amount_beyond_its_bound_is_refused_by_the_table_and_writes_nothing(
    db: Conn, statement: str, column: str
) -> None:
    db.execute(
        "INSERT INTO resource_budgets (entity_type, entity_id) VALUES ('hypothesis', 'h-b')"
        " ON CONFLICT DO NOTHING"
    )
    counts = {
        t: scalar(db, f"SELECT count(*) FROM {t}")
        for t in (
            "resource_budgets",
            "senate_reserve",
            "budget_ledger",
            "allocation_proposals",
            "resource_budget_tiers",
        )
    }
    reserve = scalar(db, "SELECT coalesce(sum(balance), 0) FROM senate_reserve")
    with pytest.raises(psycopg.Error) as caught:
        db.execute(statement)
    assert caught.value.sqlstate == "22003", str(caught.value)
    assert column in str(caught.value)
    assert counts == {t: scalar(db, f"SELECT count(*) FROM {t}") for t in counts}
    assert scalar(db, "SELECT coalesce(sum(balance), 0) FROM senate_reserve") == reserve


def test_a_legacy_value_beyond_its_bound_can_still_be_updated_but_not_raised_into(db: Conn) -> None:
    db.execute(
        "INSERT INTO resource_budgets (entity_type, entity_id, token_budget)"
        " VALUES ('hypothesis', 'h-legacy', 100)"
    )
    db.execute("ALTER TABLE resource_budgets DISABLE TRIGGER t05_bound_values_update")
    db.execute("UPDATE resource_budgets SET token_budget = 1e30 WHERE entity_id = 'h-legacy'")
    db.execute("ALTER TABLE resource_budgets ENABLE TRIGGER t05_bound_values_update")
    # Other columns of the legacy row (priority refresh, rebalance) and the amount itself.
    db.execute("UPDATE resource_budgets SET priority_score = 0.4 WHERE entity_id = 'h-legacy'")
    db.execute("UPDATE resource_budgets SET token_budget = 2e30 WHERE entity_id = 'h-legacy'")
    db.execute(
        "INSERT INTO resource_budgets (entity_type, entity_id, token_budget)"
        " VALUES ('hypothesis', 'h-fresh', 100)"
    )
    with pytest.raises(psycopg.Error) as caught:
        db.execute("UPDATE resource_budgets SET token_budget = 2e18 WHERE entity_id = 'h-fresh'")
    assert caught.value.sqlstate == "22003"


def test_the_evidence_of_a_proposal_is_bounded(db: Conn) -> None:
    with pytest.raises(psycopg.Error) as caught:
        db.execute(
            "INSERT INTO allocation_proposals (entity_type, entity_id, requested_tokens,"
            " justification, evidence) VALUES ('hypothesis', 'h-e', 10, 'why',"
            " jsonb_build_object('pmids', jsonb_build_array(repeat('1', 70000))))"
        )
    assert caught.value.sqlstate == "22001"
    assert "evidence" in str(caught.value)


# --- everything keeps working for everyone else ------------------------------------------------

VIEWS_SQL = (
    "SELECT c.oid::regclass::text FROM pg_class AS c"
    " WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('v', 'm') ORDER BY 1"
)


def everything_works(db: Conn, admin: Conn, reader: Conn, service: Conn) -> dict[str, Any]:
    """Run every cycle, the gate and every view; return a few figures."""
    out: dict[str, Any] = {}
    admin.execute("SELECT * FROM run_daily_check()").fetchall()
    out["alerts"] = len(admin.execute("SELECT * FROM check_spend_alerts()").fetchall())
    admin.execute("SELECT * FROM run_rebalance(dry_run => true)").fetchall()
    admin.execute("SELECT * FROM run_rebalance(dry_run => false)").fetchall()
    admin.execute("SELECT * FROM record_economy_snapshot()").fetchall()
    out["gate"] = service.execute(
        "SELECT allowed, reason FROM can_spend('hypothesis', 'h-victim', 'llm_tokens', 10)"
    ).fetchone()
    out["status"] = reader.execute(
        "SELECT count(*) FROM budget_status WHERE entity_id = 'h-victim'"
    ).fetchone()
    for (view,) in db.execute(VIEWS_SQL).fetchall():
        db.execute(f"SELECT count(*) FROM (SELECT * FROM {view}) AS v").fetchone()
    out["views"] = len(db.execute(VIEWS_SQL).fetchall())
    return out


def test_after_refused_poison_and_with_rows_at_the_bounds_every_cycle_and_view_works(
    db: Conn, as_role: RoleSessions
) -> None:
    db.execute(
        "INSERT INTO resource_budgets (entity_type, entity_id, token_budget) VALUES"
        " ('hypothesis', 'h-victim', 10000), ('hypothesis', 'h-poison', 1e18)"
    )
    writer = as_role("senate_writer")
    for _case, bad, _state, _column in POISON:
        attempt(db, writer, "single_row", bad)
    # Rows at the bounds, on several days and shards.
    for day in range(3):
        writer.execute(
            "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount, cost,"
            " model, created_at) SELECT 'hypothesis', 'h-poison', 'llm_tokens', 1e15, 1e9,"
            " 'claude-haiku', now() - make_interval(days => %s) FROM generate_series(1, 5)",
            (day,),
        )
    writer.execute(
        "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount,"
        " model) VALUES ('hypothesis', 'h-victim', 'llm_tokens', 9000, 'claude-haiku')"
    )
    figures = everything_works(
        db, as_role("senate_admin"), as_role("senate_reader"), as_role("senate_writer")
    )
    # The gate answers (the daily check throttled the victim at 90 % of its period budget).
    assert figures["gate"][1].split(":")[0] in ("within_budget", "throttled")
    assert figures["status"] == (4,)
    assert scalar(db, "SELECT count(*) FROM spend_alerts WHERE entity_id = 'h-victim'") == 1


def test_legacy_poison_rows_from_before_the_bounds_stop_no_cycle_view_or_gate(
    empty_db_url: str, tmp_path: Path
) -> None:
    # The database as it was before the bounds (every migration before 0120), then poison rows
    # written by its unbounded ingest, then the rest of the migrations.
    before = tmp_path / "before"
    before.mkdir()
    for f in migrations_dir().glob("*.sql"):
        if f.name < "0120":
            shutil.copy(f, before / f.name)
    migrations.apply_migrations(empty_db_url, directory=before)
    with psycopg.connect(empty_db_url, autocommit=True) as db:
        db.execute(
            "INSERT INTO resource_budgets (entity_type, entity_id, token_budget) VALUES"
            " ('hypothesis', 'h-victim', 10000), ('hypothesis', 'h-poison', 10000)"
        )
        db.execute(
            "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount, model,"
            " created_at) VALUES"
            " ('hypothesis', 'h-poison', 'llm_tokens', 9e131071, 'claude-haiku', now()),"
            " ('hypothesis', 'h-poison', 'cpu_seconds', 1e8000, NULL, now())"
        )
        db.execute(
            "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount, model,"
            " created_at) VALUES ('hypothesis', 'h-poison', 'llm_tokens', 9e131071,"
            " 'claude-haiku', now() - interval '1 day')"
        )
        db.execute(
            "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount,"
            " model) VALUES ('hypothesis', 'h-victim', 'llm_tokens', 9000, 'claude-haiku')"
        )
    migrations.apply_migrations(empty_db_url)
    with psycopg.connect(empty_db_url, autocommit=True) as db:
        sessions = RoleSessions(empty_db_url, db)
        try:
            figures = everything_works(
                db, sessions("senate_admin"), sessions("senate_reader"), sessions("senate_writer")
            )
        finally:
            sessions.close()
        assert figures["gate"][1].split(":")[0] in ("within_budget", "throttled")
        # The victim's 90 % alert fired; the poison entity's spend is counted at the bound.
        assert scalar(db, "SELECT count(*) FROM spend_alerts WHERE entity_id = 'h-victim'") == 1
        assert (
            scalar(
                db,
                "SELECT max(amount_total) FROM senate.usage_rollups WHERE entity_id = 'h-poison'",
            )
            == 10**15
        )


# --- forged alerts ------------------------------------------------------------------------------


def test_any_login_can_notify_the_alert_channel_so_the_payload_carries_only_identifiers(
    db: Conn, as_role: RoleSessions, connect: Any
) -> None:
    listener = connect()
    listener.execute("LISTEN senate_spend_alerts")
    db.execute(
        "INSERT INTO resource_budgets (entity_type, entity_id, token_budget)"
        " VALUES ('hypothesis', 'h-alert', 1000)"
    )
    writer = as_role("senate_writer")
    writer.execute(
        "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount,"
        " model) VALUES ('hypothesis', 'h-alert', 'llm_tokens', 900, 'claude-haiku')"
    )
    # A login in no group forges an alert: PostgreSQL lets it (no privilege guards a channel).
    nobody = as_role(None)
    forged = (
        '{"alert_id": 999999, "entity_type": "hypothesis", "entity_id": "h-alert",'
        ' "resource_type": "llm_tokens", "threshold": 1.0, "spent": 1e9}'
    )
    nobody.execute("SELECT pg_notify('senate_spend_alerts', %s)", (forged,))
    db.execute("SELECT * FROM check_spend_alerts()")
    received = []
    for note in listener.notifies(timeout=2, stop_after=2):
        received.append(json.loads(note.payload))
    assert len(received) == 2
    real = [p for p in received if p["alert_id"] != 999999]
    assert len(real) == 1
    # The real payload names the alert and nothing a consumer could act on without re-reading.
    assert set(real[0]) == {"alert_id", "entity_type", "entity_id", "resource_type", "threshold"}
    # The consumer of db/docs/review-cycles.md (Spend alerts): re-read by alert_id; the forged
    # one names no alert.
    consumer = as_role("senate_admin")  # spend_alerts is read by admins (0099 grants)
    found = [
        consumer.execute(
            "SELECT spent FROM spend_alerts WHERE alert_id = %s", (p["alert_id"],)
        ).fetchone()
        for p in received
    ]
    assert sorted(found, key=lambda r: r is None) == [(900,), None]


# --- lock hijack --------------------------------------------------------------------------------


def test_a_login_holding_the_old_advisory_lock_no_longer_blocks_the_rebalance(
    db: Conn, as_role: RoleSessions
) -> None:
    hijacker = as_role(None)
    hijacker.execute("SELECT pg_advisory_lock(hashtext('senate.run_rebalance'))")
    admin = as_role("senate_admin")
    admin.execute("SET statement_timeout = '20s'")  # before the change: 57014 after 20 s
    started = time.monotonic()
    admin.execute("SELECT * FROM run_rebalance(dry_run => false)").fetchall()
    assert time.monotonic() - started < 15
    assert scalar(db, "SELECT count(*) FROM rebalance_runs") == 1


def test_no_login_but_the_owner_can_take_or_hold_the_cycle_lock(
    db: Conn, as_role: RoleSessions
) -> None:
    for group in (None, "senate_writer", "senate_admin"):
        conn = as_role(group)
        for statement in (
            "SELECT senate.lock_cycle('run_rebalance')",
            "SELECT 1 FROM senate.cycle_locks FOR UPDATE",
            "LOCK TABLE senate.cycle_locks IN ACCESS EXCLUSIVE MODE",
        ):
            with pytest.raises(psycopg.Error) as caught, conn.transaction():
                conn.execute(statement)
            assert caught.value.sqlstate == "42501", f"{group}: {statement}"


def test_a_concurrent_apply_fails_fast_with_cycle_busy_and_the_next_run_succeeds(
    db: Conn, as_role: RoleSessions
) -> None:
    first = as_role("senate_admin", autocommit=False)
    second = as_role("senate_admin")
    first.execute("SELECT * FROM run_rebalance(dry_run => false)").fetchall()  # holds the lock
    busy = scalar(db, "SELECT sqlstate FROM senate.error_codes WHERE error_name = 'cycle_busy'")
    started = time.monotonic()
    with pytest.raises(psycopg.Error) as caught:
        second.execute("SELECT * FROM run_rebalance(dry_run => false)").fetchall()
    waited = time.monotonic() - started
    assert caught.value.sqlstate == busy == "S5030"
    assert 4 <= waited < 10
    first.commit()
    second.execute("SELECT * FROM run_rebalance(dry_run => false)").fetchall()  # succeeds
    assert scalar(db, "SELECT count(*) FROM rebalance_runs") == 1


def test_a_scheduled_cycle_waits_a_bounded_time_for_an_envelope_a_writer_keeps_locked(
    db: Conn, as_role: RoleSessions
) -> None:
    # A writer reserves (locking the envelope) and sits in its open transaction.
    db.execute(
        "INSERT INTO resource_budgets (entity_type, entity_id, token_budget, created_at)"
        " VALUES ('hypothesis', 'h-idle', 40000, now() - interval '30 days')"
    )
    writer = as_role("senate_writer", autocommit=False)
    writer.execute("SELECT reserve_spend('hypothesis', 'h-idle', 'llm_tokens', 10)")
    admin = as_role("senate_admin")
    admin.execute("SET statement_timeout = '30s'")
    outcome: list[str | None] = []

    def run() -> None:
        try:
            admin.execute("SELECT * FROM run_rebalance(dry_run => false)").fetchall()
            outcome.append(None)
        except psycopg.Error as e:
            outcome.append(e.sqlstate)

    started = time.monotonic()
    t = threading.Thread(target=run)
    t.start()
    t.join(40)
    assert outcome == ["55P03"] and time.monotonic() - started < 15
    writer.rollback()
    admin.execute("SELECT * FROM run_rebalance(dry_run => false)").fetchall()
    assert scalar(db, "SELECT count(*) FROM rebalance_runs") == 1


def test_the_bounds_are_documented_for_every_amount_column(db: Conn) -> None:
    rows = db.execute(
        "SELECT relation_name || '.' || column_name FROM senate.value_bounds WHERE kind = 'amount'"
    ).fetchall()
    bounded = {r[0] for r in rows}
    for column in (
        "public.resource_usage.amount",
        "public.resource_usage.cost",
        "public.resource_budgets.token_budget",
        "public.resource_budgets.cpu_budget",
        "public.resource_budgets.storage_budget_gb",
        "public.resource_budgets.api_call_budget",
        "public.resource_budget_tiers.token_budget",
        "public.senate_reserve.balance",
        "public.spend_reservations.amount",
        "public.resource_daily_allowances.daily_allowance",
        "public.allocation_proposals.requested_tokens",
        "public.allocation_proposals.requested_amount",
    ):
        assert column in bounded, column
    triggers = scalar(db, "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 't05_bound_values_%%'")
    assert triggers == 2 * scalar(
        db,
        "SELECT count(DISTINCT relation_name) FROM senate.value_bounds"
        " WHERE enforced_by = 'row_trigger'",
    )
