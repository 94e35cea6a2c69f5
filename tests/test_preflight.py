"""The pre-flight (``senate-db check``, first step of every ``migrate``), issue 14 points 1, 4, 7.

Each deployment shape is built by the test itself in an empty database, with thousands of
legacy rows. For each: ``check`` reports what it should (asserted on its structured findings,
``SEVERITY code object``); ``migrate`` either refuses with nothing written (catalog snapshot
unchanged, no yoyo bookkeeping) or runs.
"""

from __future__ import annotations

import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from brownfield_zoo import catalog_snapshot, snapshot_diff
from psycopg import sql
from reliability_support import DEPLOYED_USAGE_DDL

from senate_db import embedded, migrations, paths, preflight, urls
from senate_db.errors import MigrationFailed
from senate_db.preflight import Finding, PreflightRefused

LEGACY_ROWS = 4000

LEGACY_USAGE_ROWS = """
INSERT INTO {table} (entity_type, entity_id, resource_type, amount, model, created_at)
SELECT (ARRAY['hypothesis', 'analysis'])[1 + i % 2], 'legacy-' || (i % 97),
       (ARRAY['llm_tokens', 'cpu_seconds'])[1 + i % 2], 10 + i,
       CASE WHEN i % 2 = 0 THEN 'claude-sonnet' END, now() - make_interval(mins => i)
FROM generate_series(1, {rows}) AS i
"""


def _connect(url: str) -> psycopg.Connection[Any]:
    return psycopg.connect(url, autocommit=True)


def _usage(conn: psycopg.Connection[Any], schema: str = "public", rows: int = LEGACY_ROWS) -> None:
    conn.execute(DEPLOYED_USAGE_DDL.replace("public.", f"{schema}."))  # type: ignore[arg-type]
    conn.execute(
        LEGACY_USAGE_ROWS.format(table=f"{schema}.resource_usage", rows=rows)  # type: ignore[arg-type]
    )
    conn.execute(f"ANALYZE {schema}.resource_usage")  # type: ignore[arg-type]


def _keys(findings: list[Finding], *severities: str) -> set[tuple[str, str, str]]:
    return {(f.severity, f.code, f.object) for f in findings if f.severity in severities}


def _problems(findings: list[Finding]) -> set[tuple[str, str, str]]:
    return _keys(findings, "BLOCKER", "WARNING")


CATALOG = """
SELECT 'rel', n.nspname || '.' || c.relname || ':' || c.relkind::text, c.relrowsecurity::text
FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
UNION ALL
SELECT 'col', a.attrelid::regclass::text || '.' || a.attname, format_type(a.atttypid, a.atttypmod)
FROM pg_attribute AS a JOIN pg_class AS c ON c.oid = a.attrelid
WHERE c.relnamespace::regnamespace::text NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
  AND a.attnum > 0 AND NOT a.attisdropped
UNION ALL
SELECT 'nsp', nspname, nspowner::regrole::text FROM pg_namespace
UNION ALL
SELECT 'fn', p.oid::regprocedure::text, md5(p.prosrc) FROM pg_proc AS p
WHERE p.pronamespace::regnamespace::text NOT IN ('pg_catalog', 'information_schema')
UNION ALL
SELECT 'trg', tgrelid::regclass::text || '.' || tgname, tgenabled::text FROM pg_trigger
WHERE NOT tgisinternal
UNION ALL
SELECT 'pol', polrelid::regclass::text || '.' || polname, '' FROM pg_policy
"""


def snapshot(url: str) -> dict[str, Any]:
    """Every schema, relation, column, function, trigger and policy, and the legacy rows."""
    with _connect(url) as conn:
        catalog = sorted(tuple(r) for r in conn.execute(CATALOG))  # type: ignore[arg-type]
        counts = {
            str(r[0]): None
            for r in conn.execute(
                "SELECT oid::regclass::text FROM pg_class"
                " WHERE relname IN ('resource_usage', 'allocation_proposals')"
                " AND relkind IN ('r', 'p')"
            )
        }
        for name in counts:
            counts[name] = conn.execute(
                sql.SQL(
                    "SELECT count(*), md5(string_agg(t::text, ',' ORDER BY t::text)) FROM {} AS t"
                ).format(sql.Identifier(*name.split(".")))
            ).fetchone()
    return {"catalog": catalog, "rows": counts}


def assert_refused_with_nothing_written(url: str, *blockers: tuple[str, str]) -> None:
    before = snapshot(url)
    with pytest.raises(PreflightRefused) as exc:
        migrations.apply_migrations(url)
    got = {(b.code, b.object) for b in exc.value.blockers}
    assert set(blockers) <= got, got
    assert snapshot(url) == before
    assert migrations.applied(url) == []


# -- clean databases ------------------------------------------------------------------------


def test_an_empty_database_has_nothing_to_report_but_information(empty_db_url: str) -> None:
    findings = preflight.run_check(empty_db_url)
    assert _problems(findings) == set()
    assert ("INFO", "location", "public.resource_usage") in _keys(findings, "INFO")


