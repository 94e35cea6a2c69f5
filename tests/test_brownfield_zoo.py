"""The deployment zoo (issue 14): every shape in tests/brownfield_zoo.py, built by the test
itself with thousands of legacy rows, goes through the same life.

1. Its legacy writes work before migrating (the shape is sound); catalog snapshot S0.
2. ``migrate`` exits 0, or refuses (``check`` names the shape's blocker and the pre-flight
   refuses, or a migration fails with the shape's SQLSTATE) leaving S0 exactly as it was.
3. After migrating, its legacy writes work; the compatibility pairs are equal and the backfill
   complete; the shape's own checks hold (in a transaction rolled back afterwards).
4. A second ``migrate`` applies nothing and changes nothing (snapshot equal).
5. ``rollback --all`` completes and leaves S0: every deployed object, row, comment and grant.
"""

from __future__ import annotations

import time
from typing import Any

import psycopg
import pytest
from brownfield_zoo import (
    SHAPES,
    Shape,
    backfill_missing,
    build,
    catalog_snapshot,
    pair_mismatches,
    run_legacy_session,
    run_legacy_writes,
    snapshot_diff,
)

from senate_db import migrations, preflight
from senate_db.errors import MigrationFailed
from senate_db.preflight import PreflightRefused


def _params() -> list[Any]:
    out = []
    for shape in SHAPES.values():
        marks = []
        if shape.xfail:
            marks.append(pytest.mark.xfail(reason=shape.xfail, strict=True))
        if "slow" in shape.tags:
            marks.append(pytest.mark.slow)
        out.append(pytest.param(shape, id=shape.name, marks=marks))
    return out


def _snapshot(url: str) -> dict[str, list[tuple[Any, ...]]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return catalog_snapshot(conn)


class _Undone(Exception):
    """Raised to roll back a transaction whose checks passed."""


@pytest.mark.parametrize("shape", _params())
def test_each_deployment_shape_migrates_keeps_its_writers_and_rolls_back_to_exactly_what_it_was(
    empty_db_url: str, shape: Shape
) -> None:
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        build(conn, shape)
        if shape.writes_before_migrating:
            with pytest.raises(_Undone), conn.transaction():
                run_legacy_writes(conn, shape)
                raise _Undone
        before = catalog_snapshot(conn)

    if shape.outcome == "refuses":
        if shape.refusal_blocker:
            found = [(f.code, f.object) for f in preflight.run_check(empty_db_url)]
            assert shape.refusal_blocker in found
            with pytest.raises(PreflightRefused) as blocked:
                migrations.apply_migrations(empty_db_url)
            assert shape.refusal_blocker in [(f.code, f.object) for f in blocked.value.blockers]
        else:
            with pytest.raises(MigrationFailed) as refused:
                migrations.apply_migrations(empty_db_url)
            cause = refused.value.__cause__
            assert isinstance(cause, psycopg.Error) and cause.sqlstate == shape.refusal_sqlstate
        assert migrations.applied(empty_db_url) == []
        assert snapshot_diff(before, _snapshot(empty_db_url)) == []
        return

    started = time.monotonic()
    assert migrations.apply_migrations(empty_db_url)
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        with pytest.raises(_Undone), conn.transaction():
            run_legacy_session(conn, shape)
            mismatches = pair_mismatches(conn)
            assert all(n == 0 for n in mismatches.values()), mismatches
            missing = backfill_missing(conn)
            assert all(n == 0 for n in missing.values()), missing
            if shape.deployed_tables:
                assert "resource_usage.amount_used" in mismatches
            if shape.after_migrate:
                shape.after_migrate(conn)
            raise _Undone
        migrated = catalog_snapshot(conn)

    assert migrations.apply_migrations(empty_db_url) == []
    assert snapshot_diff(migrated, _snapshot(empty_db_url)) == []

    assert migrations.rollback_migrations(empty_db_url)
    assert migrations.applied(empty_db_url) == []
    assert snapshot_diff(before, _snapshot(empty_db_url)) == []
    print(f"{shape.name}: migrate, check, rollback in {time.monotonic() - started:.1f} s")
