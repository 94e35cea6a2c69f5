"""Fresh install: the spec's tables and columns, read back from the catalog, all documented."""

from __future__ import annotations

from typing import Any

import psycopg

SPEC_COLUMNS = {
    "resource_budgets": {
        "entity_type", "entity_id", "token_budget", "cpu_budget", "storage_budget_gb",
        "api_call_budget", "priority_score", "market_weight", "roi_score", "created_at",
        "updated_at",
    },
    "resource_usage": {
        "id", "entity_type", "entity_id", "resource_type", "amount", "cost", "model",
        "artifact_type", "artifact_id", "analysis_id", "task_id", "created_at", "metadata",
        "amount_used", "timestamp",
    },
    "allocation_proposals": {
        "id", "entity_type", "entity_id", "requested_tokens", "proposer_id", "proposer_agent",
        "justification", "evidence", "status", "reviewer", "decided_at", "created_at",
        "updated_at", "proposer", "requested_amount", "votes",
    },
}  # fmt: skip

COMPAT_PAIRS = [
    ("resource_usage", "amount_used", "amount"),
    ("resource_usage", "timestamp", "created_at"),
    ("allocation_proposals", "requested_amount", "requested_tokens"),
]


def _columns(db: psycopg.Connection[Any], table: str) -> dict[str, tuple[str, str]]:
    rows = db.execute(
        "SELECT column_name, data_type, is_nullable FROM information_schema.columns"
        " WHERE table_schema = 'public' AND table_name = %s",
        (table,),
    ).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def test_a_fresh_database_has_the_three_tables_with_every_column_the_spec_names(
    db: psycopg.Connection[Any],
) -> None:
    for table, expected in SPEC_COLUMNS.items():
        columns = _columns(db, table)
        assert expected <= set(columns), f"{table} lacks {sorted(expected - set(columns))}"


def test_each_compatibility_column_has_the_type_of_its_canonical_column(
    db: psycopg.Connection[Any],
) -> None:
    for table, compat, canonical in COMPAT_PAIRS:
        row = db.execute(
            "SELECT format_type(a.atttypid, a.atttypmod), format_type(b.atttypid, b.atttypmod)"
            " FROM pg_attribute a, pg_attribute b"
            " WHERE a.attrelid = %(t)s::regclass AND a.attname = %(x)s"
            "   AND b.attrelid = %(t)s::regclass AND b.attname = %(c)s",
            {"t": f"public.{table}", "x": compat, "c": canonical},
        ).fetchone()
        assert row is not None and row[0] == row[1], (table, compat, row)
    columns = _columns(db, "allocation_proposals")
    assert columns["proposer"] == ("text", "YES")
    assert columns["votes"] == ("jsonb", "NO")


def test_compatibility_columns_are_nullable_so_adding_them_rewrote_nothing(
    db: psycopg.Connection[Any],
) -> None:
    for table, compat, _ in COMPAT_PAIRS:
        assert _columns(db, table)[compat][1] == "YES"
    default = db.execute(
        "SELECT column_default FROM information_schema.columns"
        " WHERE table_name = 'allocation_proposals' AND column_name = 'votes'"
    ).fetchone()
    assert default == ("'[]'::jsonb",)


def test_the_registry_records_every_compatibility_column_as_added_by_this_project(
    db: psycopg.Connection[Any],
) -> None:
    rows = db.execute(
        "SELECT table_name, column_name, canonical_columns, added_by_senate, is_synced"
        " FROM senate.compatibility_columns ORDER BY 1, 2"
    ).fetchall()
    assert rows == [
        ("allocation_proposals", "proposer", ["proposer_id", "proposer_agent"], True, True),
        ("allocation_proposals", "requested_amount", ["requested_tokens"], True, True),
        ("allocation_proposals", "votes", [], True, False),
        ("resource_usage", "amount_used", ["amount"], True, True),
        ("resource_usage", "timestamp", ["created_at"], True, True),
    ]


def test_every_column_trigger_and_function_this_project_adds_has_a_comment(
    db: psycopg.Connection[Any],
) -> None:
    undocumented_columns = db.execute(
        "SELECT c.table_name || '.' || c.column_name FROM senate.compatibility_columns c"
        " WHERE col_description(format('public.%I', c.table_name)::regclass,"
        "   (SELECT attnum FROM pg_attribute WHERE attrelid = format('public.%I', c.table_name)"
        "      ::regclass AND attname = c.column_name)) IS NULL"
    ).fetchall()
    assert undocumented_columns == []
    undocumented_triggers = db.execute(
        "SELECT tgrelid::regclass::text || '.' || tgname FROM pg_trigger"
        " WHERE tgname LIKE 't20\\_%' AND obj_description(oid, 'pg_trigger') IS NULL"
    ).fetchall()
    assert undocumented_triggers == []
    assert db.execute("SELECT count(*) FROM pg_trigger WHERE tgname LIKE 't20\\_%'").fetchone() == (
        4,
    )
    undocumented_functions = db.execute(
        "SELECT p.oid::regprocedure::text FROM pg_proc p"
        " WHERE p.oid::regprocedure::text = ANY (%s) AND obj_description(p.oid, 'pg_proc') IS NULL",
        (
            [
                "senate.check_votes(jsonb)",
                "senate.column_default_test(regclass,text,text)",
                "senate.install_compatibility_sync()",
                "senate.sync_usage_compatibility_on_insert()",
                "senate.sync_usage_compatibility_on_update()",
                "senate.sync_proposal_compatibility_on_insert()",
                "senate.sync_proposal_compatibility_on_update()",
                "senate.backfill_compatibility_columns(integer,boolean)",
                "reconcile_compatibility_columns()",
            ],
        ),
    ).fetchall()
    assert undocumented_functions == []
    table_comment = db.execute(
        "SELECT obj_description('senate.compatibility_columns'::regclass, 'pg_class')"
    ).fetchone()
    assert table_comment is not None and table_comment[0]


def test_the_compatibility_error_codes_are_catalogued(db: psycopg.Connection[Any]) -> None:
    rows = db.execute(
        "SELECT sqlstate, error_name FROM senate.error_codes WHERE sqlstate LIKE 'S0%' ORDER BY 1"
    ).fetchall()
    assert rows == [
        ("S0001", "compatibility_conflict"),
        ("S0002", "compatibility_backfill_incomplete"),
        ("S0010", "deployed_column_not_adoptable"),
        ("S0011", "deployed_column_missing"),
        ("S0030", "backfill_rows_hidden_by_row_security"),
    ]


def test_the_vote_check_is_validated_after_the_backfill_migration(
    db: psycopg.Connection[Any],
) -> None:
    assert db.execute(
        "SELECT convalidated FROM pg_constraint WHERE conname = 'allocation_proposals_votes_valid'"
    ).fetchone() == (True,)


def test_a_fresh_database_reconciles_with_nothing_missing(db: psycopg.Connection[Any]) -> None:
    assert db.execute("SELECT * FROM reconcile_compatibility_columns()").fetchall() == []


def test_every_role_that_writes_proposals_may_run_the_vote_check(
    db: psycopg.Connection[Any],
) -> None:
    """The CHECK calls senate.check_votes: PostgreSQL checks EXECUTE for each writer."""
    assert db.execute(
        "SELECT has_function_privilege('public', 'senate.check_votes(jsonb)', 'EXECUTE'),"
        " has_function_privilege('public', 'senate.install_compatibility_sync()', 'EXECUTE'),"
        " has_function_privilege('public',"
        "   'senate.backfill_compatibility_columns(integer, boolean)', 'EXECUTE')"
    ).fetchone() == (True, False, False)
