"""The spend gate: can_spend answers before a spend, reserve_spend holds budget atomically."""

from __future__ import annotations

import random
from decimal import Decimal

import psycopg
import pytest
from cycles_support import (
    Conn,
    Connect,
    can_spend,
    days_before,
    envelope,
    noon,
    one,
    period_start,
    reserve_spend,
    rows,
    scalar,
    spend,
    start_together,
)


def test_can_spend_allows_a_request_within_the_remaining_budget_and_reports_what_remains(
    db: Conn,
) -> None:
    envelope(db, "h-1", tokens=10_000)
    spend(db, "h-1", 2_500)
    answer = can_spend(db, "h-1", 1_000)
    assert answer["allowed"] is True
    assert answer["reason"].startswith("within_budget")
    assert answer["remaining"] == 7_500


def test_can_spend_refuses_a_request_that_would_pass_the_effective_budget(db: Conn) -> None:
    envelope(db, "h-1", tokens=10_000)
    spend(db, "h-1", 9_500)
    answer = can_spend(db, "h-1", 501)
    assert answer["allowed"] is False
    assert answer["reason"].startswith("over_budget")
    assert answer["remaining"] == 500
    assert can_spend(db, "h-1", 500)["allowed"] is True


def test_can_spend_uses_the_effective_budget_with_the_applied_market_weight(db: Conn) -> None:
    envelope(db, "h-1", tokens=10_000, priority=0.9, market_weight=0.2)
    envelope(db, "h-low", tokens=10_000, priority=0.1, market_weight=0.2)  # below the threshold
    assert can_spend(db, "h-1", 1)["remaining"] == 12_000
    assert can_spend(db, "h-low", 1)["remaining"] == 10_000


def test_can_spend_counts_only_the_current_budget_period(db: Conn) -> None:
    envelope(db, "h-1", tokens=1_000)
    spend(db, "h-1", 900, at=noon(db, days_before(period_start(db), 1)))  # last period
    spend(db, "h-1", 100)
    assert can_spend(db, "h-1", 900)["allowed"] is True
    assert can_spend(db, "h-1", 901)["allowed"] is False


def test_can_spend_refuses_a_throttled_entity_even_within_budget(db: Conn) -> None:
    envelope(db, "h-1", tokens=70_000)
    spend(db, "h-1", 20_000)  # > 70 000 / 7 today
    db.execute("SELECT * FROM run_daily_check()")
    answer = can_spend(db, "h-1", 1)
    assert answer["allowed"] is False
    assert answer["reason"].startswith("throttled")
    assert answer["remaining"] == 50_000
    # Throttles are per class: CPU is not affected.
    db.execute("UPDATE resource_budgets SET cpu_budget = 100 WHERE entity_id = 'h-1'")
    assert can_spend(db, "h-1", 10, "cpu_seconds")["allowed"] is True


def test_can_spend_refuses_an_entity_without_an_envelope(db: Conn) -> None:
    answer = can_spend(db, "nobody", 1)
    assert (answer["allowed"], answer["remaining"]) == (False, 0)
    assert answer["reason"].startswith("no_budget")


def test_can_spend_with_a_model_also_respects_the_tier_cap(db: Conn) -> None:
    envelope(db, "a-7", entity_type="analysis", tokens=10_000)
    db.execute(
        "INSERT INTO resource_budget_tiers (entity_type, entity_id, model_tier, token_budget) "
        "VALUES ('analysis', 'a-7', 'reasoning', 2000)"
    )
    spend(db, "a-7", 1_500, entity_type="analysis", model="claude-opus")
    spend(db, "a-7", 3_000, entity_type="analysis", model="claude-haiku")
    reasoning = can_spend(db, "a-7", 600, model="claude-opus", entity_type="analysis")
    assert reasoning["allowed"] is False
    assert reasoning["reason"].startswith("over_tier_budget")
    assert reasoning["remaining"] == 500
    # An uncapped tier draws on the pool only; without a model the pool is the answer.
    assert can_spend(db, "a-7", 5_000, model="claude-haiku", entity_type="analysis")["allowed"]
    assert can_spend(db, "a-7", 5_500, entity_type="analysis")["allowed"] is True
    assert can_spend(db, "a-7", 5_501, entity_type="analysis")["allowed"] is False


