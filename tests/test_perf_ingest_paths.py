"""The three insert paths of senate.account_usage_inserts() (issue 20 points 2-3) keep every
guarantee: a single row (three short statements, its checks as PL/pgSQL expressions), a batch
of up to 20000 rows (summed by hashing) and a larger one (priced row by row and summed in key
order). Each batch is tested cheaply row by row for anything that may be invalid; only then does
the exact check run. So a value the cheap test lets through must be valid, and a value it
stops must still pass when it is valid: both are tested here on every path, with the same
SQLSTATE and column as before, nothing written on an error, and the rollups exact.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

Conn = psycopg.Connection[Any]

#: A good row's values (SQL expressions over g, the row number).
GOOD = {
    "entity_type": "'hypothesis'",
    "entity_id": "'h-bulk-' || (g % 50)",
    "resource_type": "(ARRAY['llm_tokens', 'api_calls', 'cpu_seconds', 'storage_gb_hours'])"
    "[1 + g % 4]",
    "amount": "(1 + g % 977) * (ARRAY[1, 0.25, 0.125])[1 + g % 3]",
    "model": "CASE WHEN g % 4 = 0 THEN (ARRAY['claude-opus', 'claude-haiku', 'gpt-standard'])"
    "[1 + g % 3] END",
    "provider": "CASE WHEN g % 4 = 1 THEN (ARRAY['pubmed', 'crossref'])[1 + g % 2] END",
    "cost": "CASE WHEN g % 7 = 0 THEN (g % 13) * 0.01 END",
    "created_at": "now() - make_interval(hours => g % 240)",
    "metadata": "'{}'::jsonb",
}
COLUMNS = list(GOOD)

#: Statement sizes: the one-row path, a small batch, and a batch past the 20000-row threshold.
SIZES = {"one row": 1, "five rows": 5, "20,001 rows": 20_001}

#: (id, values that differ from GOOD, SQLSTATE, column named).
POISON: list[tuple[str, dict[str, str], str, str]] = [
    ("unknown-kind", {"entity_type": "'planet'"}, "23503", "entity_type"),
    ("unknown-class", {"resource_type": "'gpu_hours'"}, "23503", "resource_type"),
    ("negative-amount", {"amount": "-5"}, "23514", "amount"),
    ("amount-above-1e15", {"amount": "1000000000000000.5"}, "22003", "amount"),
    ("amount-19-decimals", {"amount": "0.0000000000000000001"}, "22003", "amount"),
    ("cost-above-1e9", {"cost": "1000000001"}, "22003", "cost"),
    ("cost-19-decimals", {"cost": "0.0000000000000000001"}, "22003", "cost"),
    ("created-a-day-ahead", {"created_at": "now() + interval '1 day'"}, "S5031", "created_at"),
    ("created-in-year-1", {"created_at": "'0001-01-01 00:00+00'"}, "S5031", "created_at"),
    (
        "provider-of-201-characters",
        {"resource_type": "'api_calls'", "model": "NULL", "provider": "repeat('é', 201)"},
        "22001",
        "provider",
    ),
    (
        # Small in jsonb (one numeric), 20001 characters as text.
        "metadata-printing-long",
        {"metadata": "jsonb_build_object('n', 1e20000)"},
        "22001",
        "metadata",
    ),
    (
        "unknown-model",
        {"resource_type": "'llm_tokens'", "model": "'no-such-model'", "provider": "NULL"},
        "23503",
        "model",
    ),
    (
        "unknown-provider",
        {"resource_type": "'api_calls'", "model": "NULL", "provider": "'no-such-api'"},
        "23503",
        "provider",
    ),
]

#: Values at the bounds, or that the cheap test stops but are valid: accepted on every path.
ACCEPTED: list[tuple[str, dict[str, str]]] = [
    ("amount-1e15", {"amount": "1e15"}),
    ("amount-18-decimals", {"amount": "0.000000000000000001"}),
    ("cost-1e9", {"cost": "1e9"}),
    # 200 characters of two bytes each: 400 bytes, no more than 200 characters.
    (
        "provider-of-200-two-byte-characters",
        {"resource_type": "'cpu_seconds'", "model": "NULL", "provider": "repeat('é', 200)"},
    ),
    ("entity-id-of-200-characters", {"entity_id": "repeat('x', 200)"}),
    # {"b": "..."} of exactly 16384 bytes as text.
    ("metadata-of-16384-bytes", {"metadata": "jsonb_build_object('b', repeat('x', 16375))"}),
    ("metadata-empty-array", {"metadata": "'[]'::jsonb"}),
    ("created-a-minute-ahead", {"created_at": "now() + interval '1 minute'"}),
]


def insert(db: Conn, rows: int, bad: dict[str, str] | None) -> None:
    """One INSERT ... SELECT of ``rows`` rows, the last one carrying ``bad``'s values."""
    good = ", ".join(GOOD[c] for c in COLUMNS)
    last = ", ".join({**GOOD, **(bad or {})}[c] for c in COLUMNS)
    db.execute(
        f"INSERT INTO public.resource_usage ({', '.join(COLUMNS)}) "  # type: ignore[arg-type]
        f"SELECT {good} FROM generate_series(1, {rows - 1}) AS g "
        f"UNION ALL SELECT {last} FROM (SELECT {rows} AS g) AS g"
    )


