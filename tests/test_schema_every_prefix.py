"""A migration that stops part-way leaves every legacy writer working (issue 14, point 9).

A deployment built as SciDEX's is (thousands of usage rows, proposals in lower-case statuses
with free-form evidence, written by the login that owns the tables) is migrated one migration
at a time. After each one, the deployment's writer statements run (in a transaction rolled
back afterwards): usage inserts, a proposal filed with free-form evidence, a proposal moved
from pending to approved and another to rejected. Every prefix must accept them, from the
login that owns the tables and from a plain login holding only its grants (the trigger
functions of ours on the deployed tables run with the owner's rights from the migration that
defines them).
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from brownfield_zoo import deployed_proposals, deployed_usage
from psycopg import sql

from senate_db import migrations

LEGACY_WRITES = (
    "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount, cost, model,"
    " created_at) VALUES ('hypothesis', 'legacy-1', 'llm_tokens', 1200, 0.01, 'claude-sonnet',"
    " now())",
    "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount, created_at)"
    " SELECT 'analysis', 'legacy-' || g, 'cpu_seconds', g, now() FROM generate_series(1, 20) g",
    "INSERT INTO allocation_proposals (entity_type, entity_id, requested_tokens, proposer_agent,"
    " justification, evidence) VALUES ('hypothesis', 'legacy-filed', 900, 'agent-legacy',"
    " 'the last run looked promising', '{\"note\": \"see the notebook\"}')",
    "UPDATE allocation_proposals SET status = 'approved'"
    " WHERE id = (SELECT min(id) FROM allocation_proposals WHERE status = 'pending')",
    "UPDATE allocation_proposals SET status = 'rejected'"
    " WHERE id = (SELECT max(id) FROM allocation_proposals WHERE status = 'pending')",
)


class _Undone(Exception):
    """Rolls back a transaction whose writes succeeded."""


def _failure(conn: psycopg.Connection[Any], writer: str | None) -> str | None:
    if writer:
        conn.execute(sql.SQL("SET SESSION AUTHORIZATION {}").format(sql.Identifier(writer)))
    try:
        with conn.transaction():
            for statement in LEGACY_WRITES:
                conn.execute(statement)  # type: ignore[arg-type]
            conn.execute("SET CONSTRAINTS ALL IMMEDIATE")
            raise _Undone
    except _Undone:
        return None
    except psycopg.Error as e:
        return f"{statement[:60]}... -> {e.sqlstate} {e.diag.message_primary}"


#: A plain login holding only INSERT, UPDATE and SELECT on the two tables, as an app would.
APP_WRITER = """
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'prefix_app_writer') THEN
        CREATE ROLE prefix_app_writer LOGIN;
    END IF;
END;
$roles$;
GRANT SELECT, INSERT, UPDATE ON public.resource_usage, public.allocation_proposals
    TO prefix_app_writer;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO prefix_app_writer;
"""


@pytest.mark.slow
@pytest.mark.parametrize(
    "writer",
    [
        pytest.param(None, id="the_owner_writes"),
        pytest.param("prefix_app_writer", id="a_plain_login_with_its_grants_writes"),
    ],
)
def test_after_every_migration_the_deployments_writers_keep_working(
    empty_db_url: str, writer: str | None
) -> None:
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        conn.execute(deployed_usage(2000) + deployed_proposals(200) + APP_WRITER)  # type: ignore[arg-type]
        assert _failure(conn, writer) is None  # the shape is sound before migrating
    failures = {}
    for migration in migrations.migration_ids():
        migrations.apply_migrations(empty_db_url, until=migration)
        with psycopg.connect(empty_db_url, autocommit=True) as conn:
            failed = _failure(conn, writer)
        if failed:
            failures[migration] = failed
    print(
        f"[prefix] {writer or 'owner'}: {len(migrations.migration_ids())} prefixes,"
        f" {len(failures)} failing: {sorted(failures)[:1]} .. {sorted(failures)[-1:]}"
    )
    assert failures == {}
