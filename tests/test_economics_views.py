"""The views services and analysts query, checked figure by figure on small datasets.

budget_status, budget_tier_status, daily_spend, allocation_ranking and roi_leaderboard, plus
the budget period they measure against, per-tier caps and their ledger entries.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import psycopg
import pytest

D = Decimal
Conn = psycopg.Connection[Any]


def one(db: Conn, sql: str, *params: Any) -> Any:
    row = db.execute(sql, params).fetchone()
    assert row is not None
    return row[0]


def sqlstate(db: Conn, sql: str, *params: Any) -> str | None:
    with pytest.raises(psycopg.Error) as exc:
        db.execute(sql, params)
    return exc.value.sqlstate


def columns(db: Conn, view: str) -> list[str]:
    rows = db.execute(
        "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0"
        " ORDER BY attnum",
        (view,),
    ).fetchall()
    return [r[0] for r in rows]


def use(
    db: Conn,
    entity_id: str,
    resource_type: str,
    amount: int,
    *,
    model: str | None = None,
    provider: str | None = None,
    cost: str | None = None,
    at: str = "now()",
    entity_type: str = "hypothesis",
) -> None:
    db.execute(
        "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount, model,"
        f" provider, cost, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s::numeric, {at})",
        (entity_type, entity_id, resource_type, amount, model, provider, cost),
    )


# -- budget periods -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("as_of", "period", "zone", "expected"),
    [
        # Sunday late evening UTC is still the ISO week that began on Monday the 20th.
        ("2026-04-26 23:30+00", "week", "UTC", ("2026-04-20", "2026-04-27")),
        ("2026-04-27 00:00+00", "week", "UTC", ("2026-04-27", "2026-05-04")),
        ("2026-04-26 23:30+00", "day", "UTC", ("2026-04-26", "2026-04-27")),
        # 23:30 UTC on Sunday is already Monday in Berlin.
        ("2026-04-26 23:30+00", "week", "Europe/Berlin", ("2026-04-27", "2026-05-04")),
        ("2026-04-27 03:00+00", "day", "America/Los_Angeles", ("2026-04-26", "2026-04-27")),
    ],
)
def test_budget_periods_are_calendar_days_or_iso_weeks_in_the_policy_zone(
    db: Conn, as_of: str, period: str, zone: str, expected: tuple[str, str]
) -> None:
    row = db.execute(
        "SELECT period_start, period_end FROM senate.period_bounds(%s::timestamptz, %s, %s)",
        (as_of, period, zone),
    ).fetchone()
    assert row == (date.fromisoformat(expected[0]), date.fromisoformat(expected[1]))


def test_a_day_period_across_a_dst_change_is_23_hours_long(db: Conn) -> None:
    starts, ends = db.execute(
        "SELECT starts_at, ends_at FROM senate.period_bounds("
        "'2026-03-08 12:00+00', 'day', 'America/New_York')"
    ).fetchone() or (None, None)
    assert starts == datetime(2026, 3, 8, 5, tzinfo=UTC)
    assert ends == datetime(2026, 3, 9, 4, tzinfo=UTC)


def test_budget_period_bounds_follow_the_active_policy(db: Conn) -> None:
    assert db.execute(
        "SELECT period_start, period_end, starts_at"
        " FROM budget_period_bounds('2026-04-22 10:00+00')"
    ).fetchone() == (date(2026, 4, 20), date(2026, 4, 27), datetime(2026, 4, 20, tzinfo=UTC))
    db.execute(
        'SELECT adopt_economics_policy(\'{"budget_period": "day", "time_zone": "Asia/Tokyo"}\','
        " 'a', 'daily budgets in Tokyo')"
    )
    assert db.execute(
        "SELECT period_start, period_end, starts_at"
        " FROM budget_period_bounds('2026-04-22 16:00+00')"
    ).fetchone() == (date(2026, 4, 23), date(2026, 4, 24), datetime(2026, 4, 22, 15, tzinfo=UTC))


# -- budget_status --------------------------------------------------------------------------------

BUDGET_STATUS_COLUMNS = [
    "entity_type",
    "entity_id",
    "resource_type",
    "unit",
    "base_budget",
    "market_weight",
    "effective_budget",
    "period_start",
    "period_end",
    "spent",
    "spent_cost_usd",
    "remaining",
    "utilization",
    "over_budget",
]


def spend_dataset(db: Conn) -> None:
    """Three envelopes with spend this period and one spend last period."""
    db.execute(
        "INSERT INTO resource_budgets (entity_type, entity_id, token_budget, cpu_budget,"
        " api_call_budget, priority_score, market_weight) VALUES"
        " ('hypothesis', 'alpha', 10000, 4000, 0, 0.8, 0.25),"
        " ('hypothesis', 'beta', 1000, 0, 0, 0.3, 0.4),"  # below threshold: weight not applied
        " ('hypothesis', 'gamma', 2000, 0, 100, 0.9, 3)"  # direct write past the cap -> 0.5
    )
    use(db, "alpha", "llm_tokens", 4000, model="claude-opus")  # 4000 * 0.000045 = 0.18 USD
    use(db, "alpha", "llm_tokens", 2000, model="claude-haiku")  # 2000 * 0.000001 = 0.002 USD
    use(db, "alpha", "cpu_seconds", 600, cost="0.12")
    use(
        db,
        "alpha",
        "llm_tokens",
        5000,
        model="gpt-standard",  # last period: not counted
        at="(SELECT starts_at FROM budget_period_bounds()) - interval '1 hour'",
    )
    use(db, "beta", "llm_tokens", 1500, model="claude-sonnet")  # 0.0135 USD, over budget
    use(db, "gamma", "api_calls", 30, provider="semantic_scholar")  # 30 * 0.0005 = 0.015 USD


def test_budget_status_columns_are_stable(db: Conn) -> None:
    # Later migrations (the spend gate) may append columns; these keep their names and order.
    assert columns(db, "budget_status")[: len(BUDGET_STATUS_COLUMNS)] == BUDGET_STATUS_COLUMNS


def test_budget_status_reports_exactly_the_hand_computed_figures(db: Conn) -> None:
    with db.transaction():  # one now() for the data and the view
        spend_dataset(db)
        start, end = db.execute(
            "SELECT period_start, period_end FROM budget_period_bounds()"
        ).fetchone() or (None, None)
        rows = db.execute(
            "SELECT entity_id, resource_type, unit, base_budget, market_weight, effective_budget,"
            " period_start, period_end, spent, spent_cost_usd, remaining, utilization, over_budget"
            " FROM budget_status ORDER BY entity_id, resource_type"
        ).fetchall()
    p = (start, end)
    assert rows == [
        ("alpha", "api_calls", "calls", 0, D("0.25"), 0, *p, 0, 0, 0, None, False),
        (
            "alpha",
            "cpu_seconds",
            "CPU-seconds",
            4000,
            D("0.25"),
            5000,
            *p,
            600,
            D("0.12"),
            4400,
            D("0.12"),
            False,
        ),
        (
            "alpha",
            "llm_tokens",
            "tokens",
            10000,
            D("0.25"),
            12500,
            *p,
            6000,
            D("0.182"),
            6500,
            D("0.48"),
            False,
        ),
        ("alpha", "storage_gb_hours", "GB-hours", 0, D("0.25"), 0, *p, 0, 0, 0, None, False),
        ("beta", "api_calls", "calls", 0, 0, 0, *p, 0, 0, 0, None, False),
        ("beta", "cpu_seconds", "CPU-seconds", 0, 0, 0, *p, 0, 0, 0, None, False),
        ("beta", "llm_tokens", "tokens", 1000, 0, 1000, *p, 1500, D("0.0135"), 0, D("1.5"), True),
        ("beta", "storage_gb_hours", "GB-hours", 0, 0, 0, *p, 0, 0, 0, None, False),
        (
            "gamma",
            "api_calls",
            "calls",
            100,
            D("0.5"),
            150,
            *p,
            30,
            D("0.015"),
            120,
            D("0.2"),
            False,
        ),
        ("gamma", "cpu_seconds", "CPU-seconds", 0, D("0.5"), 0, *p, 0, 0, 0, None, False),
        ("gamma", "llm_tokens", "tokens", 2000, D("0.5"), 3000, *p, 0, 0, 3000, 0, False),
        ("gamma", "storage_gb_hours", "GB-hours", 0, D("0.5"), 0, *p, 0, 0, 0, None, False),
    ]


def test_budget_status_as_of_reports_the_period_containing_that_time(db: Conn) -> None:
    with db.transaction():
        spend_dataset(db)
        rows = db.execute(
            "SELECT s.entity_id, s.period_end = b.period_start, s.spent, s.spent_cost_usd,"
            " s.over_budget FROM budget_period_bounds() AS b,"
            " LATERAL budget_status_as_of(b.starts_at - interval '1 hour') AS s"
            " WHERE s.resource_type = 'llm_tokens' ORDER BY s.entity_id"
        ).fetchall()
        same = db.execute(
            "SELECT count(*) FROM (SELECT "
            + ", ".join(BUDGET_STATUS_COLUMNS)
            + " FROM budget_status"
            " EXCEPT SELECT * FROM budget_status_as_of(now())) AS d"
        ).fetchone()
    assert rows == [
        ("alpha", True, 5000, D("0.03"), False),  # last period: 5000 of 12500
        ("beta", True, 0, 0, False),
        ("gamma", True, 0, 0, False),
    ]
    assert same == (0,)


def test_budget_status_for_one_entity_reads_one_rollup_range_per_class(db: Conn) -> None:
    spend_dataset(db)
    plan = "\n".join(
        r[0]
        for r in db.execute(
            "EXPLAIN SELECT * FROM budget_status WHERE entity_type = 'hypothesis'"
            " AND entity_id = 'alpha'"
        ).fetchall()
    )
    assert "resource_usage" not in plan
    assert "usage_rollups" in plan
    # The entity filter reaches the rollup scan too (budgets and rollups both name it).
    assert plan.count("'alpha'::text") >= 2


# -- per-tier caps --------------------------------------------------------------------------------


def tier_dataset(db: Conn) -> None:
    spend_dataset(db)
    db.execute(
        "INSERT INTO resource_budget_tiers (entity_type, entity_id, model_tier, token_budget)"
        " VALUES ('hypothesis', 'alpha', 'reasoning', 4000), ('hypothesis', 'alpha', 'batch', 1600)"
    )
    # delta: the pool binds before the tier cap.
    db.execute(
        "INSERT INTO resource_budgets (entity_type, entity_id, token_budget, priority_score)"
        " VALUES ('hypothesis', 'delta', 1000, 0.3)"
    )
    db.execute(
        "INSERT INTO resource_budget_tiers (entity_type, entity_id, model_tier, token_budget)"
        " VALUES ('hypothesis', 'delta', 'reasoning', 800)"
    )
    use(db, "delta", "llm_tokens", 900, model="open-batch")  # uncapped tier: pool only
    use(db, "delta", "llm_tokens", 50, model="claude-opus")


def test_budget_tier_status_reports_each_capped_tier_against_cap_and_pool(db: Conn) -> None:
    with db.transaction():
        tier_dataset(db)
        rows = db.execute(
            "SELECT entity_id, model_tier, base_budget, market_weight, effective_budget, spent,"
            " spent_cost_usd, remaining, utilization, over_budget"
            " FROM budget_tier_status ORDER BY entity_id, model_tier"
        ).fetchall()
    assert rows == [
        # alpha: pool 12500 effective, 6000 spent -> 6500 left in the pool.
        ("alpha", "batch", 1600, D("0.25"), 2000, 2000, D("0.002"), 0, 1, False),
        ("alpha", "reasoning", 4000, D("0.25"), 5000, 4000, D("0.18"), 1000, D("0.8"), False),
        # delta: cap 800, 50 used, but the pool has 1000 - 950 = 50 left.
        ("delta", "reasoning", 800, 0, 800, 50, D("0.00225"), 50, D("0.0625"), False),
    ]
    assert columns(db, "budget_tier_status") == [
        "entity_type",
        "entity_id",
        "model_tier",
        "base_budget",
        "market_weight",
        "effective_budget",
        "period_start",
        "period_end",
        "spent",
        "spent_cost_usd",
        "remaining",
        "utilization",
        "over_budget",
    ]


def test_tier_caps_may_not_be_raised_above_the_token_budget(db: Conn) -> None:
    db.execute(
        "INSERT INTO resource_budgets (entity_type, entity_id, token_budget)"
        " VALUES ('hypothesis', 'h1', 1000)"
    )
    db.execute(
        "INSERT INTO resource_budget_tiers VALUES ('hypothesis', 'h1', 'reasoning', 600),"
        " ('hypothesis', 'h1', 'batch', 400)"
    )
    assert (
        sqlstate(db, "INSERT INTO resource_budget_tiers VALUES ('hypothesis', 'h1', 'standard', 1)")
        == "S1005"
    )
    assert (
        sqlstate(
            db, "UPDATE resource_budget_tiers SET token_budget = 401 WHERE model_tier = 'batch'"
        )
        == "S1005"
    )
    # Cutting the pool is allowed (a rebalance must not be blocked by caps) ...
    db.execute("UPDATE resource_budgets SET token_budget = 500")
    # ... and caps can then still be lowered, but not raised.
    db.execute("UPDATE resource_budget_tiers SET token_budget = 300 WHERE model_tier = 'batch'")
    assert (
        sqlstate(
            db, "UPDATE resource_budget_tiers SET token_budget = 301 WHERE model_tier = 'batch'"
        )
        == "S1005"
    )
    assert (
        sqlstate(
            db, "INSERT INTO resource_budget_tiers VALUES ('hypothesis', 'h1', 'standard', 'NaN')"
        )
        == "23514"
    )


def test_concurrent_cap_raises_for_one_entity_cannot_together_pass_the_token_budget(
    db: Conn, connect: Callable[..., Conn]
) -> None:
    db.execute(
        "INSERT INTO resource_budgets (entity_type, entity_id, token_budget)"
        " VALUES ('hypothesis', 'h1', 1000)"
    )
    first = connect(autocommit=False)
    second = connect(autocommit=False)
    first.execute("INSERT INTO resource_budget_tiers VALUES ('hypothesis', 'h1', 'reasoning', 600)")
    outcome: dict[str, Any] = {}

    def raise_second() -> None:
        try:
            second.execute(
                "INSERT INTO resource_budget_tiers VALUES ('hypothesis', 'h1', 'batch', 600)"
            )
            second.commit()
            outcome["state"] = "committed"
        except psycopg.Error as e:
            second.rollback()
            outcome["state"] = e.sqlstate

    thread = threading.Thread(target=raise_second)
    thread.start()
    time.sleep(0.3)
    assert thread.is_alive(), "the second raise should wait for the first"
    first.commit()
    thread.join(10)
    assert outcome == {"state": "S1005"}
    assert one(db, "SELECT sum(token_budget) FROM resource_budget_tiers") == 600


def test_every_tier_cap_change_reaches_the_ledger_with_its_cause(db: Conn) -> None:
    db.execute(
        "INSERT INTO resource_budgets (entity_type, entity_id, token_budget)"
        " VALUES ('hypothesis', 'h1', 1000)"
    )
    with db.transaction():
        db.execute("SELECT senate.set_change_cause('tier_setup', '42', 'alice', 'split the pool')")
        db.execute(
            "INSERT INTO resource_budget_tiers VALUES ('hypothesis', 'h1', 'reasoning', 600),"
            " ('hypothesis', 'h1', 'batch', 300)"
        )
        db.execute("UPDATE resource_budget_tiers SET token_budget = 200 WHERE model_tier = 'batch'")
        db.execute("SELECT senate.clear_change_cause()")
    db.execute("DELETE FROM resource_budgets")  # cascades to the caps
    rows = db.execute(
        "SELECT account, model_tier, balance_before, balance_after, delta, cause_type, cause_id,"
        " actor, note FROM budget_ledger WHERE account = 'entity_tier_budget' ORDER BY ledger_id"
    ).fetchall()
    assert [r[:5] for r in rows] == [
        ("entity_tier_budget", "batch", 0, 300, 300),
        ("entity_tier_budget", "reasoning", 0, 600, 600),
        ("entity_tier_budget", "batch", 300, 200, -100),
        ("entity_tier_budget", "batch", 200, 0, -200),
        ("entity_tier_budget", "reasoning", 600, 0, -600),
    ]
    assert {r[5:] for r in rows[:3]} == {("tier_setup", "42", "alice", "split the pool")}
    assert rows[3][5] == "direct_write"
    # Per tier, the deltas add up to the current cap (0 after the delete).
    assert (
        one(
            db,
            "SELECT sum(delta) FROM budget_ledger WHERE account = 'entity_tier_budget'",
        )
        == 0
    )
    assert (
        one(
            db,
            "SELECT count(*) FROM budget_ledger"
            " WHERE account = 'entity_budget' AND model_tier IS NOT NULL",
        )
        == 0
    )


# -- daily_spend ----------------------------------------------------------------------------------


def test_daily_spend_splits_each_day_by_class_and_model_tier_or_provider(db: Conn) -> None:
    # A deployed writer may name a model llm_models does not hold yet: such a deployment runs
    # with strict usage validation off (fresh installs refuse the row, see
    # db/docs/security.md); its spend then shows up under tier "unknown".
    db.execute(
        "SELECT set_senate_setting('usage_strict_validation', false, 'tests', 'unlisted models')"
    )
    with db.transaction():
        spend_dataset(db)
        use(db, "alpha", "llm_tokens", 70, model="no-such-model", cost="0.5")
        today, before = db.execute(
            "SELECT (now() AT TIME ZONE 'UTC')::date,"
            " (((SELECT starts_at FROM budget_period_bounds()) - interval '1 hour')"
            "  AT TIME ZONE 'UTC')::date"
        ).fetchone() or (None, None)
        rows = db.execute(
            "SELECT usage_day, entity_id, resource_type, resource_subclass, model_tier, provider,"
            " amount, cost_usd, usage_rows FROM daily_spend"
            " ORDER BY usage_day, entity_id, resource_type, resource_subclass"
        ).fetchall()
    assert rows == [
        (before, "alpha", "llm_tokens", "standard", "standard", None, 5000, D("0.03"), 1),
        (today, "alpha", "cpu_seconds", "", None, None, 600, D("0.12"), 1),
        (today, "alpha", "llm_tokens", "batch", "batch", None, 2000, D("0.002"), 1),
        (today, "alpha", "llm_tokens", "reasoning", "reasoning", None, 4000, D("0.18"), 1),
        (today, "alpha", "llm_tokens", "unknown", "unknown", None, 70, D("0.5"), 1),
        (today, "beta", "llm_tokens", "standard", "standard", None, 1500, D("0.0135"), 1),
        (
            today,
            "gamma",
            "api_calls",
            "semantic_scholar",
            None,
            "semantic_scholar",
            30,
            D("0.015"),
            1,
        ),
    ]


def test_daily_spend_adds_up_the_shards_of_concurrent_writers(
    db: Conn, connect: Callable[..., Conn]
) -> None:
    writers = [connect() for _ in range(3)]
    with db.transaction():
        day = one(db, "SELECT (now() AT TIME ZONE 'UTC')::date")
    for i, conn in enumerate(writers):
        conn.execute(
            "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount, model)"
            " VALUES ('hypothesis', 'hot', 'llm_tokens', %s, 'claude-haiku')",
            (100 * (i + 1),),
        )
    rows = db.execute(
        "SELECT amount, usage_rows FROM daily_spend WHERE entity_id = 'hot' AND usage_day = %s",
        (day,),
    ).fetchall()
    assert rows == [(600, 3)]


# -- allocation_ranking ---------------------------------------------------------------------------


def test_allocation_ranking_orders_by_priority_with_latest_components(db: Conn) -> None:
    db.execute(
        "INSERT INTO resource_budgets (entity_type, entity_id, token_budget, market_weight) VALUES"
        " ('hypothesis', 'h1', 2000, 0.2), ('hypothesis', 'h2', 1000, 0.2),"
        " ('hypothesis', 'h3', 500, 0.2), ('knowledge_gap', 'g1', 800, -0.3)"
    )
    db.execute(
        "INSERT INTO allocation_signals (entity_type, entity_id, evidence_strength, novelty,"
        " strategic_alignment, community_interest, assessed_by, assessed_at) VALUES"
        " ('hypothesis', 'h1', 0.8, 0.6, 0.5, 0.4, 'alice', '2026-01-02'),"
        " ('hypothesis', 'h1', 0.1, 0.1, 0.1, 0.1, 'bob', '2026-01-01'),"
        " ('hypothesis', 'h2', 1, 1, 1, 1, 'carol', '2026-01-03'),"
        " ('knowledge_gap', 'g1', 1, 1, 0, 0, 'dave', '2026-01-04')"
    )
    rows = db.execute("SELECT * FROM allocation_ranking").fetchall()
    assert [r[:10] for r in rows] == [
        (
            1,
            "hypothesis",
            "h2",
            D("1"),
            D("1"),
            D("1"),
            D("1"),
            D("1"),
            "carol",
            datetime(2026, 1, 3, tzinfo=UTC),
        ),
        (
            2,
            "hypothesis",
            "h1",
            D("0.61"),
            D("0.8"),
            D("0.6"),
            D("0.5"),
            D("0.4"),
            "alice",
            datetime(2026, 1, 2, tzinfo=UTC),
        ),
        (
            3,
            "knowledge_gap",
            "g1",
            D("0.60"),
            D("1"),
            D("1"),
            D("0"),
            D("0"),
            "dave",
            datetime(2026, 1, 4, tzinfo=UTC),
        ),
        (4, "hypothesis", "h3", D("0"), None, None, None, None, None, None),
    ]
    # token_budget, applied market weight, effective token budget
    assert [r[10:] for r in rows] == [
        (1000, D("0.2"), 1200),
        (2000, D("0.2"), 2400),
        (800, D("-0.3"), 560),
        (500, 0, 500),  # priority 0: below the threshold, weight not applied
    ]
    assert columns(db, "allocation_ranking") == [
        "priority_rank",
        "entity_type",
        "entity_id",
        "priority_score",
        "evidence_strength",
        "novelty",
        "strategic_alignment",
        "community_interest",
        "assessed_by",
        "assessed_at",
        "token_budget",
        "market_weight",
        "effective_token_budget",
    ]


# -- roi_leaderboard ------------------------------------------------------------------------------


def test_roi_leaderboard_ranks_edges_per_token_over_the_window(db: Conn) -> None:
    with db.transaction():
        for entity_id, edges, ago in [
            ("h1", 12, "0 hours"),
            ("h1", 3, "3 days"),
            ("h1", 100, "10 days"),
            ("h2", 4, "0 hours"),
            ("h4", 7, "1 day"),
        ]:
            db.execute(
                "INSERT INTO world_model_gains (entity_type, entity_id, kg_edges_gained,"
                " hypotheses_improved, observed_at, source)"
                " VALUES ('hypothesis', %s, %s, 1, now() - %s::interval, 'atlas')",
                (entity_id, edges, ago),
            )
        for entity_id, amount, ago in [
            ("h1", 20000, "0 hours"),
            ("h1", 10000, "3 days"),
            ("h1", 50000, "10 days"),
            ("h2", 1000, "0 hours"),
            ("h3", 500, "2 days"),
        ]:
            use(
                db,
                entity_id,
                "llm_tokens",
                amount,
                model="claude-haiku",
                at=f"now() - interval '{ago}'",
            )
        start, end = db.execute(
            "SELECT window_start, window_end FROM roi_window_bounds()"
        ).fetchone() or (None, None)
        rows = db.execute("SELECT * FROM roi_leaderboard").fetchall()
    w = (start, end)
    assert rows == [
        (1, "hypothesis", "h2", *w, D("0.004"), 4, 1000, 0, 1, 0),
        (2, "hypothesis", "h1", *w, D("0.0005"), 15, 30000, 0, 2, 0),
        (3, "hypothesis", "h3", *w, D("0"), 0, 500, 0, 0, 0),
        (4, "hypothesis", "h4", *w, None, 7, 0, 0, 1, 0),
    ]
    assert columns(db, "roi_leaderboard") == [
        "roi_rank",
        "entity_type",
        "entity_id",
        "window_start",
        "window_end",
        "roi_score",
        "kg_edges_gained",
        "tokens_spent",
        "papers_added",
        "hypotheses_improved",
        "artifact_quality_delta",
    ]
