"""Append-only ledgers and usage (issue 9, point 2).

budget_ledger refuses UPDATE, DELETE and TRUNCATE (S4001). resource_usage does too while
``senate.settings.usage_append_only`` is on (S4002, hint naming correct_resource_usage); the
correction function writes a reversal row with its reason. A deployment whose legacy
consumers update usage rows turns the guard off; the rollups stay exact either way.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from reliability_support import (
    add_usage,
    column_exists,
    create_deployed_usage,
    row_counts,
    scalar,
    sqlstate_of,
)

from senate_db import migrations, urls


def reconciled(conn: psycopg.Connection[Any]) -> bool:
    return conn.execute("SELECT * FROM reconcile_usage_rollups()").fetchall() == []


def usage_total(conn: psycopg.Connection[Any], entity_id: str) -> Any:
    return scalar(
        conn,
        "SELECT coalesce(sum(amount_total), 0) FROM senate.usage_rollups WHERE entity_id = %s",
        (entity_id,),
    )


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE budget_ledger SET note = 'rewritten'",
        "DELETE FROM budget_ledger",
        "TRUNCATE budget_ledger",
    ],
)
def test_the_budget_ledger_refuses_update_delete_and_truncate(
    db: psycopg.Connection[Any], statement: str
) -> None:
    db.execute(
        "INSERT INTO resource_budgets (entity_type, entity_id, token_budget)"
        " VALUES ('hypothesis', 'h1', 1000)"
    )
    before = row_counts(db, ["budget_ledger"])
    assert before["budget_ledger"] == 1
    assert sqlstate_of(db, statement) == "S4001"
    assert row_counts(db, ["budget_ledger"]) == before


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE resource_usage SET amount = 1",
        "UPDATE resource_usage SET model = 'claude-opus' WHERE amount = 200",
        "DELETE FROM resource_usage WHERE id > 0",
        "DELETE FROM resource_usage WHERE id = -1",
        "TRUNCATE resource_usage",
    ],
    ids=["update", "update-one-row", "delete", "delete-of-no-row", "truncate"],
)
def test_usage_changes_are_refused_with_a_hint_naming_the_correction_function(
    db: psycopg.Connection[Any], statement: str
) -> None:
    ids = [add_usage(db, amount=a) for a in (100, 200)]
    try:
        db.execute(statement)
    except psycopg.Error as e:
        assert e.sqlstate == "S4002"
        assert e.diag.message_hint and "correct_resource_usage" in e.diag.message_hint
        assert "resource_usage" in (e.diag.message_primary or "")
    else:
        pytest.fail("the statement should have been refused")
    assert db.execute("SELECT id, amount, model FROM resource_usage ORDER BY id").fetchall() == [
        (ids[0], 100, "claude-sonnet"),
        (ids[1], 200, "claude-sonnet"),
    ]
    assert scalar(db, "SELECT hint FROM senate.error_codes WHERE sqlstate = 'S4002'")


def test_an_update_that_records_nothing_new_passes_the_guard(db: psycopg.Connection[Any]) -> None:
    """A no-op, or a backfill of the trigger-kept compatibility columns, rewrites no history."""
    add_usage(db, amount=100)
    db.execute("UPDATE resource_usage SET amount = amount, entity_id = entity_id")
    db.execute("UPDATE resource_usage SET amount = 1 WHERE id = -1")
    if column_exists(db, "public.resource_usage", "amount_used"):
        db.execute("UPDATE resource_usage SET amount_used = amount")
    assert reconciled(db)


def test_the_guard_reads_one_setting_per_statement_and_inserts_never_fire_it(
    db: psycopg.Connection[Any],
) -> None:
    rows = dict(
        db.execute(
            "SELECT tgname, tgtype FROM pg_trigger WHERE tgrelid = 'resource_usage'::regclass"
            " AND tgname LIKE 't10_refuse_usage%'"
        ).fetchall()
    )
    row_level, before, insert, delete, update, truncate = 1, 2, 4, 8, 16, 32
    assert rows == {
        "t10_refuse_usage_deletes": before | delete,
        "t10_refuse_usage_truncate": before | truncate,
        "t10_refuse_usage_rewrites": update,
    }
    assert all(not t & (row_level | insert) for t in rows.values())


def test_a_correction_writes_a_reversal_row_with_its_reason_and_keeps_rollups_exact(
    db: psycopg.Connection[Any],
) -> None:
    original = add_usage(db, amount=100)
    first = scalar(db, "SELECT correct_resource_usage(%s, 60, 'counted twice', 'ops')", (original,))
    rows = db.execute(
        "SELECT amount, corrects_usage_id, correction_reason, correction_actor,"
        " corrected_at IS NOT NULL, created_at = (SELECT created_at FROM resource_usage"
        " WHERE id = %s) FROM resource_usage WHERE id = %s",
        (original, first),
    ).fetchall()
    assert rows == [(-40, original, "counted twice", "ops", True, True)]
    assert usage_total(db, "h1") == 60
    second = scalar(db, "SELECT correct_resource_usage(%s, 75, 'undercounted', 'ops')", (original,))
    assert scalar(db, "SELECT amount FROM resource_usage WHERE id = %s", (second,)) == 15
    assert usage_total(db, "h1") == 75
    assert scalar(db, "SELECT correct_resource_usage(%s, 75, 'again', 'ops')", (original,)) is None
    assert scalar(db, "SELECT count(*) FROM resource_usage") == 3
    assert reconciled(db)
    print(f"[append-only] original {original}: 100 -> 60 -> 75 in 2 correction rows; reconciled")


def test_a_correction_reprices_list_priced_rows_and_keeps_explicit_costs(
    db: psycopg.Connection[Any],
) -> None:
    priced = add_usage(db, "h-priced", amount=1000, model="claude-opus")
    explicit = int(
        scalar(
            db,
            "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount, model,"
            " cost) VALUES ('hypothesis', 'h-explicit', 'llm_tokens', 1000, 'claude-opus', 0.5)"
            " RETURNING id",
        )
    )
    db.execute("SELECT correct_resource_usage(%s, 400, 'retry double-billed', 'ops')", (priced,))
    db.execute("SELECT correct_resource_usage(%s, 400, 'retry double-billed', 'ops')", (explicit,))
    cost = dict(
        db.execute(
            "SELECT entity_id, sum(cost_total_usd) FROM senate.usage_rollups GROUP BY 1"
        ).fetchall()
    )
    assert cost["h-priced"] == 400 * Decimal("0.000045")
    assert cost["h-explicit"] == Decimal("0.5")
    assert reconciled(db)


@pytest.mark.parametrize(
    ("call", "sqlstate", "field"),
    [
        ("SELECT correct_resource_usage(-5, 1, 'why', 'ops')", "S4003", "usage_id"),
        ("SELECT correct_resource_usage({correction}, 1, 'why', 'ops')", "S4004", "usage_id"),
        (
            "SELECT correct_resource_usage({original}, -1, 'why', 'ops')",
            "22023",
            "corrected_amount",
        ),
        (
            "SELECT correct_resource_usage({original}, 'NaN', 'why', 'ops')",
            "22023",
            "corrected_amount",
        ),
        ("SELECT correct_resource_usage({original}, 1, '   ', 'ops')", "22023", "reason"),
        ("SELECT correct_resource_usage({original}, 1, 'why', NULL)", "22023", "actor"),
        ("SELECT correct_resource_usage(NULL, 1, 'why', 'ops')", "22004", "usage_id"),
    ],
    ids=[
        "missing-row",
        "correction-of-correction",
        "negative",
        "nan",
        "blank-reason",
        "no-actor",
        "null-id",
    ],
)
def test_bad_corrections_are_refused_and_write_nothing(
    db: psycopg.Connection[Any], call: str, sqlstate: str, field: str
) -> None:
    original = add_usage(db, amount=10)
    correction = scalar(db, "SELECT correct_resource_usage(%s, 5, 'half', 'ops')", (original,))
    before = row_counts(db, ["resource_usage"])
    with pytest.raises(psycopg.Error) as info:
        db.execute(call.format(original=original, correction=correction))
    assert info.value.sqlstate == sqlstate
    assert field in (info.value.diag.message_primary or "")
    assert row_counts(db, ["resource_usage"]) == before


def test_concurrent_corrections_of_one_row_apply_one_after_the_other(
    db: psycopg.Connection[Any], connect: Any
) -> None:
    original = add_usage(db, amount=1000)
    targets = [900, 800, 700, 600, 500, 400, 300, 200]
    barrier = threading.Barrier(len(targets))
    errors: list[BaseException] = []

    def correct(target: int) -> None:
        try:
            conn = connect()
            barrier.wait()
            conn.execute("SELECT correct_resource_usage(%s, %s, 'race', 'ops')", (original, target))
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=correct, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    last = scalar(
        db,
        "SELECT correction_reason FROM resource_usage WHERE corrects_usage_id = %s"
        " ORDER BY id DESC LIMIT 1",
        (original,),
    )
    final = scalar(
        db,
        "SELECT sum(amount) FROM resource_usage WHERE id = %s OR corrects_usage_id = %s",
        (original, original),
    )
    assert last == "race" and final in targets
    assert reconciled(db)
    print(f"[append-only] {len(targets)} concurrent corrections; final total {final}; reconciled")


def test_with_the_guard_off_legacy_updates_and_deletes_work_and_rollups_stay_exact(
    db: psycopg.Connection[Any],
) -> None:
    keep = add_usage(db, "h-legacy", amount=100)
    drop = add_usage(db, "h-legacy", amount=50)
    assert (
        scalar(
            db,
            "SELECT set_senate_setting('usage_append_only', false, 'ops',"
            " 'legacy consumers update rows')",
        )
        is True
    )
    db.execute(
        "UPDATE resource_usage SET amount = 120, model = 'claude-opus' WHERE id = %s", (keep,)
    )
    db.execute("DELETE FROM resource_usage WHERE id = %s", (drop,))
    assert usage_total(db, "h-legacy") == 120
    assert reconciled(db)
    if column_exists(db, "public.resource_usage", "amount_used"):
        assert (
            scalar(
                db, "SELECT count(*) FROM resource_usage WHERE amount_used IS DISTINCT FROM amount"
            )
            == 0
        )
    db.execute("SELECT set_senate_setting('usage_append_only', true, 'ops', 'consumers migrated')")
    assert sqlstate_of(db, "UPDATE resource_usage SET amount = 1") == "S4002"


def test_setting_changes_are_logged_and_the_log_is_append_only(db: psycopg.Connection[Any]) -> None:
    db.execute("SELECT set_senate_setting('usage_strict_validation', false, 'ops', 'new models')")
    rows = db.execute(
        "SELECT setting, old_value, new_value, changed_by, reason FROM senate.settings_log"
    ).fetchall()
    assert rows == [("usage_strict_validation", True, False, "ops", "new models")]
    assert sqlstate_of(db, "DELETE FROM senate.settings_log") == "S4001"
    assert sqlstate_of(db, "TRUNCATE senate.settings_log") == "S4001"
    for bad, state in [
        ("SELECT set_senate_setting('usage_guard', true, 'ops', 'x')", "22023"),
        ("SELECT set_senate_setting('usage_append_only', NULL, 'ops', 'x')", "22004"),
        ("SELECT set_senate_setting('usage_append_only', true, 'ops', ' ')", "22023"),
    ]:
        assert sqlstate_of(db, bad) == state
    assert scalar(db, "SELECT count(*) FROM senate.settings_log") == 1


def test_a_fresh_install_starts_with_both_guards_on(db: psycopg.Connection[Any]) -> None:
    assert db.execute(
        "SELECT usage_append_only, usage_strict_validation FROM senate.settings"
    ).fetchall() == [(True, True)]


def test_a_deployment_with_usage_rows_starts_with_the_guards_off_so_legacy_writers_keep_working(
    empty_db_url: str,
) -> None:
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        create_deployed_usage(conn, rows=50)
        migrations.apply_migrations(empty_db_url)
        assert conn.execute(
            "SELECT usage_append_only, usage_strict_validation FROM senate.settings"
        ).fetchall() == [(False, False)]
        # The legacy consumer, unchanged: an unknown model, then an UPDATE and a DELETE.
        new_id = scalar(
            conn,
            "INSERT INTO resource_usage (entity_type, entity_id, resource_type,"
            " amount, model) VALUES ('hypothesis', 'legacy-x', 'llm_tokens', 5,"
            " 'gpt-4-legacy') RETURNING id",
        )
        conn.execute("UPDATE resource_usage SET amount = amount + 1 WHERE id = %s", (new_id,))
        conn.execute("DELETE FROM resource_usage WHERE entity_id = 'legacy-1'")
        assert reconciled(conn)
        # Turned on later, the guard holds for the same table.
        conn.execute("SELECT set_senate_setting('usage_append_only', true, 'ops', 'migrated')")
        assert sqlstate_of(conn, "UPDATE resource_usage SET amount = 0") == "S4002"
        correction = scalar(conn, "SELECT correct_resource_usage(%s, 3, 'typo', 'ops')", (new_id,))
        assert scalar(conn, "SELECT amount FROM resource_usage WHERE id = %s", (correction,)) == -3
        assert (
            sqlstate_of(conn, "SELECT correct_resource_usage(%s, 2.5, 'x', 'ops')", (new_id,))
            == "22023"
        )  # the deployed amount column is integer
        assert reconciled(conn)


def test_an_explicit_database_setting_made_before_migrating_wins(empty_db_url: str) -> None:
    dbname = urls.database_name(empty_db_url)
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        create_deployed_usage(conn, rows=10)
        conn.execute(f'ALTER DATABASE "{dbname}" SET senate.usage_append_only = on')
    migrations.apply_migrations(empty_db_url)
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        assert conn.execute(
            "SELECT usage_append_only, usage_strict_validation FROM senate.settings"
        ).fetchall() == [(True, False)]
        assert sqlstate_of(conn, "UPDATE resource_usage SET amount = 0") == "S4002"