@pytest.mark.parametrize(
    ("args", "sqlstate"),
    [
        (("hypothesis", "h-1", "llm_tokens", 0, None), "S2006"),
        (("hypothesis", "h-1", "llm_tokens", -5, None), "S2006"),
        (("hypothesis", "h-1", "llm_tokens", Decimal("NaN"), None), "S2006"),
        (("hypothesis", "h-1", "llm_tokens", None, None), "S2006"),
        (("hypothesis", "h-1", "gpu_hours", 1, None), "S2008"),
        (("planet", "h-1", "llm_tokens", 1, None), "S2007"),
        (("hypothesis", " ", "llm_tokens", 1, None), "S2009"),
        (("hypothesis", "h-1", "llm_tokens", 1, "no-such-model"), "S3004"),
        (("hypothesis", "h-1", "cpu_seconds", 1, "claude-opus"), "S3004"),
    ],
)
def test_can_spend_refuses_bad_arguments_with_their_sqlstate(
    db: Conn, args: tuple[object, ...], sqlstate: str
) -> None:
    envelope(db, "h-1", tokens=1_000)
    with pytest.raises(psycopg.Error) as exc:
        db.execute("SELECT * FROM can_spend(%s, %s, %s, %s, %s)", args)
    assert exc.value.sqlstate == sqlstate


def test_a_reservation_holds_budget_until_a_usage_row_naming_it_settles_it(db: Conn) -> None:
    envelope(db, "h-1", tokens=10_000)
    rid = reserve_spend(db, "h-1", 6_000)
    assert can_spend(db, "h-1", 4_001)["allowed"] is False
    assert can_spend(db, "h-1", 4_000)["allowed"] is True
    status = one(
        db,
        "SELECT held, available FROM budget_status "
        "WHERE entity_id = 'h-1' AND resource_type = 'llm_tokens'",
    )
    assert (status["held"], status["available"]) == (6_000, 4_000)

    spend(db, "h-1", 3_500, reservation_id=rid)  # the actual spend was lower
    settled = one(
        db,
        "SELECT settled_at IS NOT NULL AS settled, settled_amount "
        "FROM spend_reservations WHERE reservation_id = %s",
        (rid,),
    )
    assert settled == {"settled": True, "settled_amount": 3_500}
    assert can_spend(db, "h-1", 1)["remaining"] == 6_500


def test_one_insert_statement_settles_its_reservations_with_the_sum_of_their_rows(
    db: Conn,
) -> None:
    envelope(db, "h-1", tokens=10_000)
    envelope(db, "h-2", tokens=10_000)
    r1 = reserve_spend(db, "h-1", 1_000)
    r2 = reserve_spend(db, "h-2", 1_000)
    db.execute(
        "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount, reservation_id)"
        " VALUES ('hypothesis', 'h-1', 'llm_tokens', 300, %(r1)s),"
        "        ('hypothesis', 'h-1', 'llm_tokens', 200, %(r1)s),"
        "        ('hypothesis', 'h-2', 'llm_tokens', 700, %(r2)s),"
        "        ('hypothesis', 'h-2', 'llm_tokens', 50, NULL)",
        {"r1": r1, "r2": r2},
    )
    settled = rows(
        db, "SELECT reservation_id, settled_amount FROM spend_reservations ORDER BY reservation_id"
    )
    assert [s["settled_amount"] for s in settled] == [500, 700]
    assert db.execute("SELECT * FROM reconcile_usage_rollups()").fetchall() == []


def test_a_usage_row_naming_another_entitys_reservation_settles_nothing_but_is_recorded(
    db: Conn,
) -> None:
    envelope(db, "h-1", tokens=10_000)
    envelope(db, "h-2", tokens=10_000)
    rid = reserve_spend(db, "h-1", 1_000)
    spend(db, "h-2", 400, reservation_id=rid)
    spend(db, "h-1", 400, reservation_id=rid + 1000)  # unknown reservation
    assert (
        scalar(db, "SELECT settled_at FROM spend_reservations WHERE reservation_id = %s", (rid,))
        is None
    )
    assert scalar(db, "SELECT count(*) FROM resource_usage") == 2
    assert can_spend(db, "h-1", 1)["remaining"] == 10_000 - 1_000 - 400


