"""Idempotent ingest (issue 9, point 3).

A usage row may carry an idempotency key (nullable, unique where present, indexed
CONCURRENTLY by a non-transactional migration). record_resource_usage() records each key once
and tells the caller whether a retry was a duplicate; a plain INSERT repeating a key gets 23505.
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path
from typing import Any

import psycopg
import pytest
from reliability_support import row_counts, scalar, sqlstate_of

from senate_db import migrations, paths

RECORD = (
    "SELECT usage_id, recorded FROM record_resource_usage("
    "p_entity_type => %s, p_entity_id => %s, p_resource_type => %s, p_amount => %s,"
    " p_idempotency_key => %s, p_model => %s)"
)


def batch(n: int, prefix: str = "evt") -> list[tuple[str, str, str, int, str | None, str | None]]:
    rng = random.Random(9)
    events = []
    for i in range(n):
        resource = rng.choice(["llm_tokens", "cpu_seconds", "api_calls"])
        model = (
            rng.choice(["claude-opus", "claude-haiku", None]) if resource == "llm_tokens" else None
        )
        events.append(
            ("hypothesis", f"h{i % 13}", resource, rng.randint(1, 5000), f"{prefix}-{i:05d}", model)
        )
    return events


def test_replaying_a_batch_records_nothing_twice_and_says_so(db: psycopg.Connection[Any]) -> None:
    events = batch(500)
    first = [db.execute(RECORD, e).fetchone() for e in events]
    assert all(r is not None and r[1] for r in first)
    replay = events[:]
    random.Random(1).shuffle(replay)
    with db.transaction():  # a retried batch, sent again in one transaction
        second = {e[4]: db.execute(RECORD, e).fetchone() for e in replay}
    ids = {e[4]: r[0] for e, r in zip(events, first, strict=True) if r}
    assert all(r is not None and not r[1] and r[0] == ids[k] for k, r in second.items())
    rows = scalar(db, "SELECT count(*) FROM resource_usage")
    total = scalar(db, "SELECT sum(amount) FROM resource_usage")
    assert rows == len(events)
    assert total == sum(e[3] for e in events)
    assert scalar(db, "SELECT sum(amount_total) FROM senate.usage_rollups") == total
    assert db.execute("SELECT * FROM reconcile_usage_rollups()").fetchall() == []
    duplicates = sum(1 for r in second.values() if r and not r[1])
    print(
        f"[ingest] events sent {2 * len(events)}, recorded {rows}, reported duplicate "
        f"{duplicates}, recorded twice 0"
    )


def test_parallel_retries_of_the_same_batch_record_each_key_once(
    db: psycopg.Connection[Any], connect: Any
) -> None:
    events = batch(200, "par")
    writers = 6
    recorded: list[int] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(writers)

    def send(seed: int) -> None:
        try:
            conn = connect()
            mine = events[:]
            random.Random(seed).shuffle(mine)
            barrier.wait()
            count = 0
            for e in mine:
                row = conn.execute(RECORD, e).fetchone()
                assert row is not None
                count += bool(row[1])
            recorded.append(count)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=send, args=(s,)) for s in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rows = scalar(db, "SELECT count(*) FROM resource_usage")
    print(
        f"[ingest] {writers} writers x {len(events)} events: recorded {sum(recorded)} "
        f"(per writer {sorted(recorded)}), rows {rows}, duplicates {writers * len(events) - rows}"
    )
    assert sum(recorded) == rows == len(events)
    assert db.execute("SELECT * FROM reconcile_usage_rollups()").fetchall() == []


def test_a_plain_insert_repeating_a_key_is_a_unique_violation(db: psycopg.Connection[Any]) -> None:
    insert = (
        "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount,"
        " idempotency_key) VALUES ('hypothesis', 'h1', 'cpu_seconds', 3, 'k-plain')"
    )
    db.execute(insert)
    try:
        db.execute(insert)
    except psycopg.Error as e:
        assert e.sqlstate == "23505"
        assert "idempotency_key" in (e.diag.constraint_name or "")
    else:
        pytest.fail("a repeated key must be refused")
    assert row_counts(db, ["resource_usage"]) == {"resource_usage": 1}


def test_a_key_reused_for_a_different_event_is_refused(db: psycopg.Connection[Any]) -> None:
    db.execute(RECORD, ("hypothesis", "h1", "cpu_seconds", 10, "k-reuse", None))
    for other in [
        ("hypothesis", "h1", "cpu_seconds", 11, "k-reuse", None),
        ("hypothesis", "h2", "cpu_seconds", 10, "k-reuse", None),
        ("analysis", "h1", "cpu_seconds", 10, "k-reuse", None),
    ]:
        try:
            db.execute(RECORD, other)
        except psycopg.Error as e:
            assert e.sqlstate == "S4005"
            assert "idempotency_key" in (e.diag.message_primary or "")
        else:
            pytest.fail(f"reuse {other} must be refused")
    assert row_counts(db, ["resource_usage"]) == {"resource_usage": 1}


def test_without_a_key_every_call_records(db: psycopg.Connection[Any]) -> None:
    for _ in range(3):
        row = db.execute(RECORD, ("hypothesis", "h1", "cpu_seconds", 10, None, None)).fetchone()
        assert row is not None and row[1]
    assert row_counts(db, ["resource_usage"]) == {"resource_usage": 3}


@pytest.mark.parametrize("outcome", ["commit", "rollback"])
def test_a_retry_waits_for_the_first_attempt_and_follows_its_outcome(
    db: psycopg.Connection[Any], connect: Any, outcome: str
) -> None:
    first = connect(autocommit=False)
    first_id = first.execute(
        RECORD, ("hypothesis", "h1", "cpu_seconds", 7, "k-wait", None)
    ).fetchone()
    result: list[Any] = []
    retry = threading.Thread(
        target=lambda: result.append(
            connect()
            .execute(RECORD, ("hypothesis", "h1", "cpu_seconds", 7, "k-wait", None))
            .fetchone()
        )
    )
    retry.start()
    time.sleep(0.3)
    assert retry.is_alive(), "the retry should wait for the undecided first attempt"
    getattr(first, outcome)()
    retry.join(10)
    assert first_id is not None and result
    usage_id, recorded = result[0]
    if outcome == "commit":
        assert (usage_id, recorded) == (first_id[0], False)
    else:
        assert recorded and usage_id != first_id[0]
    assert row_counts(db, ["resource_usage"]) == {"resource_usage": 1}


def test_the_key_index_is_unique_partial_valid_and_built_outside_a_transaction(
    db: psycopg.Connection[Any],
) -> None:
    row = db.execute(
        "SELECT i.indisunique, i.indisvalid, pg_get_expr(i.indpred, i.indrelid)"
        " FROM pg_index AS i WHERE i.indexrelid = 'resource_usage_idempotency_key_idx'::regclass"
    ).fetchone()
    assert row == (True, True, "(idempotency_key IS NOT NULL)")
    migration = next(paths.migrations_dir().glob("0052_*.sql"))
    assert Path(migration).read_text().splitlines()[0] == "-- transactional: false"
    assert "CONCURRENTLY" in Path(migration).read_text()


def test_the_index_migration_recovers_from_a_failed_concurrent_build(
    db: psycopg.Connection[Any], db_url: str
) -> None:
    newer = [m for m in migrations.applied(db_url) if m >= "0052"]
    rolled = migrations.rollback_migrations(db_url, count=len(newer))
    assert rolled[-1].startswith("0052_")
    # Duplicates make a CONCURRENTLY build fail, leaving an INVALID index behind.
    for _ in range(2):
        db.execute(
            "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount,"
            " idempotency_key) VALUES ('hypothesis', 'h1', 'cpu_seconds', 1, 'dup')"
        )
    assert sqlstate_of(db, "SELECT 1") is None
    try:
        db.execute(
            "CREATE UNIQUE INDEX CONCURRENTLY resource_usage_idempotency_key_idx"
            " ON resource_usage (idempotency_key) WHERE idempotency_key IS NOT NULL"
        )
    except psycopg.errors.UniqueViolation:
        pass
    assert (
        scalar(
            db,
            "SELECT indisvalid FROM pg_index"
            " WHERE indexrelid = 'resource_usage_idempotency_key_idx'::regclass",
        )
        is False
    )
    db.execute("DELETE FROM resource_usage WHERE id = (SELECT max(id) FROM resource_usage)")
    applied = migrations.apply_migrations(db_url)
    assert applied == rolled[::-1]
    assert (
        scalar(
            db,
            "SELECT indisvalid FROM pg_index"
            " WHERE indexrelid = 'resource_usage_idempotency_key_idx'::regclass",
        )
        is True
    )
    assert db.execute("SELECT * FROM reconcile_usage_rollups()").fetchall() == []
