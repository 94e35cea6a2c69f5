"""Feeds have their own roles (issue 15, point 4): Exchange signals and Atlas gains move market
weight, ROI and so the next rebalance's draws on the reserve, so only the feed's own group role
writes them, and every row names the login that wrote it.

Every test acts as real LOGIN roles, members of one group role each (``reliability_support``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from reliability_support import DENIED, RoleSessions, role_sessions, scalar, sqlstate_of

from senate_db import migrations

Conn = psycopg.Connection[Any]

SIGNAL = (
    "INSERT INTO market_signals (entity_type, entity_id, value, source)"
    " VALUES ('hypothesis', 'h-feed', 0.9, 'exchange')"
)
SIGNAL_CLAIMING = (
    "INSERT INTO market_signals (entity_type, entity_id, value, source, session_login)"
    " VALUES ('hypothesis', 'h-feed', 0.9, 'exchange', 'someone_else')"
)
GAIN = (
    "INSERT INTO world_model_gains (entity_type, entity_id, kg_edges_gained, papers_added, source)"
    " VALUES ('hypothesis', 'h-feed', 40, 2, 'atlas')"
)
GAIN_CLAIMING = (
    "INSERT INTO world_model_gains (entity_type, entity_id, kg_edges_gained, source,"
    " session_login) VALUES ('hypothesis', 'h-feed', 40, 'atlas', 'someone_else')"
)


@pytest.fixture
def as_role(db_url: str, db: Conn) -> Iterator[RoleSessions]:
    yield from role_sessions(db_url, db)


def _feed_rows(db: Conn) -> tuple[int, int]:
    return (
        scalar(db, "SELECT count(*) FROM market_signals WHERE entity_id = 'h-feed'"),
        scalar(db, "SELECT count(*) FROM world_model_gains WHERE entity_id = 'h-feed'"),
    )


def test_a_usage_writer_can_feed_neither_exchange_signals_nor_atlas_gains(
    db: Conn, as_role: RoleSessions
) -> None:
    writer = as_role("senate_writer")
    assert sqlstate_of(writer, SIGNAL) == DENIED
    assert sqlstate_of(writer, GAIN) == DENIED
    assert _feed_rows(db) == (0, 0)


def test_a_login_in_no_group_can_feed_nothing(db: Conn, as_role: RoleSessions) -> None:
    plain = as_role(None)
    assert sqlstate_of(plain, SIGNAL) == DENIED
    assert sqlstate_of(plain, GAIN) == DENIED
    assert _feed_rows(db) == (0, 0)


def test_the_exchange_feed_writes_signals_under_its_own_login_and_nothing_else(
    db: Conn, as_role: RoleSessions
) -> None:
    exchange = as_role("senate_exchange")
    login = scalar(exchange, "SELECT session_user::text")
    exchange.execute(SIGNAL_CLAIMING)
    assert sqlstate_of(exchange, GAIN) == DENIED
    assert sqlstate_of(exchange, "UPDATE market_signals SET value = 0") == DENIED
    assert sqlstate_of(exchange, "DELETE FROM market_signals") == DENIED
    assert (
        sqlstate_of(
            exchange,
            "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount)"
            " VALUES ('hypothesis', 'h-feed', 'llm_tokens', 1)",
        )
        == DENIED
    )
    assert _feed_rows(db) == (1, 0)
    assert db.execute(
        "SELECT session_login FROM market_signals WHERE entity_id = 'h-feed'"
    ).fetchall() == [(login,)]


def test_the_atlas_feed_writes_gains_under_its_own_login_and_nothing_else(
    db: Conn, as_role: RoleSessions
) -> None:
    atlas = as_role("senate_atlas")
    login = scalar(atlas, "SELECT session_user::text")
    atlas.execute(GAIN_CLAIMING)
    assert sqlstate_of(atlas, SIGNAL) == DENIED
    assert sqlstate_of(atlas, "UPDATE world_model_gains SET kg_edges_gained = 0") == DENIED
    assert _feed_rows(db) == (0, 1)
    assert db.execute(
        "SELECT session_login FROM world_model_gains WHERE entity_id = 'h-feed'"
    ).fetchall() == [(login,)]


def test_a_feed_role_reads_what_analysts_read(as_role: RoleSessions) -> None:
    for group in ("senate_exchange", "senate_atlas"):
        feed = as_role(group)
        assert sqlstate_of(feed, "SELECT count(*) FROM budget_status") is None
        assert sqlstate_of(feed, "SELECT count(*) FROM resource_usage") == DENIED


def test_rolling_back_the_feed_roles_gives_the_writer_back_what_it_had(
    db: Conn, db_url: str, as_role: RoleSessions
) -> None:
    newer = [m for m in migrations.applied(db_url) if m >= "0125"]
    assert migrations.rollback_migrations(db_url, count=len(newer))[-1] == "0125_create_feed_roles"
    assert scalar(db, "SELECT has_table_privilege('senate_writer', 'market_signals', 'INSERT')")
    assert not scalar(
        db, "SELECT has_table_privilege('senate_exchange', 'market_signals', 'INSERT')"
    )
    assert (
        scalar(
            db,
            "SELECT count(*) FROM pg_attribute WHERE attrelid = 'market_signals'::regclass"
            " AND attname = 'session_login'",
        )
        == 0
    )
    assert migrations.apply_migrations(db_url) == newer
    exchange = as_role("senate_exchange")
    assert sqlstate_of(exchange, SIGNAL) is None
