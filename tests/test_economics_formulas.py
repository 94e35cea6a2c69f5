"""The spec's formulas in SQL: allocation_score, effective_budget, roi_score.

Worked numbers, boundaries (0, 1, NULL, NaN, infinities, negatives, market_weight = -1), the
SQLSTATEs of bad input (and the argument named in the error's COLUMN field), volatility and
parallel safety, and invariants checked with hypothesis.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

D = Decimal
Conn = psycopg.Connection[Any]

ARGUMENTS = ("evidence_strength", "novelty", "strategic_alignment", "community_interest")


def one(db: Conn, sql: str, *params: Any) -> Any:
    row = db.execute(sql, params).fetchone()
    assert row is not None
    return row[0]


def score(db: Conn, *args: Any) -> Any:
    return one(
        db, "SELECT allocation_score(%s::numeric, %s::numeric, %s::numeric, %s::numeric)", *args
    )


def sqlstate_and_column(db: Conn, sql: str, *params: Any) -> tuple[str | None, str | None]:
    with pytest.raises(psycopg.Error) as exc:
        db.execute(sql, params)
    return exc.value.sqlstate, exc.value.diag.column_name


# -- allocation_score ---------------------------------------------------------------------------


def test_allocation_score_weighs_the_four_inputs_35_25_20_20(db: Conn) -> None:
    # 0.35*0.8 + 0.25*0.6 + 0.20*0.5 + 0.20*0.4 = 0.28 + 0.15 + 0.10 + 0.08
    assert score(db, "0.8", "0.6", "0.5", "0.4") == D("0.61")
    assert score(db, "1", "0", "0", "0") == D("0.35")
    assert score(db, "0", "1", "0", "0") == D("0.25")
    assert score(db, "0", "0", "1", "0") == D("0.20")
    assert score(db, "0", "0", "0", "1") == D("0.20")


def test_allocation_score_is_zero_for_all_zeros_and_one_for_all_ones(db: Conn) -> None:
    assert score(db, "0", "0", "0", "0") == 0
    assert score(db, "1", "1", "1", "1") == 1


@pytest.mark.parametrize("position", range(4))
def test_allocation_score_of_a_null_input_is_null(db: Conn, position: int) -> None:
    args: list[str | None] = ["0.5"] * 4
    args[position] = None
    assert score(db, *args) is None


@pytest.mark.parametrize("position", range(4))
@pytest.mark.parametrize(
    ("bad", "sqlstate"),
    [
        ("1.0001", "22003"),
        ("-0.0001", "22003"),
        ("Infinity", "22003"),
        ("-Infinity", "22003"),
        ("NaN", "22023"),
    ],
)
def test_allocation_score_refuses_a_bad_input_naming_the_argument(
    db: Conn, position: int, bad: str, sqlstate: str
) -> None:
    args = ["0.5"] * 4
    args[position] = bad
    state, column = sqlstate_and_column(
        db, "SELECT allocation_score(%s::numeric, %s::numeric, %s::numeric, %s::numeric)", *args
    )
    assert (state, column) == (sqlstate, ARGUMENTS[position])


def test_allocation_score_takes_arguments_by_name_in_the_documented_order(db: Conn) -> None:
    value = one(
        db,
        "SELECT allocation_score(community_interest => 0.4, strategic_alignment => 0.5,"
        " novelty => 0.6, evidence_strength => 0.8)",
    )
    assert value == D("0.61")


def test_allocation_score_under_a_named_policy_version_uses_that_versions_weights(
    db: Conn,
) -> None:
    db.execute(
        'SELECT adopt_economics_policy(\'{"weight_evidence_strength": 0.55,'
        " \"weight_novelty\": 0.05}', 'test', 'heavier evidence')"
    )
    # Active (v2): 0.55*1 = 0.55; version 1 still scores with 0.35.
    assert score(db, "1", "0", "0", "0") == D("0.55")
    assert one(db, "SELECT allocation_score(1, 0, 0, 0, 1)") == D("0.35")
    assert one(db, "SELECT allocation_score(1, 0, 0, 0, NULL)") is None
    state, _ = sqlstate_and_column(db, "SELECT allocation_score(1, 0, 0, 0, 999)")
    assert state == "S1001"


# -- effective_budget ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("base", "weight", "expected"),
    [
        ("1000", "0.25", "1250"),
        ("1000", "0", "1000"),
        ("1000", "-0.5", "500"),
        ("1000", "-1", "0"),  # the lowest market weight wipes the budget out, never below 0
        ("0", "5", "0"),
        ("3600", "0.5", "5400"),
    ],
)
def test_effective_budget_is_base_times_one_plus_market_weight(
    db: Conn, base: str, weight: str, expected: str
) -> None:
    assert one(db, "SELECT effective_budget(%s::numeric, %s::numeric)", base, weight) == D(expected)


@pytest.mark.parametrize(
    ("base", "weight", "sqlstate", "column"),
    [
        ("-1", "0", "22003", "base_budget"),
        ("-0.001", "0.5", "22003", "base_budget"),
        ("Infinity", "0", "22003", "base_budget"),
        ("NaN", "0", "22023", "base_budget"),
        ("100", "-1.0001", "22003", "market_weight"),
        ("100", "-Infinity", "22003", "market_weight"),
        ("100", "Infinity", "22003", "market_weight"),
        ("100", "NaN", "22023", "market_weight"),
    ],
)
def test_effective_budget_refuses_bad_inputs(
    db: Conn, base: str, weight: str, sqlstate: str, column: str
) -> None:
    assert sqlstate_and_column(
        db, "SELECT effective_budget(%s::numeric, %s::numeric)", base, weight
    ) == (sqlstate, column)


def test_effective_budget_of_a_null_input_is_null(db: Conn) -> None:
    assert one(db, "SELECT effective_budget(NULL, 0.5)") is None
    assert one(db, "SELECT effective_budget(100, NULL)") is None


# -- roi_score ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edges", "tokens", "expected"),
    [("15", "30000", "0.0005"), ("4", "1000", "0.004"), ("0", "500", "0"), ("1", "1", "1")],
)
def test_roi_score_is_edges_gained_per_token_spent(
    db: Conn, edges: str, tokens: str, expected: str
) -> None:
    assert one(db, "SELECT roi_score(%s::numeric, %s::numeric)", edges, tokens) == D(expected)


def test_roi_score_without_spend_is_null(db: Conn) -> None:
    assert one(db, "SELECT roi_score(10, 0)") is None
    assert one(db, "SELECT roi_score(0, 0)") is None


@pytest.mark.parametrize(
    ("edges", "tokens", "sqlstate", "column"),
    [
        ("-1", "10", "22003", "kg_edges_gained"),
        ("1", "-10", "22003", "tokens_spent"),
        ("-1", "0", "22003", "kg_edges_gained"),
        ("NaN", "10", "22023", "kg_edges_gained"),
        ("1", "NaN", "22023", "tokens_spent"),
        ("Infinity", "10", "22003", "kg_edges_gained"),
        ("1", "Infinity", "22003", "tokens_spent"),
    ],
)
def test_roi_score_refuses_negative_nan_and_infinite_inputs(
    db: Conn, edges: str, tokens: str, sqlstate: str, column: str
) -> None:
    assert sqlstate_and_column(db, "SELECT roi_score(%s::numeric, %s::numeric)", edges, tokens) == (
        sqlstate,
        column,
    )


def test_roi_score_of_a_null_input_is_null(db: Conn) -> None:
    assert one(db, "SELECT roi_score(NULL, 10)") is None
    assert one(db, "SELECT roi_score(10, NULL)") is None


# -- declared properties --------------------------------------------------------------------------


def test_formulas_declare_their_volatility_and_parallel_safety(db: Conn) -> None:
    rows = db.execute(
        "SELECT p.oid::regprocedure::text, p.provolatile, p.proparallel FROM pg_proc AS p"
        " WHERE p.proname IN ('allocation_score', 'effective_budget', 'roi_score',"
        " 'budget_period_bounds', 'roi_window_bounds', 'roi_by_entity', 'market_weights',"
        " 'budget_status_as_of', 'budget_tier_status_as_of')"
        "   AND p.pronamespace = 'public'::regnamespace ORDER BY 1"
    ).fetchall()
    found = {name: (vol, par) for name, vol, par in rows}
    assert found == {
        "allocation_score(numeric,numeric,numeric,numeric)": ("s", "s"),
        "allocation_score(numeric,numeric,numeric,numeric,bigint)": ("s", "s"),
        "budget_period_bounds(timestamp with time zone)": ("s", "s"),
        "budget_status_as_of(timestamp with time zone)": ("s", "s"),
        "budget_tier_status_as_of(timestamp with time zone)": ("s", "s"),
        "effective_budget(numeric,numeric)": ("i", "s"),
        "market_weights(timestamp with time zone)": ("s", "s"),
        "roi_by_entity(date,date)": ("s", "s"),
        "roi_score(numeric,numeric)": ("i", "s"),
        "roi_window_bounds(timestamp with time zone)": ("s", "s"),
    }


def test_effective_budget_and_roi_score_are_inlined_into_queries(db: Conn) -> None:
    plan = "\n".join(
        r[0]
        for r in db.execute(
            "EXPLAIN VERBOSE SELECT effective_budget(token_budget, market_weight),"
            " roi_score(token_budget, cpu_budget) FROM resource_budgets"
        ).fetchall()
    )
    assert "effective_budget(" not in plan and "roi_score(" not in plan
    assert "(token_budget * ('1'::numeric + market_weight))" in plan


# -- invariants ---------------------------------------------------------------------------------

unit = st.decimals(min_value=0, max_value=1, places=4, allow_nan=False, allow_infinity=False)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(e=unit, n=unit, s=unit, c=unit)
def test_allocation_score_stays_in_unit_interval_and_matches_the_formula(
    db: Conn, e: Decimal, n: Decimal, s: Decimal, c: Decimal
) -> None:
    value = score(db, e, n, s, c)
    assert value == D("0.35") * e + D("0.25") * n + D("0.20") * s + D("0.20") * c
    assert 0 <= value <= 1


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(e=unit, n=unit, s=unit, c=unit, bump=st.sampled_from(range(4)))
def test_allocation_score_never_falls_when_an_input_rises(
    db: Conn, e: Decimal, n: Decimal, s: Decimal, c: Decimal, bump: int
) -> None:
    args = [e, n, s, c]
    higher = list(args)
    higher[bump] = min(D(1), higher[bump] + D("0.1"))
    assert score(db, *higher) >= score(db, *args)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    base=st.decimals(min_value=0, max_value=10**9, places=2),
    weight=st.decimals(min_value=-1, max_value=10, places=4),
)
def test_effective_budget_is_never_negative_and_exact(
    db: Conn, base: Decimal, weight: Decimal
) -> None:
    value = one(db, "SELECT effective_budget(%s::numeric, %s::numeric)", base, weight)
    assert value == base * (1 + weight)
    assert value >= 0
