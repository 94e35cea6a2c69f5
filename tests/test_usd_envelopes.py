"""USD envelopes (issue 18, point 4): an optional cost budget per envelope, in USD per period.

resource_budgets.cost_budget_usd (NULL: no money gate) is the budget of the class usd, whose
spend is the USD cost of all the entity's usage (usage_rollups.cost_total_usd). can_spend and
reserve_spend check a unit request's price (the model's price in force now) against the USD
left, also at every ancestor level; a hold keeps its price; usd may be asked and held directly.
An entity without a cost budget gets exactly the answers of the previous release.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from governance_support import approved_proposal, fund, status_of
from reliability_support import RoleSessions, role_sessions, scalar
from test_families_gate import PREVIOUS_RELEASE, answers, setup_economy

from senate_db import migrations

Conn = psycopg.Connection[Any]

CAN = "SELECT allowed, reason, remaining FROM can_spend(%s, %s, %s, %s, %s)"
RESERVE = "SELECT reserve_spend(%s, %s, %s, %s, interval '10 minutes', %s)"


@pytest.fixture
def as_role(db_url: str, db: Conn) -> Iterator[RoleSessions]:
    yield from role_sessions(db_url, db)


def envelope(
    db: Conn, eid: str, tokens: int, usd: str | None, kind: str = "hypothesis", cpu: int = 0
) -> None:
    db.execute(
        "INSERT INTO resource_budgets (entity_type, entity_id, token_budget, cpu_budget,"
        " cost_budget_usd) VALUES (%s, %s, %s, %s, %s)",
        (kind, eid, tokens, cpu, None if usd is None else Decimal(usd)),
    )


def spend(
    db: Conn,
    eid: str,
    amount: int,
    model: str | None = "claude-opus",
    kind: str = "hypothesis",
    resource: str = "llm_tokens",
    cost: str | None = None,
) -> None:
    db.execute(
        "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount, model, cost)"
        " VALUES (%s, %s, %s, %s, %s, %s)",
        (kind, eid, resource, amount, model, None if cost is None else Decimal(cost)),
    )


def can(
    conn: Conn,
    eid: str,
    amount: Any,
    resource: str = "llm_tokens",
    model: str | None = "claude-opus",
    kind: str = "hypothesis",
) -> Any:
    return conn.execute(CAN, (kind, eid, resource, amount, model)).fetchone()


def refused(conn: Conn, statement: str, args: Any = None) -> str | None:
    try:
        with conn.transaction():
            conn.execute(statement, args)
    except psycopg.Error as e:
        return e.sqlstate
    return None


def test_a_usd_envelope_refuses_a_request_that_fits_its_tokens_but_not_its_money(
    db: Conn, as_role: RoleSessions
) -> None:
    # 1,000,000 tokens but $1.00: claude-opus costs $0.000045 a token.
    envelope(db, "h-1", 1_000_000, "1.00")
    spend(db, "h-1", 10_000)  # $0.45 spent, 990,000 tokens left
    writer = as_role("senate_writer")
    allowed, reason, remaining = can(writer, "h-1", 20_000)  # $0.90 > $0.55 left
    assert not allowed and reason.startswith("over_cost_budget:")
    assert "0.9 USD" in reason and "0.550000 USD" in reason
    assert remaining == 12_222  # the tokens $0.55 buys at claude-opus's price
    with pytest.raises(psycopg.Error) as caught:
        writer.execute(RESERVE, ("hypothesis", "h-1", "llm_tokens", 20_000, "claude-opus"))
    assert caught.value.sqlstate == "S3001"
    assert scalar(db, "SELECT count(*) FROM spend_reservations") == 0
    # What the money buys is granted; a cheaper model buys more with the same dollars.
    assert can(writer, "h-1", 12_000)[0]
    assert can(writer, "h-1", 500_000, model="claude-haiku")[0]  # $0.50
    assert not can(writer, "h-1", 600_000, model="claude-haiku")[0]  # $0.60
    # The same request on an envelope without a cost budget: the unit budget only.
    envelope(db, "h-2", 1_000_000, None)
    spend(db, "h-2", 10_000)
    allowed, reason, _ = can(writer, "h-2", 20_000)
    assert allowed and reason.startswith("within_budget:")


def test_the_unit_budget_still_binds_before_the_money(db: Conn) -> None:
    envelope(db, "h-1", 1_000, "100")
    allowed, reason, remaining = can(db, "h-1", 2_000)
    assert not allowed and reason.startswith("over_budget:") and remaining == 1_000


def test_a_request_without_a_model_is_priced_at_the_dearest_model_and_cpu_at_nothing(
    db: Conn,
) -> None:
    envelope(db, "h-1", 1_000_000, "0.45", cpu=100)
    # Without a model: the highest price in force (claude-opus, $0.000045 a token).
    assert can(db, "h-1", 10_000, model=None)[0]
    assert not can(db, "h-1", 10_001, model=None)[0]
    assert can(db, "h-1", 10_001, model="claude-sonnet")[0]
    # CPU carries caller-given costs only: priced 0 while money is left ...
    assert can(db, "h-1", 50, resource="cpu_seconds", model=None)[0]
    spend(db, "h-1", 10, model=None, resource="cpu_seconds", cost="0.45")
    # ... and an exhausted cost budget refuses every class.
    allowed, reason, remaining = can(db, "h-1", 1, resource="cpu_seconds", model=None)
    assert not allowed and reason.startswith("over_cost_budget:") and remaining == 0
    assert not can(db, "h-1", 1, model="open-batch")[0]


def test_a_hold_keeps_its_price_against_the_money_until_it_ends(
    db: Conn, as_role: RoleSessions
) -> None:
    envelope(db, "h-1", 1_000_000, "1.00")
    writer = as_role("senate_writer")
    hold = scalar(writer, RESERVE, ("hypothesis", "h-1", "llm_tokens", 20_000, "claude-opus"))
    assert scalar(db, "SELECT amount_usd FROM spend_reservations") == Decimal("0.900000")
    # $0.10 left for everyone, any class and model.
    assert not can(writer, "h-1", 3_000)[0]  # $0.135
    assert can(writer, "h-1", 2_000)[0]  # $0.09
    with pytest.raises(psycopg.Error) as caught:
        writer.execute(RESERVE, ("hypothesis", "h-1", "llm_tokens", 3_000, "claude-opus"))
    assert caught.value.sqlstate == "S3001"
    # The usd class shows the hold.
    row = db.execute(
        "SELECT effective_budget, spent, held, available FROM budget_status"
        " WHERE entity_id = 'h-1' AND resource_type = 'usd'"
    ).fetchone()
    assert row == (Decimal("1.00"), 0, Decimal("0.900000"), Decimal("0.100000"))
    writer.execute("SELECT release_spend_reservation(%s)", (hold,))
    assert can(writer, "h-1", 20_000)[0]


def test_usd_is_asked_and_held_directly_and_usage_of_any_class_settles_it(
    db: Conn, as_role: RoleSessions
) -> None:
    envelope(db, "h-1", 1_000_000, "1.00")
    envelope(db, "h-2", 1_000_000, None)
    spend(db, "h-1", 10_000)  # $0.45
    assert can(db, "h-1", Decimal("0.55"), resource="usd", model=None)[0]
    allowed, reason, _ = can(db, "h-1", Decimal("0.56"), resource="usd", model=None)
    assert not allowed and reason.startswith("over_budget:")
    # No cost budget: nothing to ask or hold USD against.
    allowed, reason, remaining = can(db, "h-2", 1, resource="usd", model=None)
    assert (allowed, reason.split(":")[0], remaining) == (False, "no_budget", 0)
    writer = as_role("senate_writer")
    assert refused(writer, RESERVE, ("hypothesis", "h-2", "usd", 1, None)) == "S3003"
    hold = scalar(writer, RESERVE, ("hypothesis", "h-1", "usd", Decimal("0.50"), None))
    assert not can(writer, "h-1", 2_000)[0]  # $0.09 > $0.05 left
    writer.execute(
        "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount, model,"
        " cost, reservation_id) VALUES ('hypothesis', 'h-1', 'llm_tokens', 100, 'claude-opus',"
        " 0.0045, %s)",
        (hold,),
    )
    assert db.execute(
        "SELECT settled_at IS NOT NULL, settled_amount FROM spend_reservations"
    ).fetchone() == (True, Decimal("0.0045"))
    assert can(writer, "h-1", 2_000)[0]


def test_an_ancestor_s_usd_budget_bounds_its_whole_family(db: Conn) -> None:
    envelope(db, "G", 1_000_000, "1.00", kind="knowledge_gap")
    envelope(db, "H1", 1_000_000, None)
    envelope(db, "H2", 1_000_000, None)
    for child in ("H1", "H2"):
        db.execute(
            "SELECT set_entity_parent('hypothesis', %s, 'knowledge_gap', 'G', 'test')", (child,)
        )
    spend(db, "H2", 20_000)  # $0.90 spent by the sibling
    allowed, reason, remaining = can(db, "H1", 3_000)  # $0.135 > $0.10
    assert not allowed and reason.startswith("over_cost_budget:")
    assert "knowledge_gap G, 1 level(s) up" in reason and remaining == 2_222
    assert refused(db, RESERVE, ("hypothesis", "H1", "llm_tokens", 3_000, "claude-opus")) == (
        "S3001"
    )
    assert scalar(db, RESERVE, ("hypothesis", "H1", "llm_tokens", 2_000, "claude-opus"))
    assert not can(db, "H2", 500)[0]  # $0.0225 > $0.01 left after H1's hold


def test_each_bad_input_is_refused_with_its_sqlstate_and_nothing_written(db: Conn) -> None:
    envelope(db, "h-1", 1_000, "1.00")
    ledger = scalar(db, "SELECT count(*) FROM budget_ledger")
    for bad in ("-1", "NaN", "Infinity"):
        assert (
            refused(
                db,
                "UPDATE resource_budgets SET cost_budget_usd = %s::numeric WHERE entity_id = 'h-1'",
                (bad,),
            )
            == "23514"
        ), bad
    assert scalar(db, "SELECT cost_budget_usd FROM resource_budgets") == Decimal("1.00")
    # No usage row is of the money class, one row or a batch, strict validation or not.
    usage = (
        "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount)"
        " VALUES ('hypothesis', 'h-1', 'usd', 1)"
    )
    assert refused(db, usage) == "S3018"
    assert refused(db, usage + ", ('hypothesis', 'h-1', 'llm_tokens', 5)") == "S3018"
    db.execute("SELECT set_senate_setting('usage_strict_validation', false, 'ops', 'test')")
    assert refused(db, usage) == "S3018"
    assert scalar(db, "SELECT count(*) FROM resource_usage") == 0
    assert scalar(db, "SELECT count(*) FROM senate.usage_rollups") == 0
    # The gate's own checks apply to usd as to any class.
    assert refused(db, CAN, ("hypothesis", "h-1", "usd", 0, None)) == "S2006"
    assert refused(db, CAN, ("hypothesis", "h-1", "usd", 1, "claude-opus")) == "S3004"
    assert refused(db, RESERVE, ("hypothesis", "h-1", "usd", -1, None)) == "S2006"
    assert refused(db, "SELECT fund_reserve('usd', -5, 'chair')") == "S2006"
    assert scalar(db, "SELECT count(*) FROM spend_reservations") == 0
    assert scalar(db, "SELECT count(*) FROM budget_ledger") == ledger


def test_the_cost_budget_is_set_like_any_budget_and_ledgered(db: Conn) -> None:
    envelope(db, "h-1", 1_000, None)
    db.execute("UPDATE resource_budgets SET cost_budget_usd = 25 WHERE entity_id = 'h-1'")
    db.execute("UPDATE resource_budgets SET cost_budget_usd = 10 WHERE entity_id = 'h-1'")
    rows = db.execute(
        "SELECT balance_before, balance_after FROM budget_ledger"
        " WHERE resource_type = 'usd' ORDER BY ledger_id"
    ).fetchall()
    assert rows == [(0, 25), (25, 10)]
    assert db.execute("SELECT * FROM check_ledger_invariant()").fetchall() == []
    db.execute("UPDATE resource_budgets SET cost_budget_usd = NULL WHERE entity_id = 'h-1'")
    assert db.execute("SELECT * FROM check_ledger_invariant()").fetchall() == []
    assert scalar(db, "SELECT count(*) FROM budget_status WHERE resource_type = 'usd'") == 0


def test_an_entity_without_a_usd_budget_gets_exactly_the_previous_release_s_answers(
    db: Conn, empty_db_url: str
) -> None:
    migrations.apply_migrations(empty_db_url, until=PREVIOUS_RELEASE)
    with psycopg.connect(empty_db_url, autocommit=True) as previous:
        setup_economy(previous)
        setup_economy(db)
        # Envelopes with a cost budget elsewhere in this database, one of them spent out.
        envelope(db, "rich", 1_000, "100")
        envelope(db, "broke", 1_000, "0.01")
        spend(db, "broke", 1_000)
        before, now = answers(previous), answers(db)
        status = (
            "SELECT entity_type, entity_id, resource_type, effective_budget, spent,"
            " spent_cost_usd, remaining, held, available, throttled FROM budget_status"
            " WHERE entity_id NOT IN ('rich', 'broke') ORDER BY 1, 2, 3"
        )
        assert db.execute(status).fetchall() == previous.execute(status).fetchall()
    assert now == before


def test_the_reserve_and_proposals_may_be_in_usd(db: Conn) -> None:
    fund(db, Decimal("50"), "usd")
    envelope(db, "h-1", 1_000, None)
    pid = approved_proposal(db, amount=20, entity_id="h-1", resource_type="usd")
    assert status_of(db, pid) == "approved"
    assert scalar(db, "SELECT cost_budget_usd FROM resource_budgets") == 20
    assert scalar(db, "SELECT balance FROM senate_reserve WHERE resource_type = 'usd'") == 30
    # A second one adds to the cost budget; the reserve keeps budgets + reserve = funded.
    approved_proposal(db, amount=5, entity_id="h-1", resource_type="usd")
    assert scalar(db, "SELECT cost_budget_usd FROM resource_budgets") == 25
    assert db.execute("SELECT * FROM check_ledger_invariant()").fetchall() == []
    row = db.execute(
        "SELECT unit, balance, allocated FROM senate_report_reserve WHERE resource_type = 'usd'"
    ).fetchone()
    assert row == ("USD", 25, 25)


def test_the_daily_check_alerts_and_throttles_on_money_like_on_units(db: Conn) -> None:
    envelope(db, "h-1", 1_000_000, "1.00")
    envelope(db, "h-2", 1_000_000, None)
    spend(db, "h-1", 30_000)  # $1.35: over the cost budget, well within the tokens
    spend(db, "h-2", 30_000)
    actions = db.execute(
        "SELECT action, entity_id, resource_type, kind FROM run_daily_check()"
        " WHERE resource_type = 'usd' ORDER BY 1, 2, 4"
    ).fetchall()
    assert ("throttled", "h-1", "usd", "period_budget") in actions
    assert {a[1] for a in actions} == {"h-1"}
    assert any(a[0] == "alert" for a in actions)
    # The throttle stops the money class, and a unit request through the money.
    allowed, reason, _ = can(db, "h-1", 1, resource="usd", model=None)
    assert not allowed and reason.startswith("throttled:")
    assert not can(db, "h-1", 1)[0]
    assert can(db, "h-2", 1)[0]
    # Raising the cost budget lifts it.
    db.execute("UPDATE resource_budgets SET cost_budget_usd = 10 WHERE entity_id = 'h-1'")
    assert (
        scalar(
            db,
            "SELECT count(*) FROM spend_throttles"
            " WHERE released_at IS NULL AND kind = 'period_budget'",
        )
        == 0
    )
    assert can(db, "h-1", 1_000)[0]


def test_a_daily_allowance_in_usd_throttles_every_class_of_the_envelope(db: Conn) -> None:
    """Within the period's cost budget but over its daily allowance in USD: the daily check
    throttles the class usd, and that stops a request of any class (all usage costs money),
    as a unit class's daily allowance stops that class."""
    envelope(db, "h-1", 10_000_000, "100.00", cpu=1_000)
    envelope(db, "h-2", 10_000_000, None, cpu=1_000)
    db.execute("SELECT set_daily_allowance('hypothesis', 'h-1', 'usd', 1, 'ops', 'a dollar a day')")
    spend(db, "h-1", 30_000)  # $1.35 today: over the allowance, far within $100 and the tokens
    spend(db, "h-2", 30_000)
    actions = db.execute(
        "SELECT action, entity_id, resource_type, kind FROM run_daily_check()"
        " WHERE action = 'throttled'"
    ).fetchall()
    assert actions == [("throttled", "h-1", "usd", "daily_allowance")]
    for resource, amount, model in (("llm_tokens", 1, "claude-haiku"), ("cpu_seconds", 1, None)):
        allowed, reason, _ = can(db, "h-1", amount, resource=resource, model=model)
        assert not allowed and reason.startswith("throttled:"), resource
        assert can(db, "h-2", amount, resource=resource, model=model)[0]
    assert refused(db, RESERVE, ("hypothesis", "h-1", "llm_tokens", 1, "claude-haiku")) == "S3002"


