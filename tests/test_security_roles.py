"""Least privilege: what a member of each group role can and cannot do (issue 9, point 1).

Each case logs in as a fresh member of one group role (see ``reliability_support``) and runs
one statement. ``allowed``: it succeeds. ``permitted``: the privilege check passes (a function
may still refuse its dummy arguments with its own error, never 42501). ``denied``: 42501.
Cases naming a function that is not on this branch yet are skipped; they turn on as the
economics, governance and review-cycle branches land.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
from reliability_support import (
    DENIED,
    GROUP_ROLES,
    RoleSessions,
    add_usage,
    function_exists,
    role_sessions,
    scalar,
    sqlstate_of,
)

from senate_db import migrations

#: The whole proconfig of every SECURITY DEFINER function: nothing of ours, and nothing anyone
#: else can create in, is on the path (every name in the bodies is schema-qualified).
SECURE_PATH = "search_path=pg_catalog, pg_temp"
SECURE_CONFIG = [SECURE_PATH]
OWNER_ROLE = "senate_owner"

#: Every privilege the group roles hold on tables, columns and functions of this database.
GROUP_GRANTS = """
    SELECT c.oid::regclass::text, NULL, x.grantee::regrole::text, x.privilege_type
    FROM pg_class AS c, aclexplode(c.relacl) AS x
    WHERE x.grantee::regrole::text IN ({GROUPS})
    UNION ALL
    SELECT a.attrelid::regclass::text, a.attname, x.grantee::regrole::text, x.privilege_type
    FROM pg_attribute AS a, aclexplode(a.attacl) AS x
    WHERE x.grantee::regrole::text IN ({GROUPS})
    UNION ALL
    SELECT p.oid::regprocedure::text, NULL, x.grantee::regrole::text, x.privilege_type
    FROM pg_proc AS p, aclexplode(p.proacl) AS x
    WHERE x.grantee::regrole::text IN ({GROUPS})
    ORDER BY 1, 2, 3, 4
