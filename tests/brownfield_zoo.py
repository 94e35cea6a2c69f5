"""The deployment zoo: deployment shapes built by the tests themselves, and a catalog snapshot.

A :class:`Shape` is a name, the SQL that builds the deployment in an empty database (its
tables, thousands of legacy rows through ``generate_series``, its own indexes, triggers,
comments and grants), the statements its legacy writers run, and the expected outcome of
``migrate``: ``"migrates"`` (exit 0) or ``"refuses"`` (a named SQLSTATE, nothing changed).
``tests/test_brownfield_zoo.py`` runs every registered shape through the same checks:

- the legacy writes work before migrating (the shape is sound) and after it (each time in a
  transaction rolled back afterwards, so that the deployment's rows stay comparable);
- migrate exits 0, or refuses with the expected SQLSTATE and the catalog snapshot unchanged;
- compatibility pairs equal (amount_used = amount, "timestamp" = created_at,
  requested_amount = requested_tokens, proposer = coalesce(proposer_id, proposer_agent)) and
  the backfill complete;
- a second migrate changes nothing (catalog snapshot equal);
- ``rollback --all`` leaves every deployed object, row, comment and grant as it was (catalog
  snapshot before migrating equal to the one after rolling back).

Adding a shape (partitioned, another schema, RLS, a publication, a trigger after t20_, ...):
call :func:`register` with a new :class:`Shape` (``xfail`` names what is still unsafe for it and
who owns the fix, so the zoo stays green and the case turns on when the fix lands).

:func:`catalog_snapshot` reads every schema but the system ones: schemas, relations (kind,
owner, ACL, comment, RLS flags, replica identity, options), columns (type, default,
nullability, identity, generation, collation, ACL, comment), indexes, constraints, triggers,
policies, functions (source digest, owner, ACL, settings, comment), sequences, types,
publications, default ACLs, and a row count and checksum of every table. yoyo's bookkeeping
tables are left out (they record the migrations, by design).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import psycopg
from psycopg import sql

Outcome = Literal["migrates", "refuses"]

#: yoyo's bookkeeping tables: written by every migrate and rollback, never compared.
YOYO_TABLES = ("_yoyo_migration", "_yoyo_log", "_yoyo_version", "yoyo_lock")

#: The compatibility pairs: (table, compatibility column, canonical column(s), rule).
PAIRS = (
    ("resource_usage", "amount_used", ("amount",)),
    ("resource_usage", "timestamp", ("created_at",)),
    ("allocation_proposals", "requested_amount", ("requested_tokens",)),
    ("allocation_proposals", "proposer", ("proposer_id", "proposer_agent")),
)


@dataclass(frozen=True)
class Shape:
    """One deployment shape of the zoo."""

    #: Test id (snake_case).
    name: str
    #: What the shape is, in one sentence (shown when a check fails).
    about: str
    #: SQL building the deployment in an empty database (one string, many statements).
    setup: str
    #: The deployment's legacy writer statements, run in order (each its own transaction).
    legacy_writes: tuple[str, ...] = ()
    #: What migrate does on this shape.
    outcome: Outcome = "migrates"
    #: SQLSTATE migrate fails with when it refuses past the pre-flight.
    refusal_sqlstate: str | None = None
    #: The pre-flight blocker (code, object) that refuses the shape before anything is written.
    refusal_blocker: tuple[str, str] | None = None
    #: Extra checks after migrating: ``check(conn)`` asserts what is special about the shape.
    after_migrate: Callable[[psycopg.Connection[Any]], None] | None = None
    #: Known unsafe: reason (and who fixes it). The zoo marks the shape xfail (strict).
    xfail: str | None = None
    #: Tables whose rows the legacy writers own (checked for backfill and pairs).
    deployed_tables: tuple[str, ...] = ("resource_usage", "allocation_proposals")
    #: Whether the legacy writes also run before migrating (False where they need the project's
    #: tables, as on a fresh install).
    writes_before_migrating: bool = True
    #: Free-form tags (e.g. "slow") for selecting shapes.
    tags: frozenset[str] = field(default_factory=frozenset)


SHAPES: dict[str, Shape] = {}


def register(shape: Shape) -> Shape:
    """Add ``shape`` to the zoo (names are unique)."""
    if shape.name in SHAPES:
        raise ValueError(f"shape {shape.name!r} registered twice")
    SHAPES[shape.name] = shape
    return shape


# -- building and writing ------------------------------------------------------------------


def build(conn: psycopg.Connection[Any], shape: Shape) -> None:
    """Build ``shape`` in the (empty) database of ``conn``."""
    if shape.setup.strip():
        conn.execute(shape.setup)


def run_legacy_writes(conn: psycopg.Connection[Any], shape: Shape) -> None:
    """Run the shape's legacy writer statements in order, in the caller's transaction.

    Deferred constraint triggers fire at the end (SET CONSTRAINTS ALL IMMEDIATE), so a caller
    may check and then roll the writes back.
    """
    for statement in shape.legacy_writes:
        conn.execute(statement)
    conn.execute("SET CONSTRAINTS ALL IMMEDIATE")


# -- compatibility pairs and backfill ---------------------------------------------------------


def _columns(conn: psycopg.Connection[Any], table: str) -> dict[str, str]:
    rows = conn.execute(
        "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute AS a"
        " WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped",
        (f"public.{table}",),
    ).fetchall()
    return {str(name): str(kind) for name, kind in rows}


def pair_mismatches(conn: psycopg.Connection[Any]) -> dict[str, int]:
    """Rows where a compatibility column differs from its canonical column(s), per pair.

    Pairs whose columns do not both exist, or whose types differ (a deployment's own
    "timestamp" of text is its own, left alone), are skipped. ``proposer`` follows the rule
    coalesce(proposer_id::text, proposer_agent::text) over the canonical columns present.
    """
    out: dict[str, int] = {}
    for table, compat, canonical in PAIRS:
        cols = _columns(conn, table)
        present = [c for c in canonical if c in cols]
        if compat not in cols or not present:
            continue
        if compat == "proposer":
            expected: sql.Composable = sql.SQL("coalesce({})").format(
                sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(c)) for c in present)
            )
            got: sql.Composable = sql.SQL("{}::text").format(sql.Identifier(compat))
        else:
            if cols[compat] != cols[present[0]]:
                continue
            expected = sql.Identifier(present[0])
            got = sql.Identifier(compat)
        row = conn.execute(
            sql.SQL("SELECT count(*) FROM public.{} WHERE {} IS DISTINCT FROM {}").format(
                sql.Identifier(table), got, expected
            )
        ).fetchone()
        out[f"{table}.{compat}"] = int(row[0]) if row else -1
    return out


def backfill_missing(conn: psycopg.Connection[Any]) -> dict[str, int]:
    """Rows whose compatibility column is NULL while a canonical column is not, per pair."""
    out: dict[str, int] = {}
    for table, compat, canonical in PAIRS:
        cols = _columns(conn, table)
        present = [c for c in canonical if c in cols]
        if compat not in cols or not present:
            continue
        row = conn.execute(
            sql.SQL(
                "SELECT count(*) FROM public.{} WHERE {} IS NULL AND coalesce({}) IS NOT NULL"
            ).format(
                sql.Identifier(table),
                sql.Identifier(compat),
                sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(c)) for c in present),
            )
        ).fetchone()
        out[f"{table}.{compat}"] = int(row[0]) if row else -1
    return out


# -- catalog snapshot ------------------------------------------------------------------------

_USER_NS = (
    "n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')"
    " AND n.nspname NOT LIKE 'pg_temp_%' AND n.nspname NOT LIKE 'pg_toast_temp_%'"
)
_NOT_YOYO = "c.relname !~ '^(_yoyo_(migration|log|version)|yoyo_lock)'"

_QUERIES: dict[str, str] = {
    "schemas": f"""
        SELECT n.nspname, pg_get_userbyid(n.nspowner),
               coalesce(n.nspacl, acldefault('n', n.nspowner))::text,
               obj_description(n.oid, 'pg_namespace')
        FROM pg_namespace AS n WHERE {_USER_NS} ORDER BY 1""",
    "relations": f"""
        SELECT n.nspname || '.' || c.relname, c.relkind, pg_get_userbyid(c.relowner),
               coalesce(c.relacl,
                        acldefault(CASE WHEN c.relkind = 'S' THEN 's' ELSE 'r' END::"char",
                                   c.relowner))::text,
               obj_description(c.oid, 'pg_class'), c.relpersistence,
               c.relrowsecurity, c.relforcerowsecurity, c.relreplident, c.reloptions::text,
               c.relispartition,
               CASE WHEN c.relkind IN ('v', 'm') THEN md5(pg_get_viewdef(c.oid)) END
        FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
        WHERE {_USER_NS} AND {_NOT_YOYO} AND c.relkind NOT IN ('t')
        ORDER BY 1""",
    "columns": f"""
        SELECT n.nspname || '.' || c.relname || '.' || a.attname,
               row_number() OVER (PARTITION BY c.oid ORDER BY a.attnum),
               format_type(a.atttypid, a.atttypmod), a.attnotnull,
               pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated,
               a.attcollation::regcollation::text, nullif(a.attacl, '{{}}')::text,
               col_description(c.oid, a.attnum)
        FROM pg_attribute AS a
        JOIN pg_class AS c ON c.oid = a.attrelid
        JOIN pg_namespace AS n ON n.oid = c.relnamespace
        LEFT JOIN pg_attrdef AS d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE {_USER_NS} AND {_NOT_YOYO} AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
          AND a.attnum > 0 AND NOT a.attisdropped
        ORDER BY 1""",
    "indexes": f"""
        SELECT n.nspname || '.' || c.relname, pg_get_indexdef(i.indexrelid), i.indisvalid,
               i.indisprimary, obj_description(i.indexrelid, 'pg_class')
        FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid
        JOIN pg_class AS t ON t.oid = i.indrelid
        JOIN pg_namespace AS n ON n.oid = c.relnamespace
        WHERE {_USER_NS} AND t.relname NOT IN {YOYO_TABLES!r}
        ORDER BY 1""",
    "constraints": f"""
        SELECT n.nspname || '.' || c.relname || '.' || k.conname, k.contype,
               pg_get_constraintdef(k.oid), k.convalidated, k.condeferrable,
               obj_description(k.oid, 'pg_constraint')
        FROM pg_constraint AS k JOIN pg_class AS c ON c.oid = k.conrelid
        JOIN pg_namespace AS n ON n.oid = c.relnamespace
        WHERE {_USER_NS} AND {_NOT_YOYO}
        ORDER BY 1""",
    "triggers": f"""
        SELECT n.nspname || '.' || c.relname || '.' || g.tgname, pg_get_triggerdef(g.oid),
               g.tgenabled, obj_description(g.oid, 'pg_trigger')
        FROM pg_trigger AS g JOIN pg_class AS c ON c.oid = g.tgrelid
        JOIN pg_namespace AS n ON n.oid = c.relnamespace
        WHERE {_USER_NS} AND NOT g.tgisinternal
        ORDER BY 1""",
    "policies": f"""
        SELECT n.nspname || '.' || c.relname || '.' || p.polname, p.polcmd, p.polpermissive,
               p.polroles::text, pg_get_expr(p.polqual, p.polrelid),
               pg_get_expr(p.polwithcheck, p.polrelid)
        FROM pg_policy AS p JOIN pg_class AS c ON c.oid = p.polrelid
        JOIN pg_namespace AS n ON n.oid = c.relnamespace
        WHERE {_USER_NS} ORDER BY 1""",
    "functions": f"""
        SELECT p.oid::regprocedure::text, p.prokind, pg_get_function_result(p.oid),
               md5(p.prosrc), p.prosecdef, p.proconfig::text, pg_get_userbyid(p.proowner),
               coalesce(p.proacl, acldefault('f', p.proowner))::text,
               obj_description(p.oid, 'pg_proc')
        FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace
        WHERE {_USER_NS} ORDER BY 1""",
    "types": f"""
        SELECT n.nspname || '.' || t.typname, t.typtype, pg_get_userbyid(t.typowner),
               coalesce(t.typacl, acldefault('T', t.typowner))::text,
               obj_description(t.oid, 'pg_type')
        FROM pg_type AS t JOIN pg_namespace AS n ON n.oid = t.typnamespace
        LEFT JOIN pg_class AS c ON c.oid = t.typrelid
        WHERE {_USER_NS} AND t.typtype IN ('e', 'd', 'c', 'r', 'm')
          AND (c.oid IS NULL OR c.relkind = 'c')
        ORDER BY 1""",
    "publications": """
        SELECT p.pubname, p.puballtables, p.pubinsert, p.pubupdate, p.pubdelete,
               (SELECT string_agg(r.prrelid::regclass::text, ',' ORDER BY r.prrelid::regclass::text)
                FROM pg_publication_rel AS r WHERE r.prpubid = p.oid)
        FROM pg_publication AS p ORDER BY 1""",
    "default_acls": """
        SELECT pg_get_userbyid(d.defaclrole), d.defaclnamespace::regnamespace::text,
               d.defaclobjtype, d.defaclacl::text
        FROM pg_default_acl AS d ORDER BY 1, 2, 3""",
}


def _data(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    tables = conn.execute(
        f"""SELECT n.nspname, c.relname FROM pg_class AS c
            JOIN pg_namespace AS n ON n.oid = c.relnamespace
            WHERE {_USER_NS} AND {_NOT_YOYO} AND c.relkind IN ('r', 'p') AND NOT c.relispartition
            ORDER BY 1, 2"""
    ).fetchall()
    out: list[tuple[Any, ...]] = []
    for schema, name in tables:
        ident = sql.Identifier(str(schema), str(name))
        row = conn.execute(
            sql.SQL(
                "SELECT count(*), md5(coalesce(string_agg(t::text, E'\\n' ORDER BY t::text), ''))"
                " FROM {} AS t"
            ).format(ident)
        ).fetchone()
        out.append((f"{schema}.{name}", *(row or ())))
    # Sequence positions are left out: a legacy write rolled back still advances them.
    return out


def catalog_snapshot(conn: psycopg.Connection[Any]) -> dict[str, list[tuple[Any, ...]]]:
    """Everything a deployment has that a migration could change, comparable with ``==``."""
    snap = {key: [tuple(r) for r in conn.execute(q).fetchall()] for key, q in _QUERIES.items()}
    snap["data"] = _data(conn)
    return snap


def snapshot_diff(
    before: dict[str, list[tuple[Any, ...]]],
    after: dict[str, list[tuple[Any, ...]]],
    *,
    prefixes: Sequence[str] = (),
) -> list[str]:
    """Readable differences between two snapshots (empty when equal).

    With ``prefixes``, only objects whose name starts with one of them are compared (e.g.
    ``("public.resource_usage",)`` for that table, its columns, constraints and triggers).
    """
    lines: list[str] = []
    for key in sorted(set(before) | set(after)):
        old = {r[0]: r for r in before.get(key, [])}
        new = {r[0]: r for r in after.get(key, [])}
        for name in sorted(set(old) | set(new), key=str):
            if prefixes and not str(name).startswith(tuple(prefixes)):
                continue
            if name not in new:
                lines.append(f"{key}: lost {old[name]}")
            elif name not in old:
                lines.append(f"{key}: gained {new[name]}")
            elif old[name] != new[name]:
                lines.append(f"{key}: {old[name]} -> {new[name]}")
    return lines


def table_comments(conn: psycopg.Connection[Any], tables: Sequence[str]) -> dict[str, str | None]:
    """Comments of the given tables (``schema.table``) and of each of their columns."""
    out: dict[str, str | None] = {}
    for table in tables:
        row = conn.execute(
            "SELECT obj_description(to_regclass(%s), 'pg_class')", (table,)
        ).fetchone()
        out[table] = row[0] if row else None
        for name, comment in conn.execute(
            "SELECT a.attname, col_description(a.attrelid, a.attnum) FROM pg_attribute AS a"
            " WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped",
            (table,),
        ).fetchall():
            out[f"{table}.{name}"] = comment
    return out


#: Session settings the legacy writers run with after migrating: none. On a deployment, 0126
#: registers the proposal table's owner and writers as legacy proposal writers (issue 14,
#: point 8), so their writes work as before with no setting.
LEGACY_SESSION: tuple[str, ...] = ()


def run_legacy_session(conn: psycopg.Connection[Any], shape: Shape) -> None:
    """Run the shape's legacy writes with the session settings the legacy writers use."""
    for statement in LEGACY_SESSION:
        conn.execute(statement)
    run_legacy_writes(conn, shape)