def test_check_on_a_database_the_project_migrated_reports_none_of_its_own_objects(
    db_url: str,
) -> None:
    findings = preflight.run_check(db_url)
    assert _problems(findings) == set(), [f.line() for f in findings]
    assert not [f for f in findings if f.code in ("collision", "adopted")]


def test_check_on_a_half_migrated_database_reports_none_of_the_applied_migrations_objects(
    empty_db_url: str, tmp_path: Path
) -> None:
    half = tmp_path / "half"
    half.mkdir()
    for path in paths.migrations_dir().glob("*.sql"):
        if path.name < "0030":
            shutil.copy(path, half / path.name)
    migrations.apply_migrations(empty_db_url, directory=half)
    findings = preflight.run_check(empty_db_url)
    assert _problems(findings) == set(), [f.line() for f in findings]
    # ... and the rest applies (the pre-flight runs first and lets it).
    assert migrations.apply_migrations(empty_db_url)
    assert migrations.pending(empty_db_url) == []


def test_check_writes_nothing_even_where_it_counts_rows(empty_db_url: str) -> None:
    with _connect(empty_db_url) as conn:
        _usage(conn)
        conn.execute("CREATE TABLE public.allocation_proposals (id bigserial PRIMARY KEY)")
    before = snapshot(empty_db_url)
    findings = preflight.run_check(empty_db_url)
    assert ("INFO", "rows", "public.resource_usage") in _keys(findings, "INFO")
    assert snapshot(empty_db_url) == before


# -- another schema, reached through search_path ---------------------------------------------


@pytest.fixture
def scidex_schema(empty_db_url: str) -> str:
    dbname = urls.database_name(empty_db_url)
    with _connect(empty_db_url) as conn:
        conn.execute("CREATE SCHEMA scidex")
        _usage(conn, "scidex")
        conn.execute(
            sql.SQL("ALTER DATABASE {} SET search_path = scidex, public").format(
                sql.Identifier(str(dbname))
            )
        )
    return empty_db_url


def test_tables_in_another_schema_on_the_search_path_are_refused_with_nothing_written(
    scidex_schema: str,
) -> None:
    findings = preflight.run_check(scidex_schema)
    assert ("BLOCKER", "schema", "scidex.resource_usage") in _keys(findings, "BLOCKER")
    assert_refused_with_nothing_written(scidex_schema, ("schema", "scidex.resource_usage"))
    with _connect(scidex_schema) as conn:
        assert conn.execute("SELECT to_regclass('public.resource_usage')").fetchone() == (None,)


def test_a_schema_named_by_the_operator_other_than_public_is_refused(scidex_schema: str) -> None:
    findings = preflight.run_check(scidex_schema, schema="scidex")
    assert ("BLOCKER", "schema", "scidex.resource_usage") in _keys(findings, "BLOCKER")


def test_a_consumer_roles_search_path_is_where_the_check_looks_too(empty_db_url: str) -> None:
    dbname = str(urls.database_name(empty_db_url))
    with _connect(empty_db_url) as conn:
        conn.execute("CREATE SCHEMA app")
        _usage(conn, "app", rows=2000)
        conn.execute("DROP ROLE IF EXISTS preflight_consumer")
        conn.execute("CREATE ROLE preflight_consumer")
        conn.execute(
            sql.SQL("ALTER ROLE preflight_consumer IN DATABASE {} SET search_path = app").format(
                sql.Identifier(dbname)
            )
        )
    try:
        findings = preflight.run_check(empty_db_url)
        blocker = next(f for f in findings if f.code == "schema" and f.severity == "BLOCKER")
        assert blocker.object == "app.resource_usage"
        assert "role preflight_consumer" in blocker.message
    finally:
        with _connect(empty_db_url) as conn:
            conn.execute(
                sql.SQL("ALTER ROLE preflight_consumer IN DATABASE {} RESET search_path").format(
                    sql.Identifier(dbname)
                )
            )
            conn.execute("DROP ROLE preflight_consumer")


def test_the_operators_remedy_moves_the_table_and_keeps_a_view_then_migrate_runs(
    scidex_schema: str,
) -> None:
    with _connect(scidex_schema) as conn:
        conn.execute("ALTER TABLE scidex.resource_usage SET SCHEMA public")
        conn.execute("CREATE VIEW scidex.resource_usage AS SELECT * FROM public.resource_usage")
    findings = preflight.run_check(scidex_schema)
    assert preflight.blockers(findings) == []
    migrations.apply_migrations(scidex_schema)
    with _connect(scidex_schema) as conn:  # the database's search_path: scidex, public
        row = conn.execute(
            "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount)"
            " VALUES ('hypothesis', 'via-view', 'cpu_seconds', 7)"
            " RETURNING amount"
        ).fetchone()
        assert conn.execute(
            "SELECT count(*) FROM public.resource_usage WHERE amount_used IS DISTINCT FROM amount"
        ).fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM public.resource_usage").fetchone() == (
            LEGACY_ROWS + 1,
        )
    assert row is not None