""".replace("{GROUPS}", ", ".join(f"'{r}'" for r in GROUP_ROLES))

USAGE_INSERT = (
    "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount, model)"
    " VALUES ('hypothesis', 'h-role', 'llm_tokens', 10, 'claude-haiku') RETURNING id"
)
RECORD_USAGE = (
    "SELECT * FROM record_resource_usage(p_entity_type => 'hypothesis', p_entity_id => 'h-role',"
    " p_resource_type => 'cpu_seconds', p_amount => 5, p_idempotency_key => 'role-key-1')"
)


@pytest.fixture
def as_role(db_url: str, db: psycopg.Connection[Any]) -> Iterator[RoleSessions]:
    yield from role_sessions(db_url, db)


@dataclass(frozen=True)
class Case:
    role: str
    what: str
    statement: str
    expect: str  # allowed | permitted | denied
    needs: str | None = None  # function that must exist

    @property
    def id(self) -> str:
        return f"{self.role.removeprefix('senate_')}-{self.expect}-{self.what}"


CASES = [
    # --- reader: views and reference tables, nothing else ---------------------------------
    Case("senate_reader", "read reference tables", "SELECT count(*) FROM llm_models", "allowed"),
    Case("senate_reader", "read policy", "SELECT count(*) FROM economics_policy", "allowed"),
    Case("senate_reader", "read usage rows", "SELECT count(*) FROM resource_usage", "denied"),
    Case(
        "senate_reader",
        "read budgets behind views",
        "SELECT count(*) FROM resource_budgets",
        "allowed",
    ),
    Case("senate_reader", "insert usage", USAGE_INSERT, "denied"),
    Case("senate_reader", "record usage", RECORD_USAGE, "denied"),
    Case(
        "senate_reader",
        "read rollups behind views",
        "SELECT 1 FROM senate.usage_rollups",
        "allowed",
    ),
    Case(
        "senate_reader",
        "read the error catalogue",
        "SELECT count(*) FROM senate.error_codes",
        "allowed",
    ),
    Case(
        "senate_reader",
        "forge rollups",
        "UPDATE senate.usage_rollups SET amount_total = 0",
        "denied",
    ),
    Case(
        "senate_reader",
        "flip a guard directly",
        "UPDATE senate.settings SET usage_append_only = false",
        "denied",
    ),
    Case(
        "senate_reader",
        "call an internal writer",
        "SELECT senate.sync_priority_scores(NULL, NULL)",
        "denied",
        "senate.sync_priority_scores",
    ),
    Case(
        "senate_reader", "change a model price", "UPDATE llm_models SET usd_per_token = 0", "denied"
    ),
    Case(
        "senate_reader",
        "explain a budget",
        "SELECT * FROM explain_budget('hypothesis', 'h1')",
        "permitted",
        "explain_budget",
    ),
    # --- writer: usage in, budgets read, gate asked ----------------------------------------
    Case("senate_writer", "insert usage", USAGE_INSERT, "allowed"),
    Case("senate_writer", "record usage idempotently", RECORD_USAGE, "allowed"),
    Case("senate_writer", "read budgets", "SELECT count(*) FROM resource_budgets", "allowed"),
    Case("senate_writer", "read reference tables", "SELECT count(*) FROM entity_types", "allowed"),
    Case("senate_writer", "update usage", "UPDATE resource_usage SET amount = 0", "denied"),
    Case("senate_writer", "delete usage", "DELETE FROM resource_usage", "denied"),
    Case("senate_writer", "truncate usage", "TRUNCATE resource_usage", "denied"),
    Case(
        "senate_writer",
        "forge a correction row",
        "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount,"
        " corrects_usage_id, correction_reason, correction_actor, corrected_at)"
        " VALUES ('hypothesis', 'h-role', 'cpu_seconds', -1000, 1, 'refund me', 'me', now())",
        "denied",
    ),
    Case(
        "senate_writer", "correct usage", "SELECT correct_resource_usage(1, 0, 'x', 'me')", "denied"
    ),
    Case(
        "senate_writer",
        "raise its own budget",
        "UPDATE resource_budgets SET token_budget = token_budget + 1e9",
        "denied",
    ),
    Case(
        "senate_writer",
        "write the ledger",
        "INSERT INTO budget_ledger (account, resource_type, balance_before, balance_after,"
        " cause_type, actor) VALUES ('reserve', 'llm_tokens', 0, 1, 'forged', 'me')",
        "denied",
    ),
    Case("senate_writer", "drain the reserve", "UPDATE senate_reserve SET balance = 0", "denied"),
    Case(
        "senate_writer",
        "turn off the guard",
        "SELECT set_senate_setting('usage_append_only', false, 'me', 'because')",
        "denied",
    ),
    Case("senate_writer", "forge rollups", "DELETE FROM senate.usage_rollups", "denied"),
    Case(
        "senate_writer",
        "ask can_spend",
        "SELECT * FROM can_spend('hypothesis', 'h1', 'llm_tokens', 10)",
        "permitted",
        "can_spend",
    ),
    Case(
        "senate_writer",
        "reserve spend",
        "SELECT * FROM reserve_spend('hypothesis', 'h1', 'llm_tokens', 10, interval '1 minute')",
        "permitted",
        "reserve_spend",
    ),
    Case(
        "senate_writer",
        "fund the reserve",
        "SELECT fund_reserve('llm_tokens', 1e9, 'me', 'free tokens')",
        "denied",
        "fund_reserve",
    ),
    Case(
        "senate_writer",
        "vote",
        "SELECT cast_allocation_vote(1, 'me', 'approve')",
        "denied",
        "cast_allocation_vote",
    ),
    Case(
        "senate_writer",
        "decide",
        "SELECT decide_allocation_proposal(1, 'approved', 'me')",
        "denied",
        "decide_allocation_proposal",
    ),
    Case(
        "senate_writer",
        "run a rebalance",
        "SELECT * FROM run_rebalance(now(), false)",
        "denied",
        "run_rebalance",
    ),
    # --- reviewer: vote and decide through the functions only ------------------------------
    Case(
        "senate_reviewer", "read proposals", "SELECT count(*) FROM allocation_proposals", "allowed"
    ),
    Case(
        "senate_reviewer",
        "approve by UPDATE",
        "UPDATE allocation_proposals SET status = 'approved'",
        "denied",
    ),
    Case("senate_reviewer", "insert usage", USAGE_INSERT, "denied"),
    Case(
        "senate_reviewer",
        "raise a budget",
        "UPDATE resource_budgets SET token_budget = 1",
        "denied",
    ),
    Case(
        "senate_reviewer",
        "vote",
        "SELECT cast_allocation_vote(-1, 'rev', 'approve')",
        "permitted",
        "cast_allocation_vote",
    ),
    Case(
        "senate_reviewer",
        "decide",
        "SELECT decide_allocation_proposal(-1, 'approved', 'rev')",
        "permitted",
        "decide_allocation_proposal",
    ),
    Case(
        "senate_reviewer",
        "fund the reserve",
        "SELECT fund_reserve('llm_tokens', 1, 'rev', 'x')",
        "denied",
        "fund_reserve",
    ),
    # --- admin: policy, reserve, settings, corrections; no votes, no usage -----------------
    Case(
        "senate_admin",
        "turn off the guard",
        "SELECT set_senate_setting('usage_append_only', false, 'ops', 'legacy consumers')",
        "allowed",
    ),
    Case(
        "senate_admin",
        "correct usage",
        "SELECT correct_resource_usage(-1, 0, 'typo', 'ops')",
        "permitted",
    ),
    Case(
        "senate_admin",
        "edit a budget directly",
        "INSERT INTO resource_budgets (entity_type, entity_id, token_budget)"
        " VALUES ('hypothesis', 'h-admin', 500)",
        "allowed",
    ),
    Case("senate_admin", "read everything public", "SELECT count(*) FROM budget_ledger", "allowed"),
    Case(
        "senate_admin",
        "reconcile rollups",
        "SELECT count(*) FROM reconcile_usage_rollups()",
        "allowed",
    ),
    Case(
        "senate_admin",
        "add a model",
        "INSERT INTO llm_models (model, model_tier, usd_per_token)"
        " VALUES ('new-model', 'batch', 0.000001)",
        "allowed",
    ),
    Case("senate_admin", "rewrite the ledger", "UPDATE budget_ledger SET note = 'x'", "denied"),
    Case(
        "senate_admin",
        "write the ledger",
        "INSERT INTO budget_ledger (account, resource_type, balance_before, balance_after,"
        " cause_type, actor) VALUES ('reserve', 'llm_tokens', 0, 1, 'forged', 'ops')",
        "denied",
    ),
    Case("senate_admin", "insert usage", USAGE_INSERT, "denied"),
    Case("senate_admin", "record usage through the ingest function", RECORD_USAGE, "denied"),
    Case(
        "senate_admin",
        "fund the reserve",
        "SELECT fund_reserve('llm_tokens', 100, 'ops', 'x')",
        "permitted",
        "fund_reserve",
    ),
    Case(
        "senate_admin",
        "decide",
        "SELECT decide_allocation_proposal(-1, 'approved', 'ops')",
        "denied",
        "decide_allocation_proposal",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_each_group_role_can_do_its_job_and_nothing_more(
    case: Case, db: psycopg.Connection[Any], as_role: Any
) -> None:
    if case.needs and not function_exists(db, case.needs):
        pytest.skip(f"{case.needs}() is not on this branch yet")
    conn = as_role(case.role)
    state = sqlstate_of(conn, case.statement)
    print(f"[roles] {case.role:16} {case.what:28} -> {state or 'ok'}")
    if case.expect == "allowed":
        assert state is None, f"{case.role} should be able to {case.what}, got {state}"
    elif case.expect == "permitted":
        assert state != DENIED, f"{case.role} should be allowed to {case.what}"
    else:
        assert state == DENIED, f"{case.role} must not {case.what}, got {state or 'success'}"


def test_group_roles_exist_cluster_wide_without_login(db: psycopg.Connection[Any]) -> None:
    rows = db.execute(
        "SELECT rolname, rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls"
        " FROM pg_roles WHERE rolname = ANY(%s) ORDER BY 1",
        (list(GROUP_ROLES),),
    ).fetchall()
    assert [r[0] for r in rows] == sorted(GROUP_ROLES)
    for name, *powers in rows:
        assert not any(powers), f"{name} must be a plain NOLOGIN group role"
    for member in ("senate_writer", "senate_reviewer", "senate_admin"):
        assert scalar(db, "SELECT pg_has_role(%s, 'senate_reader', 'MEMBER')", (member,))


def test_a_reader_can_read_every_view_and_call_every_read_function_granted_to_it(
    db: psycopg.Connection[Any], as_role: Any
) -> None:
    """Views run with their owner's rights, but the functions they call run with the reader's:
    every view must work for a member of senate_reader alone."""
    reader = as_role("senate_reader")
    views = [
        r[0]
        for r in db.execute(
            "SELECT c.oid::regclass::text FROM pg_class AS c"
            " WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('v', 'm') ORDER BY 1"
        ).fetchall()
    ]
    failures = {v: sqlstate_of(reader, f"SELECT count(*) FROM {v}") for v in views}
    for fn, call in [
        ("budget_status_as_of", "SELECT count(*) FROM budget_status_as_of(now())"),
        ("roi_by_entity", "SELECT count(*) FROM roi_by_entity(current_date - 7, current_date)"),
        ("explain_budget", "SELECT count(*) FROM explain_budget('hypothesis', 'h')"),
        ("active_economics_policy", "SELECT active_economics_policy()"),
    ]:
        if function_exists(db, fn):
            failures[fn] = sqlstate_of(reader, call)
    print(f"[roles] reader read {len(views)} views and {len(failures) - len(views)} functions")
    assert {k: v for k, v in failures.items() if v} == {}


def test_a_writer_inserting_usage_fills_the_rollups_it_cannot_write(
    db: psycopg.Connection[Any], as_role: Any
) -> None:
    writer = as_role("senate_writer")
    writer.execute(USAGE_INSERT)
    assert sqlstate_of(writer, "UPDATE senate.usage_rollups SET amount_total = 0") == DENIED
    assert db.execute("SELECT * FROM reconcile_usage_rollups()").fetchall() == []
    assert scalar(db, "SELECT sum(amount_total) FROM senate.usage_rollups") == 10


def test_a_legacy_consumer_that_does_not_own_the_tables_keeps_working(
    db: psycopg.Connection[Any], as_role: Any
) -> None:
    """The deployed app may connect as a role of its own, holding only the table privileges the
    deployment granted it before this project. Its usage writes fire our triggers (references,
    rollups, reservations); those must act with their owner's rights, not the app's."""
    db.execute(
        "SELECT set_senate_setting('usage_append_only', false, 'ops', 'legacy app updates rows')"
    )
    app = as_role(
        None,
        grants=[
            "GRANT SELECT, INSERT, UPDATE, DELETE ON resource_usage, allocation_proposals"
            " TO {role}",
            "GRANT USAGE ON SEQUENCE resource_usage_id_seq, allocation_proposals_id_seq TO {role}",
        ],
    )
    usage_id = scalar(app, USAGE_INSERT)
    app.execute("UPDATE resource_usage SET amount = amount + 1 WHERE id = %s", (usage_id,))
    app.execute("DELETE FROM resource_usage WHERE id = %s", (usage_id,))
    assert db.execute("SELECT * FROM reconcile_usage_rollups()").fetchall() == []
    assert sqlstate_of(app, "SELECT count(*) FROM budget_ledger") == DENIED


def test_a_reviewers_assessment_moves_priority_through_the_owners_rights(
    db: psycopg.Connection[Any], as_role: Any
) -> None:
    if not function_exists(db, "senate.follow_latest_assessment"):
        pytest.skip("allocation_signals is not on this branch yet")
    db.execute("INSERT INTO resource_budgets (entity_type, entity_id) VALUES ('hypothesis', 'hs')")
    reviewer = as_role("senate_reviewer")
    reviewer.execute(
        "INSERT INTO allocation_signals (entity_type, entity_id, evidence_strength, novelty,"
        " strategic_alignment, community_interest, assessed_by)"
        " VALUES ('hypothesis', 'hs', 1, 1, 1, 1, 'rev-1')"
    )
    assert scalar(db, "SELECT priority_score FROM resource_budgets WHERE entity_id = 'hs'") == 1
    assert sqlstate_of(reviewer, "UPDATE resource_budgets SET priority_score = 0") == DENIED


def test_an_admins_direct_budget_edit_is_ledgered_under_its_own_name(
    db: psycopg.Connection[Any], as_role: Any
) -> None:
    admin = as_role("senate_admin")
    admin.execute(
        "INSERT INTO resource_budgets (entity_type, entity_id, cpu_budget)"
        " VALUES ('analysis', 'a1', 60)"
    )
    admin.execute("UPDATE resource_budgets SET cpu_budget = 90 WHERE entity_id = 'a1'")
    who = scalar(admin, "SELECT session_user")
    rows = db.execute(
        "SELECT delta, cause_type, actor FROM budget_ledger WHERE entity_id = 'a1'"
        " ORDER BY ledger_id"
    ).fetchall()
    assert rows == [(60, "direct_write", who), (30, "direct_write", who)]


def test_every_security_definer_function_pins_its_search_path(db: psycopg.Connection[Any]) -> None:
    rows = db.execute(
        "SELECT p.oid::regprocedure::text, coalesce(p.proconfig, '{}'), p.proowner::regrole::text"
        " FROM pg_proc AS p WHERE p.prosecdef"
        " AND p.pronamespace IN ('public'::regnamespace, 'senate'::regnamespace) ORDER BY 1"
    ).fetchall()
    print(f"[roles] {len(rows)} SECURITY DEFINER functions")
    assert rows
    unpinned = [
        name
        for name, config, _ in rows
        if [c for c in config if not c.startswith("lock_timeout=")] != SECURE_CONFIG
    ]
    assert unpinned == [], f"SECURITY DEFINER without exactly {SECURE_CONFIG}: {unpinned}"
    foreign = [(name, owner) for name, _, owner in rows if owner != OWNER_ROLE]
    assert foreign == [], f"SECURITY DEFINER not owned by {OWNER_ROLE}: {foreign}"


def test_no_role_can_reach_a_mutating_security_definer_function_it_was_not_granted(
    db: psycopg.Connection[Any],
) -> None:
    """A SECURITY DEFINER function acts with its owner's rights for whoever may call it.

    Reachable means EXECUTE on it and USAGE on its schema. For PUBLIC and each group role, the
    reachable mutating (VOLATILE, non-trigger) definer functions must be exactly ones that
    senate.function_access grants to that role (or to a role it is a member of). A failure
    names functions to add to senate.function_access (then call senate.grant_role_privileges()).
    """
    reach = """
        SELECT p.oid::regprocedure::text FROM pg_proc AS p
        WHERE p.prosecdef AND p.provolatile = 'v' AND p.prorettype <> 'trigger'::regtype
          AND p.pronamespace IN ('public'::regnamespace, 'senate'::regnamespace)
          AND has_function_privilege(%(role)s, p.oid, 'EXECUTE')
          AND has_schema_privilege(%(role)s, p.pronamespace, 'USAGE')
          AND NOT EXISTS (
              SELECT 1 FROM senate.function_access AS a, unnest(a.granted_to) AS g (grantee)
              WHERE a.function_name = p.pronamespace::regnamespace::text || '.' || p.proname
                AND (%(role)s <> 'public' AND pg_has_role(%(role)s, g.grantee, 'MEMBER')))
        ORDER BY 1
    """
    for role in ("public", *GROUP_ROLES):
        unexpected = [r[0] for r in db.execute(reach, {"role": role}).fetchall()]
        print(
            f"[roles] {role}: mutating SECURITY DEFINER functions reachable beyond its grants:"
            f" {unexpected}"
        )
        assert unexpected == [], f"{role} can reach {unexpected}"


def test_listed_functions_are_hardened_as_the_access_table_says(
    db: psycopg.Connection[Any],
) -> None:
    rows = db.execute(
        "SELECT a.function_name, p.oid::regprocedure::text, a.security_definer, p.prosecdef,"
        "       coalesce(p.proconfig, '{}'), a.revoke_from_public,"
        "       has_function_privilege('public', p.oid, 'EXECUTE'), a.granted_to"
        " FROM senate.function_access AS a"
        " JOIN pg_proc AS p ON p.pronamespace = split_part(a.function_name, '.', 1)::regnamespace"
        "  AND p.proname = split_part(a.function_name, '.', 2) ORDER BY 1, 2"
    ).fetchall()
    missing = db.execute(
        "SELECT function_name FROM senate.function_access AS a WHERE NOT EXISTS ("
        " SELECT 1 FROM pg_proc AS p"
        " WHERE p.pronamespace = split_part(a.function_name, '.', 1)::regnamespace"
        "  AND p.proname = split_part(a.function_name, '.', 2)) ORDER BY 1"
    ).fetchall()
    print(
        f"[roles] {len(rows)} listed functions present; not on this branch yet: "
        f"{[m[0] for m in missing]}"
    )
    for name, sig, definer, is_definer, config, revoke, public_exec, granted in rows:
        if definer:
            # Beside the pinned path, a definer may bound its lock waits (the scheduled cycles).
            path = [c for c in config if not c.startswith("lock_timeout=")]
            assert is_definer and path == SECURE_CONFIG, sig
        if revoke:
            assert not public_exec, f"PUBLIC can still execute {sig}"
        for role in granted:
            assert scalar(
                db, "SELECT has_function_privilege(%s, %s::regprocedure, 'EXECUTE')", (role, sig)
            ), f"{role} cannot execute {sig}"
        del name


def test_unclassified_public_functions_are_reported(db: psycopg.Connection[Any]) -> None:
    rows = db.execute(
        "SELECT p.oid::regprocedure::text, p.prosecdef, p.provolatile FROM pg_proc AS p"
        " WHERE p.pronamespace = 'public'::regnamespace AND p.prokind = 'f'"
        " AND NOT EXISTS (SELECT 1 FROM senate.function_access AS a"
        "                 WHERE a.function_name = 'public.' || p.proname) ORDER BY 1"
    ).fetchall()
    print(f"[roles] public functions not in senate.function_access ({len(rows)}):")
    for sig, definer, volatility in rows:
        print(f"[roles]   {sig} security_definer={definer} volatility={volatility}")
    # Volatile unclassified functions run with the caller's rights (none are SECURITY DEFINER
    # and open to PUBLIC, see above): a missing classification costs access, never safety.
    assert all(not (definer and volatility == "v") for _, definer, volatility in rows)


def test_nobody_but_owners_can_create_objects_in_the_contract_schemas(
    db: psycopg.Connection[Any], server_version_num: int
) -> None:
    assert not scalar(db, "SELECT has_schema_privilege('public', 'senate', 'USAGE')")
    assert not scalar(db, "SELECT has_schema_privilege('public', 'senate', 'CREATE')")
    for role in GROUP_ROLES:
        assert not scalar(db, "SELECT has_schema_privilege(%s, 'senate', 'CREATE')", (role,))
        assert not scalar(db, "SELECT has_schema_privilege(%s, 'public', 'CREATE')", (role,))
    # Readers may look up the tables behind the views (and the error catalogue) in senate.
    assert scalar(db, "SELECT has_schema_privilege('senate_reader', 'senate', 'USAGE')")
    public_create = scalar(db, "SELECT has_schema_privilege('public', 'public', 'CREATE')")
    print(
        f"[roles] PUBLIC may CREATE in schema public: {public_create} (server {server_version_num})"
    )
    # PostgreSQL 15 revoked it by default; on 14 (and clusters upgraded from it) the first
    # migration revokes it (tests/test_security_definer.py recreates that ACL).
    assert not public_create


def test_role_migration_and_grants_rerun_cleanly_over_existing_roles(
    db: psycopg.Connection[Any], db_url: str
) -> None:
    before = db.execute(GROUP_GRANTS).fetchall()
    assert before
    newer = [m for m in migrations.applied(db_url) if m >= "0056"]
    done = migrations.rollback_migrations(db_url, count=len(newer))
    assert done == sorted(done, reverse=True) and done[-1] == "0056_create_senate_roles"
    assert "0099_grant_role_privileges" in done
    # The roles are still there (cluster-global); this database's grants are gone.
    assert scalar(
        db, "SELECT count(*) FROM pg_roles WHERE rolname = ANY(%s)", (list(GROUP_ROLES),)
    ) == len(GROUP_ROLES)
    assert db.execute(GROUP_GRANTS).fetchall() == []
    assert scalar(
        db,
        "SELECT has_function_privilege('public',"
        " 'reconcile_usage_rollups()'::regprocedure, 'EXECUTE')",
    )
    # 0099's hardening is undone: the functions are the migrating role's again (trigger
    # functions on the deployed tables stay definers, as the migration defining them made them).
    assert (
        scalar(db, "SELECT proowner::regrole::text FROM pg_proc WHERE proname = 'roll_up_usage'")
        != "senate_owner"
    )
    assert migrations.apply_migrations(db_url) == done[::-1]
    after = db.execute(GROUP_GRANTS).fetchall()
    assert after == before
    assert db.execute("SELECT * FROM senate.grant_role_privileges()").fetchall() == []


def test_rolling_back_one_database_leaves_the_others_grants_alone(
    db: psycopg.Connection[Any], db_url: str, empty_db_url: str, as_role: Any
) -> None:
    migrations.apply_migrations(empty_db_url)
    migrations.rollback_migrations(empty_db_url, count=2)
    writer = as_role("senate_writer")
    assert sqlstate_of(writer, USAGE_INSERT) is None
    add_usage(db)
