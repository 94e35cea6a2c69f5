"""Migrations 0010-0019 (economics): documented, re-runnable, and cleanly reversible."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import psycopg
import pytest

from senate_db import migrations, paths, schema_dump

Conn = psycopg.Connection[Any]

TABLES = [
    "public.allocation_signals",
    "public.market_signals",
    "public.governance_blocks",
    "public.world_model_gains",
    "public.resource_budget_tiers",
]
VIEWS = [
    "public.budget_status",
    "public.budget_tier_status",
    "public.daily_spend",
    "public.allocation_ranking",
    "public.roi_leaderboard",
    "senate.latest_allocation_signals",
]
FUNCTIONS = [
    "public.allocation_score(numeric,numeric,numeric,numeric)",
    "public.allocation_score(numeric,numeric,numeric,numeric,bigint)",
    "public.effective_budget(numeric,numeric)",
    "public.roi_score(numeric,numeric)",
    "public.budget_period_bounds(timestamptz)",
    "public.budget_status_as_of(timestamptz)",
    "public.budget_tier_status_as_of(timestamptz)",
    "public.refresh_priority_scores()",
    "public.place_governance_block(text,text,text,text,text)",
    "public.resolve_governance_block(bigint,text,text)",
    "public.market_weights(timestamptz)",
    "public.refresh_market_weights(timestamptz)",
    "public.roi_window_bounds(timestamptz)",
    "public.roi_by_entity(date,date)",
    "public.refresh_roi_scores(timestamptz)",
    "public.adopt_economics_policy(jsonb,text,text)",
    "senate.refuse_value(text,text,text,numeric,text)",
    "senate.weighted_allocation_score(numeric,numeric,numeric,numeric,numeric,numeric,numeric,numeric)",
    "senate.period_bounds(timestamptz,text,text)",
    "senate.sync_priority_scores(text[],text[])",
    "senate.follow_latest_assessment()",
    "senate.priority_from_latest_assessment()",
    "senate.guard_governance_blocks()",
    "senate.zero_blocked_market_weights()",
    "senate.record_tier_budget_changes()",
    "senate.check_tier_budgets_within_token_budget()",
    "senate.applied_market_weight(numeric,numeric,numeric,numeric,numeric)",
    "senate.guard_economics_policy()",
    "senate.validate_economics_policy()",
    "senate.require_one_active_policy()",
]
TRIGGER_TABLES = [
    ("allocation_signals", "t10_refuse_assessment_changes"),
    ("allocation_signals", "t10_refuse_assessment_truncate"),
    ("allocation_signals", "t30_follow_latest_assessment"),
    ("resource_budgets", "t30_priority_from_latest_assessment"),
    ("governance_blocks", "t10_guard_governance_blocks"),
    ("governance_blocks", "t10_refuse_governance_block_truncate"),
    ("governance_blocks", "t30_zero_blocked_market_weights"),
    ("resource_budget_tiers", "t10_check_tier_inserts"),
    ("resource_budget_tiers", "t10_check_tier_updates"),
    ("resource_budget_tiers", "t50_record_tier_budget_inserts"),
    ("resource_budget_tiers", "t50_record_tier_budget_updates"),
    ("resource_budget_tiers", "t50_record_tier_budget_deletes"),
    ("economics_policy", "t10_guard_economics_policy"),
    ("economics_policy", "t10_refuse_economics_policy_truncate"),
    ("economics_policy", "t10_validate_economics_policy"),
    ("economics_policy", "t10_require_one_active_policy"),
]
TRIGGERS = [name for _, name in TRIGGER_TABLES]
ERROR_CODES = ["S1001", "S1002", "S1003", "S1004", "S1005", "S1006", "S1007", "S1008"]


def economics_files() -> list[Path]:
    return sorted(
        p
        for p in paths.migrations_dir().glob("001[0-9]_*.sql")
        if not p.name.endswith(".rollback.sql")
    )


def test_every_economics_table_view_and_column_is_commented(db: Conn) -> None:
    for relation in TABLES + VIEWS:
        assert db.execute(
            "SELECT obj_description(%s::regclass, 'pg_class')", (relation,)
        ).fetchone() != (None,), relation
        missing = db.execute(
            "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0"
            " AND NOT attisdropped AND col_description(attrelid, attnum) IS NULL",
            (relation,),
        ).fetchall()
        assert missing == [], f"{relation}: columns without a comment: {missing}"


def test_every_economics_function_is_commented(db: Conn) -> None:
    for function in FUNCTIONS:
        row = db.execute(
            "SELECT obj_description(%s::regprocedure, 'pg_proc')", (function,)
        ).fetchone()
        assert row is not None and row[0], function


def test_every_economics_trigger_is_commented(db: Conn) -> None:
    rows = db.execute(
        "SELECT tgrelid::regclass::text || '.' || tgname,"
        " obj_description(oid, 'pg_trigger') IS NOT NULL FROM pg_trigger"
        " WHERE NOT tgisinternal AND tgname = ANY(%s) ORDER BY 1",
        (TRIGGERS,),
    ).fetchall()
    assert rows == sorted((f"{table}.{name}", True) for table, name in TRIGGER_TABLES)


def test_economics_error_codes_are_catalogued(db: Conn) -> None:
    rows = db.execute(
        "SELECT sqlstate FROM senate.error_codes WHERE sqlstate LIKE 'S1%%' ORDER BY 1"
    ).fetchall()
    assert [r[0] for r in rows] == ERROR_CODES


def test_mutating_economics_functions_pin_their_search_path(db: Conn) -> None:
    rows = db.execute(
        "SELECT p.oid::regprocedure::text, p.proconfig FROM pg_proc AS p"
        " WHERE p.prosecdef AND p.pronamespace IN ('public'::regnamespace, 'senate'::regnamespace)"
    ).fetchall()
    assert rows, "expected SECURITY DEFINER functions"
    for name, config in rows:
        # A scheduled cycle also bounds its lock waits (lock_timeout, 0122/0123).
        assert [c for c in config if not c.startswith("lock_timeout=")] == [
            "search_path=pg_catalog, pg_temp"
        ], name


def _dump(url: str) -> str:
    result = subprocess.run(
        schema_dump.pg_dump_command(url), capture_output=True, text=True, check=True
    )
    return schema_dump.normalize(result.stdout)


def _directories(tmp_path: Path) -> tuple[Path, Path]:
    """Migrations before 0010, and those plus 0010-0019."""
    before = tmp_path / "before"
    upto = tmp_path / "upto"
    before.mkdir()
    upto.mkdir()
    for path in paths.migrations_dir().glob("*.sql"):
        number = int(path.name[:4])
        if number < 10:
            shutil.copy(path, before / path.name)
        if number < 20:
            shutil.copy(path, upto / path.name)
    return before, upto


def test_economics_migrations_can_run_twice(empty_db_url: str, tmp_path: Path) -> None:
    _, upto = _directories(tmp_path)
    migrations.apply_migrations(empty_db_url, directory=upto)
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        for path in economics_files():
            conn.execute(path.read_text())  # the whole file again: a no-op
        assert conn.execute("SELECT count(*) FROM economics_policy").fetchone() == (1,)


@pytest.mark.slow
def test_rolling_back_the_economics_migrations_restores_the_schema_before_them(
    empty_db_url: str, tmp_path: Path
) -> None:
    before, upto = _directories(tmp_path)
    migrations.apply_migrations(empty_db_url, directory=before)
    expected = _dump(empty_db_url)
    applied = migrations.apply_migrations(empty_db_url, directory=upto)
    assert len(applied) == 10
    # Use the economics layer a little, so rollbacks meet real rows.
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO resource_budgets (entity_type, entity_id, token_budget)"
            " VALUES ('hypothesis', 'h1', 100)"
        )
        conn.execute(
            "INSERT INTO allocation_signals (entity_type, entity_id, evidence_strength, novelty,"
            " strategic_alignment, community_interest, assessed_by)"
            " VALUES ('hypothesis', 'h1', 1, 1, 1, 1, 'a')"
        )
        conn.execute("SELECT adopt_economics_policy('{\"quorum\": 4}', 'a', 'r')")
    rolled_back = migrations.rollback_migrations(empty_db_url, count=10, directory=upto)
    assert rolled_back == list(reversed(applied))
    assert _dump(empty_db_url) == expected
    assert migrations.apply_migrations(empty_db_url, directory=upto) == applied