# -- row-level security -----------------------------------------------------------------------


@pytest.fixture
def owner_login(empty_db_url: str) -> Iterator[str]:
    """A non-superuser LOGIN role owning a deployed resource_usage under FORCE RLS with a
    restrictive policy that hides half the rows from it. Yields its URL."""
    name = "preflight_owner"
    params = urls.to_params(empty_db_url)
    with _connect(empty_db_url) as conn:
        conn.execute(f"DROP ROLE IF EXISTS {name}")  # type: ignore[arg-type]
        conn.execute(f"CREATE ROLE {name} LOGIN PASSWORD 'pw' CREATEROLE")  # type: ignore[arg-type]
        conn.execute(
            sql.SQL("GRANT CREATE ON DATABASE {} TO {}").format(
                sql.Identifier(params["dbname"]), sql.Identifier(name)
            )
        )
        conn.execute(f"GRANT CREATE ON SCHEMA public TO {name}")  # type: ignore[arg-type]
        _usage(conn)
        conn.execute(f"ALTER TABLE public.resource_usage OWNER TO {name}")  # type: ignore[arg-type]
        conn.execute("ALTER TABLE public.resource_usage ENABLE ROW LEVEL SECURITY")
        conn.execute("ALTER TABLE public.resource_usage FORCE ROW LEVEL SECURITY")
        conn.execute("CREATE POLICY everyone ON public.resource_usage USING (true)")
        conn.execute(
            "CREATE POLICY even_ids_only ON public.resource_usage AS RESTRICTIVE"
            f" TO {name} USING (id % 2 = 0)"  # type: ignore[arg-type]
        )
    params["user"] = name
    params["password"] = "pw"
    try:
        yield urls.from_params(params)
    finally:
        with _connect(empty_db_url) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (name,),
            )
            conn.execute(f"REASSIGN OWNED BY {name} TO current_user")  # type: ignore[arg-type]
            conn.execute(f"DROP OWNED BY {name}")  # type: ignore[arg-type]
            conn.execute(f"DROP ROLE {name}")  # type: ignore[arg-type]


def _can_log_in(url: str) -> bool:
    try:
        psycopg.connect(url, connect_timeout=5).close()
    except psycopg.OperationalError:
        return False
    return True


def test_force_rls_that_applies_to_the_migrating_owner_is_refused_with_nothing_written(
    owner_login: str,
) -> None:
    if not _can_log_in(owner_login):
        pytest.skip("the server does not accept password logins for test roles")
    findings = preflight.run_check(owner_login)
    assert ("BLOCKER", "rls_forced", "public.resource_usage") in _keys(findings, "BLOCKER")
    assert_refused_with_nothing_written(owner_login, ("rls_forced", "public.resource_usage"))


def test_without_the_pre_flight_a_migration_under_rls_fails_instead_of_finishing_half_done(
    owner_login: str,
) -> None:
    if not _can_log_in(owner_login):
        pytest.skip("the server does not accept password logins for test roles")
    with pytest.raises(MigrationFailed) as exc:
        migrations.apply_migrations(owner_login, preflight=False)
    cause = exc.value.cause
    assert isinstance(cause, psycopg.Error)
    # row_security = off on every migration connection: the first query RLS would filter
    # fails (42501), or the backfill's own guard does (S0030); never exit 0 half backfilled.
    assert cause.sqlstate in ("42501", "S0030")
    assert not any(m.startswith("0005") for m in migrations.applied(owner_login))


def test_a_migrating_owner_with_bypassrls_backfills_every_row(
    owner_login: str, empty_db_url: str
) -> None:
    if not _can_log_in(owner_login):
        pytest.skip("the server does not accept password logins for test roles")
    with _connect(empty_db_url) as conn:
        conn.execute("ALTER ROLE preflight_owner BYPASSRLS")
        # The DBA steps db/docs/security.md names for a migrating role that is not a superuser
        # (senate_owner is cluster-wide and already exists here, so the migrator cannot grant it
        # to itself).
        conn.execute("GRANT senate_owner TO preflight_owner")
        conn.execute("GRANT CREATE ON SCHEMA public TO senate_owner")
    findings = preflight.run_check(owner_login)
    assert preflight.blockers(findings) == []
    assert ("WARNING", "rls_forced", "public.resource_usage") in _keys(findings, "WARNING")
    migrations.apply_migrations(owner_login)
    with _connect(empty_db_url) as conn:  # superuser: sees every row
        assert conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE amount_used IS DISTINCT FROM amount)"
            " FROM public.resource_usage"
        ).fetchone() == (LEGACY_ROWS, 0)


