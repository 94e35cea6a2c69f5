"""Nothing outside the owner can change what a definer function runs (issue 15, point 1).

Every SECURITY DEFINER function is owned by the NOLOGIN role senate_owner and runs with
``search_path = pg_catalog, pg_temp``; every name of ours in its body is schema-qualified.
``migrate`` revokes CREATE on schema public from PUBLIC (PostgreSQL 14's default) and refuses
(S5001, nothing written) while any role but superusers and members of senate_owner may CREATE
in public or senate. The hostile cases run as real LOGIN roles on the embedded PostgreSQL 18
and, with ``DATABASE_URL``, on PostgreSQL 15.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from cycles_support import envelope, spend
from governance_support import file_proposal
from psycopg import sql
from reliability_support import GROUP_ROLES, RoleSessions, role_sessions, scalar

from senate_db import migrations
from senate_db.errors import UnsafeSchemas

OWNER_ROLE = "senate_owner"
SECURE_CONFIG = ["search_path=pg_catalog, pg_temp"]
REFUSED = "S5001"

#: Exactly what may create in the schemas our definer functions name.
SCHEMA_ACLS = (
    "SELECT n.nspname, coalesce(n.nspacl::text, ''), n.nspowner::regrole::text"
    " FROM pg_namespace AS n WHERE n.nspname IN ('public', 'senate') ORDER BY 1"
)

#: The planted functions: each marks that it ran (as whom) and tries to make its author
#: superuser; both then behave like the built-in they shadow, so nothing else looks wrong.
PLANTS = """
CREATE TABLE public.pwned (ran_as text NOT NULL, via text NOT NULL);
GRANT INSERT ON public.pwned TO PUBLIC;
CREATE FUNCTION public.jsonb_populate_record(base public.allocation_proposals, j jsonb)
RETURNS public.allocation_proposals LANGUAGE plpgsql AS $f$
BEGIN
    INSERT INTO public.pwned VALUES (current_user, 'jsonb_populate_record');
    BEGIN
        EXECUTE 'ALTER ROLE {role} SUPERUSER';
    EXCEPTION WHEN insufficient_privilege THEN NULL;
    END;
    RETURN pg_catalog.jsonb_populate_record(base, j);
END;
$f$;
CREATE FUNCTION public.row_to_json(a public.spend_alerts)
RETURNS json LANGUAGE plpgsql AS $f$
BEGIN
    INSERT INTO public.pwned VALUES (current_user, 'row_to_json');
    BEGIN
        EXECUTE 'ALTER ROLE {role} SUPERUSER';
    EXCEPTION WHEN insufficient_privilege THEN NULL;
    END;
    RETURN pg_catalog.row_to_json(a);
END;
$f$;
"""


@pytest.fixture
def as_role(db_url: str, db: psycopg.Connection[Any]) -> Iterator[RoleSessions]:
    yield from role_sessions(db_url, db)


def schema_acls(url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(SCHEMA_ACLS).fetchall()


def _path_only(config: list[str] | None) -> list[str]:
    """A function's SET clauses but its bounded lock wait (cycles set lock_timeout)."""
    return [c for c in config or [] if not c.startswith("lock_timeout=")]


def test_every_security_definer_function_is_owned_by_senate_owner_with_only_the_catalog_on_its_path(
    db: psycopg.Connection[Any],
) -> None:
    rows = db.execute(
        "SELECT p.oid::regprocedure::text, p.proowner::regrole::text, p.proconfig"
        " FROM pg_proc AS p WHERE p.prosecdef"
        " AND p.pronamespace IN ('public'::regnamespace, 'senate'::regnamespace) ORDER BY 1"
    ).fetchall()
    print(f"[definer] {len(rows)} SECURITY DEFINER functions")
    assert len(rows) > 40
    wrong = [
        (fn, owner, config)
        for fn, owner, config in rows
        if (owner, _path_only(config)) != (OWNER_ROLE, SECURE_CONFIG)
    ]
    assert wrong == []
    # Every other function of ours has the same owner, and any path it sets is the same.
    others = db.execute(
        "SELECT p.oid::regprocedure::text, p.proowner::regrole::text, p.proconfig"
        " FROM pg_proc AS p WHERE NOT p.prosecdef"
        " AND p.pronamespace IN ('public'::regnamespace, 'senate'::regnamespace)"
        " AND NOT EXISTS (SELECT 1 FROM pg_depend AS d WHERE d.objid = p.oid AND d.deptype = 'e')"
        " ORDER BY 1"
    ).fetchall()
    assert [
        r
        for r in others
        if r[1] != OWNER_ROLE
        or [c for c in r[2] or [] if c.startswith("search_path=")] not in ([], SECURE_CONFIG)
    ] == []