# -- the shapes ----------------------------------------------------------------------------
#
# Building blocks: a deployed resource_usage / allocation_proposals with every column of the
# project's fresh-install tables, minus the ones a shape leaves out, plus extra SQL.

USAGE_COLUMNS = {
    "id": "bigserial PRIMARY KEY",
    "entity_type": "text NOT NULL",
    "entity_id": "text NOT NULL",
    "resource_type": "text NOT NULL",
    "amount": "numeric NOT NULL",
    "cost": "numeric",
    "model": "text",
    "artifact_type": "text",
    "artifact_id": "text",
    "analysis_id": "text",
    "task_id": "text",
    "created_at": "timestamptz NOT NULL DEFAULT now()",
    "metadata": "jsonb DEFAULT '{}'::jsonb",
}
PROPOSAL_COLUMNS = {
    "id": "bigserial PRIMARY KEY",
    "entity_type": "text NOT NULL",
    "entity_id": "text NOT NULL",
    "requested_tokens": "numeric NOT NULL",
    "proposer_id": "text",
    "proposer_agent": "text",
    "justification": "text NOT NULL",
    "evidence": "jsonb NOT NULL DEFAULT '{}'::jsonb",
    "status": "text NOT NULL DEFAULT 'pending'",
    "reviewer": "text",
    "decided_at": "timestamptz",
    "created_at": "timestamptz NOT NULL DEFAULT now()",
    "updated_at": "timestamptz NOT NULL DEFAULT now()",
}
EVIDENCE = '{"pmids": ["31883511"], "expected_kg_edges": 40}'