def test_the_backfill_refuses_with_s0030_when_row_security_applies_to_its_caller(
    db: psycopg.Connection[Any], db_url: str
) -> None:
    name = "preflight_rls_caller"
    db.execute(f"DROP ROLE IF EXISTS {name}")  # type: ignore[arg-type]
    db.execute(f"CREATE ROLE {name}")  # type: ignore[arg-type]
    try:
        db.execute(f"GRANT USAGE ON SCHEMA senate TO {name}")  # type: ignore[arg-type]
        db.execute(f"GRANT SELECT ON senate.compatibility_columns TO {name}")  # type: ignore[arg-type]
        db.execute(
            "GRANT EXECUTE ON PROCEDURE senate.backfill_compatibility_columns(integer, boolean)"
            f" TO {name}"  # type: ignore[arg-type]
        )
        db.execute(f"GRANT SELECT, UPDATE ON resource_usage, allocation_proposals TO {name}")  # type: ignore[arg-type]
        db.execute("ALTER TABLE resource_usage ENABLE ROW LEVEL SECURITY")
        db.execute(f"CREATE POLICY half ON resource_usage TO {name} USING (id % 2 = 0)")  # type: ignore[arg-type]
        with _connect(db_url) as conn:
            conn.execute(f"SET ROLE {name}")  # type: ignore[arg-type]
            with pytest.raises(psycopg.Error) as exc:
                conn.execute("CALL senate.backfill_compatibility_columns(1000, false)")
        assert exc.value.sqlstate == "S0030", exc.value.diag.message_primary
        assert db.execute(
            "SELECT meaning IS NOT NULL, hint IS NOT NULL FROM senate.error_codes"
            " WHERE sqlstate = 'S0030'"
        ).fetchone() == (True, True)
    finally:
        db.execute("DROP POLICY IF EXISTS half ON resource_usage")
        db.execute("ALTER TABLE resource_usage DISABLE ROW LEVEL SECURITY")
        db.execute(f"DROP OWNED BY {name}")  # type: ignore[arg-type]
        db.execute(f"DROP ROLE {name}")  # type: ignore[arg-type]


# -- publications and replica identity -------------------------------------------------------


def test_a_publication_of_resource_usage_prints_the_ddl_every_subscriber_must_run_first(
    empty_db_url: str, server_url: str
) -> None:
    with _connect(empty_db_url) as conn:
        _usage(conn)
        conn.execute("CREATE PUBLICATION preflight_pub FOR TABLE public.resource_usage")
    findings = preflight.run_check(empty_db_url)
    assert preflight.blockers(findings) == []
    assert {
        ("WARNING", "publication", "public.resource_usage"),
        ("WARNING", "subscriber_ddl", "public.resource_usage"),
    } <= _problems(findings)
    ddl = next(f.message for f in findings if f.code == "subscriber_ddl")
    assert "ADD COLUMN IF NOT EXISTS amount_used integer" in ddl
    assert 'ADD COLUMN IF NOT EXISTS "timestamp" timestamp without time zone' in ddl

    # A subscriber holding the deployed table runs the line; it then has every column the
    # publisher has after migrating, with the same types.
    migrations.apply_migrations(empty_db_url)
    subscriber = urls.with_database(server_url, f"{urls.database_name(empty_db_url)}_sub")
    with _connect(server_url) as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {}").format(
                sql.Identifier(str(urls.database_name(subscriber)))
            )
        )
    try:
        with _connect(subscriber) as sub:
            sub.execute(DEPLOYED_USAGE_DDL)  # type: ignore[arg-type]
            sub.execute(ddl)  # type: ignore[arg-type]
            columns = (
                "SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute"
                " WHERE attrelid = 'public.resource_usage'::regclass AND attnum > 0"
                " AND NOT attisdropped ORDER BY 1"
            )
            sub_columns = sub.execute(columns).fetchall()  # type: ignore[arg-type]
        with _connect(empty_db_url) as pub:
            assert sub_columns == pub.execute(columns).fetchall()  # type: ignore[arg-type]
    finally:
        with _connect(server_url) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE {} WITH (FORCE)").format(
                    sql.Identifier(str(urls.database_name(subscriber)))
                )
            )
    # Once migrated, the publication needs nothing more from subscribers.
    after = preflight.run_check(empty_db_url)
    assert not [f for f in after if f.code == "subscriber_ddl"]


def test_a_published_table_without_a_replica_identity_is_refused(empty_db_url: str) -> None:
    with _connect(empty_db_url) as conn:
        _usage(conn)
        conn.execute("ALTER TABLE public.resource_usage REPLICA IDENTITY NOTHING")
        conn.execute("CREATE PUBLICATION preflight_pub_ri FOR TABLE public.resource_usage")
    findings = preflight.run_check(empty_db_url)
    assert ("BLOCKER", "replica_identity", "public.resource_usage") in _keys(findings, "BLOCKER")
    assert_refused_with_nothing_written(empty_db_url, ("replica_identity", "public.resource_usage"))