def test_the_owner_role_is_a_plain_nologin_role_that_owns_no_table(
    db: psycopg.Connection[Any],
) -> None:
    row = db.execute(
        "SELECT rolcanlogin, rolsuper, rolcreaterole, rolcreatedb, rolbypassrls, rolreplication"
        " FROM pg_roles WHERE rolname = %s",
        (OWNER_ROLE,),
    ).fetchone()
    assert row is not None and not any(row), row
    assert scalar(
        db, "SELECT shobj_description(%s::regrole, 'pg_authid') IS NOT NULL", (OWNER_ROLE,)
    )
    # DML only: a definer function cannot ALTER, TRUNCATE or disable a guard trigger.
    assert (
        scalar(db, "SELECT count(*) FROM pg_class WHERE relowner = %s::regrole", (OWNER_ROLE,)) == 0
    )
    ddl = db.execute(
        "SELECT c.oid::regclass::text, x.privilege_type"
        " FROM pg_class AS c, aclexplode(c.relacl) AS x WHERE x.grantee = %s::regrole"
        " AND x.privilege_type IN ('TRUNCATE', 'TRIGGER', 'REFERENCES')",
        (OWNER_ROLE,),
    ).fetchall()
    assert ddl == []
    # On the deployed tables, exactly what the definer functions do there.
    deployed = db.execute(
        "SELECT 'resource_usage', has_table_privilege(%(o)s, 'public.resource_usage', 'UPDATE'),"
        "       has_table_privilege(%(o)s, 'public.resource_usage', 'DELETE'),"
        "       has_table_privilege(%(o)s, 'public.resource_usage', 'INSERT')"
        " UNION ALL SELECT 'allocation_proposals',"
        "       has_table_privilege(%(o)s, 'public.allocation_proposals', 'UPDATE'),"
        "       has_table_privilege(%(o)s, 'public.allocation_proposals', 'DELETE'),"
        "       has_table_privilege(%(o)s, 'public.allocation_proposals', 'INSERT')",
        {"o": OWNER_ROLE},
    ).fetchall()
    assert deployed == [
        ("resource_usage", False, False, True),
        ("allocation_proposals", True, False, True),
    ]
    # Nobody logs in as it (only a non-superuser migrating role may be a member).
    members = db.execute(
        "SELECT member::regrole::text FROM pg_auth_members WHERE roleid = %s::regrole",
        (OWNER_ROLE,),
    ).fetchall()
    assert members == []


def test_a_hostile_login_that_may_create_in_public_never_gets_its_overloads_run_by_definers(
    db: psycopg.Connection[Any], as_role: Any
) -> None:
    """The takeover of issue 15: exact-type overloads of jsonb_populate_record and row_to_json
    planted in public used to run as the migrating superuser when a writer filed a proposal or
    an admin ran check_spend_alerts."""
    hostile = as_role(None, grants=["GRANT CREATE ON SCHEMA public TO {role}"])
    hostile_name = scalar(hostile, "SELECT current_user")
    hostile.execute(PLANTS.replace("{role}", sql.Identifier(hostile_name).as_string(hostile)))
    # The plants are callable and do what they say when called by name from public.
    assert (
        scalar(
            db,
            "SELECT count(*) FROM pg_proc WHERE pronamespace = 'public'::regnamespace"
            " AND proname IN ('jsonb_populate_record', 'row_to_json')",
        )
        == 2
    )

    writer = as_role("senate_writer")
    proposal_id = file_proposal(writer, entity_id="h-plant")
    assert scalar(
        db, "SELECT entity_id FROM allocation_proposals WHERE id = %s", (proposal_id,)
    ) == ("h-plant")

    envelope(db, "h-alert", tokens=10_000)
    spend(db, "h-alert", 9_500)
    admin = as_role("senate_admin")
    fired = admin.execute("SELECT entity_id, threshold FROM check_spend_alerts()").fetchall()
    print(f"[definer] alerts fired with the plants in place: {fired}")
    assert fired, "the alert path (row_to_json of spend_alerts) must have run"

    ran = db.execute("SELECT ran_as, via FROM public.pwned ORDER BY 2").fetchall()
    print(f"[definer] planted code ran: {ran}")
    assert ran == []
    assert not scalar(db, "SELECT rolsuper FROM pg_roles WHERE rolname = %s", (hostile_name,))