def _table(name: str, columns: dict[str, str], drop: Sequence[str], extra: dict[str, str]) -> str:
    cols = {**{k: v for k, v in columns.items() if k not in drop}, **extra}
    body = ",\n    ".join(f'"{k}" {v}' if k == "timestamp" else f"{k} {v}" for k, v in cols.items())
    return f"CREATE TABLE public.{name} (\n    {body}\n);\n"


def deployed_usage(
    rows: int = 3000, *, drop: Sequence[str] = (), extra: dict[str, str] | None = None
) -> str:
    """SQL for a deployed resource_usage with ``rows`` legacy rows (canonical columns only)."""
    cols = [c for c in ("cost", "model", "analysis_id", "task_id") if c not in drop]
    values = {
        "cost": "CASE WHEN g % 5 = 0 THEN 0.01 * (g % 7) END",
        "model": "CASE WHEN g % 2 = 0"
        " THEN (ARRAY['claude-sonnet', 'gpt-4-legacy'])[1 + g % 4 / 2] END",
        "analysis_id": "CASE WHEN g % 3 = 0 THEN 'an-' || g % 11 END",
        "task_id": "'task-' || g % 13",
    }
    return _table("resource_usage", USAGE_COLUMNS, drop, extra or {}) + (
        "INSERT INTO public.resource_usage (entity_type, entity_id, resource_type, amount,"
        f" created_at{''.join(', ' + c for c in cols)})\n"
        "SELECT (ARRAY['hypothesis', 'knowledge_gap', 'analysis', 'entity'])[1 + g % 4],"
        " 'legacy-' || g % 40, (ARRAY['llm_tokens', 'cpu_seconds', 'api_calls'])[1 + g % 3],"
        " 10 + g % 900, timestamptz '2026-01-01 00:00+00' + g * interval '11 minutes'"
        f"{''.join(', ' + values[c] for c in cols)}\n"
        f"FROM generate_series(1, {rows}) AS g;\n"
    )


