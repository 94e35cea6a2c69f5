"""The batched backfill of compatibility columns (senate.backfill_compatibility_columns).

Rows that predate the t20 triggers are simulated by inserting with the insert trigger
disabled. The procedure must fill them in batches (one transaction each), touch nothing
else, survive row locks held by other writers, keep the usage rollups exact whether or not
the other triggers fire, and be a no-op when run again.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import psycopg
import pytest

PROC = "CALL senate.backfill_compatibility_columns(%s, %s)"


@pytest.fixture(autouse=True)
def _legacy_consumers_update_usage(request: pytest.FixtureRequest) -> None:
    """These tests play a deployment whose legacy consumers still UPDATE usage rows on a fresh
    database: such a deployment turns the append-only guard off (db/docs/security.md,
    "Deployment settings"; fresh installs start with it on, deployments with usage rows start
    with it off).
    """
    if "db" in request.fixturenames:
        request.getfixturevalue("db").execute(
            "SELECT set_senate_setting('usage_append_only', false, 'tests',"
            " 'legacy consumers update usage rows')"
        )


def _legacy_rows(db: psycopg.Connection[Any], usage: int, proposals: int = 0) -> None:
    """Rows written before 0004: compatibility columns NULL."""
    db.execute("ALTER TABLE resource_usage DISABLE TRIGGER t20_sync_compatibility_on_insert")
    db.execute("ALTER TABLE allocation_proposals DISABLE TRIGGER t20_sync_compatibility_on_insert")
    db.execute(
        "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount, model,"
        " created_at) SELECT 'hypothesis', 'h-' || g %% 97, 'llm_tokens', g %% 500 + 1,"
        " CASE WHEN g %% 2 = 0 THEN 'claude-opus' END,"
        " timestamptz '2026-04-01 00:00+00' + g * interval '1 minute'"
        " FROM generate_series(1, %s) g",
        (usage,),
    )
    # Proposals of a deployment's legacy writer: free-form evidence (governance's documented
    # path for such writers, migration 0025).
    db.execute("SELECT add_legacy_proposal_writer(current_user, 'a legacy writer (test)')")
    db.execute(
        "INSERT INTO allocation_proposals (entity_type, entity_id, requested_tokens,"
        " proposer_id, proposer_agent, justification)"
        " SELECT 'analysis', 'a-' || g, g, CASE WHEN g %% 2 = 0 THEN 'u-' || g END, 'bot', 'why'"
        " FROM generate_series(1, %s) g",
        (proposals,),
    )
    db.execute("SELECT remove_legacy_proposal_writer(current_user)")
    db.execute("ALTER TABLE resource_usage ENABLE TRIGGER t20_sync_compatibility_on_insert")
    db.execute("ALTER TABLE allocation_proposals ENABLE TRIGGER t20_sync_compatibility_on_insert")
    assert db.execute(
        "SELECT count(*) FROM resource_usage WHERE amount_used IS NULL"
    ).fetchone() == (usage,)


def _notices(conn: psycopg.Connection[Any]) -> list[str]:
    seen: list[str] = []
    conn.add_notice_handler(lambda d: seen.append(d.message_primary or ""))
    return seen


def _rollups(db: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    return [
        tuple(r) for r in db.execute("SELECT * FROM senate.usage_rollups ORDER BY 1, 2, 3, 4, 5, 6")
    ]


def test_the_backfill_fills_every_missing_value_one_transaction_per_batch(
    db: psycopg.Connection[Any],
) -> None:
    _legacy_rows(db, usage=2500, proposals=250)
    notices = _notices(db)
    db.execute(PROC, (1000, True))
    assert db.execute("SELECT * FROM reconcile_compatibility_columns()").fetchall() == []
    # Each batch committed on its own: the rows carry three different transaction ids.
    assert db.execute("SELECT count(DISTINCT xmin::text) FROM resource_usage").fetchone() == (3,)
    assert any("2500 rows filled in 3 batches" in n for n in notices), notices
    assert any("250 rows filled in 1 batches" in n for n in notices), notices


def test_running_the_backfill_again_writes_nothing(db: psycopg.Connection[Any]) -> None:
    _legacy_rows(db, usage=300)
    db.execute(PROC, (100, True))
    versions = db.execute("SELECT array_agg(xmin::text ORDER BY id) FROM resource_usage").fetchone()
    notices = _notices(db)
    db.execute(PROC, (100, True))
    assert (
        db.execute("SELECT array_agg(xmin::text ORDER BY id) FROM resource_usage").fetchone()
        == versions
    )
    assert "public.resource_usage: no compatibility values missing" in notices


def test_with_triggers_firing_the_backfill_keeps_usage_rollups_exact(
    db: psycopg.Connection[Any],
) -> None:
    """The rollup triggers see UPDATEs that change no amount, time or entity: net zero."""
    _legacy_rows(db, usage=1200)
    before = _rollups(db)
    db.execute(PROC, (500, False))
    assert db.execute("SELECT * FROM reconcile_compatibility_columns()").fetchall() == []
    assert db.execute("SELECT * FROM reconcile_usage_rollups()").fetchall() == []
    assert _rollups(db) == before


def test_with_quiet_triggers_the_backfill_fires_no_other_trigger(
    db: psycopg.Connection[Any],
) -> None:
    _legacy_rows(db, usage=500)
    db.execute("CREATE TABLE fired (n int)")
    db.execute(
        "CREATE FUNCTION count_fired() RETURNS trigger LANGUAGE plpgsql AS"
        " $$ BEGIN INSERT INTO fired VALUES (1); RETURN NULL; END $$"
    )
    db.execute(
        "CREATE TRIGGER deployed_audit AFTER UPDATE ON resource_usage"
        " FOR EACH ROW EXECUTE FUNCTION count_fired()"
    )
    before = _rollups(db)
    db.execute(PROC, (200, True))
    assert db.execute("SELECT count(*) FROM fired").fetchone() == (0,)
    assert _rollups(db) == before
    assert db.execute("SELECT * FROM reconcile_usage_rollups()").fetchall() == []
    # and the session is back to normal afterwards: triggers fire again
    db.execute(
        "UPDATE resource_usage SET task_id = 't' WHERE id = (SELECT min(id) FROM resource_usage)"
    )
    assert db.execute("SELECT count(*) FROM fired").fetchone() == (1,)
    assert db.execute("SHOW session_replication_role").fetchone() == ("origin",)


def test_a_role_that_may_not_quiet_triggers_still_backfills_with_triggers_on(
    db: psycopg.Connection[Any],
) -> None:
    _legacy_rows(db, usage=400)
    role = f"senate_backfill_probe_{uuid.uuid4().hex[:8]}"  # roles are cluster-wide
    db.execute(f"CREATE ROLE {role} NOLOGIN")
    try:
        db.execute(f"GRANT USAGE ON SCHEMA senate TO {role}")
        db.execute(f"GRANT SELECT ON senate.compatibility_columns TO {role}")
        db.execute(f"GRANT SELECT, INSERT, UPDATE ON senate.usage_rollups TO {role}")
        db.execute(f"GRANT SELECT, UPDATE ON resource_usage, allocation_proposals TO {role}")
        db.execute(
            "GRANT SELECT ON economics_policy, llm_models, api_providers, entity_types,"
            f" resource_types TO {role}"
        )
        # 0043's reference check locks the named reference rows FOR KEY SHARE with the
        # caller's rights, which PostgreSQL allows only to roles with UPDATE on the table.
        db.execute(f"GRANT UPDATE ON entity_types, resource_types TO {role}")
        db.execute(
            "GRANT EXECUTE ON PROCEDURE senate.backfill_compatibility_columns(integer, boolean)"
            f" TO {role}"
        )
        notices = _notices(db)
        db.execute(f"SET ROLE {role}")
        try:
            db.execute(PROC, (150, True))
        finally:
            db.execute("RESET ROLE")
    finally:
        db.execute(f"DROP OWNED BY {role}")
        db.execute(f"DROP ROLE {role}")
    assert any("triggers enabled" in n for n in notices), notices
    assert db.execute("SELECT * FROM reconcile_compatibility_columns()").fetchall() == []
    assert db.execute("SELECT * FROM reconcile_usage_rollups()").fetchall() == []


def test_the_backfill_waits_out_a_row_lock_held_by_another_writer(
    db: psycopg.Connection[Any], connect: Callable[..., psycopg.Connection[Any]]
) -> None:
    _legacy_rows(db, usage=300)
    writer = connect(autocommit=False)
    writer.execute(
        "SELECT 1 FROM resource_usage WHERE id = (SELECT max(id) FROM resource_usage) FOR UPDATE"
    )

    def release() -> None:
        time.sleep(1.0)
        writer.commit()

    releaser = threading.Thread(target=release)
    notices = _notices(db)
    db.execute("SET lock_timeout = '200ms'")
    releaser.start()
    try:
        db.execute(PROC, (100, True))
    finally:
        releaser.join()
    assert any("waits for a row lock" in n for n in notices), notices
    assert db.execute("SELECT * FROM reconcile_compatibility_columns()").fetchall() == []


def test_a_backfill_that_cannot_fill_every_row_fails_with_s0002(
    db: psycopg.Connection[Any],
) -> None:
    _legacy_rows(db, usage=50)
    db.execute(
        "CREATE FUNCTION clear_amount_used() RETURNS trigger LANGUAGE plpgsql AS"
        " $$ BEGIN NEW.amount_used := NULL; RETURN NEW; END $$"
    )
    db.execute(
        "CREATE TRIGGER zz_clear_amount_used BEFORE UPDATE ON resource_usage"
        " FOR EACH ROW EXECUTE FUNCTION clear_amount_used()"
    )
    with pytest.raises(psycopg.Error) as exc:
        db.execute(PROC, (1000, False))
    assert exc.value.sqlstate == "S0002"


def test_a_small_backfill_may_run_inside_a_transaction_block(db: psycopg.Connection[Any]) -> None:
    _legacy_rows(db, usage=20)
    with db.transaction():
        db.execute(PROC, (1000, True))
    assert db.execute("SELECT * FROM reconcile_compatibility_columns()").fetchall() == []


def test_the_batch_size_must_be_positive(db: psycopg.Connection[Any]) -> None:
    with pytest.raises(psycopg.Error) as exc:
        db.execute(PROC, (0, True))
    assert exc.value.sqlstate == "22023"
