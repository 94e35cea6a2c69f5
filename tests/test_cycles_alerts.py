"""Spend alerts: each policy threshold fires once per period, written and pushed to listeners."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from cycles_support import (
    Conn,
    Connect,
    days_before,
    envelope,
    noon,
    period_start,
    rows,
    scalar,
    spend,
    start_together,
)

CHANNEL = "senate_spend_alerts"


def check(db: Conn, *args: Any) -> list[dict[str, Any]]:
    placeholders = ", ".join(["%s"] * len(args))
    return rows(db, f"SELECT * FROM check_spend_alerts({placeholders})", args)


def received(listener: Conn, expected: int) -> list[dict[str, Any]]:
    """The payloads of the next notifications (waits up to 5 s for the expected number)."""
    payloads = [
        json.loads(n.payload)
        for n in listener.notifies(timeout=5, stop_after=expected)
        if n.channel == CHANNEL
    ]
    return payloads


def nothing_more(listener: Conn) -> bool:
    return list(listener.notifies(timeout=0.3)) == []


def test_each_threshold_fires_exactly_once_per_period_and_reaches_a_listening_connection(
    db: Conn, connect: Connect
) -> None:
    listener = connect()
    listener.execute(f"LISTEN {CHANNEL}")
    envelope(db, "h-1", tokens=10_000)

    spend(db, "h-1", 7_999)
    assert check(db) == []
    spend(db, "h-1", 1)  # 80 %
    first = check(db)
    fired = [(a["entity_id"], a["threshold"], a["spent"]) for a in first]
    assert fired == [("h-1", Decimal("0.8"), 8_000)]
    payload = received(listener, 1)
    assert len(payload) == 1
    assert payload[0]["alert_id"] == first[0]["alert_id"]
    assert (payload[0]["entity_type"], payload[0]["entity_id"]) == ("hypothesis", "h-1")
    assert (payload[0]["resource_type"], payload[0]["threshold"]) == ("llm_tokens", 0.8)
    # The payload carries identifiers only (0122); the figures are re-read from spend_alerts.
    assert set(payload[0]) == {"alert_id", "entity_type", "entity_id", "resource_type", "threshold"}
    reread = db.execute(
        "SELECT spent, effective_budget, period_start FROM spend_alerts WHERE alert_id = %s",
        (payload[0]["alert_id"],),
    ).fetchone()
    assert reread == (8_000, 10_000, period_start(db))

    spend(db, "h-1", 1_000)
    assert check(db) == []  # 90 %: 0.8 already fired this period
    assert nothing_more(listener)

    spend(db, "h-1", 1_000)  # 100 %
    second = check(db)
    assert [a["threshold"] for a in second] == [Decimal("1.0")]
    assert [p["threshold"] for p in received(listener, 1)] == [1.0]

    spend(db, "h-1", 5_000)
    assert check(db) == []
    assert nothing_more(listener)
    assert scalar(db, "SELECT count(*) FROM spend_alerts") == 2


def test_crossing_both_thresholds_at_once_fires_both_in_threshold_order(
    db: Conn, connect: Connect
) -> None:
    listener = connect()
    listener.execute(f"LISTEN {CHANNEL}")
    envelope(db, "h-1", tokens=1_000, cpu=100)
    spend(db, "h-1", 1_500)
    spend(db, "h-1", 85, resource_type="cpu_seconds")
    fired = [(a["resource_type"], float(a["threshold"])) for a in check(db)]
    assert fired == [("cpu_seconds", 0.8), ("llm_tokens", 0.8), ("llm_tokens", 1.0)]
    assert [(p["resource_type"], p["threshold"]) for p in received(listener, 3)] == fired


def test_notifications_are_sent_only_when_the_checking_transaction_commits(
    db: Conn, connect: Connect
) -> None:
    listener = connect()
    listener.execute(f"LISTEN {CHANNEL}")
    envelope(db, "h-1", tokens=1_000)
    spend(db, "h-1", 900)
    checker = connect(autocommit=False)
    check(checker)
    assert nothing_more(listener)
    checker.rollback()
    assert nothing_more(listener)
    assert scalar(db, "SELECT count(*) FROM spend_alerts") == 0
    assert len(check(db)) == 1
    assert len(received(listener, 1)) == 1


def test_a_new_budget_period_fires_the_thresholds_again(db: Conn) -> None:
    envelope(db, "h-1", tokens=10_000)
    last_sunday = days_before(period_start(db), 1)
    spend(db, "h-1", 9_000, at=noon(db, last_sunday))
    assert [a["period_start"] for a in check(db, noon(db, last_sunday))] == [
        days_before(period_start(db), 7)
    ]
    assert check(db) == []  # nothing spent this period yet
    spend(db, "h-1", 9_000)
    assert [a["period_start"] for a in check(db)] == [period_start(db)]
    assert scalar(db, "SELECT count(*) FROM spend_alerts WHERE threshold = 0.8") == 2


def test_thresholds_are_policy_and_measured_against_the_effective_budget(db: Conn) -> None:
    db.execute(
        "SELECT adopt_economics_policy('{\"alert_thresholds\": [0.5, 0.9]}', 'chair', "
        "'earlier warnings')"
    )
    envelope(db, "h-1", tokens=10_000, priority=0.9, market_weight=0.5)  # effective 15 000
    spend(db, "h-1", 8_000)
    fired = check(db)
    assert [(a["threshold"], a["effective_budget"]) for a in fired] == [(Decimal("0.5"), 15_000)]


def test_entities_without_an_envelope_or_without_spend_raise_no_alert(db: Conn) -> None:
    envelope(db, "h-quiet", tokens=10_000)
    spend(db, "h-stranger", 1_000)
    assert check(db) == []


def test_a_check_for_one_entity_fires_only_its_alerts(db: Conn) -> None:
    envelope(db, "h-1", tokens=100)
    envelope(db, "h-2", tokens=100)
    spend(db, "h-1", 100)
    spend(db, "h-2", 100)
    one_entity = rows(
        db, "SELECT * FROM check_spend_alerts(entity_type => 'hypothesis', entity_id => 'h-2')"
    )
    assert {a["entity_id"] for a in one_entity} == {"h-2"}
    assert {a["entity_id"] for a in check(db)} == {"h-1"}


def test_concurrent_checks_fire_each_alert_once(db: Conn, connect: Connect) -> None:
    listener = connect()
    listener.execute(f"LISTEN {CHANNEL}")
    envelope(db, "h-1", tokens=1_000)
    spend(db, "h-1", 1_000)
    conns = [connect() for _ in range(8)]
    fired: list[int] = []
    assert start_together(8, lambda i: fired.extend([a["alert_id"] for a in check(conns[i])])) == []
    assert len(fired) == 2
    assert scalar(db, "SELECT count(*) FROM spend_alerts") == 2
    assert len(received(listener, 2)) == 2
    assert nothing_more(listener)


def test_the_daily_check_fires_and_reports_the_alerts_due(db: Conn, connect: Connect) -> None:
    listener = connect()
    listener.execute(f"LISTEN {CHANNEL}")
    envelope(db, "h-1", tokens=70_000)
    spend(db, "h-1", 57_000)
    alerts = [a for a in rows(db, "SELECT * FROM run_daily_check()") if a["action"] == "alert"]
    assert [a["kind"] for a in alerts] == ["threshold 0.8"]
    assert len(received(listener, 1)) == 1


@pytest.mark.parametrize(
    ("args", "sqlstate"),
    [
        (("infinity",), "S3008"),
        ((None,), "S3008"),
        (("-infinity", "hypothesis", None), "22023"),
    ],
)
def test_check_spend_alerts_refuses_bad_arguments(
    db: Conn, args: tuple[object, ...], sqlstate: str
) -> None:
    with pytest.raises(psycopg.Error) as exc:
        check(db, *args)
    assert exc.value.sqlstate == sqlstate
