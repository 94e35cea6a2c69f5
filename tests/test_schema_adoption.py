"""Adopt, never destroy (issue 14, points 2 and 3): what the registry records, what a rollback
removes, which deployment columns are required, and what migrate refuses before writing.

The zoo (tests/test_brownfield_zoo.py) runs whole deployment shapes; these tests pin the parts:
senate.schema_registry rows, single-migration rollbacks, the ``rollback --all`` output, and the
two refusals of 0001 (S0010, S0011).
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import psycopg
import pytest
from brownfield_zoo import catalog_snapshot, deployed_proposals, deployed_usage, snapshot_diff

from senate_db import migrations
from senate_db.errors import MigrationFailed


def _connect(url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(url, autocommit=True)


def _registry(url: str, **where: str) -> set[tuple[str, ...]]:
    clauses = " AND ".join(f"{k} = %({k})s" for k in where) or "true"
    with _connect(url) as conn:
        rows = conn.execute(
            "SELECT migration, object_kind, relation, object_name, action"
            f" FROM senate.schema_registry WHERE {clauses}",
            where,
        ).fetchall()
    return {tuple(str(v) for v in r) for r in rows}


def test_rollback_all_on_a_fresh_install_removes_everything_and_prints_only_what_it_did(
    empty_db_url: str,
) -> None:
    with _connect(empty_db_url) as conn:
        before = catalog_snapshot(conn)
    migrations.apply_migrations(empty_db_url)
    result = subprocess.run(
        [sys.executable, "-m", "senate_db", "rollback", "--all", "--database", empty_db_url],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("rolling back ")
    assert all(line.startswith("rolled back 0") for line in lines[1:]), lines
    assert len(lines) - 1 == len(migrations.migration_ids())
    assert "?column?" not in result.stdout + result.stderr
    with _connect(empty_db_url) as conn:
        assert snapshot_diff(before, catalog_snapshot(conn)) == []


def test_the_registry_tells_the_deployments_tables_and_columns_from_what_the_project_created(
    empty_db_url: str,
) -> None:
    with _connect(empty_db_url) as conn:
        conn.execute(deployed_usage(100, drop=("task_id", "metadata")))
    migrations.apply_migrations(empty_db_url)
    usage = _registry(empty_db_url, relation="public.resource_usage")
    assert ("0003", "table", "public.resource_usage", "", "adopted") in usage
    assert ("0003", "column", "public.resource_usage", "amount", "adopted") in usage
    assert ("0003", "column", "public.resource_usage", "task_id", "created") in usage
    assert ("0003", "column", "public.resource_usage", "metadata", "created") in usage
    assert ("0003", "column", "public.resource_usage", "analysis_id", "adopted") in usage
    assert ("0051", "column", "public.resource_usage", "idempotency_key", "created") in usage
    # allocation_proposals did not exist: created, with its columns (they go with the table).
    proposals = _registry(empty_db_url, relation="public.allocation_proposals")
    assert ("0003", "table", "public.allocation_proposals", "", "created") in proposals
    assert not any(r[1] == "column" and r[0] == "0003" for r in proposals)
    assert (
        "0021",
        "column",
        "public.allocation_proposals",
        "resource_type",
        "created",
    ) in proposals


def test_rolling_back_0003_drops_only_the_optional_columns_it_added_to_a_deployed_table(
    empty_db_url: str,
) -> None:
    with _connect(empty_db_url) as conn:
        conn.execute(deployed_usage(200, drop=("task_id", "artifact_id")))
        conn.execute(deployed_proposals(50, drop=("reviewer",)))
        conn.execute("COMMENT ON COLUMN public.resource_usage.model IS 'Deployment: model.'")
        before = catalog_snapshot(conn)
    ids = migrations.migration_ids()
    migrations.apply_migrations(empty_db_url)
    migrations.rollback_migrations(
        empty_db_url, count=len(ids) - ids.index(next(i for i in ids if i.startswith("0003")))
    )
    assert migrations.applied(empty_db_url) == [i for i in ids if i < "0003"]
    with _connect(empty_db_url) as conn:
        after = catalog_snapshot(conn)
    # What remains of 0001-0002 (schema senate, reference tables) is the project's; the
    # deployed tables are exactly as they were: columns, comments, rows.
    deployed = ("public.resource_usage", "public.allocation_proposals")
    assert snapshot_diff(before, after, prefixes=deployed) == []


@pytest.mark.parametrize(
    ("ddl", "sqlstate"),
    [
        pytest.param(deployed_usage(50, drop=("cost",)), "S0011", id="usage_without_cost"),
        pytest.param(deployed_usage(50, drop=("model",)), "S0011", id="usage_without_model"),
        pytest.param(
            deployed_proposals(50, drop=("proposer_id", "proposer_agent")),
            "S0011",
            id="proposals_without_any_proposer_column",
        ),
        pytest.param(
            deployed_proposals(50, drop=("evidence",)), "S0011", id="proposals_without_evidence"
        ),
        pytest.param(
            deployed_proposals(50, extra={"votes": "text"}), "S0010", id="votes_of_type_text"
        ),
    ],
)
def test_a_deployment_migrate_cannot_adopt_is_refused_before_anything_is_written(
    empty_db_url: str, ddl: str, sqlstate: str
) -> None:
    with _connect(empty_db_url) as conn:
        conn.execute(ddl)
        before = catalog_snapshot(conn)
    # Without the pre-flight (which refuses some of these first): the migrations' own guards.
    with pytest.raises(MigrationFailed) as refused:
        migrations.apply_migrations(empty_db_url, preflight=False)
    cause = refused.value.__cause__
    assert isinstance(cause, psycopg.Error) and cause.sqlstate == sqlstate
    assert migrations.applied(empty_db_url) == []
    with _connect(empty_db_url) as conn:
        assert snapshot_diff(before, catalog_snapshot(conn)) == []
        assert conn.execute("SELECT to_regnamespace('senate')").fetchone() == (None,)


def test_a_comment_the_deployment_had_survives_migrate_and_one_it_lacked_goes_with_rollback(
    empty_db_url: str,
) -> None:
    with _connect(empty_db_url) as conn:
        conn.execute(deployed_usage(100))
        conn.execute("COMMENT ON COLUMN public.resource_usage.amount IS 'Deployment: amount.'")
    ids = migrations.migration_ids()
    through_0004 = len([i for i in ids if i < "0005"])
    migrations.apply_migrations(empty_db_url)
    with _connect(empty_db_url) as conn:
        comments = dict(
            conn.execute(
                "SELECT a.attname, col_description(a.attrelid, a.attnum) FROM pg_attribute a"
                " WHERE a.attrelid = 'public.resource_usage'::regclass"
                " AND a.attname IN ('amount', 'cost')"
            ).fetchall()
        )
    assert comments["amount"] == "Deployment: amount."
    assert comments["cost"]  # none before: the project's
    migrations.rollback_migrations(empty_db_url, count=len(ids) - through_0004 + 2)
    with _connect(empty_db_url) as conn:
        row = conn.execute(
            "SELECT col_description('public.resource_usage'::regclass, 6),"
            " col_description('public.resource_usage'::regclass, 5)"
        ).fetchone()
    assert row == (None, "Deployment: amount.")