def deployed_proposals(
    rows: int = 300,
    *,
    drop: Sequence[str] = (),
    extra: dict[str, str] | None = None,
    status: str = "CASE WHEN g % 3 = 0 THEN 'approved' ELSE 'pending' END",
) -> str:
    """SQL for a deployed allocation_proposals with ``rows`` legacy rows."""
    values = [
        ("entity_type", "'hypothesis'"),
        ("entity_id", "'legacy-' || g"),
        ("requested_tokens", "100 + g"),
        ("justification", "'more evidence'"),
        ("evidence", f"'{EVIDENCE}'::jsonb"),
        ("status", status),
        ("proposer_id", "CASE WHEN g % 2 = 0 THEN 'user-' || g END"),
        ("proposer_agent", "'agent-' || g % 9"),
    ]
    kept = [(c, v) for c, v in values if c not in drop]
    return _table("allocation_proposals", PROPOSAL_COLUMNS, drop, extra or {}) + (
        f"INSERT INTO public.allocation_proposals ({', '.join(c for c, _ in kept)})\n"
        f"SELECT {', '.join(v for _, v in kept)}\n"
        f"FROM generate_series(1, {rows}) AS g;\n"
    )


USAGE_WRITES = (
    "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount, cost, model,"
    " created_at) VALUES ('hypothesis', 'legacy-1', 'llm_tokens', 1200, 0.01, 'claude-sonnet',"
    " now())",
    "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount, created_at)"
    " SELECT 'analysis', 'legacy-' || g, 'cpu_seconds', g, now() FROM generate_series(1, 50) AS g",
)
PROPOSAL_WRITES = (
    "INSERT INTO allocation_proposals (entity_type, entity_id, requested_tokens, proposer_agent,"
    f" justification, evidence) VALUES ('hypothesis', 'legacy-new', 5000, 'agent-legacy',"
    f" 'more runs', '{EVIDENCE}')",
)


