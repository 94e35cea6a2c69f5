"""The demo workload generator (db/demo/workload.sql): deterministic, shaped so every review rule
has something to act on, and written through the real contract (triggers, ledger, governance)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from demo_support import LAST_DAY, migrated_database, simulate_small
from pytest_postgresql.executors import NoopExecutor

from senate_db import workload

Conn = psycopg.Connection[Any]

FINGERPRINT = """
SELECT (SELECT count(*) FROM resource_usage),
       (SELECT md5(string_agg(concat_ws('|', entity_type, entity_id, resource_type, amount, cost,
                                        model, provider, created_at), ',' ORDER BY id))
        FROM resource_usage),
       (SELECT md5(string_agg(concat_ws('|', entity_type, entity_id, kg_edges_gained, observed_at),
                              ',' ORDER BY gain_id)) FROM world_model_gains),
       (SELECT md5(string_agg(concat_ws('|', entity_type, entity_id, value, observed_at), ','
                              ORDER BY signal_id)) FROM market_signals),
       (SELECT md5(string_agg(concat_ws('|', id, entity_type, entity_id, requested_tokens, status,
                                        jsonb_path_query_array(votes, '$[*].vote')::text),
                              ',' ORDER BY id))
        FROM allocation_proposals),
       (SELECT md5(string_agg(concat_ws('|', entity_type, entity_id, token_budget, cpu_budget,
                                        storage_budget_gb, api_call_budget, priority_score,
                                        market_weight, roi_score), ','
                              ORDER BY entity_type, entity_id)) FROM resource_budgets),
       (SELECT md5(string_agg(concat_ws('|', resource_type, balance), ',' ORDER BY resource_type))
        FROM senate_reserve)