def test_an_expired_reservation_no_longer_counts_and_cleanup_marks_and_deletes_it(
    db: Conn,
) -> None:
    envelope(db, "h-1", tokens=10_000)
    db.execute(
        "INSERT INTO spend_reservations (entity_type, entity_id, resource_type, amount, "
        "reserved_by, reserved_at, expires_at) VALUES "
        "('hypothesis', 'h-1', 'llm_tokens', 4000, 'svc', now() - interval '2 hours', "
        " now() - interval '1 hour'), "
        "('hypothesis', 'h-1', 'llm_tokens', 1000, 'svc', now() - interval '9 days', "
        " now() - interval '8 days')"
    )
    live = reserve_spend(db, "h-1", 2_000)
    assert can_spend(db, "h-1", 1)["remaining"] == 8_000
    assert one(db, "SELECT * FROM cleanup_spend_reservations()") == {"expired": 2, "deleted": 1}
    left = rows(
        db, "SELECT reservation_id, release_reason FROM spend_reservations ORDER BY reservation_id"
    )
    assert left == [
        {"reservation_id": 1, "release_reason": "expired"},
        {"reservation_id": live, "release_reason": None},
    ]


def test_releasing_a_reservation_returns_its_hold_and_a_second_release_is_refused(
    db: Conn,
) -> None:
    envelope(db, "h-1", tokens=10_000)
    rid = reserve_spend(db, "h-1", 9_000)
    assert scalar(db, "SELECT release_spend_reservation(%s)", (rid,)) == 9_000
    assert can_spend(db, "h-1", 10_000)["allowed"] is True
    with pytest.raises(psycopg.Error) as exc:
        db.execute("SELECT release_spend_reservation(%s)", (rid,))
    assert exc.value.sqlstate == "S3007"


def test_reserve_spend_refuses_over_budget_throttled_and_unknown_entities_with_own_sqlstates(
    db: Conn,
) -> None:
    envelope(db, "h-1", tokens=10_000)
    envelope(db, "h-hot", tokens=7_000)
    spend(db, "h-hot", 2_000)
    db.execute("SELECT * FROM run_daily_check()")
    cases = [("h-1", 10_001, "S3001"), ("h-hot", 1, "S3002"), ("nobody", 1, "S3003")]
    for entity_id, amount, sqlstate in cases:
        with pytest.raises(psycopg.Error) as exc:
            reserve_spend(db, entity_id, amount)
        assert exc.value.sqlstate == sqlstate, entity_id
    assert scalar(db, "SELECT count(*) FROM spend_reservations") == 0


def test_reserve_spend_with_a_model_respects_the_tier_cap(db: Conn) -> None:
    envelope(db, "h-1", tokens=10_000)
    db.execute("INSERT INTO resource_budget_tiers VALUES ('hypothesis', 'h-1', 'reasoning', 1000)")
    reserve_spend(db, "h-1", 800, model="claude-opus")
    with pytest.raises(psycopg.Error) as exc:
        reserve_spend(db, "h-1", 300, model="gpt-reasoning")
    assert exc.value.sqlstate == "S3001"
    reserve_spend(db, "h-1", 5_000, model="claude-haiku")


@pytest.mark.parametrize("ttl", ["0 seconds", "-1 minute", "2 days"])
def test_reserve_spend_refuses_a_ttl_outside_the_policy_bound(db: Conn, ttl: str) -> None:
    envelope(db, "h-1", tokens=10_000)
    with pytest.raises(psycopg.Error) as exc:
        reserve_spend(db, "h-1", 1, ttl=ttl)
    assert exc.value.sqlstate == "S3005"