def _usage_comments(conn: psycopg.Connection[Any]) -> None:
    comments = table_comments(conn, ["public.resource_usage", "public.allocation_proposals"])
    assert comments["public.resource_usage"] == "Deployment: every spend, one row."
    assert comments["public.resource_usage.amount"] == "Deployment: amount in the class unit."
    assert comments["public.allocation_proposals.status"] == "Deployment: review state."
    # Objects the deployment left without a comment get the project's.
    assert comments["public.resource_usage.cost"]
    assert comments["public.allocation_proposals"]


def _budgets_adopted(conn: psycopg.Connection[Any]) -> None:
    row = conn.execute(
        "SELECT count(*), obj_description('public.resource_budgets'::regclass, 'pg_class')"
        " FROM public.resource_budgets"
    ).fetchone()
    assert row == (401, "Deployment (spec migration 121): budget envelopes."), row
    registry = conn.execute(
        "SELECT action FROM senate.schema_registry"
        " WHERE object_kind = 'table' AND relation = 'public.resource_budgets'"
    ).fetchone()
    assert registry == ("adopted",)


def _tiers_adopted(conn: psycopg.Connection[Any]) -> None:
    tiers = {r[0] for r in conn.execute("SELECT model_tier FROM public.model_tiers").fetchall()}
    assert {"frontier", "reasoning", "standard", "batch", "legacy_writer"} <= tiers, tiers


def _columns_kept(conn: psycopg.Connection[Any]) -> None:
    row = conn.execute(
        "SELECT count(*) FILTER (WHERE idempotency_key = 'legacy-key-' || id),"
        " count(*) FILTER (WHERE provider = 'pubmed') FROM public.resource_usage"
    ).fetchone()
    assert row is not None and row[0] >= 3000 and row[1] >= 1000, row