def test_a_publication_with_a_column_list_needs_no_subscriber_ddl(empty_db_url: str) -> None:
    with _connect(empty_db_url) as conn:
        _usage(conn)
        conn.execute(
            "CREATE PUBLICATION preflight_pub_cols FOR TABLE public.resource_usage"
            " (id, entity_type, entity_id, resource_type, amount, created_at)"
        )
    findings = preflight.run_check(empty_db_url)
    assert not [f for f in findings if f.code == "subscriber_ddl"]
    assert ("WARNING", "publication", "public.resource_usage") in _problems(findings)


# -- columns the project cannot adopt ---------------------------------------------------------


@pytest.mark.parametrize(
    "column",
    [
        "amount_used integer GENERATED ALWAYS AS (amount) STORED",
        "idempotency_key integer",
        "corrected_at text",
    ],
    ids=["generated", "integer-idempotency-key", "text-timestamp"],
)
def test_a_deployed_column_the_project_cannot_adopt_is_refused_with_nothing_written(
    empty_db_url: str, column: str
) -> None:
    name = column.split()[0]
    with _connect(empty_db_url) as conn:
        _usage(conn)
        conn.execute(f"ALTER TABLE public.resource_usage ADD COLUMN {column}")  # type: ignore[arg-type]
    findings = preflight.run_check(empty_db_url)
    assert ("BLOCKER", "column", f"public.resource_usage.{name}") in _keys(findings, "BLOCKER")
    assert_refused_with_nothing_written(empty_db_url, ("column", f"public.resource_usage.{name}"))


@pytest.mark.parametrize(
    "column", ['"timestamp" text', "amount_used bigint"], ids=["timestamp-of-text", "bigint"]
)
def test_a_compatibility_column_of_another_type_is_warned_about_and_left_alone(
    empty_db_url: str, column: str
) -> None:
    name = column.split()[0]
    with _connect(empty_db_url) as conn:
        _usage(conn)
        conn.execute(f"ALTER TABLE public.resource_usage ADD COLUMN {column}")  # type: ignore[arg-type]
    findings = preflight.run_check(empty_db_url)
    assert ("WARNING", "column", f"public.resource_usage.{name}") in _problems(findings)
    assert preflight.blockers(findings) == []


def test_deployed_columns_of_the_canonical_kinds_are_adopted_without_a_finding(
    empty_db_url: str,
) -> None:
    with _connect(empty_db_url) as conn:
        _usage(conn)  # integer amount, timestamp without time zone
        conn.execute("ALTER TABLE public.resource_usage ADD COLUMN amount_used integer")
        conn.execute("ALTER TABLE public.resource_usage ADD COLUMN provider varchar(80)")
    findings = preflight.run_check(empty_db_url)
    assert not [f for f in findings if f.code == "column"]


# -- name collisions --------------------------------------------------------------------------


def test_name_collisions_with_the_projects_views_functions_and_triggers_are_refused(
    empty_db_url: str,
) -> None:
    with _connect(empty_db_url) as conn:
        _usage(conn)
        conn.execute("CREATE TABLE public.budget_status (entity_id text, note text)")
        conn.execute(
            "CREATE FUNCTION public.allocation_score(numeric, numeric, numeric, numeric)"
            " RETURNS numeric LANGUAGE sql AS 'SELECT 1'"
        )
        conn.execute(
            "CREATE FUNCTION public.legacy_touch() RETURNS trigger LANGUAGE plpgsql"
            " AS $$ BEGIN RETURN NEW; END $$"
        )
        conn.execute(
            "CREATE TRIGGER t20_sync_compatibility_on_insert BEFORE INSERT ON public.resource_usage"
            " FOR EACH ROW EXECUTE FUNCTION public.legacy_touch()"
        )
    findings = preflight.run_check(empty_db_url)
    got = _keys(findings, "BLOCKER")
    assert ("BLOCKER", "collision", "public.budget_status") in got
    assert (
        "BLOCKER",
        "collision",
        "public.allocation_score(numeric, numeric, numeric, numeric)",
    ) in got
    assert (
        "BLOCKER",
        "collision",
        "trigger t20_sync_compatibility_on_insert on public.resource_usage",
    ) in got
    assert_refused_with_nothing_written(empty_db_url, ("collision", "public.budget_status"))


def test_an_adopted_project_table_lacking_project_columns_is_refused_and_a_complete_one_warned(
    empty_db_url: str,
) -> None:
    with _connect(empty_db_url) as conn:
        conn.execute("CREATE TABLE public.model_tiers (tier text PRIMARY KEY)")
        conn.execute(
            "INSERT INTO public.model_tiers SELECT 'tier-' || i FROM generate_series(1, 3) i"
        )
    findings = preflight.run_check(empty_db_url)
    assert ("BLOCKER", "adopted", "public.model_tiers") in _keys(findings, "BLOCKER")


# -- partitioning, deployment triggers ------------------------------------------------------


