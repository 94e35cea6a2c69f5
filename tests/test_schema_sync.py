"""The t20 triggers keep each compatibility column equal to its canonical column.

Four directions per pair (legacy INSERT, new-writer INSERT, UPDATE of either side) and the
conflict (both sides set to different values: SQLSTATE S0001), through single-row and
multi-row statements and COPY; the proposer rule; vote validation; and a property test.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg.types.json import Jsonb

UTC = dt.UTC
EVIDENCE = Jsonb({"pmids": ["12345678"], "expected_kg_edges": 40})
T1 = dt.datetime(2026, 4, 1, 12, 0, tzinfo=UTC)
T2 = dt.datetime(2026, 4, 2, 12, 0, tzinfo=UTC)

USAGE = (
    "INSERT INTO resource_usage (entity_type, entity_id, resource_type, {cols})"
    " VALUES (%s, %s, %s, {vals})"
)


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


def _usage(db: psycopg.Connection[Any], **values: Any) -> tuple[Any, ...]:
    cols = ", ".join(f'"{k}"' for k in values)
    vals = ", ".join(["%s"] * len(values))
    row = db.execute(
        USAGE.format(cols=cols, vals=vals)
        + ' RETURNING id, amount, amount_used, created_at, "timestamp"',
        ("hypothesis", "h-1", "cpu_seconds", *values.values()),
    ).fetchone()
    assert row is not None
    return tuple(row)


def _usage_row(db: psycopg.Connection[Any], row_id: int) -> tuple[Any, ...]:
    row = db.execute(
        'SELECT amount, amount_used, created_at, "timestamp" FROM resource_usage WHERE id = %s',
        (row_id,),
    ).fetchone()
    assert row is not None
    return tuple(row)


def _proposal(db: psycopg.Connection[Any], **values: Any) -> tuple[Any, ...]:
    values = {
        "entity_type": "hypothesis",
        "entity_id": "h-1",
        "justification": "x",
        "evidence": EVIDENCE,  # governance (0025) refuses ungrounded proposals
        **values,
    }
    cols = ", ".join(values)
    vals = ", ".join(["%s"] * len(values))
    row = db.execute(
        f"INSERT INTO allocation_proposals ({cols}) VALUES ({vals}) RETURNING id,"
        " requested_tokens, requested_amount, proposer_id, proposer_agent, proposer",
        tuple(values.values()),
    ).fetchone()
    assert row is not None
    return tuple(row)


def _proposal_row(db: psycopg.Connection[Any], row_id: int) -> tuple[Any, ...]:
    row = db.execute(
        "SELECT requested_tokens, requested_amount, proposer_id, proposer_agent, proposer"
        " FROM allocation_proposals WHERE id = %s",
        (row_id,),
    ).fetchone()
    assert row is not None
    return tuple(row)


# -- resource_usage ------------------------------------------------------------------------


def test_a_legacy_insert_of_canonical_columns_fills_amount_used_and_timestamp(
    db: psycopg.Connection[Any],
) -> None:
    _, amount, amount_used, created_at, timestamp = _usage(db, amount=5, created_at=T1)
    assert (amount, amount_used, created_at, timestamp) == (5, 5, T1, T1)


def test_a_legacy_insert_relying_on_the_created_at_default_fills_timestamp(
    db: psycopg.Connection[Any],
) -> None:
    _, _, _, created_at, timestamp = _usage(db, amount=5)
    assert created_at is not None and timestamp == created_at


def test_a_new_writer_setting_only_compatibility_columns_fills_the_canonical_ones(
    db: psycopg.Connection[Any],
) -> None:
    # amount is NOT NULL: the trigger fills it before the constraint is tested; created_at
    # holds its default now() and is replaced by the written timestamp.
    _, amount, amount_used, created_at, timestamp = _usage(db, amount_used=7, timestamp=T2)
    assert (amount, amount_used, created_at, timestamp) == (7, 7, T2, T2)


def test_setting_both_sides_to_the_same_value_is_accepted(db: psycopg.Connection[Any]) -> None:
    _, amount, amount_used, created_at, timestamp = _usage(
        db, amount=3, amount_used=Decimal("3.0"), created_at=T1, timestamp=T1
    )
    assert (amount, amount_used, created_at, timestamp) == (3, 3, T1, T1)


@pytest.mark.parametrize(
    "values",
    [
        {"amount": 5, "amount_used": 6},
        {"amount": 5, "created_at": T1, "timestamp": T2},
    ],
    ids=["amount", "timestamp"],
)
def test_an_insert_setting_both_sides_to_different_values_fails_with_s0001(
    db: psycopg.Connection[Any], values: dict[str, Any]
) -> None:
    with pytest.raises(psycopg.Error) as exc:
        _usage(db, **values)
    assert exc.value.sqlstate == "S0001"
    message = exc.value.diag.message_primary or ""
    compat, canonical = (
        ("amount_used", "amount") if "amount_used" in values else ("timestamp", "created_at")
    )
    assert compat in message and canonical in message
    assert db.execute("SELECT count(*) FROM resource_usage").fetchone() == (0,)


def test_an_update_of_amount_moves_amount_used_and_the_reverse(
    db: psycopg.Connection[Any],
) -> None:
    row_id = _usage(db, amount=5, created_at=T1)[0]
    db.execute("UPDATE resource_usage SET amount = 8 WHERE id = %s", (row_id,))
    assert _usage_row(db, row_id)[:2] == (8, 8)
    db.execute("UPDATE resource_usage SET amount_used = 9 WHERE id = %s", (row_id,))
    assert _usage_row(db, row_id)[:2] == (9, 9)
    db.execute('UPDATE resource_usage SET "timestamp" = %s WHERE id = %s', (T2, row_id))
    assert _usage_row(db, row_id)[2:] == (T2, T2)
    db.execute("UPDATE resource_usage SET created_at = %s WHERE id = %s", (T1, row_id))
    assert _usage_row(db, row_id)[2:] == (T1, T1)


def test_an_update_setting_both_sides_to_different_values_fails_with_s0001(
    db: psycopg.Connection[Any],
) -> None:
    row_id = _usage(db, amount=5, created_at=T1)[0]
    with pytest.raises(psycopg.Error) as exc:
        db.execute("UPDATE resource_usage SET amount = 6, amount_used = 7 WHERE id = %s", (row_id,))
    assert exc.value.sqlstate == "S0001"
    assert _usage_row(db, row_id) == (5, 5, T1, T1)


def test_an_update_of_other_columns_leaves_the_pairs_alone(db: psycopg.Connection[Any]) -> None:
    row_id = _usage(db, amount=5, created_at=T1)[0]
    db.execute("UPDATE resource_usage SET task_id = 'task-9' WHERE id = %s", (row_id,))
    assert _usage_row(db, row_id) == (5, 5, T1, T1)


def test_a_multi_row_insert_select_syncs_every_row_in_both_directions(
    db: psycopg.Connection[Any],
) -> None:
    db.execute(
        "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount, created_at)"
        " SELECT 'hypothesis', 'h-' || g, 'cpu_seconds', g, %s FROM generate_series(1, 500) g",
        (T1,),
    )
    db.execute(
        "INSERT INTO resource_usage"
        ' (entity_type, entity_id, resource_type, amount_used, "timestamp")'
        " SELECT 'hypothesis', 'h-' || g, 'cpu_seconds', g, %s FROM generate_series(1, 500) g",
        (T2,),
    )
    assert db.execute(
        "SELECT count(*), count(*) FILTER (WHERE amount = amount_used"
        ' AND created_at = "timestamp") FROM resource_usage'
    ).fetchone() == (1000, 1000)
    with pytest.raises(psycopg.Error) as exc:
        db.execute(
            "INSERT INTO resource_usage"
            " (entity_type, entity_id, resource_type, amount, amount_used)"
            " SELECT 'hypothesis', 'h', 'cpu_seconds', g, CASE WHEN g = 300 THEN -1 ELSE g END"
            " FROM generate_series(1, 500) g"
        )
    assert exc.value.sqlstate == "S0001"
    assert db.execute("SELECT count(*) FROM resource_usage").fetchone() == (1000,)
    db.execute(
        "UPDATE resource_usage SET amount_used = amount_used * 2 WHERE created_at = %s", (T1,)
    )
    db.execute("UPDATE resource_usage SET amount = amount + 1 WHERE created_at = %s", (T2,))
    assert db.execute(
        "SELECT count(*) FILTER (WHERE amount = amount_used), sum(amount) FROM resource_usage"
    ).fetchone() == (1000, 2 * 125250 + 125250 + 500)


def test_copy_syncs_rows_written_through_either_name_and_refuses_a_conflict(
    db: psycopg.Connection[Any],
) -> None:
    with db.cursor() as cur:
        with cur.copy(
            "COPY resource_usage (entity_type, entity_id, resource_type, amount, created_at)"
            " FROM STDIN"
        ) as copy:
            for i in range(200):
                copy.write_row(("analysis", f"a-{i}", "cpu_seconds", i + 1, T1))
        with cur.copy(
            'COPY resource_usage (entity_type, entity_id, resource_type, amount_used, "timestamp")'
            " FROM STDIN"
        ) as copy:
            for i in range(200):
                copy.write_row(("analysis", f"b-{i}", "cpu_seconds", i + 1, T2))
    assert db.execute(
        "SELECT count(*), count(*) FILTER (WHERE amount = amount_used"
        ' AND created_at = "timestamp" AND amount IS NOT NULL) FROM resource_usage'
    ).fetchone() == (400, 400)
    with pytest.raises(psycopg.Error) as exc:
        with db.cursor() as cur:
            with cur.copy(
                "COPY resource_usage (entity_type, entity_id, resource_type, amount, amount_used)"
                " FROM STDIN"
            ) as copy:
                copy.write_row(("analysis", "c", "cpu_seconds", 1, 1))
                copy.write_row(("analysis", "c", "cpu_seconds", 2, 3))
    assert exc.value.sqlstate == "S0001"
    assert db.execute("SELECT count(*) FROM resource_usage").fetchone() == (400,)


def test_usage_written_through_the_new_names_is_rolled_up_like_any_other(
    db: psycopg.Connection[Any],
) -> None:
    _usage(db, amount_used=40, timestamp=T1)
    db.execute("UPDATE resource_usage SET amount_used = 50")
    assert db.execute("SELECT * FROM reconcile_usage_rollups()").fetchall() == []
    assert db.execute(
        "SELECT sum(amount_total) FROM senate.usage_rollups WHERE entity_id = 'h-1'"
    ).fetchone() == (50,)


# -- allocation_proposals --------------------------------------------------------------------


def test_a_legacy_proposal_insert_fills_requested_amount_and_proposer(
    db: psycopg.Connection[Any],
) -> None:
    _, tokens, amount, pid, agent, proposer = _proposal(
        db, requested_tokens=100, proposer_id="user-1", proposer_agent="agent-1"
    )
    assert (tokens, amount, pid, agent, proposer) == (100, 100, "user-1", "agent-1", "user-1")
    _, _, _, pid, agent, proposer = _proposal(db, requested_tokens=1, proposer_agent="agent-2")
    assert (pid, agent, proposer) == (None, "agent-2", "agent-2")


def test_a_new_proposal_writer_setting_only_proposer_and_requested_amount_fills_canonical(
    db: psycopg.Connection[Any],
) -> None:
    _, tokens, amount, pid, agent, proposer = _proposal(
        db, requested_amount=250, proposer="agent-7"
    )
    # requested_tokens is NOT NULL: filled before the constraint bites. A proposer written
    # alone is recorded as the agent; proposer_id is never guessed from free text.
    assert (tokens, amount, pid, agent, proposer) == (250, 250, None, "agent-7", "agent-7")


def test_proposer_written_with_a_matching_proposer_id_is_accepted_and_a_mismatch_is_s0001(
    db: psycopg.Connection[Any],
) -> None:
    assert _proposal(db, requested_tokens=1, proposer_id="u-1", proposer="u-1")[5] == "u-1"
    for values in (
        {"proposer_id": "u-1", "proposer": "someone-else"},
        {"proposer_agent": "a-1", "proposer": "someone-else"},
        {"requested_tokens": 2},
    ):
        with pytest.raises(psycopg.Error) as exc:
            _proposal(db, **({"requested_tokens": 1, "requested_amount": 3} | values))
        assert exc.value.sqlstate == "S0001"


def test_updating_either_side_of_a_proposal_moves_the_other(db: psycopg.Connection[Any]) -> None:
    agent_row = _proposal(db, requested_tokens=10, proposer_agent="agent-1")[0]
    user_row = _proposal(db, requested_tokens=10, proposer_id="user-1", proposer_agent="bot")[0]
    db.execute("UPDATE allocation_proposals SET requested_amount = 20 WHERE id = %s", (agent_row,))
    db.execute("UPDATE allocation_proposals SET requested_tokens = 30 WHERE id = %s", (user_row,))
    assert _proposal_row(db, agent_row)[:2] == (20, 20)
    assert _proposal_row(db, user_row)[:2] == (30, 30)
    # proposer written on a row without proposer_id: moves proposer_agent
    db.execute("UPDATE allocation_proposals SET proposer = 'agent-2' WHERE id = %s", (agent_row,))
    assert _proposal_row(db, agent_row)[2:] == (None, "agent-2", "agent-2")
    # proposer written on a row identified by proposer_id: moves proposer_id
    db.execute("UPDATE allocation_proposals SET proposer = 'user-2' WHERE id = %s", (user_row,))
    assert _proposal_row(db, user_row)[2:] == ("user-2", "bot", "user-2")
    # canonical side written: proposer follows coalesce(proposer_id, proposer_agent)
    db.execute("UPDATE allocation_proposals SET proposer_id = NULL WHERE id = %s", (user_row,))
    assert _proposal_row(db, user_row)[2:] == (None, "bot", "bot")
    db.execute("UPDATE allocation_proposals SET proposer_id = 'user-3' WHERE id = %s", (agent_row,))
    assert _proposal_row(db, agent_row)[2:] == ("user-3", "agent-2", "user-3")
    with pytest.raises(psycopg.Error) as exc:
        db.execute(
            "UPDATE allocation_proposals SET proposer = 'x', proposer_id = 'y' WHERE id = %s",
            (agent_row,),
        )
    assert exc.value.sqlstate == "S0001"
    assert "proposer" in (exc.value.diag.message_primary or "")
    assert "proposer_id" in (exc.value.diag.message_primary or "")


def test_a_multi_row_proposal_insert_select_syncs_both_directions(
    db: psycopg.Connection[Any],
) -> None:
    db.execute(
        "INSERT INTO allocation_proposals (entity_type, entity_id, justification,"
        " requested_amount, proposer, evidence)"
        " SELECT 'hypothesis', 'h-' || g, 'because', g * 10, 'agent-' || g, %s"
        " FROM generate_series(1, 100) g",
        (EVIDENCE,),
    )
    db.execute(
        "INSERT INTO allocation_proposals (entity_type, entity_id, justification,"
        " requested_tokens, proposer_id, evidence)"
        " SELECT 'hypothesis', 'h-' || g, 'because', g * 10, 'user-' || g, %s"
        " FROM generate_series(1, 100) g",
        (EVIDENCE,),
    )
    assert db.execute(
        "SELECT count(*) FILTER (WHERE requested_tokens = requested_amount"
        " AND proposer = coalesce(proposer_id, proposer_agent)) FROM allocation_proposals"
    ).fetchone() == (200,)


# -- votes -----------------------------------------------------------------------------------


def test_votes_default_to_an_empty_array_and_accept_well_formed_records(
    db: psycopg.Connection[Any],
) -> None:
    row_id = _proposal(db, requested_tokens=1, proposer_agent="a")[0]
    assert db.execute(
        "SELECT votes FROM allocation_proposals WHERE id = %s", (row_id,)
    ).fetchone() == ([],)
    votes = (
        '[{"voter": "senator-1", "vote": "approve", "cast_at": "2026-04-24T08:34:00Z"},'
        ' {"voter": "senator-2", "vote": "reject", "cast_at": "2026-04-24 09:00:00.5+02:00",'
        '  "rationale": "weak evidence"},'
        ' {"voter": "senator-3", "vote": "abstain", "cast_at": "2024-02-29T23:59:59-0800",'
        '  "rationale": null}]'
    )
    db.execute("UPDATE allocation_proposals SET votes = %s WHERE id = %s", (votes, row_id))


@pytest.mark.parametrize(
    "votes",
    [
        '{"voter": "a"}',
        '["approve"]',
        '[{"vote": "approve", "cast_at": "2026-04-24T08:34:00Z"}]',
        '[{"voter": "", "vote": "approve", "cast_at": "2026-04-24T08:34:00Z"}]',
        '[{"voter": 7, "vote": "approve", "cast_at": "2026-04-24T08:34:00Z"}]',
        '[{"voter": "a", "vote": "yes", "cast_at": "2026-04-24T08:34:00Z"}]',
        '[{"voter": "a", "vote": "approve"}]',
        '[{"voter": "a", "vote": "approve", "cast_at": "yesterday"}]',
        '[{"voter": "a", "vote": "approve", "cast_at": "2026-02-30T08:34:00Z"}]',
        '[{"voter": "a", "vote": "approve", "cast_at": "2026-04-24T08:34:00"}]',
        '[{"voter": "a", "vote": "approve", "cast_at": "2026-04-24T08:34:00Z", "rationale": 1}]',
        '[{"voter": "a", "vote": "approve", "cast_at": "2026-04-24T08:34:00Z", "weight": 2}]',
    ],
)
def test_malformed_vote_records_are_refused_with_a_check_violation(
    db: psycopg.Connection[Any], votes: str
) -> None:
    row_id = _proposal(db, requested_tokens=1, proposer_agent="a")[0]
    with pytest.raises(psycopg.Error) as exc:
        db.execute("UPDATE allocation_proposals SET votes = %s WHERE id = %s", (votes, row_id))
    assert exc.value.sqlstate == "23514"
    assert "votes" in (exc.value.diag.message_primary or "")
    assert db.execute(
        "SELECT votes FROM allocation_proposals WHERE id = %s", (row_id,)
    ).fetchone() == ([],)


def test_the_vote_check_function_depends_on_its_argument_only(db: psycopg.Connection[Any]) -> None:
    """IMMUTABLE is honest: the same value gives the same answer under any TimeZone/DateStyle."""
    vote = '[{"voter": "a", "vote": "approve", "cast_at": "2026-04-24 08:34:00+02"}]'
    for tz, style in (("UTC", "ISO, MDY"), ("Pacific/Auckland", "SQL, DMY")):
        db.execute(f"SET TimeZone = '{tz}'")
        db.execute(f"SET DateStyle = '{style}'")
        assert db.execute("SELECT senate.check_votes(%s)", (vote,)).fetchone() == (True,)
    assert db.execute(
        "SELECT provolatile FROM pg_proc WHERE oid = 'senate.check_votes(jsonb)'::regprocedure"
    ).fetchone() == ("i",)


# -- property ----------------------------------------------------------------------------------

AMOUNTS = st.integers(min_value=0, max_value=10**9)
# Usage times within the accepted window (issue 15, 0121: not in the future, at most
# economics_policy.usage_max_age = 10 years old).
TIMES = st.datetimes(
    min_value=dt.datetime(2020, 1, 1),
    max_value=dt.datetime.now(UTC).replace(tzinfo=None) - dt.timedelta(days=1),
    timezones=st.just(UTC),
)
NAMES = st.sampled_from(["alice", "bob", "agent-1", "agent-2", "u-9"])

USAGE_OP = st.one_of(
    st.tuples(st.just("insert"), st.sampled_from(["canonical", "compat", "both"]), AMOUNTS, TIMES),
    st.tuples(
        st.just("update"),
        st.sampled_from(
            ["amount", "amount_used", "created_at", "timestamp", "both", "other", "conflict"]
        ),
        AMOUNTS,
        TIMES,
    ),
)
PROPOSAL_OP = st.one_of(
    st.tuples(
        st.just("insert"),
        st.sampled_from(["canonical", "compat", "both"]),
        st.integers(min_value=1, max_value=10**6),
        st.tuples(st.one_of(st.none(), NAMES), st.one_of(st.none(), NAMES)),
    ),
    st.tuples(
        st.just("update"),
        st.sampled_from(
            ["requested_tokens", "requested_amount", "proposer", "proposer_id", "proposer_agent"]
        ),
        st.integers(min_value=1, max_value=10**6),
        st.tuples(st.one_of(st.none(), NAMES), st.one_of(st.none(), NAMES)),
    ),
)


def _apply_usage_op(db: psycopg.Connection[Any], op: tuple[Any, ...], pick: int) -> None:
    kind, side, amount, when = op
    if kind == "insert":
        values: dict[str, Any] = {
            "canonical": {"amount": amount, "created_at": when},
            "compat": {"amount_used": amount, "timestamp": when},
            "both": {
                "amount": amount,
                "amount_used": amount,
                "created_at": when,
                "timestamp": when,
            },
        }[side]
        _usage(db, **values)
        return
    ids = [r[0] for r in db.execute("SELECT id FROM resource_usage ORDER BY id").fetchall()]
    if not ids:
        return
    target = ids[pick % len(ids)]
    if side == "conflict":
        before = _usage_row(db, target)
        # Both sides set, to values that differ from each other and from the row's (a side set
        # to its current value is indistinguishable from a side not written).
        conflicting = int(before[0]) + amount + 2
        with pytest.raises(psycopg.Error) as exc, db.transaction():
            db.execute(
                "UPDATE resource_usage SET amount = %s, amount_used = %s WHERE id = %s",
                (conflicting, conflicting + 1, target),
            )
        assert exc.value.sqlstate == "S0001"
        assert _usage_row(db, target) == before
        return
    assignment, params = {
        "amount": ("amount = %s", (amount,)),
        "amount_used": ("amount_used = %s", (amount,)),
        "created_at": ("created_at = %s", (when,)),
        "timestamp": ('"timestamp" = %s', (when,)),
        "both": ("amount = %s, amount_used = %s", (amount, amount)),
        "other": ("task_id = %s", ("t",)),
    }[side]
    db.execute(f"UPDATE resource_usage SET {assignment} WHERE id = %s", (*params, target))


def _apply_proposal_op(db: psycopg.Connection[Any], op: tuple[Any, ...], pick: int) -> None:
    kind, side, amount, (first, second) = op
    if kind == "insert":
        if side == "canonical":
            _proposal(db, requested_tokens=amount, proposer_id=first, proposer_agent=second)
        elif side == "compat":
            _proposal(db, requested_amount=amount, proposer=first)
        else:
            _proposal(
                db,
                requested_tokens=amount,
                requested_amount=amount,
                proposer_id=first,
                proposer_agent=second,
                proposer=first if first is not None else second,
            )
        return
    ids = [r[0] for r in db.execute("SELECT id FROM allocation_proposals ORDER BY id").fetchall()]
    if not ids:
        return
    target = ids[pick % len(ids)]
    value: Any = amount if side.startswith("requested") else first
    db.execute(f"UPDATE allocation_proposals SET {side} = %s WHERE id = %s", (value, target))


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    usage_ops=st.lists(st.tuples(USAGE_OP, st.integers(0, 100)), max_size=12),
    proposal_ops=st.lists(st.tuples(PROPOSAL_OP, st.integers(0, 100)), max_size=12),
)
def test_any_sequence_of_writes_through_either_name_leaves_every_pair_equal(
    db: psycopg.Connection[Any],
    usage_ops: list[tuple[tuple[Any, ...], int]],
    proposal_ops: list[tuple[tuple[Any, ...], int]],
) -> None:
    with db.transaction(force_rollback=True):
        for op, pick in usage_ops:
            _apply_usage_op(db, op, pick)
        for op, pick in proposal_ops:
            try:
                with db.transaction():
                    _apply_proposal_op(db, op, pick)
            except psycopg.errors.NotNullViolation:
                pass  # requested_tokens cannot be NULL, whichever name set it
        assert db.execute(
            "SELECT count(*) FROM resource_usage"
            ' WHERE amount IS DISTINCT FROM amount_used OR created_at IS DISTINCT FROM "timestamp"'
        ).fetchone() == (0,)
        assert db.execute(
            "SELECT count(*) FROM allocation_proposals"
            " WHERE requested_tokens IS DISTINCT FROM requested_amount"
            "    OR proposer IS DISTINCT FROM coalesce(proposer_id, proposer_agent)"
        ).fetchone() == (0,)
        assert db.execute("SELECT * FROM reconcile_compatibility_columns()").fetchall() == []