register(
    Shape(
        "fresh_install",
        "An empty database: the project creates everything and its rollback removes it all.",
        "",
        USAGE_WRITES + PROPOSAL_WRITES,
        deployed_tables=(),
        writes_before_migrating=False,
    )
)
register(
    Shape(
        "every_optional_column_absent",
        "resource_usage without artifact_type, artifact_id, analysis_id, task_id, metadata;"
        " allocation_proposals without reviewer, decided_at, updated_at.",
        deployed_usage(drop=("artifact_type", "artifact_id", "analysis_id", "task_id", "metadata"))
        + deployed_proposals(drop=("reviewer", "decided_at", "updated_at")),
        USAGE_WRITES + PROPOSAL_WRITES,
    )
)
register(
    Shape(
        "usage_without_task_id_proposals_without_reviewer",
        "resource_usage without task_id only; allocation_proposals without reviewer only.",
        deployed_usage(drop=("task_id",)) + deployed_proposals(drop=("reviewer",)),
        USAGE_WRITES + PROPOSAL_WRITES,
        tags=frozenset({"slow"}),
    )
)
register(
    Shape(
        "usage_without_metadata_or_analysis_proposals_agents_only",
        "resource_usage without metadata and analysis_id; allocation_proposals with only"
        " proposer_agent (no proposer_id), no created_at, decided_at or updated_at.",
        deployed_usage(drop=("metadata", "analysis_id"))
        + deployed_proposals(drop=("proposer_id", "created_at", "decided_at", "updated_at")),
        USAGE_WRITES + PROPOSAL_WRITES,
    )
)
register(
    Shape(
        "usage_only_spec_columns",
        "resource_usage with only the spec's columns (and a bigserial id), no"
        " allocation_proposals at all.",
        deployed_usage(drop=("artifact_type", "artifact_id", "analysis_id", "task_id", "metadata")),
        USAGE_WRITES,
        deployed_tables=("resource_usage",),
        tags=frozenset({"slow"}),
    )
)
register(
    Shape(
        "deployment_comments",
        "The deployment commented its tables and some columns; the project must keep those and"
        " comment only what had none.",
        deployed_usage()
        + deployed_proposals()
        + "COMMENT ON TABLE public.resource_usage IS 'Deployment: every spend, one row.';\n"
        "COMMENT ON COLUMN public.resource_usage.amount IS"
        " 'Deployment: amount in the class unit.';\n"
        "COMMENT ON COLUMN public.resource_usage.created_at IS 'Deployment: when.';\n"
        "COMMENT ON COLUMN public.allocation_proposals.status IS 'Deployment: review state.';\n"
        "COMMENT ON COLUMN public.allocation_proposals.requested_tokens IS"
        " 'Deployment: tokens.';\n",
        USAGE_WRITES + PROPOSAL_WRITES,
        after_migrate=_usage_comments,
    )
)
register(
    Shape(
        "adopted_resource_budgets",
        "The spec's own earlier migration (121) already created resource_budgets with 400"
        " envelopes, its own index names and a comment; the project adopts it.",
        deployed_usage()
        + deployed_proposals()
        + """
CREATE TABLE public.resource_budgets (
    entity_type        text NOT NULL,
    entity_id          text NOT NULL,
    token_budget       numeric NOT NULL DEFAULT 0,
    cpu_budget         numeric NOT NULL DEFAULT 0,
    storage_budget_gb  numeric NOT NULL DEFAULT 0,
    api_call_budget    numeric NOT NULL DEFAULT 0,
    priority_score     numeric NOT NULL DEFAULT 0,
    market_weight      numeric NOT NULL DEFAULT 0,
    roi_score          numeric,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (entity_type, entity_id)
);
CREATE INDEX idx_resource_budgets_priority ON public.resource_budgets (priority_score DESC);
COMMENT ON TABLE public.resource_budgets IS 'Deployment (spec migration 121): budget envelopes.';
INSERT INTO public.resource_budgets (entity_type, entity_id, token_budget, cpu_budget,
                                     priority_score, market_weight)
SELECT (ARRAY['hypothesis', 'knowledge_gap', 'analysis', 'entity'])[1 + g % 4],
       'legacy-' || g, 10000 + g, 60 * g, (g % 100) / 100.0, 0
FROM generate_series(1, 400) AS g;
""",
        USAGE_WRITES
        + PROPOSAL_WRITES
        + (
            "INSERT INTO resource_budgets (entity_type, entity_id, token_budget)"
            " VALUES ('hypothesis', 'legacy-new-envelope', 5000)",
            "UPDATE resource_budgets SET token_budget = token_budget + 10"
            " WHERE entity_id = 'legacy-7'",
        ),
        after_migrate=_budgets_adopted,
        deployed_tables=("resource_usage", "allocation_proposals", "resource_budgets"),
    )
)
register(
    Shape(
        "adopted_model_tiers",
        "A deployed model_tiers (its own tiers, an extra column, a comment) the project adopts"
        " and seeds with its missing tiers; the rollback removes only the seeded rows.",
        deployed_usage()
        + deployed_proposals()
        + """
CREATE TABLE public.model_tiers (
    model_tier   text PRIMARY KEY,
    description  text NOT NULL,
    max_context  integer
);
COMMENT ON TABLE public.model_tiers IS 'Deployment: model tiers.';
INSERT INTO public.model_tiers VALUES ('reasoning', 'Deployed reasoning tier.', 200000),
                                      ('frontier', 'Deployed frontier tier.', 1000000);
""",
        USAGE_WRITES
        + PROPOSAL_WRITES
        + (
            "INSERT INTO model_tiers (model_tier, description, max_context)"
            " VALUES ('legacy_writer', 'Written by a legacy writer.', 8000)",
        ),
        after_migrate=_tiers_adopted,
    )
)
register(
    Shape(
        "deployed_idempotency_provider_decision_note_resource_type",
        "The deployment already has resource_usage.idempotency_key and provider and"
        " allocation_proposals.decision_note and resource_type, with data; the project adopts"
        " them and its rollback keeps them with their data.",
        deployed_usage(extra={"idempotency_key": "text", "provider": "text"})
        + "UPDATE public.resource_usage SET idempotency_key = 'legacy-key-' || id,"
        " provider = CASE WHEN id % 3 = 0 THEN 'pubmed' END;\n"
        "CREATE UNIQUE INDEX resource_usage_legacy_key_idx ON public.resource_usage"
        " (idempotency_key);\n"
        + deployed_proposals(
            extra={"decision_note": "text", "resource_type": "text NOT NULL DEFAULT 'llm_tokens'"}
        )
        + "UPDATE public.allocation_proposals SET decision_note = 'note ' || id,"
        " resource_type = CASE WHEN id % 4 = 0 THEN 'cpu_seconds' ELSE 'llm_tokens' END;\n",
        (
            "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount, provider,"
            " idempotency_key, created_at) VALUES ('entity', 'gene-1', 'api_calls', 1, 'pubmed',"
            " 'legacy-key-new', now())",
        )
        + PROPOSAL_WRITES,
        after_migrate=_columns_kept,
    )
)
register(
    Shape(
        "votes_as_text",
        "allocation_proposals.votes is text (free-form tallies): governance cannot adopt it.",
        deployed_usage()
        + deployed_proposals(extra={"votes": "text"})
        + "UPDATE public.allocation_proposals SET votes = 'yes=3 no=1' WHERE id % 10 = 0;\n",
        USAGE_WRITES + PROPOSAL_WRITES,
        outcome="refuses",
        refusal_blocker=("column", "public.allocation_proposals.votes"),
    )
)
register(
    Shape(
        "votes_as_json",
        "allocation_proposals.votes is json (not jsonb): governance cannot adopt it.",
        deployed_usage()
        + deployed_proposals(extra={"votes": "json"})
        + "UPDATE public.allocation_proposals SET votes = '[]'::json WHERE id % 10 = 0;\n",
        USAGE_WRITES + PROPOSAL_WRITES,
        outcome="refuses",
        refusal_blocker=("column", "public.allocation_proposals.votes"),
    )
)