@pytest.fixture
def partitioned_usage(empty_db_url: str) -> str:
    with _connect(empty_db_url) as conn:
        conn.execute(
            "CREATE TABLE public.resource_usage (id bigserial, entity_type text NOT NULL,"
            " entity_id text NOT NULL, resource_type text NOT NULL, amount numeric NOT NULL,"
            " cost numeric, model text, artifact_type text, artifact_id text, analysis_id text,"
            " task_id text, created_at timestamptz NOT NULL DEFAULT now(), metadata jsonb,"
            " PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at)"
        )
        conn.execute(
            "CREATE TABLE public.resource_usage_recent PARTITION OF public.resource_usage"
            " FOR VALUES FROM ('2000-01-01') TO ('2100-01-01')"
        )
        conn.execute(
            "CREATE TABLE public.resource_usage_default PARTITION OF public.resource_usage DEFAULT"
        )
        conn.execute(LEGACY_USAGE_ROWS.format(table="public.resource_usage", rows=LEGACY_ROWS))  # type: ignore[arg-type]
    return empty_db_url


def test_a_partitioned_resource_usage_is_refused_behind_one_switch(
    partitioned_usage: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    findings = preflight.run_check(partitioned_usage)
    assert ("BLOCKER", "partitioned", "public.resource_usage") in _keys(findings, "BLOCKER")
    rows = next(f for f in findings if f.code == "rows")
    assert f"exactly {LEGACY_ROWS} rows" in rows.message
    assert_refused_with_nothing_written(partitioned_usage, ("partitioned", "public.resource_usage"))
    monkeypatch.setattr(preflight, "PARTITIONED_TABLES_SUPPORTED", True)
    flipped = preflight.run_check(partitioned_usage)
    assert ("WARNING", "partitioned", "public.resource_usage") in _keys(flipped, "WARNING")


def test_a_deployment_trigger_after_t20_that_writes_amount_is_refused(empty_db_url: str) -> None:
    with _connect(empty_db_url) as conn:
        _usage(conn)
        conn.execute(
            "CREATE FUNCTION public.round_amount() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN NEW.amount := round(NEW.amount, -1); RETURN NEW; END $$"
        )
        conn.execute(
            "CREATE TRIGGER trg_round_amount BEFORE INSERT OR UPDATE ON public.resource_usage"
            " FOR EACH ROW EXECUTE FUNCTION public.round_amount()"
        )
        conn.execute(
            "CREATE FUNCTION public.stamp() RETURNS trigger LANGUAGE plpgsql AS"
            " $$ BEGIN IF NEW.amount = 0 THEN RETURN NULL; END IF;"
            " NEW.created_at = coalesce(NEW.created_at, now()); RETURN NEW; END $$"
        )
        conn.execute(
            "CREATE TRIGGER a_stamp BEFORE INSERT ON public.resource_usage"
            " FOR EACH ROW EXECUTE FUNCTION public.stamp()"
        )
    findings = preflight.run_check(empty_db_url)
    blocker = next(f for f in findings if f.code == "trigger_after_t20")
    assert (blocker.severity, blocker.object) == (
        "BLOCKER",
        "trigger trg_round_amount on public.resource_usage",
    )
    assert "amount" in blocker.message
    before = next(f for f in findings if f.object == "trigger a_stamp on public.resource_usage")
    assert (before.severity, before.code) == ("INFO", "trigger")
    assert "created_at" in before.message and "amount," not in before.message


# -- ownership and rights -------------------------------------------------------------------


def test_a_migrating_role_that_does_not_own_the_deployed_table_is_refused(
    empty_db_url: str,
) -> None:
    name = "preflight_not_owner"
    params = urls.to_params(empty_db_url)
    with _connect(empty_db_url) as conn:
        _usage(conn)
        conn.execute(f"DROP ROLE IF EXISTS {name}")  # type: ignore[arg-type]
        conn.execute(f"CREATE ROLE {name} LOGIN PASSWORD 'pw'")  # type: ignore[arg-type]
    params.update(user=name, password="pw")
    url = urls.from_params(params)
    try:
        if not _can_log_in(url):
            pytest.skip("the server does not accept password logins for test roles")
        findings = preflight.run_check(url)
        got = _keys(findings, "BLOCKER")
        assert ("BLOCKER", "owner", "public.resource_usage") in got
    finally:
        with _connect(empty_db_url) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (name,),
            )
            conn.execute(f"DROP ROLE {name}")  # type: ignore[arg-type]


# -- roles made by a DBA (issue 16 point 2) ------------------------------------------------------


def dba_block() -> str:
    """The SQL block of db/docs/operations.md "Roles made by a DBA"."""
    text = (paths.repo_root() / "db" / "docs" / "operations.md").read_text(encoding="utf-8")
    section = text.split("### Roles made by a DBA\n", 1)[1]
    found = re.search(r"^```sql\n(.*?)^```", section, flags=re.S | re.M)
    assert found, "operations.md: no sql block under Roles made by a DBA"
    return found[1]