def test_migrate_revokes_the_postgresql_14_create_on_public_and_rollback_restores_it(
    empty_db_url: str,
) -> None:
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute("GRANT CREATE ON SCHEMA public TO PUBLIC")  # PostgreSQL 14's default
        assert scalar(conn, "SELECT has_schema_privilege('public', 'public', 'CREATE')")
    before = schema_acls(empty_db_url)

    migrations.apply_migrations(empty_db_url)
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        assert not scalar(conn, "SELECT has_schema_privilege('public', 'public', 'CREATE')")
        recorded = conn.execute(
            "SELECT schema_name, grantee, privilege, grantable"
            " FROM senate.revoked_schema_privileges"
        ).fetchall()
        assert recorded == [("public", "PUBLIC", "CREATE", False)]
        for role in GROUP_ROLES:
            assert not scalar(conn, "SELECT has_schema_privilege(%s, 'public', 'CREATE')", (role,))
    # A second run passes the guard (the revoke is recorded, PUBLIC holds nothing).
    assert migrations.apply_migrations(empty_db_url) == []

    # rollback --all. A fresh install's resource_usage and allocation_proposals stay after the
    # rollback of 0003 (it never drops tables a deployment may own): drop them as an operator
    # would, then roll back the rest.
    done = migrations.rollback_migrations(
        empty_db_url, count=len(migrations.applied(empty_db_url)) - 3
    )
    assert done[-1].startswith("0004_")
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute("DROP TABLE public.allocation_proposals, public.resource_usage")
    assert len(migrations.rollback_migrations(empty_db_url)) == 3
    after = schema_acls(empty_db_url)
    print(f"[definer] public ACL before {before[0][1]}, after rollback --all {after[0][1]}")
    assert after == before


def test_a_rollback_of_the_grants_gives_every_function_back_to_its_previous_owner_and_path(
    db: psycopg.Connection[Any], db_url: str
) -> None:
    state = (
        "SELECT p.oid::regprocedure::text, p.proowner::regrole::text, p.prosecdef,"
        " coalesce(p.proconfig, '{}'), coalesce(p.proacl::text, '')"
        " FROM pg_proc AS p"
        " WHERE p.pronamespace IN ('public'::regnamespace, 'senate'::regnamespace)"
        " AND NOT EXISTS (SELECT 1 FROM pg_depend AS d WHERE d.objid = p.oid AND d.deptype = 'e')"
        " ORDER BY 1"
    )
    recorded = {
        r[0]: r[1]
        for r in db.execute(
            "SELECT function_signature, had_owner::regrole::text FROM senate.function_hardening"
        ).fetchall()
    }
    hardened = db.execute(state).fetchall()
    newer = [m for m in migrations.applied(db_url) if m >= "0099"]
    migrations.rollback_migrations(db_url, count=len(newer))
    restored = {r[0]: r[1] for r in db.execute(state).fetchall()}
    me = scalar(db, "SELECT current_user")
    assert set(recorded.values()) == {me}
    assert [fn for fn, owner in restored.items() if owner != me] == []
    assert (
        scalar(
            db,
            "SELECT count(*) FROM pg_class AS c, aclexplode(c.relacl) AS x"
            " WHERE x.grantee = %s::regrole",
            (OWNER_ROLE,),
        )
        == 0
    )
    migrations.apply_migrations(db_url)
    assert db.execute(state).fetchall() == hardened


def _owned_by(url: str, owner: str) -> Iterator[None]:
    with psycopg.connect(url, autocommit=True) as conn:
        dbname = conn.info.dbname
        me = scalar(conn, "SELECT current_user")
        conn.execute(
            sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                sql.Identifier(dbname), sql.Identifier(owner)
            )
        )
    try:
        yield
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                    sql.Identifier(dbname), sql.Identifier(me)
                )
            )


