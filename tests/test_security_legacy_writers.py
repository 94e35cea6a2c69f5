"""The legacy-writer exemption is a registration only the owner writes, not a setting (issue 15,
point 10; issue 14, point 8).

A deployment's own proposal writers may file proposals the way they did before governance
(free-form evidence; direct approvals that move no budget). Who they are is a row of
``senate.legacy_proposal_writers``: on a deployment, migration 0126 registers the proposal
table's owner and writers; operators add and remove others. A session that merely SETs
``senate.legacy_proposal_writes`` gains nothing. Every test acts as real LOGIN roles.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from brownfield_zoo import deployed_proposals, deployed_usage
from psycopg import sql
from reliability_support import DENIED, RoleSessions, role_sessions, scalar, sqlstate_of

from senate_db import migrations

Conn = psycopg.Connection[Any]

FREE_FORM = (
    "INSERT INTO allocation_proposals (entity_type, entity_id, requested_tokens, proposer_agent,"
    " justification) VALUES ('hypothesis', 'h-legacy', 700, 'legacy-svc', 'more runs')"
)
PROPOSAL_GRANTS = (
    "GRANT SELECT, INSERT, UPDATE ON allocation_proposals TO {role}",
    "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}",
)


@pytest.fixture
def as_role(db_url: str, db: Conn) -> Iterator[RoleSessions]:
    yield from role_sessions(db_url, db)


def _legacy_rows(db: Conn) -> int:
    return int(scalar(db, "SELECT count(*) FROM allocation_proposals WHERE entity_id = 'h-legacy'"))


def _login(conn: Conn) -> str:
    return str(scalar(conn, "SELECT session_user::text"))


def test_a_session_setting_no_longer_exempts_a_writer_from_the_evidence_rule(
    db: Conn, as_role: RoleSessions
) -> None:
    hostile = as_role(None, grants=PROPOSAL_GRANTS)
    hostile.execute("SET senate.legacy_proposal_writes = on")
    assert sqlstate_of(hostile, FREE_FORM) == "S2003"
    assert _legacy_rows(db) == 0


def test_a_registered_role_and_the_members_of_a_registered_group_write_as_before(
    db: Conn, as_role: RoleSessions
) -> None:
    legacy = as_role(None, grants=PROPOSAL_GRANTS)
    admin = as_role("senate_admin")
    row = admin.execute(
        "SELECT role_name, added_by, removed_at FROM add_legacy_proposal_writer(%s, %s)",
        (_login(legacy), "the proposal workflow of SciDEX core"),
    ).fetchone()
    assert row == (_login(legacy), _login(admin), None)
    assert sqlstate_of(legacy, FREE_FORM) is None

    # A group role registered: each of its members is a legacy writer, by explicit membership.
    db.execute("DROP ROLE IF EXISTS legacy_app_group")
    db.execute("CREATE ROLE legacy_app_group NOLOGIN")
    try:
        db.execute("GRANT SELECT, INSERT ON allocation_proposals TO legacy_app_group")
        db.execute("GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO legacy_app_group")
        member = as_role("senate_reader", grants=("GRANT legacy_app_group TO {role}",))
        assert sqlstate_of(member, FREE_FORM) == "S2003"
        admin.execute("SELECT add_legacy_proposal_writer('legacy_app_group', 'the app''s pool')")
        assert sqlstate_of(member, FREE_FORM) is None
        assert _legacy_rows(db) == 2

        # Removing the exemption ends it at once; the row stays as history.
        admin.execute("SELECT remove_legacy_proposal_writer('legacy_app_group')")
        assert sqlstate_of(member, FREE_FORM) == "S2003"
        assert scalar(
            db,
            "SELECT removed_by FROM senate.legacy_proposal_writers"
            " WHERE role_name = 'legacy_app_group'",
        ) == _login(admin)
    finally:
        db.execute("REVOKE ALL ON allocation_proposals FROM legacy_app_group")
        db.execute("REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM legacy_app_group")
        db.execute("DROP ROLE legacy_app_group")


def test_the_governance_functions_stay_strict_for_a_registered_writer(
    db: Conn, as_role: RoleSessions
) -> None:
    legacy = as_role("senate_writer", grants=PROPOSAL_GRANTS)
    db.execute(
        "SELECT add_legacy_proposal_writer(%s, 'legacy service that also files')",
        (_login(legacy),),
    )
    assert (
        sqlstate_of(
            legacy,
            "SELECT file_allocation_proposal('hypothesis', 'h-legacy', 700, 'legacy-svc',"
            " 'more runs',"
            ' \'{"pmids": ["1"]}\'::jsonb)',
        )
        == "S2005"
    )
    assert _legacy_rows(db) == 0


def test_only_operators_register_legacy_writers_and_bad_input_is_refused(
    db: Conn, as_role: RoleSessions
) -> None:
    writer = as_role("senate_writer", grants=PROPOSAL_GRANTS)
    me = _login(writer)
    for group in ("senate_writer", "senate_reviewer", "senate_reader", None):
        caller = writer if group == "senate_writer" else as_role(group)
        assert sqlstate_of(caller, "SELECT add_legacy_proposal_writer(%s, 'me')", (me,)) == DENIED
        assert sqlstate_of(caller, "SELECT remove_legacy_proposal_writer(%s)", (me,)) == DENIED
        assert sqlstate_of(caller, "DELETE FROM senate.legacy_proposal_writers") == DENIED
        assert (
            sqlstate_of(
                caller,
                "INSERT INTO senate.legacy_proposal_writers (writer_role, role_name, reason)"
                " SELECT oid, rolname, 'me' FROM pg_roles WHERE rolname = session_user",
            )
            == DENIED
        )
    admin = as_role("senate_admin")
    for role, reason, state in [
        ("no_such_role_anywhere", "why", "S5018"),
        ("senate_writer", "the project's own role", "S5018"),
        (me, " ", "S5018"),
        (me, "x" * 2001, "S5018"),
    ]:
        assert sqlstate_of(admin, "SELECT add_legacy_proposal_writer(%s, %s)", (role, reason)) == (
            state
        )
    admin.execute("SELECT add_legacy_proposal_writer(%s, 'why')", (me,))
    assert sqlstate_of(admin, "SELECT add_legacy_proposal_writer(%s, 'again')", (me,)) == "S5019"
    admin.execute("SELECT remove_legacy_proposal_writer(%s)", (me,))
    assert sqlstate_of(admin, "SELECT remove_legacy_proposal_writer(%s)", (me,)) == "S5020"
    assert scalar(db, "SELECT count(*) FROM senate.legacy_proposal_writers") == 1
    assert db.execute(
        "SELECT count(*) FROM senate.error_codes WHERE sqlstate IN ('S5018', 'S5019', 'S5020')"
        " AND hint IS NOT NULL"
    ).fetchone() == (3,)


def test_a_superuser_is_no_legacy_writer_unless_registered(db: Conn) -> None:
    db.execute("SET senate.legacy_proposal_writes = on")
    with pytest.raises(psycopg.Error) as exc:
        db.execute(FREE_FORM)
    assert exc.value.sqlstate == "S2003"
    assert _legacy_rows(db) == 0


def test_on_a_deployment_migrate_registers_the_tables_owner_and_writers_who_keep_writing(
    empty_db_url: str,
) -> None:
    """A deployment whose proposals are written by a non-superuser login holding only its
    pre-migration grants: after migrate it files as before, with no setting and no new grant."""
    login = "legacy_proposals_app"
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute(deployed_usage(100) + deployed_proposals(50))  # type: ignore[arg-type]
        conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(login)))
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(login)))
        for grant in PROPOSAL_GRANTS:
            conn.execute(grant.format(role=login))  # type: ignore[arg-type]
    try:
        migrations.apply_migrations(empty_db_url)
        with psycopg.connect(empty_db_url, autocommit=True) as conn:
            registered = conn.execute(
                "SELECT role_name, reason FROM senate.legacy_proposal_writers"
                " WHERE removed_at IS NULL ORDER BY role_name"
            ).fetchall()
            owner = scalar(conn, "SELECT current_user::text")
            assert [r[0] for r in registered] == sorted([login, owner])
            assert all(r[1].startswith("migration 0126") for r in registered)
            conn.execute(sql.SQL("SET SESSION AUTHORIZATION {}").format(sql.Identifier(login)))
            assert sqlstate_of(conn, FREE_FORM) is None
            conn.execute("RESET SESSION AUTHORIZATION")
            assert scalar(conn, "SELECT count(*) FROM allocation_proposals") == 51
        # The rollback removes the registry with everything else of ours.
        newer = [m for m in migrations.applied(empty_db_url) if m >= "0126"]
        migrations.rollback_migrations(empty_db_url, count=len(newer))
        with psycopg.connect(empty_db_url, autocommit=True) as conn:
            assert scalar(conn, "SELECT to_regclass('senate.legacy_proposal_writers')") is None
    finally:
        with psycopg.connect(empty_db_url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(login)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(login)))


def test_on_a_fresh_install_nobody_is_registered(db: Conn) -> None:
    assert scalar(db, "SELECT count(*) FROM senate.legacy_proposal_writers") == 0


def test_only_a_registered_legacy_writer_writes_the_deployments_status_spellings(
    empty_db_url: str,
) -> None:
    """On a deployment whose proposals say 'PENDING' (its owner, the superuser here, is registered
    by 0126, so a second login is the outsider): a direct 'Approved' from a login that is
    no registered legacy writer would skip the quorum check that guards 'approved', so it is
    refused; a registered writer's is recorded and moves no budget; a respelling by anyone else
    is no transition and keeps the deployment's spelling."""
    legacy, other = "legacy_cased_app", "unregistered_app"
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute(
            deployed_usage(100)  # type: ignore[arg-type]
            + deployed_proposals(40, status="(ARRAY['PENDING', 'Approved'])[1 + g % 2]")
        )
        for name in (legacy, other):
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(name)))
        for grant in PROPOSAL_GRANTS:
            conn.execute(grant.format(role=legacy))  # type: ignore[arg-type]
    try:
        migrations.apply_migrations(empty_db_url)
        with psycopg.connect(empty_db_url, autocommit=True) as conn:
            for grant in PROPOSAL_GRANTS:  # granted after migrating: not a legacy writer
                conn.execute(grant.format(role=other))  # type: ignore[arg-type]
            pending = scalar(
                conn, "SELECT min(id) FROM allocation_proposals WHERE status = 'PENDING'"
            )
            approved = scalar(
                conn, "SELECT min(id) FROM allocation_proposals WHERE status = 'Approved'"
            )
            approve = "UPDATE allocation_proposals SET status = %s WHERE id = %s"

            conn.execute(sql.SQL("SET SESSION AUTHORIZATION {}").format(sql.Identifier(other)))
            assert sqlstate_of(conn, approve, ("Approved", pending)) == "S2020"
            assert sqlstate_of(conn, approve, ("approved", pending)) == "S2027"  # no quorum
            conn.execute("RESET SESSION AUTHORIZATION")
            assert (
                scalar(conn, "SELECT status FROM allocation_proposals WHERE id = %s", (pending,))
                == "PENDING"
            )

            conn.execute(sql.SQL("SET SESSION AUTHORIZATION {}").format(sql.Identifier(legacy)))
            assert sqlstate_of(conn, approve, ("Approved", pending)) is None
            conn.execute("RESET SESSION AUTHORIZATION")
            assert scalar(conn, "SELECT count(*) FROM resource_budgets") == 0

            # A login that is no legacy writer: its respelling of a final state changes nothing
            # (and reaches neither the approval check nor the budget).
            conn.execute(sql.SQL("SET SESSION AUTHORIZATION {}").format(sql.Identifier(other)))
            conn.execute(approve, ("approved", approved))
            conn.execute("RESET SESSION AUTHORIZATION")
            assert (
                scalar(conn, "SELECT status FROM allocation_proposals WHERE id = %s", (approved,))
                == "Approved"
            )
            assert scalar(conn, "SELECT count(*) FROM resource_budgets") == 0
            assert conn.execute(
                "SELECT from_status, to_status FROM allocation_proposal_transitions"
                " WHERE proposal_id = %s ORDER BY transition_id",
                (pending,),
            ).fetchall()[-1] == ("pending", "approved")
    finally:
        with psycopg.connect(empty_db_url, autocommit=True) as conn:
            for name in (legacy, other):
                conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
                conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def test_the_status_vocabulary_is_documented_and_operators_extend_it(
    db: Conn, as_role: RoleSessions
) -> None:
    rows = dict(
        db.execute(
            "SELECT status, governance_status FROM senate.proposal_status_vocabulary"
        ).fetchall()
    )
    assert {rows["withdrawn"], rows["pending"], rows["accepted"]} == {
        "rejected",
        "pending",
        "approved",
    }
    assert scalar(db, "SELECT senate.governance_status(' PENDING ')") == "pending"
    assert scalar(db, "SELECT senate.governance_status('Draft')") is None
    admin = as_role("senate_admin")
    admin.execute(
        "INSERT INTO senate.proposal_status_vocabulary VALUES ('draft', 'pending', 'Not filed.')"
    )
    assert scalar(db, "SELECT senate.governance_status('Draft')") == "pending"
    writer = as_role("senate_writer")
    assert (
        sqlstate_of(
            writer,
            "INSERT INTO senate.proposal_status_vocabulary VALUES ('ok', 'approved', 'mine')",
        )
        == DENIED
    )
    assert (
        sqlstate_of(
            admin, "INSERT INTO senate.proposal_status_vocabulary VALUES ('X', 'approved', 'upper')"
        )
        == "23514"
    )
