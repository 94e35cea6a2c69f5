"""One statement-level trigger accounts for inserted usage (migration 0058).

The reference check, strict validation and rollup of an INSERT or COPY run as one trigger call
(one read and one upsert for a single row; one SQL statement for a batch); the correction guard
and reservation settlement fire only for the rows that need them. The errors are those the
separate triggers raised: same SQLSTATE, same column, nothing written.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import errors as pg_errors

from senate_db import migrations

Conn = psycopg.Connection[Any]

COLUMNS = "entity_type, entity_id, resource_type, amount, model, provider"
GOOD = [
    ("hypothesis", "h-1", "llm_tokens", 100, "claude-opus", None),
    ("analysis", "a-1", "api_calls", 2, None, "pubmed"),
    ("knowledge_gap", "g-1", "cpu_seconds", 30, None, None),
    ("entity", "e-1", "storage_gb_hours", 1, None, None),
]
BAD = {
    "amount": (("hypothesis", "h-2", "cpu_seconds", -5, None, None), pg_errors.CheckViolation),
    "entity_type": (("planet", "p-1", "cpu_seconds", 1, None, None), pg_errors.ForeignKeyViolation),
    "resource_type": (
        ("hypothesis", "h-3", "gpu_hours", 1, None, None),
        pg_errors.ForeignKeyViolation,
    ),
    "model": (
        ("hypothesis", "h-4", "llm_tokens", 10, "no-such-model", None),
        pg_errors.ForeignKeyViolation,
    ),
    "provider": (
        ("analysis", "a-2", "api_calls", 1, None, "no-such-api"),
        pg_errors.ForeignKeyViolation,
    ),
}


def usage_and_rollup_rows(db: Conn) -> tuple[int, int]:
    row = db.execute(
        "SELECT (SELECT count(*) FROM public.resource_usage), "
        "(SELECT count(*) FROM senate.usage_rollups)"
    ).fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


def insert_rows(db: Conn, rows: list[tuple[Any, ...]]) -> None:
    values = ", ".join(["(%s, %s, %s, %s, %s, %s)"] * len(rows))
    db.execute(
        f"INSERT INTO public.resource_usage ({COLUMNS}) VALUES {values}",
        [v for row in rows for v in row],
    )


def copy_rows(db: Conn, rows: list[tuple[Any, ...]]) -> None:
    with db.cursor() as cur, cur.copy(f"COPY public.resource_usage ({COLUMNS}) FROM STDIN") as cp:
        for row in rows:
            cp.write_row(row)


def test_an_insert_statement_fires_one_statement_trigger_and_row_triggers_only_when_needed(
    db: Conn,
) -> None:
    rows = db.execute(
        "SELECT tgname, (tgtype & 1) = 1 AS per_row, pg_get_triggerdef(oid) LIKE '% WHEN %' "
        "FROM pg_trigger WHERE tgrelid = 'public.resource_usage'::regclass "
        "AND NOT tgisinternal AND (tgtype & 4) <> 0 ORDER BY tgname"
    ).fetchall()
    assert [r[0] for r in rows if not r[1]] == ["t80_account_usage_inserts"]
    # Row triggers: the compatibility sync (every row), the rest only for rows that need them.
    assert {r[0]: r[2] for r in rows if r[1]} == {
        "t10_refuse_forged_corrections": True,
        "t20_sync_compatibility_on_insert": False,
        "t70_settle_spend_reservations": True,
    }


@pytest.mark.parametrize("column", sorted(BAD))
@pytest.mark.parametrize("path", ["one row", "third row of five", "COPY, last row"])
def test_a_bad_row_is_refused_with_its_sqlstate_and_column_on_every_path(
    db: Conn, column: str, path: str
) -> None:
    bad, error = BAD[column]
    before = usage_and_rollup_rows(db)
    with pytest.raises(error) as refused:
        if path == "one row":
            insert_rows(db, [bad])
        elif path == "third row of five":
            insert_rows(db, [*GOOD[:2], bad, *GOOD[2:]])
        else:
            copy_rows(db, [*GOOD, bad])
    assert refused.value.diag.column_name == column
    assert refused.value.diag.table_name == "resource_usage"
    assert usage_and_rollup_rows(db) == before


def test_in_a_batch_an_unknown_kind_is_reported_before_a_bad_amount(db: Conn) -> None:
    with pytest.raises(pg_errors.ForeignKeyViolation) as refused:
        insert_rows(db, [BAD["amount"][0], *GOOD, BAD["entity_type"][0]])
    assert refused.value.diag.column_name == "entity_type"


def test_without_strict_validation_unknown_models_roll_up_as_tier_unknown(db: Conn) -> None:
    db.execute("UPDATE senate.settings SET usage_strict_validation = false")
    insert_rows(db, [BAD["model"][0]])
    insert_rows(db, [BAD["model"][0], *GOOD])
    tiers = db.execute(
        "SELECT resource_subclass, sum(usage_rows)::int FROM senate.usage_rollups "
        "WHERE entity_id = 'h-4' GROUP BY 1"
    ).fetchall()
    assert tiers == [("unknown", 2)]
    assert db.execute("SELECT count(*) FROM public.reconcile_usage_rollups()").fetchone() == (0,)


def test_an_empty_insert_writes_nothing(db: Conn) -> None:
    db.execute(
        f"INSERT INTO public.resource_usage ({COLUMNS}) "
        f"SELECT {COLUMNS} FROM public.resource_usage WHERE false"
    )
    assert usage_and_rollup_rows(db) == (0, 0)


ROW = st.tuples(
    st.sampled_from(["hypothesis", "analysis"]),
    st.sampled_from(["x-1", "x-2", "x-3"]),
    st.sampled_from(
        [
            ("llm_tokens", "claude-opus", None),
            ("llm_tokens", None, None),
            ("api_calls", None, "pubmed"),
            ("api_calls", None, None),
            ("cpu_seconds", None, None),
        ]
    ),
    st.integers(min_value=0, max_value=10_000),
    st.one_of(st.none(), st.decimals(min_value=0, max_value=50, places=4)),
)


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(statements=st.lists(st.lists(ROW, min_size=1, max_size=6), min_size=1, max_size=5))
def test_rollups_equal_the_usage_whatever_the_statement_sizes(
    db: Conn, statements: list[list[tuple[Any, ...]]]
) -> None:
    for rows in statements:
        values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s)"] * len(rows))
        db.execute(
            f"INSERT INTO public.resource_usage ({COLUMNS}, cost) VALUES {values}",
            [
                v
                for kind, entity, (rclass, model, provider), amount, cost in rows
                for v in (kind, entity, rclass, amount, model, provider, cost)
            ],
        )
    assert db.execute("SELECT count(*) FROM public.reconcile_usage_rollups()").fetchone() == (0,)


def test_rolling_back_0058_restores_the_separate_triggers_and_reapplying_folds_them_again(
    empty_db_url: str,
) -> None:
    migrations.apply_migrations(empty_db_url)
    later = migrations_after("0058_fold_usage_insert_triggers")
    rolled = migrations.rollback_migrations(empty_db_url, len(later))
    assert sorted(rolled) == sorted(later)
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        names = {
            r[0]
            for r in conn.execute(
                "SELECT tgname FROM pg_trigger "
                "WHERE tgrelid = 'public.resource_usage'::regclass AND NOT tgisinternal"
            )
        }
        assert {
            "t10_check_usage_reference_inserts",
            "t10_validate_usage_inserts",
            "t10_refuse_forged_corrections",
            "t70_settle_spend_reservations",
            "t80_roll_up_usage_inserts",
        } <= names
        assert "t80_account_usage_inserts" not in names
        insert_rows(conn, GOOD)
        assert conn.execute("SELECT count(*) FROM public.reconcile_usage_rollups()").fetchone() == (
            0,
        )
    assert sorted(migrations.apply_migrations(empty_db_url)) == sorted(later)
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        insert_rows(conn, GOOD)
        with pytest.raises(pg_errors.ForeignKeyViolation):
            insert_rows(conn, [BAD["entity_type"][0]])
        assert conn.execute("SELECT count(*) FROM public.reconcile_usage_rollups()").fetchone() == (
            0,
        )


def migrations_after(first: str) -> list[str]:
    """Ids of the project's migrations from ``first`` on (the ones rolled back to reach the
    state before it)."""
    from senate_db import paths

    ids = sorted(
        f.name.removesuffix(".sql")
        for f in paths.migrations_dir().glob("*.sql")
        if not f.name.endswith(".rollback.sql")
    )
    return [i for i in ids if i >= first]
