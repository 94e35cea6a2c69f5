"""One place per definition (issue 17): every function and view of ours is defined in exactly
one file of db/definitions/, applied after the versioned migrations by the post-apply hook,
each object only when it changed.

"The previous release" is the migrations of the last landed submission (up to 0152): its
migration files are unchanged, so a database migrated up to there without the post-apply hook
is exactly what that release installed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from senate_db import definitions, embedded, migrations, paths, urls
from senate_db.errors import MigrationFailed

PREVIOUS_RELEASE = "0152_fire_forecast_alerts"

#: Functions of ours that no definitions file holds, and why.
NOT_DEFINED = {
    # The machinery that applies the definitions is itself versioned (0153): it must exist
    # before the hook runs.
    "function senate.apply_definition(text,text,text)": "bootstrap (0153)",
    "function senate.definition_fingerprint(text)": "bootstrap (0153)",
    "function senate.resolve_definition_identity(text)": "bootstrap (0153)",
    # Generated per deployment by senate.install_compatibility_sync(): their bodies name the
    # deployment's columns.
    "function senate.sync_usage_compatibility_on_insert()": "generated",
    "function senate.sync_usage_compatibility_on_update()": "generated",
    "function senate.sync_proposal_compatibility_on_insert()": "generated",
    "function senate.sync_proposal_compatibility_on_update()": "generated",
}

#: What this release changes against the previous one, object by object (pg_dump section keys
#: (type, schema, name)); anything else that differs fails the comparison.
ADDED = (
    "applied_definitions",
    "apply_definition(",
    "definition_fingerprint(",
    "resolve_definition_identity(",
    # 0160 (issue 18, throttle on forecast)
    "throttle_on_forecast",
    "spend_throttles_kind_known",
    # 0161 (issue 18, runway backtest)
    "forecast_backtest(",
    "senate_report_runway",
    # 0162 (issue 18, dated prices)
    "price_changes",
    "price_periods",
    "usage_price_at(",
    "record_price_writes",
    "lock_priced_subject(",
    "set_usage_price(",
    "correct_usage_price(",
    "price_effective_from",
    # Nested budgets (issue 19, 0175): the family tree, its ledger and closure, the functions
    # that change it.
    "entity_parent",
    "entity_family",
    "family_levels(",
    "budget_levels",
    "family_lending_limit",
    "family_borrowing_limit",
    "family_loans",
    # 0185 (issue 19, point 5): what paid for each approval, the parent or the reserve.
    "allocation_proposal_coverage",
    # 0186 (issue 19, point 3): the report's tree of the largest families.
    "senate_report_families",
    # USD envelopes (issue 18, 0180): the cost budget, the USD a hold keeps, the gate's reading
    # with money and its price.
    "cost_budget_usd",
    "amount_usd",
    "gate_position(",
    "cost_request_price(",
    "cost_position(",
)
REMOVED = (  # 0154: trigger functions no trigger runs since 0058
    "validate_usage_inserts(",
    "refuse_forged_corrections(",
    "settle_spend_reservations(",
)
#: Objects whose definition this release changed (function bodies, comments, a table's
#: storage parameter), with why.
CHANGED: dict[str, str] = {
    "backfill_compatibility_columns(": "a variable never used (v_next_sql)",
    "install_compatibility_sync(": "variables assigned but never read (v_id_type, v_old_derived)",
    "reconcile_compatibility_columns(": "OUT columns assigned before RETURN NEXT, not by a "
    "dynamic RETURN QUERY (plpgsql_check could not see them set)",
    "adopt_economics_policy(": "the new policy row inserted with static SQL (OVERRIDING USER "
    "VALUE) instead of dynamic SQL into a row variable",
    "check_spend_alerts(": "array_agg of the inserted rows as spend_alerts, not record; in a "
    "family an entity's spend is its subtree's, so an ancestor fires like an envelope (issue 19); "
    "the money class usd (issue 18)",
    "check_forecast_alerts(": "array_agg of the inserted rows as spend_alerts, not record",
    "plan_rebalance(": "plpgsql_check pragmas declaring its two temporary tables; its "
    "comment no longer tells its history; family_lending before the global ranking (issue 19); "
    "a cut never takes carved budget; the money class usd like any class (issue 18)",
    # Issue 18: throttle on forecast (0160), dated prices (0162).
    "run_daily_check(": "throttles on forecast when the policy says so",
    "release_lifted_throttles(": "releases forecast throttles",
    "over_budget_and_throttled": "comment: forecast throttles",
    "roll_up_usage(": "prices by the price in force at the usage's time",
    "reconcile_usage_rollups(": "prices by the price in force at the usage's time",
    # Comments that told history (migration numbers) now say what and why.
    "check_usage_references(": "comment",
    "account_usage_inserts(": "comment; prices by the price in force at the usage's time; "
    "issue 20: a single row in three short statements (read with its prices and policy, lock, "
    "upsert) checked by PL/pgSQL expressions; a batch tested row by row with cheap bounds, the "
    "exact check only when something may be invalid; batches of more than 20000 rows summed by "
    "rollup key in one sorted level; usage older than a price change repriced in one set-based "
    "pass (was a correlated subquery per group: quadratic, and its estimated cost set off JIT)",
    "explain_budget(": "comment",
    "budget_move_evidence": "column comments (rule: family_lending too); an approval's "
    "carve-out (proposal_carve_out) shows its proposal like its reserve part",
    "senate_report_reserve": "column comment; the class usd once it is in use",
    # Nested budgets (issue 19): every level of a family enforced.
    "can_spend(": "checks the envelope of every ancestor too (over_ancestor_budget, the binding "
    "level); an entity in no family: one index probe, the same answers",
    "reserve_spend(": "holds within every ancestor's envelope, locking the family's envelopes in "
    "key order",
    "apply_approved_proposal(": "a child's proposal is covered first by its parent's "
    "unallocated budget (a carve-out, ledgered as proposal_carve_out), the reserve only the rest "
    "(issue 19, point 5); an entity without a parent: the same statements as before; a proposal "
    "of class usd credits the cost budget (issue 18)",
    "decide_allocation_proposal(": "comment: the parent's unallocated budget first",
    "senate_report_last_rebalance": "column comment (rule: family_lending too); the run's "
    "columns by name, so 0177's rollback can drop rebalance_runs.family_loans (both views)",
    # USD envelopes (issue 18, 0180): money is the budget class usd.
    "budget_amount(": "the cost budget is the base budget of the class usd",
    "record_budget_changes(": "ledgers the cost budget (class usd)",
    "spend_position(": "the unit columns of senate.gate_position",
    "settle_spend_reservation(": "a hold of class usd is settled by usage of any class",
    "raise_usage_insert_error(": "S3018: no usage row is of the money class usd",
    "budget_status_as_of(": "the money class usd for envelopes with a cost budget",
    "budget_status": "the money class usd: spend the USD of every class, held the USD of holds",
    "budget_forecast_as_of(": "the money class usd is not forecast",
    "record_economy_snapshot(": "the reserve of usd once the class is in use; the spend of the "
    "class usd (the USD of every class)",
}
#: Tables whose definition this release changed (versioned migrations), with why.
CHANGED_TABLES: dict[str, str] = {
    # 0177: the family lending settings, the count of loans, the rule in the reason check.
    "economics_policy": "column throttle_on_forecast and its check (0160); two new columns "
    "(family_lending_limit, family_borrowing_limit)",
    "spend_throttles": "kind forecast (0160)",
    "llm_models": "column price_effective_from (0162)",
    "api_providers": "column price_effective_from (0162)",
    "rebalance_runs": "a new column (family_loans)",
    "usage_rollups": "fillfactor 70 (0170), so that rollup updates stay HOT (issue 20)",
    "rebalance_changes": "family_lending in the reason check and the column comment",
    "resource_budgets": "column cost_budget_usd and its check (0180)",
    "resource_types": "the class usd: budget_column check widened, comments (0180)",
    "spend_reservations": "column amount_usd and its check (0180)",
}

HEADER = re.compile(r"^-- Name: (.*); Type: (.*); Schema: (.*); Owner: (.*)$")

CATALOG = """
SELECT 'function ' || p.oid::regprocedure::text, pg_get_userbyid(p.proowner), p.prosecdef,
       p.proconfig::text, p.proacl::text, p.provolatile::text, p.proparallel::text, p.proleakproof,
       md5(pg_get_functiondef(p.oid)), obj_description(p.oid, 'pg_proc')