def test_reserve_spend_refuses_a_repeatable_read_caller(db: Conn, connect: Connect) -> None:
    envelope(db, "h-1", tokens=10_000)
    conn = connect(autocommit=False)
    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    with pytest.raises(psycopg.Error) as exc:
        reserve_spend(conn, "h-1", 1)
    assert exc.value.sqlstate == "S3006"


def test_sixteen_connections_racing_for_the_last_of_a_budget_never_pass_it(
    db: Conn, connect: Connect
) -> None:
    budget, already_spent, ask = 10_000, 9_000, 70
    envelope(db, "h-hot", tokens=budget)
    spend(db, "h-hot", already_spent)
    conns = [connect() for _ in range(16)]
    granted: list[int] = []
    refused: list[str | None] = []

    def work(i: int) -> None:
        try:
            reserve_spend(conns[i], "h-hot", ask)
            granted.append(ask)
        except psycopg.Error as e:
            refused.append(e.sqlstate)

    errors = start_together(16, work)
    assert errors == []
    held = scalar(db, "SELECT coalesce(sum(amount), 0) FROM spend_reservations")
    print(
        f"\nreservation race: 16 connections x {ask} tokens requested = {16 * ask}; "
        f"budget {budget}, already spent {already_spent}, left {budget - already_spent}; "
        f"granted {len(granted)} x {ask} = {sum(granted)}, refused {len(refused)} (S3001); "
        f"spent + held = {already_spent + held} <= {budget}"
    )
    assert set(refused) <= {"S3001"}
    assert len(granted) == (budget - already_spent) // ask == 14
    assert held == sum(granted)
    assert already_spent + held <= budget


def test_many_rounds_of_racing_reservers_and_settling_writers_never_pass_the_budget(
    db: Conn, connect: Connect
) -> None:
    budget = 50_000
    envelope(db, "h-hot", tokens=budget)
    conns = [connect() for _ in range(16)]
    rng = random.Random(7)
    asks = [[rng.randint(100, 2_000) for _ in range(12)] for _ in range(16)]
    requested = sum(sum(a) for a in asks)

    def work(i: int) -> None:
        for n, ask in enumerate(asks[i]):
            try:
                rid = reserve_spend(conns[i], "h-hot", ask)
            except psycopg.Error as e:
                assert e.sqlstate == "S3001"
                continue
            if n % 2 == 0:  # half the holds are spent (for less), the rest stay held
                spend(conns[i], "h-hot", ask // 2, reservation_id=rid)

    assert start_together(16, work) == []
    status = one(
        db,
        "SELECT spent, held FROM budget_status "
        "WHERE entity_id = 'h-hot' AND resource_type = 'llm_tokens'",
    )
    granted = scalar(db, "SELECT sum(amount) FROM spend_reservations")
    print(
        f"\nreservation rounds: 16 connections x 12 requests = {requested} tokens requested; "
        f"budget {budget}; granted {granted}; spent {status['spent']} + held {status['held']} "
        f"= {status['spent'] + status['held']} <= {budget}"
    )
    assert status["spent"] + status["held"] <= budget
    assert db.execute("SELECT * FROM reconcile_usage_rollups()").fetchall() == []


def test_a_reserver_holding_the_entity_lock_blocks_other_reservers_but_not_usage_writers(
    db: Conn, connect: Connect
) -> None:
    envelope(db, "h-1", tokens=10_000)
    first = connect(autocommit=False)
    reserve_spend(first, "h-1", 6_000)  # uncommitted: holds the envelope's row lock
    writer = connect()
    writer.execute("SET statement_timeout = '3s'")
    spend(writer, "h-1", 500)  # not blocked
    second = connect()
    second.execute("SET lock_timeout = '300ms'")
    with pytest.raises(psycopg.Error) as exc:
        reserve_spend(second, "h-1", 1)
    assert exc.value.sqlstate == "55P03"  # lock_not_available: it queued behind the first
    first.commit()
    with pytest.raises(psycopg.Error) as exc:
        reserve_spend(second, "h-1", 3_501)  # now sees the 6000 held and the 500 spent
    assert exc.value.sqlstate == "S3001"
    reserve_spend(second, "h-1", 3_500)
