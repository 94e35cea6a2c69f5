"""Grants only on what the project owns (issue 14, point 11): the group roles get nothing on the
deployment's own tables and views, and every relation the project creates in public is named
in senate.table_access (no wildcard reaches a deployment's objects)."""

from __future__ import annotations

from typing import Any

import psycopg
from brownfield_zoo import deployed_proposals, deployed_usage
from psycopg import sql
from reliability_support import DENIED, sqlstate_of

from senate_db import migrations

Conn = psycopg.Connection[Any]

DEPLOYMENT_OBJECTS = """
CREATE TABLE public.app_users (id bigserial PRIMARY KEY, email text NOT NULL);
INSERT INTO public.app_users (email) SELECT 'user' || g || '@example.org'
FROM generate_series(1, 50) AS g;
CREATE VIEW public.app_user_emails AS SELECT id, email FROM public.app_users;
CREATE VIEW public.app_raw_usage AS SELECT * FROM public.resource_usage;
"""
#: Each a fresh login in one group, none granted anything else.
LOGINS = {
    "owned_t_reader": "senate_reader",
    "owned_t_admin": "senate_admin",
    "owned_t_writer": "senate_writer",
}


def test_no_group_role_can_read_the_deployments_own_tables_or_views(empty_db_url: str) -> None:
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute(deployed_usage(200) + deployed_proposals(20) + DEPLOYMENT_OBJECTS)  # type: ignore[arg-type]
        for login in LOGINS:
            conn.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(login)))
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(login)))
    try:
        migrations.apply_migrations(empty_db_url)
        with psycopg.connect(empty_db_url, autocommit=True) as conn:
            for login, group in LOGINS.items():
                conn.execute(
                    sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), sql.Identifier(login))
                )
            for login in LOGINS:
                conn.execute(sql.SQL("SET SESSION AUTHORIZATION {}").format(sql.Identifier(login)))
                for relation in ("app_users", "app_user_emails", "app_raw_usage"):
                    assert sqlstate_of(conn, f"SELECT count(*) FROM public.{relation}") == DENIED, (
                        login,
                        relation,
                    )
                # What the role is for still works.
                assert sqlstate_of(conn, "SELECT count(*) FROM budget_status") is None
                conn.execute("RESET SESSION AUTHORIZATION")
            grants = conn.execute(
                "SELECT c.relname, x.grantee::regrole::text FROM pg_class AS c,"
                " aclexplode(c.relacl) AS x WHERE c.relname LIKE 'app\\_%'"
                " AND x.grantee::regrole::text LIKE 'senate\\_%'"
            ).fetchall()
            assert grants == []
    finally:
        with psycopg.connect(empty_db_url, autocommit=True) as conn:
            for login in LOGINS:
                conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(login)))


def test_every_relation_the_project_creates_in_public_is_named_in_the_access_table(
    db: Conn,
) -> None:
    unnamed = db.execute(
        "SELECT c.relname FROM pg_class AS c"
        " WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm')"
        " AND c.relname NOT LIKE '\\_yoyo%' AND c.relname <> 'yoyo_lock'"
        " AND NOT EXISTS (SELECT 1 FROM senate.table_access AS a"
        "                 WHERE a.relation_name = 'public.' || c.relname)"
        " ORDER BY 1"
    ).fetchall()
    assert unnamed == []
    assert db.execute(
        "SELECT count(*) FROM senate.table_access WHERE relation_name LIKE 'public.<%'"
    ).fetchone() == (0,)