def _status_vocabulary_checks(conn: psycopg.Connection[Any]) -> None:
    # Stored as the deployment wrote it; logged as governance states; no budget moved.
    assert conn.execute(
        "SELECT status FROM allocation_proposals WHERE entity_id IN"
        " ('legacy-cased', 'legacy-cased-2') ORDER BY entity_id"
    ).fetchall() == [("Approved",), ("withdrawn",)]
    assert conn.execute(
        "SELECT t.from_status, t.to_status FROM allocation_proposal_transitions AS t"
        " JOIN allocation_proposals AS p ON p.id = t.proposal_id"
        " WHERE p.entity_id = 'legacy-cased' ORDER BY t.transition_id"
    ).fetchall() == [(None, "pending"), ("pending", "approved")]
    assert conn.execute(
        "SELECT count(*) FROM resource_budgets WHERE entity_id LIKE 'legacy-%'"
    ).fetchone() == (0,)
    # Final stays final in any spelling; a status the vocabulary does not know is refused.
    for statement in (
        "UPDATE allocation_proposals SET status = 'pending' WHERE entity_id = 'legacy-cased'",
        "UPDATE allocation_proposals SET status = 'Draft' WHERE entity_id = 'legacy-cased-2'",
    ):
        try:
            with conn.transaction():
                conn.execute(statement)
        except psycopg.Error as e:
            assert e.sqlstate == "S2020", (statement, e.sqlstate)
        else:
            raise AssertionError(f"not refused: {statement}")


register(
    Shape(
        "legacy_status_casing",
        "Legacy status values 'PENDING', 'Approved', 'withdrawn' in the deployed proposals.",
        deployed_usage()
        + deployed_proposals(
            status="(ARRAY['PENDING', 'Approved', 'withdrawn', 'pending'])[1 + g % 4]"
        ),
        USAGE_WRITES
        + (
            "INSERT INTO allocation_proposals (entity_type, entity_id, requested_tokens,"
            " proposer_agent, justification, evidence, status) VALUES ('hypothesis',"
            f" 'legacy-cased', 700, 'agent-legacy', 'more runs', '{EVIDENCE}', 'PENDING')",
            "INSERT INTO allocation_proposals (entity_type, entity_id, requested_tokens,"
            " proposer_agent, justification, status) VALUES ('hypothesis', 'legacy-cased-2', 80,"
            " 'agent-legacy', 'free-form reason', 'Pending')",
            # The deployment's own transitions, in its own spelling.
            "UPDATE allocation_proposals SET status = 'Approved' WHERE entity_id = 'legacy-cased'",
            "UPDATE allocation_proposals SET status = 'withdrawn'"
            " WHERE entity_id = 'legacy-cased-2'",
            "UPDATE allocation_proposals SET status = 'Approved'"
            " WHERE entity_id IN (SELECT entity_id FROM allocation_proposals"
            " WHERE status = 'PENDING' ORDER BY id LIMIT 5)",
        ),
        after_migrate=_status_vocabulary_checks,
    )
)


# -- shapes built the way a stranger's deployment is (issue 14's list) ---------------------------

#: A role the deployment's app owns its tables as, and the login its legacy writer connects as;
#: cluster-wide, created once and never dropped (the zoo compares per-database catalogs).
APP_ROLES = """
DO $roles$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'zoo_app_owner') THEN
        CREATE ROLE zoo_app_owner NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'zoo_app_writer') THEN
        CREATE ROLE zoo_app_writer LOGIN;
    END IF;
END;
$roles$;
"""


def _writer_checks(conn: psycopg.Connection[Any]) -> None:
    registered = {
        r[0]
        for r in conn.execute(
            "SELECT role_name FROM senate.legacy_proposal_writers WHERE removed_at IS NULL"
        ).fetchall()
    }
    assert registered == {"zoo_app_owner", "zoo_app_writer"}, registered
    # Nothing was granted to the writer beyond what it had: no schema senate, no policy.
    assert conn.execute(
        "SELECT has_schema_privilege('zoo_app_writer', 'senate', 'USAGE'),"
        " has_table_privilege('zoo_app_writer', 'public.economics_policy', 'SELECT')"
    ).fetchone() == (False, False)