FROM pg_proc AS p
WHERE p.pronamespace IN ('public'::regnamespace, 'senate'::regnamespace)
UNION ALL
SELECT c.relkind::text || ' ' || c.oid::regclass::text, pg_get_userbyid(c.relowner),
       c.relrowsecurity,
       c.reloptions::text, c.relacl::text, NULL, NULL, NULL,
       CASE WHEN c.relkind = 'v' THEN md5(pg_get_viewdef(c.oid)) END,
       obj_description(c.oid, 'pg_class')
FROM pg_class AS c
WHERE c.relnamespace IN ('public'::regnamespace, 'senate'::regnamespace)
  AND c.relname NOT LIKE '%yoyo%'
ORDER BY 1
"""


def _catalog(url: str) -> dict[str, tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET search_path = pg_catalog, pg_temp")
        return {str(r[0]): tuple(r[1:]) for r in conn.execute(CATALOG).fetchall()}


def _dump_sections(url: str) -> dict[tuple[str, str, str], str]:
    """pg_dump --schema-only, owners and privileges included, cut at its '-- Name:' headers
    (an object's ACL and COMMENT are sections of their own), keyed (type, schema, name)."""
    command = [
        str(embedded.bin_dir() / "pg_dump"),
        "--schema-only",
        *[f"--exclude-table={name}" for name in migrations.YOYO_TABLES],
        "--dbname",
        urls.normalize(url),
    ]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    sections: dict[tuple[str, str, str], str] = {}
    key: tuple[str, str, str] | None = None
    for line in out.splitlines():
        if line.startswith(("\\restrict", "\\unrestrict", "-- Dumped ")):
            continue
        m = HEADER.match(line)
        if m:
            key = (m.group(2), m.group(3), m.group(1))
            sections.setdefault(key, "")
        if key is not None:
            sections[key] += line + "\n"
    return sections


def _names(keys: set[tuple[str, str, str]], objects: tuple[str, ...]) -> set[str]:
    """The objects (name fragments) the dump sections ``keys`` belong to; a section that
    belongs to none is returned whole."""
    found = set()
    for key in keys:
        owners = [o for o in objects if o in key[2]]
        found.add(owners[0] if owners else repr(key))
    return found


def _previous_release(url: str) -> None:
    migrations.apply_migrations(url, until=PREVIOUS_RELEASE)


def test_each_function_and_view_of_ours_is_defined_in_exactly_one_definitions_file(
    db: psycopg.Connection[Any],
) -> None:
    found = definitions.read_all()
    identities = [d.identity for d in found]
    duplicates = sorted({i for i in identities if identities.count(i) > 1})
    assert duplicates == []
    db.execute("SET search_path = pg_catalog, pg_temp")
    catalog = {
        str(r[0])
        for r in db.execute(
            "SELECT 'function ' || p.oid::regprocedure::text FROM pg_proc AS p"
            " WHERE p.pronamespace IN ('public'::regnamespace, 'senate'::regnamespace)"
            " UNION ALL SELECT 'view ' || c.oid::regclass::text FROM pg_class AS c"
            " WHERE c.relkind = 'v'"
            " AND c.relnamespace IN ('public'::regnamespace, 'senate'::regnamespace)"
        ).fetchall()
    }
    resolved = {
        i: str(db.execute("SELECT senate.resolve_definition_identity(%s)", (i,)).fetchone()[0])
        for i in identities
    }
    print(f"[definitions] {len(found)} objects in {len(definitions.files())} files")
    assert sorted(catalog - set(NOT_DEFINED) - set(resolved.values())) == []  # defined nowhere
    assert sorted(i for i, r in resolved.items() if r not in catalog) == []  # not installed
    assert set(NOT_DEFINED) <= catalog
    # Each file's objects are what its marker lines say, and a file holds nothing else.
    for path in definitions.files():
        text = path.read_text(encoding="utf-8")
        creates = re.findall(r"^CREATE OR REPLACE (?:FUNCTION|PROCEDURE|VIEW) ", text, re.M)
        assert len(creates) == len(definitions.parse(path)), path.name


def test_every_object_s_text_in_its_file_is_what_the_database_holds(
    db: psycopg.Connection[Any],
) -> None:
    """A fresh install recorded each definition as applied, and the catalog still holds
    exactly what applying it made: nothing in a versioned migration overrides a definition."""
    rows = dict(
        db.execute(
            "SELECT object_identity, definition_sha256 = d.definition_sha256"
            " AND catalog_md5 IS NOT DISTINCT FROM senate.definition_fingerprint(object_identity)"
            " FROM senate.applied_definitions AS d"
        ).fetchall()
    )
    expected = {d.identity for d in definitions.read_all()}
    assert set(rows) == expected
    assert [i for i, ok in rows.items() if not ok] == []
    import hashlib

    for d in definitions.read_all():
        sha = db.execute(
            "SELECT definition_sha256 FROM senate.applied_definitions WHERE object_identity = %s",
            (d.identity,),
        ).fetchone()
        assert sha is not None
        assert sha[0] == hashlib.sha256(d.sql.encode()).hexdigest(), d.identity


def test_the_new_layout_installs_what_the_previous_release_did_apart_from_the_listed_changes(
    db_url: str, empty_db_url: str
) -> None:
    _previous_release(empty_db_url)
    old, new = _dump_sections(empty_db_url), _dump_sections(db_url)
    assert _names(set(new) - set(old), ADDED) == set(ADDED)
    assert _names(set(old) - set(new), REMOVED) == set(REMOVED)
    changed = {k for k in set(old) & set(new) if old[k] != new[k]}
    assert _names(changed, (*CHANGED, *CHANGED_TABLES)) == set(CHANGED) | set(CHANGED_TABLES)


def test_the_previous_release_migrated_to_this_one_equals_a_fresh_install(
    db_url: str, empty_db_url: str
) -> None:
    _previous_release(empty_db_url)
    migrations.apply_migrations(empty_db_url)
    assert _dump_sections(empty_db_url) == _dump_sections(db_url)
    # What the dump shows only in part: owner, SECURITY DEFINER, SET, ACL, volatility.
    assert _catalog(empty_db_url) == _catalog(db_url)


def test_a_no_op_migrate_takes_no_lock_that_a_reader_of_any_view_would_wait_for(
    db_url: str, connect: Callable[..., psycopg.Connection[Any]]
) -> None:
    reader = connect(autocommit=False)
    views = [
        str(r[0])
        for r in reader.execute(
            "SELECT c.oid::regclass::text FROM pg_class AS c WHERE c.relkind = 'v'"
            " AND c.relnamespace IN ('public'::regnamespace, 'senate'::regnamespace)"
        ).fetchall()
    ]
    assert len(views) > 20
    for view in views:
        reader.execute(f"SELECT * FROM {view} LIMIT 0")  # type: ignore[arg-type]
    before = reader.execute("SELECT max(applied_at) FROM senate.applied_definitions").fetchone()
    # A migrate that wanted an ACCESS EXCLUSIVE lock on a view would wait for the reader:
    # with lock_timeout = 1s it fails instead of waiting.
    params = urls.to_params(db_url)
    params["options"] = "-c lock_timeout=1s"
    url = urls.from_params(params)
    assert migrations.apply_migrations(url) == []
    checker = connect()
    after = checker.execute("SELECT max(applied_at) FROM senate.applied_definitions").fetchone()
    assert after == before
    reader.rollback()


def _copy_db(tmp_path: Path) -> Path:
    root = tmp_path / "db"
    shutil.copytree(paths.migrations_dir(), root / "migrations")
    shutil.copytree(definitions.definitions_dir(), root / "definitions")
    return root


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_an_edited_definition_is_applied_on_the_next_migrate_and_nothing_else_is(
    db_url: str, connect: Callable[..., psycopg.Connection[Any]], tmp_path: Path
) -> None:
    root = _copy_db(tmp_path)
    _edit(
        root / "definitions" / "20_formulas.sql",
        "COMMENT ON FUNCTION public.roi_score(numeric,numeric) IS '",
        "COMMENT ON FUNCTION public.roi_score(numeric,numeric) IS 'Edited. ",
    )
    conn = connect()
    conn.execute("SET search_path = pg_catalog, pg_temp")
    before = dict(
        conn.execute(
            "SELECT object_identity, applied_at FROM senate.applied_definitions"
        ).fetchall()
    )
    migrations.apply_migrations(db_url, directory=root / "migrations")
    after = dict(
        conn.execute(
            "SELECT object_identity, applied_at FROM senate.applied_definitions"
        ).fetchall()
    )
    changed = sorted(i for i in after if after[i] != before[i])
    assert changed == ["function public.roi_score(numeric,numeric)"]
    comment = conn.execute(
        "SELECT obj_description('public.roi_score(numeric, numeric)'::regprocedure, 'pg_proc')"
    ).fetchone()
    assert comment is not None and str(comment[0]).startswith("Edited. ")


def test_a_definition_changed_behind_the_files_back_is_put_back_by_the_next_migrate(
    db_url: str, connect: Callable[..., psycopg.Connection[Any]]
) -> None:
    conn = connect()
    conn.execute("COMMENT ON VIEW public.budget_status IS 'changed by hand'")
    conn.execute(
        "CREATE OR REPLACE FUNCTION public.roi_score(kg_edges_gained numeric, tokens_spent numeric)"
        " RETURNS numeric LANGUAGE sql IMMUTABLE AS 'SELECT 42::numeric'"
    )
    migrations.apply_migrations(db_url)
    assert conn.execute("SELECT public.roi_score(1, 1)").fetchone() != (42,)
    comment = conn.execute(
        "SELECT obj_description('public.budget_status'::regclass, 'pg_class')"
    ).fetchone()
    assert comment is not None and comment[0] != "changed by hand"


def test_a_marker_that_names_another_object_is_refused_and_nothing_is_applied(
    db_url: str, connect: Callable[..., psycopg.Connection[Any]], tmp_path: Path
) -> None:
    root = _copy_db(tmp_path)
    _edit(
        root / "definitions" / "20_formulas.sql",
        "-- define function public.roi_score(numeric,numeric)",
        "-- define function public.roi_score_renamed(numeric,numeric)",
    )
    conn = connect()
    before = conn.execute(
        "SELECT count(*), max(applied_at) FROM senate.applied_definitions"
    ).fetchone()
    with pytest.raises(MigrationFailed) as caught:
        migrations.apply_migrations(db_url, directory=root / "migrations")
    assert isinstance(caught.value.cause, psycopg.Error)
    assert caught.value.cause.sqlstate == "42704"
    after = conn.execute(
        "SELECT count(*), max(applied_at) FROM senate.applied_definitions"
    ).fetchone()
    assert after == before


def test_a_definition_that_fails_leaves_every_definition_as_it_was(
    db_url: str, connect: Callable[..., psycopg.Connection[Any]], tmp_path: Path
) -> None:
    root = _copy_db(tmp_path)
    _edit(
        root / "definitions" / "10_errors_and_input.sql",
        "COMMENT ON FUNCTION senate.shorten_value(text) IS '",
        "COMMENT ON FUNCTION senate.shorten_value(text) IS 'Edited first. ",
    )
    _edit(
        root / "definitions" / "95_access.sql",
        "COMMENT ON FUNCTION senate.save_definition(",
        "SELECT 1/0;\nCOMMENT ON FUNCTION senate.save_definition(",
    )
    conn = connect()
    with pytest.raises(MigrationFailed) as caught:
        migrations.apply_migrations(db_url, directory=root / "migrations")
    assert isinstance(caught.value.cause, psycopg.Error)
    assert caught.value.cause.sqlstate == "22012"
    comment = conn.execute(
        "SELECT obj_description('senate.shorten_value(text)'::regprocedure, 'pg_proc')"
    ).fetchone()
    assert comment is not None and not str(comment[0]).startswith("Edited first.")


def test_two_migrates_at_once_apply_the_definitions_once(
    db_url: str, connect: Callable[..., psycopg.Connection[Any]], tmp_path: Path
) -> None:
    root = _copy_db(tmp_path)
    _edit(
        root / "definitions" / "20_formulas.sql",
        "COMMENT ON FUNCTION public.roi_score(numeric,numeric) IS '",
        "COMMENT ON FUNCTION public.roi_score(numeric,numeric) IS 'Raced. ",
    )
    errors: list[BaseException] = []

    def run() -> None:
        try:
            migrations.apply_migrations(db_url, directory=root / "migrations")
        except BaseException as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    comment = (
        connect()
        .execute(
            "SELECT obj_description('public.roi_score(numeric, numeric)'::regprocedure, 'pg_proc')"
        )
        .fetchone()
    )
    assert comment is not None and str(comment[0]).startswith("Raced. ")


FINGERPRINTS = """
SELECT k, senate.definition_fingerprint(k)
FROM (SELECT 'function ' || p.oid::regprocedure::text AS k
      FROM pg_proc AS p
      WHERE p.pronamespace IN ('public'::regnamespace, 'senate'::regnamespace)
      UNION ALL
      SELECT 'view ' || c.oid::regclass::text
      FROM pg_class AS c
      WHERE c.relkind = 'v'
        AND c.relnamespace IN ('public'::regnamespace, 'senate'::regnamespace)) AS o
"""


def _fingerprints(url: str) -> dict[str, str]:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SET search_path = pg_catalog, pg_temp")
        return {str(k): str(v) for k, v in conn.execute(FINGERPRINTS).fetchall()}


@pytest.mark.parametrize(
    "variant",
    [
        "integer_amount_timestamp_uuid_ids",
        "numeric_amount_timestamptz_bigint_ids",
        "no_primary_key_and_earlier_compatibility_columns",
    ],
)
def test_on_a_deployment_with_other_column_types_the_definitions_make_what_the_migrations_made(
    empty_db_url: str, variant: str
) -> None:
    """Argument and result types written table.column%TYPE follow the deployment (uuid ids,
    integer amounts...), views keep their casts, and the generated compatibility triggers are
    left to the migrations: applying the definitions changes nothing but the listed fixes."""
    from test_schema_brownfield import VARIANTS, _build

    _build(empty_db_url, VARIANTS[variant])
    migrations.apply_migrations(empty_db_url, until=migrations.migration_ids()[-1])
    before = _fingerprints(empty_db_url)
    migrations.apply_migrations(empty_db_url)
    after = _fingerprints(empty_db_url)
    assert set(before) <= set(after)
    created = {("", "", k) for k in set(after) - set(before)}  # defined only in the files
    assert _names(created, ADDED) <= set(ADDED)
    changed = {k for k in before if after[k] != before[k]}
    assert _names({("", "", k) for k in changed}, tuple(CHANGED)) <= set(CHANGED)
