"""Nested budgets, point 1 (issue 19): a family tree of entities.

A parent link (any entity kind under any other, one parent, acyclic, at most 8 levels) changed
only through set_entity_parent / clear_entity_parent, each change ledgered with the login
(session_user) and the reason; a cycle or any bad input is refused with its SQLSTATE and
nothing is written; senate.entity_family (the closure the spend gate reads) always equals the
tree computed from entity_parents.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from reliability_support import DENIED, RoleSessions, role_sessions, scalar

Conn = psycopg.Connection[Any]

SET = "SELECT set_entity_parent(%s, %s, %s, %s, %s)"
CLEAR = "SELECT clear_entity_parent(%s, %s, %s)"
TABLES = ("entity_parents", "entity_parent_changes", "senate.entity_family")


@pytest.fixture
def as_role(db_url: str, db: Conn) -> Iterator[RoleSessions]:
    yield from role_sessions(db_url, db)


def counts(db: Conn) -> dict[str, int]:
    return {t: int(scalar(db, f"SELECT count(*) FROM {t}")) for t in TABLES}


def link(db: Conn, child: tuple[str, str], parent: tuple[str, str], reason: str = "test") -> Any:
    return scalar(db, SET, (*child, *parent, reason))


def closure_from_parents(db: Conn) -> set[tuple[str, str, int, str, str]]:
    """The closure computed from scratch: for every entity with a parent or a child, itself at
    depth 0 and each ancestor."""
    parents = {
        (t, i): (pt, pi)
        for t, i, pt, pi in db.execute(
            "SELECT entity_type, entity_id, parent_type, parent_id FROM entity_parents"
        ).fetchall()
    }
    members = set(parents) | set(parents.values())
    rows = set()
    for member in members:
        node, depth = member, 0
        while True:
            rows.add((*member, depth, *node))
            if node not in parents:
                break
            node, depth = parents[node], depth + 1
    return rows


def closure(db: Conn) -> set[tuple[str, str, int, str, str]]:
    return {
        (t, i, int(d), at, ai)
        for t, i, d, at, ai in db.execute(
            "SELECT entity_type, entity_id, depth, ancestor_type, ancestor_id"
            " FROM senate.entity_family"
        ).fetchall()
    }


def test_an_admin_sets_moves_and_clears_a_parent_and_each_change_is_ledgered_with_login_and_reason(
    db: Conn, as_role: RoleSessions
) -> None:
    admin = as_role("senate_admin")
    login = scalar(admin, "SELECT session_user::text")
    first = link(admin, ("hypothesis", "h1"), ("knowledge_gap", "g1"), "h1 serves gap g1")
    link(admin, ("analysis", "a1"), ("hypothesis", "h1"), "a1 tests h1")
    moved = link(admin, ("hypothesis", "h1"), ("knowledge_gap", "g2"), "g2 took the question over")
    cleared = scalar(admin, CLEAR, ("analysis", "a1", "a1 stands alone now"))
    assert first < moved < cleared
    assert db.execute(
        "SELECT entity_type, entity_id, parent_type, parent_id, set_by, reason FROM entity_parents"
    ).fetchall() == [
        ("hypothesis", "h1", "knowledge_gap", "g2", login, "g2 took the question over")
    ]
    assert db.execute(
        "SELECT entity_id, old_parent_id, new_parent_id, changed_by, reason"
        " FROM entity_parent_changes ORDER BY change_id"
    ).fetchall() == [
        ("h1", None, "g1", login, "h1 serves gap g1"),
        ("a1", None, "h1", login, "a1 tests h1"),
        ("h1", "g1", "g2", login, "g2 took the question over"),
        ("a1", "h1", None, login, "a1 stands alone now"),
    ]
    # Setting the parent it already has changes nothing and ledgers nothing.
    before = counts(db)
    assert link(admin, ("hypothesis", "h1"), ("knowledge_gap", "g2"), "again") is None
    assert counts(db) == before
    assert closure(db) == closure_from_parents(db)


def test_the_tree_is_changed_only_through_the_functions_and_by_administrators_only(
    db: Conn, as_role: RoleSessions
) -> None:
    writer, reader = as_role("senate_writer"), as_role("senate_reader")
    admin = as_role("senate_admin")
    link(admin, ("hypothesis", "h1"), ("knowledge_gap", "g1"))
    before = counts(db)
    for conn in (writer, reader):
        for statement, params in (
            (SET, ("analysis", "a1", "hypothesis", "h1", "x")),
            (CLEAR, ("hypothesis", "h1", "x")),
            (
                "INSERT INTO entity_parents (entity_type, entity_id, parent_type, parent_id,"
                " reason) VALUES ('analysis', 'a1', 'hypothesis', 'h1', 'x')",
                (),
            ),
            ("DELETE FROM entity_parents", ()),
            ("SELECT * FROM senate.entity_family", ()),
        ):
            with pytest.raises(psycopg.Error) as caught:
                conn.execute(statement, params)
            assert caught.value.sqlstate == DENIED, statement
    for statement in ("UPDATE entity_parents SET reason = 'x'", "DELETE FROM entity_parents"):
        with pytest.raises(psycopg.Error) as caught:
            admin.execute(statement)
        assert caught.value.sqlstate == DENIED
    assert counts(db) == before
    # Everyone reads the tree and its ledger.
    assert scalar(reader, "SELECT count(*) FROM entity_parents") == 1
    assert scalar(reader, "SELECT count(*) FROM entity_parent_changes") == 1


@pytest.mark.parametrize(
    ("child", "parent"),
    [
        (("knowledge_gap", "g1"), ("knowledge_gap", "g1")),  # itself
        (("knowledge_gap", "g1"), ("hypothesis", "h1")),  # its child
        (("knowledge_gap", "g1"), ("analysis", "a1")),  # its grandchild
        (("hypothesis", "h1"), ("entity", "e1")),  # its great-grandchild
    ],
    ids=["itself", "child", "grandchild", "great-grandchild"],
)
def test_a_cycle_in_the_tree_is_refused_with_its_sqlstate_and_nothing_is_written(
    db: Conn, child: tuple[str, str], parent: tuple[str, str]
) -> None:
    link(db, ("hypothesis", "h1"), ("knowledge_gap", "g1"))
    link(db, ("analysis", "a1"), ("hypothesis", "h1"))
    link(db, ("entity", "e1"), ("analysis", "a1"))
    before, tree = counts(db), closure(db)
    cycle = scalar(
        db, "SELECT sqlstate FROM senate.error_codes WHERE error_name = 'entity_parent_cycle'"
    )
    with pytest.raises(psycopg.Error) as caught:
        db.execute(SET, (*child, *parent, "would loop"))
    assert caught.value.sqlstate == cycle == "S3014"
    assert counts(db) == before
    assert closure(db) == tree


def chain(db: Conn, length: int, prefix: str) -> list[tuple[str, str]]:
    nodes = [("entity", f"{prefix}{i}") for i in range(length)]
    for child, parent in zip(nodes[1:], nodes, strict=False):
        link(db, child, parent)
    return nodes


BAD = [
    ("entity_type", ("nope", "x", "knowledge_gap", "g1", "r"), "S2007"),
    ("entity_type NULL", (None, "x", "knowledge_gap", "g1", "r"), "S2007"),
    ("entity_id blank", ("analysis", " ", "knowledge_gap", "g1", "r"), "S2009"),
    ("entity_id too long", ("analysis", "x" * 201, "knowledge_gap", "g1", "r"), "S2009"),
    ("parent_type", ("analysis", "a9", "nope", "g1", "r"), "S2007"),
    ("parent_id NULL", ("analysis", "a9", "knowledge_gap", None, "r"), "S2009"),
    ("reason NULL", ("analysis", "a9", "knowledge_gap", "g1", None), "22023"),
    ("reason blank", ("analysis", "a9", "knowledge_gap", "g1", " \t"), "22023"),
    ("reason too long", ("analysis", "a9", "knowledge_gap", "g1", "x" * 2001), "S2011"),
]


@pytest.mark.parametrize(("field", "args", "sqlstate"), BAD, ids=[b[0] for b in BAD])
def test_bad_input_to_set_entity_parent_is_refused_with_its_sqlstate_and_nothing_is_written(
    db: Conn, field: str, args: tuple[Any, ...], sqlstate: str
) -> None:
    link(db, ("hypothesis", "h1"), ("knowledge_gap", "g1"))
    before = counts(db)
    with pytest.raises(psycopg.Error) as caught:
        db.execute(SET, args)
    assert caught.value.sqlstate == sqlstate, field
    assert counts(db) == before


def test_clearing_a_parent_that_is_not_there_or_with_bad_input_is_refused_and_writes_nothing(
    db: Conn,
) -> None:
    link(db, ("hypothesis", "h1"), ("knowledge_gap", "g1"))
    before = counts(db)
    for args, sqlstate in (
        (("knowledge_gap", "g1", "the root has none"), "S3015"),
        (("analysis", "never-linked", "no parent"), "S3015"),
        (("nope", "h1", "r"), "S2007"),
        (("hypothesis", "", "r"), "S2009"),
        (("hypothesis", "h1", ""), "22023"),
        (("hypothesis", "h1", "x" * 2001), "S2011"),
    ):
        with pytest.raises(psycopg.Error) as caught:
            db.execute(CLEAR, args)
        assert caught.value.sqlstate == sqlstate, args
    assert counts(db) == before


def test_a_family_deeper_than_eight_levels_is_refused_with_its_sqlstate(db: Conn) -> None:
    top = chain(db, 8, "top")  # 8 levels: the deepest allowed
    bottom = chain(db, 2, "bottom")
    before = counts(db)
    for child, parent in ((("entity", "x"), top[-1]), (bottom[0], top[-2]), (top[0], bottom[1])):
        with pytest.raises(psycopg.Error) as caught:
            db.execute(SET, (*child, *parent, "one level too many"))
        assert caught.value.sqlstate == "S3016"
    assert counts(db) == before
    # A subtree of two fits two levels lower.
    link(db, bottom[0], top[-3])
    assert scalar(db, "SELECT max(depth) FROM senate.entity_family") == 7


@pytest.mark.parametrize("isolation", ["REPEATABLE READ", "SERIALIZABLE"])
def test_a_snapshot_isolated_tree_change_is_refused(db: Conn, connect: Any, isolation: str) -> None:
    link(db, ("hypothesis", "h1"), ("knowledge_gap", "g1"))
    before = counts(db)
    conn = connect()
    for statement, args in (
        (SET, ("analysis", "a1", "hypothesis", "h1", "r")),
        (CLEAR, ("hypothesis", "h1", "r")),
    ):
        with pytest.raises(psycopg.Error) as caught, conn.transaction():
            conn.execute(f"SET TRANSACTION ISOLATION LEVEL {isolation}")
            conn.execute(statement, args)
        assert caught.value.sqlstate == "S3017"
    assert counts(db) == before


def test_the_tree_ledger_is_append_only(db: Conn) -> None:
    link(db, ("hypothesis", "h1"), ("knowledge_gap", "g1"))
    for statement in (
        "UPDATE entity_parent_changes SET reason = 'rewritten'",
        "DELETE FROM entity_parent_changes",
        "TRUNCATE entity_parent_changes",
    ):
        with pytest.raises(psycopg.Error) as caught:
            db.execute(statement)
        assert caught.value.sqlstate == "S4001"
    assert scalar(db, "SELECT reason FROM entity_parent_changes") == "test"


def test_the_closure_the_gate_reads_equals_the_tree_after_any_sequence_of_changes(
    db: Conn,
) -> None:
    rng = random.Random(19)
    nodes = [(kind, f"{kind[0]}{i}") for kind in ("knowledge_gap", "hypothesis") for i in range(4)]
    nodes += [("analysis", f"a{i}") for i in range(8)]
    outcomes: dict[str, int] = {}
    for _ in range(150):
        child = rng.choice(nodes)
        if rng.random() < 0.25:
            args: tuple[Any, ...] = (*child, "detach")
            statement = CLEAR
        else:
            args = (*child, *rng.choice(nodes), "attach")
            statement = SET
        try:
            with db.transaction():
                db.execute(statement, args)
            outcomes["ok"] = outcomes.get("ok", 0) + 1
        except psycopg.Error as e:
            assert e.sqlstate in ("S3014", "S3015", "S3016"), e
            outcomes[str(e.sqlstate)] = outcomes.get(str(e.sqlstate), 0) + 1
        assert closure(db) == closure_from_parents(db)
    print(f"[tree] 150 random changes: {outcomes}")
    assert outcomes["ok"] > 50 and outcomes.get("S3014", 0) > 0


def test_two_admins_linking_each_under_the_other_at_once_leave_no_cycle(
    db: Conn, connect: Any
) -> None:
    first, second = connect(), connect()
    barrier = threading.Barrier(2)
    results: list[str] = []

    def attach(conn: Conn, child: tuple[str, str], parent: tuple[str, str]) -> None:
        barrier.wait()
        try:
            conn.execute(SET, (*child, *parent, "race"))
            results.append("ok")
        except psycopg.Error as e:
            results.append(e.sqlstate or "?")

    for _ in range(10):
        db.execute(
            "SELECT clear_entity_parent(entity_type, entity_id, 'reset') FROM entity_parents"
        )
        results.clear()
        threads = [
            threading.Thread(target=attach, args=(first, ("hypothesis", "x"), ("hypothesis", "y"))),
            threading.Thread(
                target=attach, args=(second, ("hypothesis", "y"), ("hypothesis", "x"))
            ),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(results) == ["S3014", "ok"]
        assert scalar(db, "SELECT count(*) FROM entity_parents") == 1
        assert closure(db) == closure_from_parents(db)