register(
    Shape(
        "non_superuser_owner_and_writer",
        "The tables belong to a NOLOGIN app role; the legacy writer is a plain login holding only"
        " INSERT/UPDATE/SELECT on them. After migrating it writes usage and free-form proposals"
        " exactly as before, with no new grant and no setting.",
        APP_ROLES
        + deployed_usage()
        + deployed_proposals()
        + "ALTER TABLE public.resource_usage OWNER TO zoo_app_owner;\n"
        "ALTER TABLE public.allocation_proposals OWNER TO zoo_app_owner;\n"
        "GRANT SELECT, INSERT, UPDATE ON public.resource_usage, public.allocation_proposals"
        " TO zoo_app_writer;\n"
        "GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO zoo_app_writer;\n",
        ("SET SESSION AUTHORIZATION zoo_app_writer",)
        + USAGE_WRITES
        + (
            "INSERT INTO allocation_proposals (entity_type, entity_id, requested_tokens,"
            " proposer_agent, justification) VALUES ('hypothesis', 'legacy-free-form', 900,"
            " 'agent-legacy', 'more runs')",
            "UPDATE allocation_proposals SET justification = 'still more runs'"
            " WHERE entity_id = 'legacy-free-form'",
            "RESET SESSION AUTHORIZATION",
        ),
        after_migrate=_writer_checks,
    )
)
register(
    Shape(
        "force_rls_migrated_by_a_superuser",
        "resource_usage under FORCE ROW LEVEL SECURITY with a restrictive policy hiding half the"
        " rows from everyone but superusers: a superuser migrates it and backfills every row.",
        deployed_usage()
        + deployed_proposals()
        + "ALTER TABLE public.resource_usage ENABLE ROW LEVEL SECURITY;\n"
        "ALTER TABLE public.resource_usage FORCE ROW LEVEL SECURITY;\n"
        "CREATE POLICY zoo_everyone ON public.resource_usage USING (true);\n"
        "CREATE POLICY zoo_even_only ON public.resource_usage AS RESTRICTIVE"
        " USING (id % 2 = 0);\n",
        USAGE_WRITES + PROPOSAL_WRITES,
    )
)
register(
    Shape(
        "published_usage",
        "resource_usage is in a publication (a logical-replication subscriber reads it): migrate"
        " warns and prints the subscriber's DDL, then runs; the rollback leaves the publication.",
        deployed_usage()
        + deployed_proposals()
        + "CREATE PUBLICATION zoo_usage_pub FOR TABLE public.resource_usage;\n",
        USAGE_WRITES + PROPOSAL_WRITES,
    )
)
register(
    Shape(
        "tables_in_another_schema",
        "The deployed tables live in schema scidex, found through the search_path: migrate"
        " refuses (it would otherwise create empty twins in public).",
        "CREATE SCHEMA scidex;\n"
        + (deployed_usage() + deployed_proposals()).replace("public.", "scidex.")
        + "SET search_path = scidex, public;\n"
        "DO $db$ BEGIN EXECUTE format('ALTER DATABASE %I SET search_path = scidex, public',"
        " current_database()); END $db$;\n",
        USAGE_WRITES + PROPOSAL_WRITES,
        outcome="refuses",
        refusal_blocker=("schema", "scidex.resource_usage"),
    )
)
register(
    Shape(
        "partitioned_usage",
        "resource_usage is partitioned by month of created_at (two monthly partitions and a"
        " default): refused behind preflight.PARTITIONED_TABLES_SUPPORTED.",
        "CREATE TABLE public.resource_usage (id bigserial, entity_type text NOT NULL,"
        " entity_id text NOT NULL, resource_type text NOT NULL, amount numeric NOT NULL,"
        " cost numeric, model text, created_at timestamptz NOT NULL DEFAULT now(),"
        " PRIMARY KEY (id, created_at)) PARTITION BY RANGE (created_at);\n"
        "CREATE TABLE public.resource_usage_2026_01 PARTITION OF public.resource_usage"
        " FOR VALUES FROM ('2026-01-01') TO ('2026-02-01');\n"
        "CREATE TABLE public.resource_usage_2026_02 PARTITION OF public.resource_usage"
        " FOR VALUES FROM ('2026-02-01') TO ('2026-03-01');\n"
        "CREATE TABLE public.resource_usage_default PARTITION OF public.resource_usage DEFAULT;\n"
        "INSERT INTO public.resource_usage (entity_type, entity_id, resource_type, amount,"
        " created_at) SELECT 'hypothesis', 'legacy-' || g % 40, 'llm_tokens', 10 + g,"
        " timestamptz '2026-01-01 00:00+00' + g * interval '11 minutes'"
        " FROM generate_series(1, 3000) AS g;\n" + deployed_proposals(),
        USAGE_WRITES + PROPOSAL_WRITES,
        outcome="refuses",
        refusal_blocker=("partitioned", "public.resource_usage"),
    )
)
register(
    Shape(
        "trigger_after_t20_rounds_amount",
        "A deployment BEFORE trigger named after t20_ (trg_round_amount) rewrites amount: the"
        " compatibility pair could not stay equal, so migrate refuses.",
        deployed_usage()
        + deployed_proposals()
        + "CREATE FUNCTION public.round_amount() RETURNS trigger LANGUAGE plpgsql AS"
        " $$ BEGIN NEW.amount := round(NEW.amount, -1); RETURN NEW; END $$;\n"
        "CREATE TRIGGER trg_round_amount BEFORE INSERT OR UPDATE ON public.resource_usage"
        " FOR EACH ROW EXECUTE FUNCTION public.round_amount();\n",
        USAGE_WRITES + PROPOSAL_WRITES,
        outcome="refuses",
        refusal_blocker=("trigger_after_t20", "trigger trg_round_amount on public.resource_usage"),
    )
)