def test_budget_levels_show_the_cost_budget_of_each_level_that_has_one(db: Conn) -> None:
    envelope(db, "G", 1_000_000, "1.00", kind="knowledge_gap")
    envelope(db, "H1", 1_000_000, None)
    db.execute("SELECT set_entity_parent('hypothesis', 'H1', 'knowledge_gap', 'G', 'test')")
    spend(db, "H1", 10_000)  # $0.45
    rows = db.execute(
        "SELECT level, level_entity_id, effective_budget, spent, available, binds"
        " FROM budget_levels WHERE entity_id = 'H1' AND resource_type = 'usd'"
    ).fetchall()
    assert rows == [(1, "G", Decimal("1.00"), Decimal("0.450000"), Decimal("0.550000"), True)]


def test_the_weekly_rebalance_moves_cost_budgets_like_unit_budgets_and_conserves_the_money(
    db: Conn,
) -> None:
    """The class usd in the rebalance: an idle cost budget (no USD spent in the idle window)
    is reclaimed into the usd reserve and reassigned, a spender's is not reclaimed, an envelope
    without a cost budget keeps none, and cost budgets + the usd reserve are conserved."""
    fund(db, Decimal("100"), "usd")
    for eid, usd in (("h-idle", "40"), ("h-busy", "40"), ("h-none", None)):
        envelope(db, eid, 100_000, usd)
    db.execute("UPDATE resource_budgets SET created_at = now() - interval '60 days'")
    spend(db, "h-busy", 1_000)  # $0.045 of claude-opus, and tokens: neither is idle
    spend(db, "h-idle", 1_000, model=None, resource="cpu_seconds", cost="0")  # tokens idle
    money = (
        "SELECT sum(cost_budget_usd) + (SELECT balance FROM senate_reserve"
        " WHERE resource_type = 'usd') FROM resource_budgets"
    )
    before = scalar(db, money)
    found = db.execute(
        "SELECT entity_id, resource_type, delta, reason"
        " FROM run_rebalance(dry_run => false, actor => 'senate-chair')"
        " WHERE resource_type = 'usd'"
    ).fetchall()
    moves = {(r[0], r[3]): r[2] for r in found}
    assert moves[("h-idle", "idle_reclaim")] < 0  # no money spent: its cost budget is idle
    assert ("h-busy", "idle_reclaim") not in moves
    assert all(r[0] != "h-none" for r in found)
    assert (
        scalar(db, "SELECT cost_budget_usd FROM resource_budgets WHERE entity_id = 'h-none'")
        is None
    )
    assert scalar(db, money) == before
    assert db.execute("SELECT * FROM check_ledger_invariant()").fetchall() == []


def test_the_economy_snapshot_records_the_money_spent_against_cost_budgets(db: Conn) -> None:
    envelope(db, "h-1", 1_000_000, "10.00")
    envelope(db, "h-2", 1_000_000, None)
    spend(db, "h-1", 20_000)  # 0.90 USD of claude-opus
    spend(db, "h-2", 20_000)
    spend(db, "h-1", 10, model=None, resource="cpu_seconds", cost="0.25")
    db.execute("SELECT record_economy_snapshot()")
    row = db.execute(
        "SELECT envelopes, base_budget, spent, spent_cost_usd FROM budget_snapshots"
        " WHERE resource_type = 'usd'"
    ).fetchone()
    assert row == (1, Decimal("10.00"), Decimal("1.15"), Decimal("1.15"))