def state(db: Conn) -> tuple[Any, ...]:
    row = db.execute(
        "SELECT (SELECT count(*) FROM public.resource_usage),"
        " (SELECT count(*) FROM senate.usage_rollups),"
        " (SELECT coalesce(sum(amount_total), 0) FROM senate.usage_rollups),"
        " (SELECT coalesce(sum(cost_total_usd), 0) FROM senate.usage_rollups)"
    ).fetchone()
    assert row is not None
    return tuple(row)


def reconciled(db: Conn) -> int:
    row = db.execute("SELECT count(*) FROM public.reconcile_usage_rollups()").fetchone()
    assert row is not None
    return int(row[0])


@pytest.mark.parametrize(("case", "bad", "sqlstate", "column"), POISON, ids=[p[0] for p in POISON])
def test_an_invalid_row_is_refused_alike_in_a_statement_of_any_size_and_writes_nothing(
    db: Conn, case: str, bad: dict[str, str], sqlstate: str, column: str
) -> None:
    insert(db, 3, None)
    before = state(db)
    for size, rows in SIZES.items():
        with pytest.raises(psycopg.Error) as refused, db.transaction():
            insert(db, rows, bad)
        assert refused.value.sqlstate == sqlstate, f"{case}, {size}: {refused.value}"
        assert refused.value.diag.column_name == column, f"{case}, {size}"
        assert state(db) == before, f"{case}, {size} wrote something"


@pytest.mark.parametrize(("case", "values"), ACCEPTED, ids=[a[0] for a in ACCEPTED])
def test_a_valid_row_the_cheap_test_may_stop_is_accepted_on_every_path(
    db: Conn, case: str, values: dict[str, str]
) -> None:
    for size, rows in SIZES.items():
        before = state(db)[0]
        insert(db, rows, values)
        assert state(db)[0] == before + rows, f"{case}, {size}"
    assert reconciled(db) == 0


def test_the_rollups_equal_the_usage_on_both_sides_of_the_batch_threshold(db: Conn) -> None:
    """Several models per tier (prices differ within a tier), explicit and priced costs,
    amounts of several scales; 20000 rows take the hashed path, 20001 the sorted one."""
    for rows in (20_000, 20_001, 2, 1):
        insert(db, rows, None)
    assert reconciled(db) == 0
    tiers = db.execute(
        "SELECT count(DISTINCT resource_subclass) FROM senate.usage_rollups"
        " WHERE resource_type = 'llm_tokens'"
    ).fetchone()
    assert tiers is not None and tiers[0] >= 2


def test_without_strict_validation_a_large_batch_rolls_unknown_names_up(db: Conn) -> None:
    db.execute("UPDATE senate.settings SET usage_strict_validation = false")
    for rows in (1, 5, 20_001):
        bad = {"resource_type": "'llm_tokens'", "model": "'no-such-model'", "amount": "-3"}
        insert(db, rows, {**bad, "provider": "NULL"})
    unknown = db.execute(
        "SELECT sum(usage_rows)::int, sum(amount_total) FROM senate.usage_rollups"
        " WHERE resource_subclass = 'unknown'"
    ).fetchone()
    assert unknown == (3, -9)
    assert reconciled(db) == 0


def test_the_largest_scale_among_summed_values_is_the_scale_of_their_sum(db: Conn) -> None:
    """What the batch test relies on for the 18-decimal bound: numeric addition keeps the
    larger scale, so scale(sum(x)) > 18 exactly when some x has more than 18 decimals."""
    row = db.execute(
        "SELECT scale(sum(x)), scale(sum(y)) FROM (VALUES"
        " (1.5, 2.0000000000000000001), (-1.5, -2.0000000000000000001), (3, 1.000000000000000001))"
        " AS v (x, y)"
    ).fetchone()
    assert row == (1, 19)