def test_migrate_refuses_in_one_line_and_writes_nothing_while_a_non_superuser_owns_the_database(
    empty_db_url: str, db: psycopg.Connection[Any], as_role: Any
) -> None:
    """On PostgreSQL 15+ schema public belongs to pg_database_owner: a database owned by a
    plain login lets that login CREATE in public, so migrating there would hand it the
    definer functions. The superuser's migrate refuses before writing anything."""
    login = as_role(None)
    owner = scalar(login, "SELECT current_user")
    login.close()
    for _ in _owned_by(empty_db_url, owner):
        with pytest.raises(UnsafeSchemas) as refused:
            migrations.apply_migrations(empty_db_url)
        message = str(refused.value)
        print(f"[definer] {message}")
        assert refused.value.sqlstate == REFUSED
        assert "\n" not in message and owner in message and "public" in message
        with psycopg.connect(empty_db_url, autocommit=True) as conn:
            assert scalar(conn, "SELECT to_regnamespace('senate') IS NULL")
            assert (
                scalar(
                    conn,
                    "SELECT count(*) FROM pg_class WHERE relnamespace = 'public'::regnamespace",
                )
                == 0
            )
        # The CLI says the same in one line and exits non-zero.
        done = subprocess.run(
            [sys.executable, "-m", "senate_db", "migrate", "--database", empty_db_url],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode != 0
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and REFUSED in lines[0], done.stderr
    assert (
        scalar(
            db,
            "SELECT sqlstate FROM senate.error_codes WHERE error_name ="
            " 'schema_create_not_owner_only'",
        )
        == REFUSED
    )


def test_migrate_refuses_once_a_login_or_public_is_granted_create_after_the_install(
    db: psycopg.Connection[Any], db_url: str, as_role: Any
) -> None:
    hostile = as_role(None, grants=["GRANT CREATE ON SCHEMA senate TO {role}"])
    name = scalar(hostile, "SELECT current_user")
    with pytest.raises(UnsafeSchemas) as refused:
        migrations.apply_migrations(db_url)
    assert refused.value.sqlstate == REFUSED and f"{name} may CREATE in schema senate" in str(
        refused.value
    )
    db.execute(sql.SQL("REVOKE CREATE ON SCHEMA senate FROM {}").format(sql.Identifier(name)))
    db.execute("GRANT CREATE ON SCHEMA public TO PUBLIC")
    try:
        with pytest.raises(UnsafeSchemas) as refused:
            migrations.apply_migrations(db_url)
        assert "PUBLIC may CREATE in schema public" in str(refused.value)
    finally:
        db.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")
    # A member of senate_owner is trusted as the owner; then migrate runs again.
    db.execute(sql.SQL("GRANT CREATE ON SCHEMA senate TO {}").format(sql.Identifier(name)))
    db.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(OWNER_ROLE), sql.Identifier(name)))
    try:
        assert migrations.apply_migrations(db_url) == []
    finally:
        db.execute(
            sql.SQL("REVOKE {} FROM {}").format(sql.Identifier(OWNER_ROLE), sql.Identifier(name))
        )


#: Every PL/pgSQL function and procedure of ours, checked with plpgsql_check's other and extra
#: warnings: a trigger function against the relation and transition tables of its trigger.
#: Performance hints are not asked for. A function that creates temporary tables declares them
#: with a commented ``PERFORM 'PRAGMA:TABLE: ...'`` (plan_rebalance), so nothing is skipped.
PLPGSQL_CHECK = """
SELECT p.oid::regprocedure::text, r.lineno, r.level, r.sqlstate, r.message
FROM pg_proc AS p
JOIN pg_language AS l ON l.oid = p.prolang AND l.lanname = 'plpgsql'
CROSS JOIN LATERAL (
    SELECT (array_agg(t.tgrelid ORDER BY t.oid))[1] AS relid,
           max(t.tgnewtable) AS newtable, max(t.tgoldtable) AS oldtable
    FROM pg_trigger AS t WHERE t.tgfoid = p.oid) AS tr
CROSS JOIN LATERAL plpgsql_check.plpgsql_check_function_tb(
    p.oid,
    relid => coalesce(tr.relid, 0),
    newtable => tr.newtable,
    oldtable => tr.oldtable,
    fatal_errors => false, other_warnings => true, performance_warnings => false,
    extra_warnings => true) AS r
WHERE p.pronamespace IN ('public'::regnamespace, 'senate'::regnamespace)
ORDER BY 1, 2
"""


