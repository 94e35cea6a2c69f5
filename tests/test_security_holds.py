"""Holds belong to their reserver (issue 15, point 8, "Reservations").

Real LOGIN roles: a writer's hold cannot be released or settled by another writer (42501 /
settles nothing), a senate_admin member may do both; SERIALIZABLE callers are refused like
REPEATABLE READ ones (S3006), and a race of two SERIALIZABLE reservers on two real connections
never holds more than the budget; one login holds at most
economics_policy.max_open_holds_per_login open holds (S5032), also when it reserves in parallel.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from reliability_support import RoleSessions, role_sessions, scalar

Conn = psycopg.Connection[Any]

RESERVE = "SELECT reserve_spend('hypothesis', %s, 'llm_tokens', %s, interval '10 minutes')"


@pytest.fixture
def sessions(db_url: str, db: Conn) -> Iterator[RoleSessions]:
    yield from role_sessions(db_url, db)


class Logins:
    """``as_role(group)``: a connection whose session_user is a fresh member of ``group``.

    Where the server refuses the login (a password-authenticated server), role_sessions acts
    through SET ROLE, which leaves session_user the superuser; SET SESSION AUTHORIZATION then
    makes the test role the session user too, which is what holds are bound to."""

    def __init__(self, sessions: RoleSessions) -> None:
        self.sessions = sessions

    def __call__(self, group: str | None, **kwargs: Any) -> Conn:
        conn = self.sessions(group, **kwargs)
        row = conn.execute("SELECT session_user::text, current_user::text").fetchone()
        assert row is not None
        if row[0] != row[1]:
            conn.execute(f'RESET ROLE; SET SESSION AUTHORIZATION "{row[1]}"')
            if not conn.autocommit:
                conn.commit()
        elif not conn.autocommit:
            conn.commit()
        return conn


@pytest.fixture
def as_role(sessions: RoleSessions) -> Logins:
    return Logins(sessions)


def envelope(db: Conn, entity_id: str, tokens: int) -> None:
    db.execute(
        "INSERT INTO resource_budgets (entity_type, entity_id, token_budget)"
        " VALUES ('hypothesis', %s, %s)",
        (entity_id, tokens),
    )


def is_open(db: Conn, reservation_id: int) -> bool:
    return bool(
        scalar(
            db,
            "SELECT settled_at IS NULL AND released_at IS NULL FROM spend_reservations"
            " WHERE reservation_id = %s",
            (reservation_id,),
        )
    )


def test_another_writer_cannot_release_a_hold_and_nothing_changes(
    db: Conn, as_role: Logins
) -> None:
    envelope(db, "h-hold", 70_000)
    owner, thief = as_role("senate_writer"), as_role("senate_writer")
    hold = scalar(owner, RESERVE, ("h-hold", 60_000))
    assert scalar(db, "SELECT reserved_by FROM spend_reservations") == scalar(
        owner, "SELECT session_user::text"
    )
    with pytest.raises(psycopg.Error) as caught:
        thief.execute("SELECT release_spend_reservation(%s)", (hold,))
    assert caught.value.sqlstate == "42501"
    assert is_open(db, hold)
    # The reserver may; so may an admin (on a second hold).
    assert scalar(owner, "SELECT release_spend_reservation(%s)", (hold,)) == 60_000
    second = scalar(owner, RESERVE, ("h-hold", 1_000))
    assert (
        scalar(as_role("senate_admin"), "SELECT release_spend_reservation(%s)", (second,)) == 1_000
    )


def test_usage_of_another_writer_naming_a_hold_is_recorded_but_settles_nothing(
    db: Conn, as_role: Logins
) -> None:
    envelope(db, "h-settle", 70_000)
    owner, thief = as_role("senate_writer"), as_role("senate_writer")
    hold = scalar(owner, RESERVE, ("h-settle", 60_000))
    usage = (
        "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount, model,"
        " reservation_id) VALUES ('hypothesis', 'h-settle', 'llm_tokens', 5, 'claude-haiku', %s)"
    )
    thief.execute(usage, (hold,))
    assert is_open(db, hold)
    assert scalar(db, "SELECT count(*) FROM resource_usage WHERE entity_id = 'h-settle'") == 1
    owner.execute(usage, (hold,))
    assert not is_open(db, hold)
    assert scalar(db, "SELECT settled_amount FROM spend_reservations") == 5


@pytest.mark.parametrize("isolation", ["REPEATABLE READ", "SERIALIZABLE"])
def test_a_snapshot_isolated_reserver_is_refused(db: Conn, as_role: Logins, isolation: str) -> None:
    envelope(db, "h-iso", 70_000)
    writer = as_role("senate_writer")
    with pytest.raises(psycopg.Error) as caught, writer.transaction():
        writer.execute(f"SET TRANSACTION ISOLATION LEVEL {isolation}")
        writer.execute(RESERVE, ("h-iso", 10))
    assert caught.value.sqlstate == "S3006"
    assert scalar(db, "SELECT count(*) FROM spend_reservations") == 0


def test_two_serializable_reservers_racing_never_hold_more_than_the_budget(
    db: Conn, as_role: Logins
) -> None:
    # The race of the issue: both snapshots are taken before either reserves; the first commits
    # its 60,000 hold; the second then takes the envelope lock and (before the change) did not
    # see that hold: 120,000 held against 70,000.
    envelope(db, "h-race", 70_000)
    first = as_role("senate_writer", autocommit=False)
    second = as_role("senate_writer", autocommit=False)
    outcomes: list[str] = []
    for conn in (first, second):
        conn.execute("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
        conn.execute("SELECT count(*) FROM resource_budgets").fetchone()  # snapshot taken
    for conn in (first, second):
        try:
            conn.execute(RESERVE, ("h-race", 60_000)).fetchone()
            conn.commit()
            outcomes.append("held")
        except psycopg.Error as e:
            conn.rollback()
            outcomes.append(e.sqlstate or "?")
    held = scalar(db, "SELECT coalesce(sum(amount), 0) FROM spend_reservations")
    assert held <= 70_000, f"{held} held against 70,000: {outcomes}"
    assert outcomes == ["S3006", "S3006"]


def test_one_login_holds_at_most_the_policy_cap_of_open_holds(db: Conn, as_role: Logins) -> None:
    envelope(db, "h-cap", 70_000)
    db.execute(
        "SELECT adopt_economics_policy('{\"max_open_holds_per_login\": 2}', 'ops', 'test cap')"
    )
    greedy, other = as_role("senate_writer"), as_role("senate_writer")
    first = scalar(greedy, RESERVE, ("h-cap", 10))
    scalar(greedy, RESERVE, ("h-cap", 10))
    too_many = scalar(
        db,
        "SELECT sqlstate FROM senate.error_codes WHERE error_name = %s",
        ("too_many_open_holds",),
    )
    with pytest.raises(psycopg.Error) as caught:
        greedy.execute(RESERVE, ("h-cap", 10))
    assert caught.value.sqlstate == too_many == "S5032"
    assert scalar(db, "SELECT count(*) FROM spend_reservations") == 2
    scalar(other, RESERVE, ("h-cap", 10))  # another login is not capped by it
    greedy.execute("SELECT release_spend_reservation(%s)", (first,))
    scalar(greedy, RESERVE, ("h-cap", 10))  # a released hold frees a place


def test_parallel_reservations_of_one_login_cannot_race_past_the_cap(
    db: Conn, as_role: Logins, db_url: str
) -> None:
    for i in range(8):
        envelope(db, f"h-par-{i}", 70_000)
    db.execute(
        "SELECT adopt_economics_policy('{\"max_open_holds_per_login\": 3}', 'ops', 'test cap')"
    )
    login = as_role("senate_writer")
    name = scalar(login, "SELECT session_user::text")
    # One login, eight sessions (SET SESSION AUTHORIZATION sets session_user to it).
    sessions: list[Conn] = [login]
    for _ in range(7):
        conn = psycopg.connect(db_url, autocommit=True)
        conn.execute(f'SET SESSION AUTHORIZATION "{name}"')
        sessions.append(conn)
    barrier = threading.Barrier(len(sessions))
    results: list[str] = []

    def reserve(conn: Conn, i: int) -> None:
        barrier.wait()
        try:
            conn.execute(RESERVE, (f"h-par-{i}", 10))
            results.append("held")
        except psycopg.Error as e:
            results.append(e.sqlstate or "?")

    threads = [threading.Thread(target=reserve, args=(c, i)) for i, c in enumerate(sessions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    for conn in sessions[1:]:
        conn.close()
    assert sorted(results) == ["S5032"] * 5 + ["held"] * 3, results
    assert (
        scalar(db, "SELECT count(*) FROM spend_reservations WHERE reserved_by = %s", (name,)) == 3
    )