@pytest.fixture
def dba_cluster() -> Iterator[str]:
    """A PostgreSQL cluster of this test's own (embedded), so that the group roles can be
    missing: on the shared server every role exists and other tests rely on it. Yields the
    superuser URL of its database ``scidex`` (the database the operations page names)."""
    # Not tmp_path: the unix socket lives in the data dir, and its path must stay short.
    workdir = Path(tempfile.mkdtemp(prefix="senate-db-dba-"))
    data_dir = workdir / "data"
    try:
        admin = embedded.start(data_dir)
        with _connect(admin) as conn:
            conn.execute("ALTER SYSTEM SET fsync = off")
            conn.execute("SELECT pg_reload_conf()")
            conn.execute("CREATE DATABASE scidex")
        yield urls.with_database(admin, "scidex")
    finally:
        embedded.stop(data_dir)
        shutil.rmtree(workdir, ignore_errors=True)


@pytest.mark.slow
def test_a_login_without_createrole_migrates_once_a_dba_ran_the_operations_page_block(
    dba_cluster: str,
) -> None:
    block = dba_block()
    # The DBA forgot one role, one group membership and the migrating login's membership in
    # senate_owner: each statement as the page has it, and what the DBA ran instead.
    slips = {
        "CREATE ROLE senate_atlas    NOLOGIN IN ROLE senate_reader;": "",
        "CREATE ROLE senate_writer   NOLOGIN IN ROLE senate_reader;": (
            "CREATE ROLE senate_writer NOLOGIN;"
        ),
        "GRANT senate_owner TO senate_migrator;": "",
    }
    lines = block.splitlines()
    assert set(slips) <= set(lines), "operations.md: the DBA block changed"
    with _connect(dba_cluster) as conn:
        conn.execute("\n".join(slips.get(x, x) for x in lines))  # type: ignore[arg-type]
        assert conn.execute(
            "SELECT rolsuper, rolcreaterole FROM pg_roles WHERE rolname = 'senate_migrator'"
        ).fetchone() == (False, False)
    login = urls.to_params(dba_cluster)
    login.update(user="senate_migrator", password="change me")
    url = urls.from_params(login)
    with _connect(url) as conn:  # the deployment: the login owns its table
        _usage(conn)

    missing = {
        ("role", "role senate_atlas"),
        ("membership", "role senate_writer in senate_reader"),
        ("membership", "role senate_migrator in senate_owner"),
    }
    found = preflight.blockers(preflight.run_check(url))
    print("[dba] " + "\n[dba] ".join(f.line() for f in found))
    assert {(f.code, f.object) for f in found} == missing
    assert_refused_with_nothing_written(url, *missing)

    # The DBA runs the statements the lines name; the login, still without CREATEROLE, migrates.
    with _connect(dba_cluster) as conn:
        for f in found:
            statement = re.search(r"as a superuser run (.+;) then migrate again", f.message)
            assert statement, f.line()
            conn.execute(statement[1])  # type: ignore[arg-type]
    assert preflight.blockers(preflight.run_check(url)) == []
    assert migrations.apply_migrations(url) == migrations.migration_ids()
    assert migrations.pending(url) == []
    with _connect(dba_cluster) as conn:
        # 0056 and 0125 found every role and membership: they created, granted and commented
        # nothing (the login may not comment a role).
        assert conn.execute(
            "SELECT count(*) FILTER (WHERE shobj_description(oid, 'pg_authid') IS NOT NULL),"
            " count(*) FILTER (WHERE pg_has_role(rolname, 'senate_reader', 'MEMBER'))"
            " FROM pg_roles WHERE rolname LIKE 'senate\\_%' AND rolname <> 'senate_migrator'"
        ).fetchone() == (0, 6)
        assert conn.execute(
            "SELECT DISTINCT proowner::regrole::text FROM pg_proc"
            " WHERE pronamespace = 'senate'::regnamespace"
        ).fetchall() == [("senate_owner",)]
        assert conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE amount_used IS DISTINCT FROM amount)"
            " FROM public.resource_usage"
        ).fetchone() == (LEGACY_ROWS, 0)


@pytest.fixture
def plain_owner(empty_db_url: str) -> Iterator[tuple[str, str]]:
    """A LOGIN role without CREATEROLE owning ``empty_db_url``'s database, on the shared server
    (where the group roles exist, as after a DBA's block). Yields (its name, its URL)."""
    name = f"preflight_plain_{secrets.token_hex(4)}"
    password = secrets.token_hex(16)
    params = urls.to_params(empty_db_url)
    with _connect(empty_db_url) as conn:
        conn.execute(
            sql.SQL("CREATE ROLE {} LOGIN NOCREATEROLE PASSWORD {}").format(
                sql.Identifier(name), sql.Literal(password)
            )
        )
        conn.execute(
            sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                sql.Identifier(params["dbname"]), sql.Identifier(name)
            )
        )
    params.update(user=name, password=password)
    try:
        yield name, urls.from_params(params)
    finally:
        with _connect(empty_db_url) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (name,),
            )
            conn.execute(
                sql.SQL("REASSIGN OWNED BY {} TO current_user").format(sql.Identifier(name))
            )
            conn.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(name)))
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(name)))