def _plpgsql_check(db: psycopg.Connection[Any]) -> None:
    if not scalar(db, "SELECT count(*) FROM pg_available_extensions WHERE name = 'plpgsql_check'"):
        pytest.skip(
            "plpgsql_check is not installed on this server (the embedded PostgreSQL 18 has no "
            "such package; .ci/run installs postgresql-15-plpgsql-check for the PostgreSQL 15 leg)"
        )
    db.execute("CREATE SCHEMA plpgsql_check")
    db.execute("CREATE EXTENSION plpgsql_check SCHEMA plpgsql_check")
    db.execute("SET search_path = pg_catalog, pg_temp")


def test_plpgsql_check_finds_nothing_in_any_plpgsql_function_of_ours_with_the_catalog_only_path(
    db: psycopg.Connection[Any],
) -> None:
    """Zero errors and zero warnings (unused variables, type mismatches, OUT columns never
    set...). With search_path = pg_catalog, pg_temp (the definer functions' own, and the
    session's for the others), any unqualified name of ours is an error too."""
    _plpgsql_check(db)
    checked = scalar(
        db,
        "SELECT count(*) FROM pg_proc AS p JOIN pg_language AS l ON l.oid = p.prolang"
        " WHERE l.lanname = 'plpgsql'"
        " AND p.pronamespace IN ('public'::regnamespace, 'senate'::regnamespace)",
    )
    findings = db.execute(PLPGSQL_CHECK).fetchall()
    print(f"[definer] plpgsql_check: {checked} PL/pgSQL routines, {len(findings)} findings")
    assert checked > 100
    assert findings == []


def test_plpgsql_check_reports_an_unused_variable_and_a_type_mismatch_planted_in_senate(
    db: psycopg.Connection[Any],
) -> None:
    """The check above can fail: a function with the two kinds of finding it must catch."""
    _plpgsql_check(db)
    db.execute(
        "CREATE FUNCTION senate.planted_finding() RETURNS integer LANGUAGE plpgsql"
        " SET search_path = pg_catalog, pg_temp AS $$"
        " DECLARE v_unused text; v_n integer; BEGIN"
        " SELECT now() INTO v_n; RETURN v_n; END $$"
    )
    findings = [f for f in db.execute(PLPGSQL_CHECK).fetchall() if "planted" in f[0]]
    assert {f[3] for f in findings} >= {"00000", "42804"}, findings


def test_plpgsql_check_pragmas_appear_only_beside_the_temporary_tables_they_declare() -> None:
    from senate_db import definitions

    for d in definitions.read_all():
        pragmas = re.findall(r"PRAGMA:TABLE: ([a-z_]+) ", d.sql)
        for table in pragmas:
            assert re.search(rf"CREATE TEMP TABLE {table} \(", d.sql), (d.identity, table)
        if pragmas:
            assert "plpgsql_check cannot see" in d.sql, d.identity
        assert "PRAGMA:" not in d.sql.replace("PRAGMA:TABLE:", ""), d.identity


def test_every_sql_function_of_ours_compiles_with_the_catalog_only_path(
    db: psycopg.Connection[Any],
) -> None:
    """SQL-language bodies are parsed when created: re-create each from its definition with
    search_path = pg_catalog, pg_temp (inside a rolled-back subtransaction)."""
    db.execute("SET search_path = pg_catalog, pg_temp")
    db.execute("SET check_function_bodies = on")
    sigs = db.execute(
        "SELECT p.oid, p.oid::regprocedure::text FROM pg_proc AS p"
        " JOIN pg_language AS l ON l.oid = p.prolang WHERE l.lanname = 'sql'"
        " AND p.pronamespace IN ('public'::regnamespace, 'senate'::regnamespace) ORDER BY 2"
    ).fetchall()
    failures = []
    for oid, sig in sigs:
        definition = scalar(db, "SELECT pg_get_functiondef(%s)", (oid,))
        try:
            with db.transaction(force_rollback=True):
                db.execute(definition)
        except psycopg.Error as e:
            failures.append((sig, e.sqlstate, e.diag.message_primary))
    print(f"[definer] {len(sigs)} SQL functions re-created with the catalog-only path")
    assert len(sigs) > 10
    assert failures == []
