"""Usage rows name existing entity kinds and resource classes, checked once per statement.

Migration 0043 replaces the per-row foreign keys of resource_usage (fresh installs) with
statement-level triggers that give the same guarantee: the same SQLSTATE for a bad value on every
write path, reference rows locked FOR KEY SHARE so that deleting a kind in use waits for the
writer and then fails, and the referenced tables guarded against DELETE, re-keying and TRUNCATE.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import errors as pg_errors

from senate_db import migrations, paths

Conn = psycopg.Connection[Any]

INSERT = (
    "INSERT INTO public.resource_usage (entity_type, entity_id, resource_type, amount) "
    "VALUES (%s, %s, %s, %s)"
)


def reference_triggers(db: Conn) -> set[str]:
    rows = db.execute(
        "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal AND tgname LIKE 't10_%%' "
        "AND (tgname LIKE '%%usage_reference%%' OR tgname LIKE 't10_refuse_used_%%')"
    ).fetchall()
    return {r[0] for r in rows}


def inserts_check_references(db: Conn) -> bool:
    """Whether the insert trigger of 0058 (which folded 0043's insert check in) was told to
    check and lock the kinds and classes inserted rows name."""
    row = db.execute(
        "SELECT encode(tgargs, 'escape') FROM pg_trigger "
        "WHERE tgrelid = 'public.resource_usage'::regclass AND tgname = 't80_account_usage_inserts'"
    ).fetchone()
    return row is not None and row[0] == "check_references\\000"


def foreign_keys(db: Conn) -> set[str]:
    rows = db.execute(
        "SELECT conname FROM pg_constraint "
        "WHERE conrelid = 'public.resource_usage'::regclass AND contype = 'f'"
    ).fetchall()
    return {r[0] for r in rows}


def test_a_fresh_install_checks_usage_references_per_statement_not_per_row(db: Conn) -> None:
    assert foreign_keys(db) == set()
    assert inserts_check_references(db)
    assert {
        "t10_check_usage_reference_updates",
        "t10_refuse_used_entity_type_change",
        "t10_refuse_used_resource_type_change",
    } <= reference_triggers(db)


@pytest.mark.parametrize(
    ("entity_type", "resource_type", "column"),
    [("unknown_kind", "llm_tokens", "entity_type"), ("hypothesis", "gpu_hours", "resource_type")],
)
def test_an_unknown_kind_or_class_is_refused_on_every_write_path(
    db: Conn, entity_type: str, resource_type: str, column: str
) -> None:
    good = ("analysis", "a-1", "cpu_seconds", 1)
    bad = (entity_type, "x-1", resource_type, 1)
    with pytest.raises(pg_errors.ForeignKeyViolation) as single:
        db.execute(INSERT, bad)
    assert single.value.diag.column_name == column
    with pytest.raises(pg_errors.ForeignKeyViolation):
        db.execute(
            INSERT.replace("(%s, %s, %s, %s)", "(%s, %s, %s, %s), (%s, %s, %s, %s)"), (*good, *bad)
        )
    with (
        pytest.raises(pg_errors.ForeignKeyViolation),
        db.cursor() as cur,
        cur.copy(
            "COPY public.resource_usage (entity_type, entity_id, resource_type, amount) FROM STDIN"
        ) as copy,
    ):
        copy.write_row(good)
        copy.write_row(bad)
    db.execute(INSERT, good)
    with pytest.raises(pg_errors.ForeignKeyViolation):
        db.execute(
            f"UPDATE public.resource_usage SET {column} = %s",
            (bad[0] if column == "entity_type" else bad[2],),
        )
    assert db.execute("SELECT count(*) FROM public.resource_usage").fetchone() == (1,)


def test_a_kind_in_use_cannot_be_deleted_re_keyed_or_truncated(db: Conn) -> None:
    db.execute("INSERT INTO public.entity_types VALUES ('experiment', 'A wet-lab experiment.')")
    db.execute(INSERT, ("experiment", "x-1", "cpu_seconds", 5))
    with pytest.raises(pg_errors.ForeignKeyViolation):
        db.execute("DELETE FROM public.entity_types WHERE entity_type = 'experiment'")
    with pytest.raises(pg_errors.ForeignKeyViolation):
        db.execute(
            "UPDATE public.entity_types SET entity_type = 'trial' WHERE entity_type = 'experiment'"
        )
    with pytest.raises(pg_errors.ForeignKeyViolation):
        db.execute("DELETE FROM public.resource_types WHERE resource_type = 'cpu_seconds'")
    with pytest.raises(pg_errors.FeatureNotSupported):
        db.execute("TRUNCATE public.resource_types CASCADE")
    # Describing a kind is not changing its key; an unused kind can go.
    db.execute(
        "UPDATE public.entity_types SET description = 'Wet-lab work.' "
        "WHERE entity_type = 'experiment'"
    )
    db.execute("INSERT INTO public.entity_types VALUES ('unused', 'Never charged.')")
    db.execute("DELETE FROM public.entity_types WHERE entity_type = 'unused'")


def test_removing_a_kind_outside_read_committed_is_refused(db: Conn) -> None:
    db.execute("INSERT INTO public.entity_types VALUES ('unused', 'Never charged.')")
    with pytest.raises(pg_errors.FeatureNotSupported):
        with db.transaction():
            db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            db.execute("DELETE FROM public.entity_types WHERE entity_type = 'unused'")


def test_deleting_a_kind_waits_for_an_uncommitted_writer_and_then_fails(
    db: Conn, connect: Callable[..., Conn]
) -> None:
    db.execute("INSERT INTO public.entity_types VALUES ('experiment', 'A wet-lab experiment.')")
    writer, admin = connect(), connect()
    outcome: list[BaseException | None] = []
    writer.execute("BEGIN")
    writer.execute(INSERT, ("experiment", "x-1", "cpu_seconds", 5))

    def delete_kind() -> None:
        try:
            admin.execute("DELETE FROM public.entity_types WHERE entity_type = 'experiment'")
            outcome.append(None)
        except psycopg.Error as e:
            outcome.append(e)

    t = threading.Thread(target=delete_kind)
    t.start()
    time.sleep(0.5)
    assert outcome == []  # waiting for the writer's KEY SHARE lock
    writer.execute("COMMIT")
    t.join(10)
    assert len(outcome) == 1 and isinstance(outcome[0], pg_errors.ForeignKeyViolation)


def test_a_writer_naming_a_kind_being_deleted_waits_and_then_fails(
    db: Conn, connect: Callable[..., Conn]
) -> None:
    db.execute("INSERT INTO public.entity_types VALUES ('experiment', 'A wet-lab experiment.')")
    writer, admin = connect(), connect()
    admin.execute("BEGIN")
    admin.execute("DELETE FROM public.entity_types WHERE entity_type = 'experiment'")
    outcome: list[BaseException | None] = []

    def write() -> None:
        try:
            writer.execute(INSERT, ("experiment", "x-1", "cpu_seconds", 5))
            outcome.append(None)
        except psycopg.Error as e:
            outcome.append(e)

    t = threading.Thread(target=write)
    t.start()
    time.sleep(0.5)
    assert outcome == []
    admin.execute("COMMIT")
    t.join(10)
    assert len(outcome) == 1 and isinstance(outcome[0], pg_errors.ForeignKeyViolation)
    assert db.execute("SELECT count(*) FROM public.resource_usage").fetchone() == (0,)


DEPLOYED_USAGE = """
CREATE TABLE public.resource_usage (
    id bigserial PRIMARY KEY,
    entity_type text NOT NULL,
    entity_id text NOT NULL,
    resource_type text NOT NULL,
    amount numeric NOT NULL,
    cost numeric,
    model text,
    artifact_type text,
    artifact_id text,
    analysis_id text,
    task_id text,
    created_at timestamptz NOT NULL DEFAULT now(),
    metadata jsonb NOT NULL DEFAULT '{}'
);
INSERT INTO public.resource_usage (entity_type, entity_id, resource_type, amount, model)
VALUES ('hypothesis', 'h-1', 'llm_tokens', 100, 'claude-opus');
"""


def test_a_deployed_table_without_foreign_keys_is_left_without_new_checks(
    empty_db_url: str,
) -> None:
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute(DEPLOYED_USAGE)
    migrations.apply_migrations(empty_db_url)
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        assert foreign_keys(conn) == set()
        assert "t10_check_usage_reference_updates" not in reference_triggers(conn)
        assert not inserts_check_references(conn)
        assert conn.execute("SELECT count(*) FROM public.reconcile_usage_rollups()").fetchone() == (
            0,
        )


def own_migrations_dir(tmp_path: Path) -> Path:
    """The project's migrations up to and including this helper's (0040-0049)."""
    for f in sorted(paths.migrations_dir().glob("*.sql")):
        if f.name[:4] <= "0049":
            (tmp_path / f.name).write_text(f.read_text())
    return tmp_path


def test_the_performance_migrations_roll_back_to_the_original_definitions_and_reapply(
    empty_db_url: str, tmp_path: Path
) -> None:
    directory = own_migrations_dir(tmp_path)
    ours = sorted(f.stem for f in directory.glob("004*.sql") if not f.stem.endswith(".rollback"))
    migrations.apply_migrations(empty_db_url, directory=directory)
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute(INSERT, ("hypothesis", "h-1", "llm_tokens", 10))
    rolled = migrations.rollback_migrations(empty_db_url, len(ours), directory=directory)
    assert sorted(rolled) == ours
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        assert foreign_keys(conn) == {
            "resource_usage_entity_type_fkey",
            "resource_usage_resource_type_fkey",
        }
        assert reference_triggers(conn) == set()
        lang = conn.execute(
            "SELECT l.lanname FROM pg_proc AS p JOIN pg_language AS l ON l.oid = p.prolang "
            "WHERE p.oid = 'senate.policy_time_zone()'::regprocedure"
        ).fetchone()
        assert lang == ("sql",)
        assert conn.execute("SELECT to_regprocedure('senate.usage_rollup_shard()')").fetchone() == (
            None,
        )
        conn.execute(INSERT, ("hypothesis", "h-1", "llm_tokens", 5))
        assert conn.execute("SELECT count(*) FROM public.reconcile_usage_rollups()").fetchone() == (
            0,
        )
    assert sorted(migrations.apply_migrations(empty_db_url, directory=directory)) == ours
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        assert foreign_keys(conn) == set()
        conn.execute(INSERT, ("hypothesis", "h-1", "llm_tokens", 1))
        assert conn.execute("SELECT count(*) FROM public.reconcile_usage_rollups()").fetchone() == (
            0,
        )