def test_a_login_without_createrole_where_the_roles_exist_is_refused_then_migrates(
    plain_owner: tuple[str, str], empty_db_url: str
) -> None:
    name, url = plain_owner
    if not _can_log_in(url):
        pytest.skip("the server does not accept password logins for test roles")
    with _connect(url) as conn:
        _usage(conn)
    # Not yet a member of senate_owner, which may not CREATE in public: refused up front.
    missing = {
        ("membership", f"role {name} in senate_owner"),
        ("rights", "role senate_owner"),
    }
    assert missing <= {(f.code, f.object) for f in preflight.blockers(preflight.run_check(url))}
    assert_refused_with_nothing_written(url, *missing)
    # The DBA's two statements (the group roles and their memberships exist on this server).
    with _connect(empty_db_url) as conn:
        conn.execute(sql.SQL("GRANT senate_owner TO {}").format(sql.Identifier(name)))
        conn.execute("GRANT CREATE ON SCHEMA public TO senate_owner")
    assert preflight.blockers(preflight.run_check(url)) == []
    assert migrations.apply_migrations(url) == migrations.migration_ids()
    assert migrations.apply_migrations(url) == []


# -- a login named senate ---------------------------------------------------------------------


@pytest.fixture
def senate_login(empty_db_url: str) -> Iterator[str]:
    with _connect(empty_db_url) as conn:
        if conn.execute("SELECT 1 FROM pg_roles WHERE rolname = 'senate'").fetchone():
            pytest.skip("a role named senate already exists on this server")
        conn.execute("CREATE ROLE senate LOGIN SUPERUSER PASSWORD 'pw'")
        _usage(conn)
    params = urls.to_params(empty_db_url)
    params.update(user="senate", password="pw")
    try:
        yield urls.from_params(params)
    finally:
        with _connect(empty_db_url) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'senate'"
            )
            conn.execute("REASSIGN OWNED BY senate TO current_user")
            conn.execute("DROP OWNED BY senate")
            conn.execute("DROP ROLE senate")


def test_a_login_named_senate_migrates_twice_and_the_second_run_has_nothing_to_apply(
    senate_login: str,
) -> None:
    if not _can_log_in(senate_login):
        pytest.skip("the server does not accept password logins for test roles")
    with _connect(senate_login) as conn:
        before = catalog_snapshot(conn)
    assert migrations.apply_migrations(senate_login) == migrations.migration_ids()
    assert migrations.apply_migrations(senate_login) == []
    assert migrations.pending(senate_login) == []
    with _connect(senate_login) as conn:
        assert conn.execute(
            "SELECT array_agg(DISTINCT n.nspname::text) FROM pg_class AS c"
            " JOIN pg_namespace AS n ON n.oid = c.relnamespace"
            " WHERE c.relname IN ('_yoyo_migration', '_yoyo_log', '_yoyo_version', 'yoyo_lock')"
        ).fetchone() == (["public"],)
    # The CLI says so too.
    result = subprocess.run(
        [sys.executable, "-m", "senate_db", "migrate", "--database", senate_login],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "nothing to apply"
    # The deployment's writer still writes, and rollback --all as the same login gives back
    # exactly what the deployment had (the zoo's catalog snapshot: objects, comments, grants,
    # rows).
    with _connect(senate_login) as conn:
        conn.execute(
            "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount, created_at)"
            " VALUES ('hypothesis', 'h-senate-login', 'cpu_seconds', 5, now())"
        )
        conn.execute("DELETE FROM resource_usage WHERE entity_id = 'h-senate-login'")
    assert migrations.rollback_migrations(senate_login)
    assert migrations.applied(senate_login) == []
    with _connect(senate_login) as conn:
        assert snapshot_diff(before, catalog_snapshot(conn)) == []


# -- the command line ---------------------------------------------------------------------------


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "senate_db", *args],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        check=False,
    )


def test_senate_db_check_prints_one_line_per_finding_and_exits_2_on_blockers(
    scidex_schema: str,
) -> None:
    result = _cli("check", "--database", scidex_schema)
    assert result.returncode == 2, result.stderr
    lines = result.stdout.splitlines()
    assert all(line.split(" ", 1)[0] in preflight.SEVERITIES for line in lines), lines
    assert any(line.startswith("BLOCKER schema scidex.resource_usage ") for line in lines)
    assert len(result.stderr.splitlines()) == 1

    migrate = _cli("migrate", "--database", scidex_schema)
    assert migrate.returncode == 1
    assert any(
        line.startswith("BLOCKER schema scidex.resource_usage ")
        for line in migrate.stdout.splitlines()
    )
    assert migrate.stderr.startswith("senate-db: pre-flight refused the migration")
    assert migrations.applied(scidex_schema) == []


def test_senate_db_check_exits_0_on_a_clean_database(empty_db_url: str) -> None:
    result = _cli("check", "--quiet", "--database", empty_db_url)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