"""


@pytest.fixture(scope="module")
def small_economy(postgresql_noproc: NoopExecutor) -> Iterator[str]:
    """The small workload, simulated once for this module (last day fixed in the past)."""
    with migrated_database(postgresql_noproc) as url:
        simulate_small(url)
        yield url


@pytest.fixture
def economy(small_economy: str) -> Iterator[Conn]:
    with psycopg.connect(small_economy, autocommit=True) as conn:
        yield conn


def test_a_seed_gives_the_same_economy_every_time(
    small_economy: str, postgresql_noproc: NoopExecutor
) -> None:
    with migrated_database(postgresql_noproc) as again:
        simulate_small(again)
        with psycopg.connect(again) as a, psycopg.connect(small_economy) as b:
            assert a.execute(FINGERPRINT).fetchone() == b.execute(FINGERPRINT).fetchone()


def test_another_seed_gives_another_economy(db: Conn, small_economy: str) -> None:
    workload.install(db)
    setup = workload.generate(db, 8, "small", LAST_DAY)
    workload.advance(db, setup.first_day)
    with psycopg.connect(small_economy) as other:
        first_day_usage = (
            "SELECT md5(string_agg(concat_ws('|', entity_id, amount), ',' ORDER BY id)) "
            "FROM resource_usage WHERE created_at < %s"
        )
        bound = dt.datetime.combine(setup.first_day + dt.timedelta(days=1), dt.time(), dt.UTC)
        assert (
            db.execute(first_day_usage, (bound,)).fetchone()
            != other.execute(first_day_usage, (bound,)).fetchone()
        )


def test_the_small_economy_spans_whole_weeks_and_the_current_one(economy: Conn) -> None:
    first, last = economy.execute("SELECT first_day, last_day FROM demo.settings").fetchone() or ()
    assert last == LAST_DAY
    assert first.isoweekday() == 1
    assert (last - first).days + 1 == 21 + LAST_DAY.isoweekday()
    days = economy.execute("SELECT count(*) FROM demo.day_log").fetchone()
    assert days == ((last - first).days + 1,)


def test_every_archetype_every_kind_of_entity_and_every_class_is_present(economy: Conn) -> None:
    archetypes = {r[0] for r in economy.execute("SELECT DISTINCT archetype FROM demo.entities")}
    assert archetypes == {
        "winner", "blocked", "steady", "laggard", "idle", "spiker", "near", "newcomer",
    }  # fmt: skip
    kinds = {r[0] for r in economy.execute("SELECT DISTINCT entity_type FROM resource_budgets")}
    assert kinds == {"hypothesis", "knowledge_gap", "analysis", "entity"}
    mix = economy.execute(
        "SELECT resource_type, array_agg(DISTINCT resource_subclass ORDER BY resource_subclass) "
        "FROM daily_spend GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert dict(mix) == {
        "api_calls": ["crossref", "openalex", "other", "pubmed", "semantic_scholar"],
        "cpu_seconds": [""],
        "llm_tokens": ["batch", "reasoning", "standard"],
        "storage_gb_hours": [""],
    }
    models = {r[0] for r in economy.execute("SELECT DISTINCT model FROM resource_usage")}
    assert {"claude-opus", "gpt-reasoning", "claude-sonnet", "gpt-standard", "claude-haiku",
            "open-batch"} <= models  # fmt: skip


def test_usage_went_through_the_rollup_triggers(economy: Conn) -> None:
    assert economy.execute("SELECT * FROM reconcile_usage_rollups()").fetchall() == []
    rows, with_cost = economy.execute(
        "SELECT count(*), count(*) FILTER (WHERE cost_usd > 0) FROM daily_spend"
    ).fetchone() or (0, 0)
    assert rows > 1000 and with_cost > 0


def test_the_ledger_explains_every_budget_and_nothing_was_created_outside_the_reserve(
    economy: Conn,
) -> None:
    assert economy.execute("SELECT * FROM check_ledger_invariant()").fetchall() == []
    # Conservation: envelopes + reserve = everything ever funded, class by class, plus what
    # approvals carved out of parents' envelopes (issue 19: a child's carved budget is nested
    # in its parent's envelope, which is unchanged and still caps the subtree: counted twice
    # in a sum of envelopes, funded once).
    rows = economy.execute(
        """
        SELECT t.resource_type,
               coalesce((SELECT sum(senate.budget_amount(b, t.resource_type))
                         FROM resource_budgets AS b), 0)
               + coalesce((SELECT balance FROM senate_reserve AS r
                           WHERE r.resource_type = t.resource_type), 0),
               (SELECT coalesce(sum(delta), 0) FROM budget_ledger AS l
                WHERE l.account = 'reserve' AND l.cause_type = 'reserve_funding'
                  AND l.resource_type = t.resource_type),
               (SELECT coalesce(sum(delta), 0) FROM budget_ledger AS l
                WHERE l.account = 'entity_budget' AND l.cause_type = 'proposal_carve_out'
                  AND l.resource_type = t.resource_type)
        FROM resource_types AS t ORDER BY 1
        """
    ).fetchall()
    for resource_type, held, funded, carved in rows:
        assert held == funded + carved, resource_type
    # Approvals drew from the reserve exactly what they credited under proposal_approval.
    unbalanced = economy.execute(
        "SELECT resource_type FROM budget_ledger WHERE cause_type = 'proposal_approval'"
        " GROUP BY resource_type HAVING sum(delta) <> 0"
    ).fetchall()
    assert unbalanced == []
    causes = {r[0] for r in economy.execute("SELECT DISTINCT cause_type FROM budget_ledger")}
    assert "direct_write" not in causes
    assert {"reserve_funding", "initial_allocation", "proposal_approval"} <= causes


def test_governance_went_through_filing_votes_and_every_decision(economy: Conn) -> None:
    statuses = dict(
        economy.execute("SELECT status, count(*) FROM allocation_proposals GROUP BY 1").fetchall()
    )
    assert set(statuses) == {"pending", "approved", "rejected", "deferred"}
    assert economy.execute("SELECT count(*) FROM allocation_votes").fetchone() >= (
        3 * sum(statuses.values()),
    )
    # Newcomers got their first envelope through an approved proposal.
    newcomers = economy.execute(
        "SELECT count(*) FROM demo.entities AS e "
        "JOIN resource_budgets USING (entity_type, entity_id) "
        "WHERE e.archetype = 'newcomer'"
    ).fetchone()
    assert newcomers is not None and newcomers[0] > 0


def test_signals_gains_and_blocks_feed_the_economics(economy: Conn) -> None:
    winners = economy.execute(
        "SELECT min(b.market_weight), min(b.roi_score) FROM resource_budgets AS b "
        "JOIN demo.entities AS e USING (entity_type, entity_id) WHERE e.archetype = 'winner'"
    ).fetchone()
    assert winners is not None and winners[0] > 0.1 and winners[1] >= 0.001
    blocked = economy.execute(
        "SELECT max(b.market_weight) FROM resource_budgets AS b "
        "JOIN demo.entities AS e USING (entity_type, entity_id) WHERE e.archetype = 'blocked'"
    ).fetchone()
    assert blocked == (0,)
    laggards = economy.execute(
        "SELECT max(b.roi_score) FROM resource_budgets AS b "
        "JOIN demo.entities AS e USING (entity_type, entity_id) WHERE e.archetype = 'laggard'"
    ).fetchone()
    assert laggards is not None and laggards[0] < 0.0001


def test_idle_entities_stop_spending_and_spikers_pass_their_budget(economy: Conn) -> None:
    idle_spend_late = economy.execute(
        "SELECT count(*) FROM resource_usage AS u JOIN demo.entities AS e "
        "USING (entity_type, entity_id) WHERE e.archetype = 'idle' AND u.created_at >= e.idle_from"
    ).fetchone()
    assert idle_spend_late == (0,)
    spikes = economy.execute(
        """
        SELECT e.archetype, count(*), min(s.utilization), max(s.utilization)
        FROM demo.entities AS e
        JOIN resource_usage AS u USING (entity_type, entity_id)
        JOIN budget_status_as_of(demo.end_of_day(%s)) AS s USING (entity_type, entity_id)
        WHERE u.metadata ->> 'pipeline' = 'legacy-batch-backfill'
          AND u.created_at >= %s AND s.resource_type = 'llm_tokens'
        GROUP BY e.archetype ORDER BY 1
        """,
        (LAST_DAY, LAST_DAY),
    ).fetchall()
    shares = {archetype: (low, high) for archetype, _, low, high in spikes}
    assert set(shares) == {"near", "spiker"}
    assert shares["spiker"][0] > 1.1  # today's backfill pushed them past the effective budget
    assert 0.8 < shares["near"][0] <= shares["near"][1] < 1  # past the 80 % alert, not 100 %
    over = {
        r[0]
        for r in economy.execute(
            "SELECT DISTINCT e.archetype FROM budget_status_as_of(demo.end_of_day(%s)) AS s "
            "JOIN demo.entities AS e USING (entity_type, entity_id) WHERE s.over_budget",
            (LAST_DAY,),
        )
    }
    assert "spiker" in over and "near" not in over


def test_an_unknown_size_is_refused(db: Conn) -> None:
    workload.install(db)
    with pytest.raises(psycopg.Error) as caught:
        workload.generate(db, 1, "huge")
    assert caught.value.sqlstate == "22023"


def test_days_run_once_and_in_order(db: Conn) -> None:
    workload.install(db)
    setup = workload.generate(db, 1, "small", LAST_DAY)
    workload.advance(db, setup.first_day)
    for day in (setup.first_day, setup.first_day - dt.timedelta(days=1)):
        with pytest.raises(psycopg.Error) as caught:
            workload.advance(db, day)
        assert caught.value.sqlstate in {"55000", "22023"}
    with pytest.raises(psycopg.Error) as again:
        workload.generate(db, 1, "small", LAST_DAY)
    assert again.value.sqlstate == "55000"


def test_every_review_rule_acts_on_something(economy: Conn) -> None:
    steps = workload.cycle_steps(economy)
    if not (steps.daily_check and steps.rebalance):
        pytest.skip("this database has no review cycles (migrations 0030-0039)")
    reasons = {r[0] for r in economy.execute("SELECT DISTINCT reason FROM rebalance_changes")}
    assert {"strong_roi_market_support", "sustained_low_roi", "idle_reclaim",
            "reassigned_idle_budget"} <= reasons  # fmt: skip
    # Each rule acted on the archetype shaped for it, and on no archetype it does not fit.
    acted = economy.execute(
        "SELECT c.reason, array_agg(DISTINCT e.archetype ORDER BY e.archetype) "
        "FROM rebalance_changes AS c JOIN demo.entities AS e USING (entity_type, entity_id) "
        "GROUP BY c.reason"
    ).fetchall()
    archetypes = dict(acted)
    assert "winner" in archetypes["strong_roi_market_support"]
    assert "blocked" not in archetypes["strong_roi_market_support"]
    assert "laggard" in archetypes["sustained_low_roi"]
    assert archetypes["idle_reclaim"] == ["idle"]
    kinds = {r[0] for r in economy.execute("SELECT DISTINCT kind FROM spend_throttles")}
    assert kinds == {"daily_allowance", "period_budget"}
    released = economy.execute(
        "SELECT count(*) FROM spend_throttles WHERE released_at IS NOT NULL"
    ).fetchone()
    assert released is not None and released[0] > 0
    thresholds = {r[0] for r in economy.execute("SELECT DISTINCT threshold FROM spend_alerts")}
    assert thresholds == {Decimal("0.8"), Decimal("1.0")}
    weeks = workload.weeks(economy)
    assert sum(w.rebalance_changes or 0 for w in weeks) > 0


def test_claude_sonnet_s_price_rises_mid_history_and_each_row_keeps_the_price_of_its_time(
    economy: Conn,
) -> None:
    changes = economy.execute(
        "SELECT change_kind, old_usd_per_unit, new_usd_per_unit,"
        " (window_start AT TIME ZONE 'UTC')::date FROM price_changes"
        " WHERE priced_name = 'claude-sonnet' ORDER BY change_id"
    ).fetchall()
    day = economy.execute("SELECT demo.price_change_day()").fetchone()
    assert day is not None and day[0].isoweekday() == 1 and day[0] < LAST_DAY
    assert [c[0] for c in changes] == ["correction", "set"]
    assert (changes[0][1], changes[0][2], changes[0][3]) == (
        Decimal("0.000009"), Decimal("0.000012"), day[0]
    )  # fmt: skip
    # Rows on both sides of the change, each priced at the price in force at its time (the
    # reconciliation re-prices every row that way and finds the rollups equal).
    before, after = economy.execute(
        "SELECT count(*) FILTER (WHERE created_at < %s::timestamptz),"
        " count(*) FILTER (WHERE created_at >= %s::timestamptz)"
        " FROM resource_usage WHERE model = 'claude-sonnet' AND cost IS NULL",
        (day[0], day[0]),
    ).fetchone() or (0, 0)
    assert before > 100 and after > 100
    assert economy.execute("SELECT * FROM reconcile_usage_rollups()").fetchall() == []
    # The days' logged cost is the rollups' cost.
    logged, rolled = economy.execute(
        "SELECT (SELECT sum(usage_cost_usd) FROM demo.day_log),"
        " (SELECT sum(cost_total_usd) FROM senate.usage_rollups)"
    ).fetchone() or (0, 0)
    assert logged == rolled


def test_one_envelope_is_set_to_run_out_on_thursday_and_the_reserve_pays_for_it(
    economy: Conn,
) -> None:
    aimed = economy.execute(
        "SELECT l.entity_type, l.entity_id, l.as_of, l.delta FROM budget_ledger AS l"
        " WHERE l.cause_type = 'senate_adjustment' ORDER BY l.ledger_id"
    ).fetchall()
    assert len(aimed) == 2  # the envelope and the reserve, one transaction
    envelope = next(a for a in aimed if a[0] is not None)
    reserve = next(a for a in aimed if a[0] is None)
    assert envelope[3] == -reserve[3] != 0
    forecast = economy.execute(
        "SELECT runway_status, runs_out_local FROM budget_forecast_as_of(%s)"
        " WHERE entity_type = %s AND entity_id = %s AND resource_type = 'llm_tokens'",
        (envelope[2], envelope[0], envelope[1]),
    ).fetchone()
    assert forecast is not None and forecast[0] == "runs_out"
    # LAST_DAY is a Wednesday: the day after, at 14:00.
    assert forecast[1] == dt.datetime.combine(LAST_DAY + dt.timedelta(days=1), dt.time(14))


def test_each_family_s_gap_has_a_cost_budget_funded_from_the_usd_reserve(economy: Conn) -> None:
    gaps, others = economy.execute(
        "SELECT count(*) FILTER (WHERE b.entity_id IN (SELECT parent_id FROM entity_parents"
        "                                              WHERE parent_type = 'knowledge_gap')),"
        " count(*) FILTER (WHERE b.entity_id NOT IN (SELECT parent_id FROM entity_parents"
        "                                            WHERE parent_type = 'knowledge_gap'))"
        " FROM resource_budgets AS b WHERE b.cost_budget_usd IS NOT NULL"
    ).fetchone() or (0, 0)
    families = economy.execute(
        "SELECT count(DISTINCT parent_id) FROM entity_parents WHERE parent_type = 'knowledge_gap'"
    ).fetchone()
    assert families is not None and gaps == families[0] > 0 and others == 0
    # The families' money (the whole subtree's USD) crossed alert thresholds on simulated days.
    alerts = economy.execute(
        "SELECT count(*) FROM spend_alerts WHERE resource_type = 'usd'"
        " AND entity_type = 'knowledge_gap'"
    ).fetchone()
    assert alerts is not None and alerts[0] > 0
