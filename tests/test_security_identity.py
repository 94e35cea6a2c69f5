"""Identity from the session (issue 15, points 2, 3 and 9): senators are logins, the trail
records who acted, votes are capped and cost linear time.

Hostile cases run as real LOGIN roles that connect to the test database with a password
(``Logins``; no fallback to SET ROLE, which would keep session_user): a reviewer that tries to
vote as three senators, a login that is no senator, a proposer deciding their own proposal, an
operator forging a cause with settings. Each refused attempt is asserted to write nothing.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from governance_support import (
    GOOD_EVIDENCE,
    GOOD_JUSTIFICATION,
    adopt_policy,
    as_senator,
    budget,
    ensure_senator,
    file_proposal,
    fund,
    scalar,
    status_of,
    vote,
)
from psycopg import sql
from psycopg.types.json import Jsonb

from senate_db import urls

Conn = psycopg.Connection[Any]
PASSWORD = "h2-identity-test"
TRAIL = (
    "public.budget_ledger",
    "public.allocation_votes",
    "public.allocation_proposal_transitions",
    "senate.settings_log",
    "senate.senate_members",
)


class Logins:
    """Real LOGIN roles connecting with a password; dropped at the end of the test."""

    def __init__(self, db: Conn, db_url: str) -> None:
        self.db = db
        self.db_url = db_url
        self.names: list[str] = []
        self.conns: list[Conn] = []

    def __call__(self, *groups: str, senator: str | None = None) -> Conn:
        name = f"senate_t_id_{secrets.token_hex(4)}"
        ident = sql.Identifier(name)
        self.db.execute(sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(ident, PASSWORD))
        self.names.append(name)
        for group in groups:
            self.db.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), ident))
        if senator is not None:
            self.db.execute("SELECT add_senator(%s, %s)", (name, senator))
        params = urls.to_params(self.db_url)
        params["user"] = name
        params["password"] = PASSWORD
        conn = psycopg.connect(urls.from_params(params), autocommit=True, connect_timeout=10)
        assert scalar(conn, "SELECT session_user") == name  # a real login, not SET ROLE
        self.conns.append(conn)
        return conn

    def close(self) -> None:
        for conn in self.conns:
            conn.close()
        for name in self.names:
            self.db.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (name,),
            )
            self.db.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
            self.db.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


@pytest.fixture
def login(db: Conn, db_url: str) -> Iterator[Logins]:
    logins = Logins(db, db_url)
    try:
        yield logins
    finally:
        logins.close()


def counts(db: Conn) -> dict[str, int]:
    return {t: int(scalar(db, f"SELECT count(*) FROM {t}")) for t in TRAIL}


def sqlstate_of(conn: Conn, statement: str, params: Any = None) -> str | None:
    try:
        conn.execute(statement, params)
    except psycopg.Error as e:
        return e.sqlstate
    return None


def proposal_votes(db: Conn, pid: int) -> list[tuple[str, str]]:
    votes = scalar(db, "SELECT votes FROM allocation_proposals WHERE id = %s", (pid,))
    return [(v["voter"], v["vote"]) for v in votes]


VOTE = "SELECT approvals FROM cast_allocation_vote(%s, %s, %s)"
DECIDE = "SELECT status FROM decide_allocation_proposal(%s, %s, %s)"


# -- forged quorum ----------------------------------------------------------------------------


def test_one_reviewer_login_cannot_vote_as_three_senators_or_reach_quorum_alone(
    db: Conn, login: Logins
) -> None:
    fund(db, 500_000)
    pid = file_proposal(db, amount=500_000)
    for senator in ("senator-1", "senator-2"):
        ensure_senator(db, senator)
    mallory = login("senate_reviewer", senator="senator-0")
    assert scalar(mallory, VOTE, (pid, "senator-0", "approve")) == 1
    before = counts(db)
    for name in ("senator-1", "senator-2", "someone-else"):
        assert sqlstate_of(mallory, VOTE, (pid, name, "approve")) == "S5011"
    # Voting again (with or without her name) only replaces her own vote.
    assert scalar(mallory, VOTE, (pid, None, "approve")) == 1
    assert proposal_votes(db, pid) == [("senator-0", "approve")]
    assert sqlstate_of(mallory, DECIDE, (pid, "approved", None)) == "S2027"
    assert sqlstate_of(mallory, DECIDE, (pid, "approved", "senate-chair")) == "S5011"
    assert status_of(db, pid) == "pending"
    assert budget(db, "h-1") is None
    after = counts(db)
    assert after["public.budget_ledger"] == before["public.budget_ledger"]
    assert after["public.allocation_votes"] == before["public.allocation_votes"] + 1


def test_a_login_that_is_no_senator_can_neither_vote_nor_decide_nor_reopen(
    db: Conn, login: Logins
) -> None:
    pid = file_proposal(db)
    nobody = login("senate_reviewer")
    before = counts(db)
    assert sqlstate_of(nobody, VOTE, (pid, None, "approve")) == "S5010"
    assert sqlstate_of(nobody, VOTE, (pid, "senator-0", "approve")) == "S5010"
    assert sqlstate_of(nobody, DECIDE, (pid, "rejected", None)) == "S5010"
    assert (
        sqlstate_of(nobody, "SELECT * FROM reopen_allocation_proposal(%s, NULL)", (pid,)) == "S5010"
    )
    assert counts(db) == before
    assert proposal_votes(db, pid) == []


def test_nobody_overwrites_another_senators_vote_by_function_or_by_direct_write(
    db: Conn, login: Logins
) -> None:
    pid = file_proposal(db)
    vote(db, pid, "senator-a", "reject")
    # A legacy writer: UPDATE rights on the table, and a senator of its own.
    writer = login("senate_reviewer", senator="senator-w")
    db.execute(
        sql.SQL("GRANT UPDATE ON public.allocation_proposals TO {}").format(
            sql.Identifier(login.names[-1])
        )
    )
    ensure_senator(db, "senator-b")
    before = counts(db)
    assert sqlstate_of(writer, VOTE, (pid, "senator-a", "approve")) == "S5011"
    forged = Jsonb([{"voter": "senator-a", "vote": "approve", "cast_at": "2026-01-01T00:00:00Z"}])
    assert (
        sqlstate_of(
            writer, "UPDATE allocation_proposals SET votes = %s WHERE id = %s", (forged, pid)
        )
        == "S5012"
    )
    added = Jsonb([{"voter": "senator-b", "vote": "approve", "cast_at": "2026-01-01T00:00:00Z"}])
    assert (
        sqlstate_of(
            writer,
            "UPDATE allocation_proposals SET votes = votes || %s WHERE id = %s",
            (added, pid),
        )
        == "S5011"
    )
    assert counts(db) == before
    assert proposal_votes(db, pid) == [("senator-a", "reject")]


def test_a_proposer_does_not_decide_their_own_proposal(db: Conn, login: Logins) -> None:
    fund(db, 100_000)
    adopt_policy(db, quorum=1)
    both = login("senate_writer", "senate_reviewer", senator="senator-p")
    pid = scalar(
        both,
        "SELECT file_allocation_proposal('hypothesis', 'h-own', 5000, 'agent-7', %s, %s)",
        (GOOD_JUSTIFICATION, Jsonb(GOOD_EVIDENCE)),
    )
    assert scalar(both, VOTE, (pid, None, "approve")) == 1  # voting on it is allowed
    before = counts(db)
    for decision in ("approved", "rejected", "deferred"):
        assert sqlstate_of(both, DECIDE, (pid, decision, None)) == "S5013"
    assert counts(db) == before
    # Nor does the senator named as its proposer, whoever filed it.
    named = file_proposal(db, entity_id="h-named", proposer="senator-q")
    vote(db, named, "senator-p", "approve")
    with pytest.raises(psycopg.Error) as exc, as_senator(db, "senator-q"):
        db.execute(DECIDE, (named, "approved", None))
    assert exc.value.sqlstate == "S5013"
    # Another senator decides both.
    with as_senator(db, "senate-chair"):
        assert scalar(db, DECIDE, (pid, "approved", None)) == "approved"
    assert budget(db, "h-own") == 5000


def test_quorum_counts_only_current_members(db: Conn) -> None:
    fund(db, 100_000)
    pid = file_proposal(db)
    legacy = Jsonb(
        [
            {"voter": f"legacy-{i}", "vote": "approve", "cast_at": "2026-01-01T00:00:00Z"}
            for i in range(5)
        ]
    )
    db.execute("UPDATE allocation_proposals SET votes = %s WHERE id = %s", (legacy, pid))
    for i in range(3):
        vote(db, pid, f"senator-{i}", "approve")
    tally = "SELECT approvals, quorum_met FROM allocation_proposal_tallies WHERE proposal_id = %s"
    assert db.execute(tally, (pid,)).fetchone() == (3, True)
    db.execute("SELECT remove_senator('senator-2')")
    assert db.execute(tally, (pid,)).fetchone() == (2, False)
    with pytest.raises(psycopg.Error) as exc, as_senator(db, "senate-chair"):
        db.execute(DECIDE, (pid, "approved", None))
    assert exc.value.sqlstate == "S2027"


# -- the trail says who ---------------------------------------------------------------------


def test_every_trail_row_records_the_session_login_whatever_the_insert_or_a_setting_claims(
    db: Conn, login: Logins
) -> None:
    admin = login("senate_admin")
    admin_name = login.names[-1]
    admin.execute("SET senate.actor = 'senate-chair'")
    admin.execute("SELECT fund_reserve('llm_tokens', 1000, 'treasurer', 'x')")
    admin.execute("SELECT set_senate_setting('usage_append_only', true, 'someone-else', 'audit')")
    ledger = db.execute(
        "SELECT actor, session_login FROM budget_ledger ORDER BY ledger_id DESC LIMIT 1"
    ).fetchone()
    assert ledger == ("treasurer", admin_name)
    assert (
        scalar(db, "SELECT session_login FROM senate.settings_log ORDER BY log_id DESC LIMIT 1")
        == admin_name
    )
    # The owner writing the trail directly cannot name another login either.
    db.execute(
        "INSERT INTO budget_ledger (account, resource_type, balance_before, balance_after,"
        " cause_type, actor, session_login) VALUES ('reserve', 'cpu_seconds', 0, 0, 'x', 'x',"
        " 'someone-else') "
    )
    pid = file_proposal(db)
    db.execute(
        "INSERT INTO allocation_proposal_transitions (proposal_id, to_status, actor, session_login)"
        " VALUES (%s, 'pending', 'x', 'someone-else')",
        (pid,),
    )
    db.execute(
        "INSERT INTO senate.settings_log (setting, new_value, changed_by, reason, session_login)"
        " VALUES ('usage_append_only', true, 'x', 'x', 'someone-else')"
    )
    me = scalar(db, "SELECT session_user")
    for table in ("budget_ledger", "allocation_proposal_transitions", "senate.settings_log"):
        assert scalar(db, f"SELECT count(*) FROM {table} WHERE session_login = 'someone-else'") == 0
        assert scalar(db, f"SELECT count(*) FROM {table} WHERE session_login = %s", (me,)) >= 1
    assert (
        scalar(
            db,
            "SELECT session_login FROM allocation_proposal_transitions"
            " WHERE proposal_id = %s AND from_status IS NULL ORDER BY transition_id LIMIT 1",
            (pid,),
        )
        == me
    )
    # Votes record the login that cast them.
    reviewer = login("senate_reviewer", senator="senator-v")
    reviewer.execute(VOTE, (pid, None, "approve"))
    assert scalar(db, "SELECT recorded_by FROM allocation_votes") == login.names[-1]


def test_a_direct_admin_edit_with_forged_cause_settings_is_a_direct_edit_under_the_login(
    db: Conn, login: Logins
) -> None:
    fund(db, 100_000)
    pid = file_proposal(db)
    admin = login("senate_admin")
    admin_name = login.names[-1]
    admin.execute(
        "INSERT INTO resource_budgets (entity_type, entity_id, token_budget)"
        " VALUES ('hypothesis', 'h-1', 100)"
    )
    with admin.transaction():
        admin.execute("SET LOCAL senate.cause_type = 'proposal_approval'")
        admin.execute("SELECT set_config('senate.cause_id', %s, true)", (str(pid),))
        admin.execute("SET LOCAL senate.actor = 'senate-chair'")
        admin.execute("SET LOCAL senate.note = 'approved by the Senate'")
        admin.execute("UPDATE resource_budgets SET token_budget = 500000 WHERE entity_id = 'h-1'")
    # Nor can the admin call the function that names causes.
    assert (
        sqlstate_of(admin, "SELECT senate.set_change_cause('proposal_approval', '1', 'chair')")
        == "42501"
    )
    rows = admin.execute(
        "SELECT cause, actor, login, explanation FROM explain_budget('hypothesis', 'h-1')"
        " ORDER BY ledger_id"
    ).fetchall()
    assert rows == [
        ("direct_write", admin_name, admin_name, ""),
        ("direct_write", admin_name, admin_name, ""),
    ]
    assert (
        scalar(db, "SELECT count(*) FROM budget_ledger WHERE cause_type = 'proposal_approval'") == 0
    )
    assert db.execute("SELECT * FROM check_ledger_invariant()").fetchall() == []


# -- votes: a cap, and linear cost -----------------------------------------------------------


def test_the_policy_vote_cap_refuses_the_vote_over_it_and_writes_nothing(db: Conn) -> None:
    adopt_policy(db, quorum=1, max_votes_per_proposal=2)
    pid = file_proposal(db)
    vote(db, pid, "senator-1", "approve")
    vote(db, pid, "senator-2", "reject")
    vote(db, pid, "senator-2", "approve")  # replacing a vote is not a new one
    ensure_senator(db, "senator-3")
    before = counts(db)
    with pytest.raises(psycopg.Error) as exc:
        vote(db, pid, "senator-3", "approve")
    assert exc.value.sqlstate == "S5014"
    assert "max_votes_per_proposal" in (exc.value.diag.message_primary or "")
    assert counts(db) == before
    assert len(proposal_votes(db, pid)) == 2


def test_a_vote_cap_below_the_quorum_or_out_of_range_is_refused(db: Conn) -> None:
    for changes in ({"quorum": 5, "max_votes_per_proposal": 4}, {"max_votes_per_proposal": 0}):
        with pytest.raises(psycopg.Error) as exc:
            adopt_policy(db, **changes)
        assert exc.value.sqlstate == "23514"


# -- membership administration ----------------------------------------------------------------


def test_senate_admin_manages_the_membership_and_it_records_who_and_when(
    db: Conn, login: Logins
) -> None:
    admin = login("senate_admin")
    admin_name = login.names[-1]
    target = f"senate_t_id_m_{secrets.token_hex(3)}"
    db.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(target)))
    try:
        row = admin.execute(
            "SELECT senator_id, added_by FROM add_senator(%s, 'senator-m')", (target,)
        )
        assert row.fetchone() == ("senator-m", admin_name)
        row = admin.execute("SELECT removed_by FROM remove_senator('senator-m')")
        assert row.fetchone() == (admin_name,)
        assert (
            scalar(db, "SELECT count(*) FROM senate.senate_members WHERE senator_id = 'senator-m'")
            == 1
        )
        reviewer = login("senate_reviewer", senator="senator-r")
        assert sqlstate_of(reviewer, "SELECT add_senator(%s, 'me-too')", (target,)) == "42501"
        assert sqlstate_of(reviewer, "UPDATE senate.senate_members SET senator_id = 'x'") == "42501"
    finally:
        db.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(target)))


# -- every new SQLSTATE: catalogued, with the field named, nothing written ---------------------


def test_each_identity_refusal_has_its_catalogued_sqlstate_names_the_field_and_writes_nothing(
    db: Conn,
) -> None:
    pid = file_proposal(db)
    ensure_senator(db, "senator-x")
    ensure_senator(db, "agent-7")
    if not scalar(db, "SELECT count(*) FROM pg_roles WHERE rolname = 'senate_t_id_nologin'"):
        db.execute("CREATE ROLE senate_t_id_nologin NOLOGIN")
    cases = [
        ("S5010", "voter", VOTE, (pid, None, "approve"), None),
        ("S5011", "voter", VOTE, (pid, "senator-y", "approve"), "senator-x"),
        ("S5013", "proposal", DECIDE, (pid, "rejected", None), "agent-7"),
        ("S5015", "login", "SELECT add_senator('no_such_role_h2', 's')", None, None),
        ("S5015", "login", "SELECT add_senator('senate_t_id_nologin', 's')", None, None),
        ("S5016", "senator", "SELECT add_senator(%s, 'senator-x')", (None,), None),
        ("S5017", "senator", "SELECT remove_senator('nobody-at-all')", None, None),
    ]
    role_x = scalar(
        db, "SELECT login_name FROM senate.senate_members WHERE senator_id = 'senator-x'"
    )
    for state, field, statement, params, senator in cases:
        if params == (None,):
            params = (role_x,)
        assert scalar(db, "SELECT count(*) FROM senate.error_codes WHERE sqlstate = %s", (state,))
        before = counts(db)
        with pytest.raises(psycopg.Error) as exc:
            if senator is None:
                db.execute(statement, params)
            else:
                with as_senator(db, senator):
                    db.execute(statement, params)
        assert exc.value.sqlstate == state, statement
        assert field in (exc.value.diag.message_primary or ""), exc.value.diag.message_primary
        assert counts(db) == before
    for state in ("S5012", "S5014"):
        assert scalar(db, "SELECT count(*) FROM senate.error_codes WHERE sqlstate = %s", (state,))
