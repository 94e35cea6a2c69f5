"""Policy as data: adopt_economics_policy makes a new version, keeps history, one is active.

Also: versions are immutable, the time zone is validated and fixed once usage is rolled up,
concurrent adoptions serialize, and derived values follow a change of weights.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
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


def adopt(db: Conn, changes: dict[str, Any], by: str = "alice", why: str = "test") -> Any:
    row = db.execute(
        "SELECT policy_version, is_active FROM adopt_economics_policy(%s::jsonb, %s, %s)",
        (json.dumps(changes), by, why),
    ).fetchone()
    assert row is not None
    return row


def versions(db: Conn) -> list[tuple[Any, ...]]:
    return db.execute(
        "SELECT policy_version, is_active, max_market_boost, created_by, reason"
        " FROM economics_policy ORDER BY policy_version"
    ).fetchall()


def sqlstate(db: Conn, sql: str, *params: Any) -> str | None:
    with pytest.raises(psycopg.Error) as exc:
        db.execute(sql, params)
    return exc.value.sqlstate


def test_a_fresh_install_has_exactly_one_active_policy_with_the_spec_defaults(db: Conn) -> None:
    row = db.execute(
        "SELECT policy_version, weight_evidence_strength, weight_novelty,"
        " weight_strategic_alignment, weight_community_interest, budget_period, time_zone"
        " FROM economics_policy WHERE is_active"
    ).fetchall()
    assert row == [(1, D("0.35"), D("0.25"), D("0.20"), D("0.20"), "week", "UTC")]


def test_adopting_a_change_creates_a_new_active_version_and_keeps_the_old_one(db: Conn) -> None:
    new_version, active = adopt(db, {"max_market_boost": 0.3}, "alice", "cap boosts lower")
    assert (new_version, active) == (2, True)
    assert versions(db) == [
        (1, False, D("0.5"), "senate-db migration 0007", "Initial policy from the framework spec."),
        (2, True, D("0.3"), "alice", "cap boosts lower"),
    ]


def test_an_adopted_version_copies_every_unchanged_field_from_the_active_one(db: Conn) -> None:
    adopt(db, {"quorum": 5, "alert_thresholds": [0.5, 0.9, 1.0], "roi_window": "14 days"})
    old, new = db.execute(
        "SELECT to_jsonb(p) - 'policy_version' - 'is_active' - 'created_at' - 'created_by'"
        " - 'reason' - 'quorum' - 'alert_thresholds' - 'roi_window'"
        " FROM economics_policy AS p ORDER BY policy_version"
    ).fetchall()
    assert old == new
    assert db.execute(
        "SELECT quorum, alert_thresholds, roi_window::text FROM economics_policy WHERE is_active"
    ).fetchone() == (5, [D("0.5"), D("0.9"), D("1.0")], "14 days")


def test_history_grows_by_one_version_per_adoption_and_one_stays_active(db: Conn) -> None:
    for boost in ("0.4", "0.3", "0.2"):
        adopt(db, {"max_market_boost": boost})
    rows = versions(db)
    assert [r[0] for r in rows] == [1, 2, 3, 4]
    assert [r[1] for r in rows] == [False, False, False, True]
    assert [r[2] for r in rows] == [D("0.5"), D("0.4"), D("0.3"), D("0.2")]


@pytest.mark.parametrize(
    "changes",
    [
        {"bogus_field": 1},
        {"policy_version": 9},
        {"is_active": False},
        {"created_by": "mallory"},
        {"reason": "x"},
        {"created_at": "2020-01-01"},
    ],
)
def test_adoption_refuses_unknown_and_protected_fields(db: Conn, changes: dict[str, Any]) -> None:
    assert (
        sqlstate(db, "SELECT adopt_economics_policy(%s::jsonb, 'a', 'r')", json.dumps(changes))
        == "S1007"
    )
    assert len(versions(db)) == 1


@pytest.mark.parametrize("changes", ["[1, 2]", "3", "null"])
def test_adoption_refuses_anything_but_a_json_object(db: Conn, changes: str) -> None:
    assert sqlstate(db, "SELECT adopt_economics_policy(%s::jsonb, 'a', 'r')", changes) == "S1007"


def test_adoption_of_weights_that_do_not_sum_to_one_fails_and_changes_nothing(db: Conn) -> None:
    assert (
        sqlstate(db, "SELECT adopt_economics_policy('{\"weight_novelty\": 0.5}', 'a', 'r')")
        == "23514"
    )
    assert versions(db)[0][:2] == (1, True)
    assert len(versions(db)) == 1


def test_adoption_requires_who_and_why(db: Conn) -> None:
    assert sqlstate(db, "SELECT adopt_economics_policy('{}', 'a', '   ')") == "23514"
    assert sqlstate(db, "SELECT adopt_economics_policy('{}', NULL, 'r')") == "23502"


def test_policy_versions_are_immutable(db: Conn) -> None:
    assert sqlstate(db, "UPDATE economics_policy SET quorum = 7") == "S1006"
    assert sqlstate(db, "DELETE FROM economics_policy") == "S1006"
    assert sqlstate(db, "TRUNCATE economics_policy CASCADE") == "S1006"


def test_reactivating_an_old_version_is_refused(db: Conn) -> None:
    adopt(db, {"quorum": 4})
    with pytest.raises(psycopg.Error) as exc, db.transaction():
        db.execute("UPDATE economics_policy SET is_active = false WHERE policy_version = 2")
        db.execute("UPDATE economics_policy SET is_active = true WHERE policy_version = 1")
    assert exc.value.sqlstate == "S1006"


def test_deactivating_the_only_active_version_fails_at_commit(db: Conn) -> None:
    with pytest.raises(psycopg.Error) as exc, db.transaction():
        db.execute("UPDATE economics_policy SET is_active = false WHERE is_active")
    assert exc.value.sqlstate == "S1002"
    assert one(db, "SELECT count(*) FROM economics_policy WHERE is_active") == 1


def test_an_unknown_time_zone_is_refused_naming_the_field(db: Conn) -> None:
    with pytest.raises(psycopg.Error) as exc:
        db.execute("SELECT adopt_economics_policy('{\"time_zone\": \"Mars/Olympus\"}', 'a', 'r')")
    assert exc.value.sqlstate == "22023"
    assert exc.value.diag.column_name == "time_zone"


def test_the_time_zone_may_change_before_any_usage_but_not_after(db: Conn) -> None:
    adopt(db, {"time_zone": "Europe/Berlin"})
    assert one(db, "SELECT time_zone FROM economics_policy WHERE is_active") == "Europe/Berlin"
    db.execute(
        "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount)"
        " VALUES ('hypothesis', 'h1', 'cpu_seconds', 5)"
    )
    assert (
        sqlstate(db, "SELECT adopt_economics_policy('{\"time_zone\": \"UTC\"}', 'a', 'r')")
        == "S1008"
    )
    # Other changes still go through once usage exists.
    assert adopt(db, {"quorum": 4})[1] is True


def test_a_change_of_weights_rescores_every_envelope(db: Conn) -> None:
    db.execute(
        "INSERT INTO resource_budgets (entity_type, entity_id, token_budget)"
        " VALUES ('hypothesis', 'h1', 1000)"
    )
    db.execute(
        "INSERT INTO allocation_signals (entity_type, entity_id, evidence_strength, novelty,"
        " strategic_alignment, community_interest, assessed_by)"
        " VALUES ('hypothesis', 'h1', 1, 0, 0, 0, 'bob')"
    )
    assert one(db, "SELECT priority_score FROM resource_budgets") == D("0.35")
    adopt(db, {"weight_evidence_strength": 0.5, "weight_novelty": 0.1})
    assert one(db, "SELECT priority_score FROM resource_budgets") == D("0.5")


def test_a_lower_boost_cap_takes_effect_on_market_weights_at_adoption(db: Conn) -> None:
    db.execute(
        "INSERT INTO resource_budgets (entity_type, entity_id, token_budget, priority_score)"
        " VALUES ('hypothesis', 'h1', 1000, 0.9), ('hypothesis', 'h2', 1000, 0.9)"
    )
    db.execute(
        "INSERT INTO market_signals (entity_type, entity_id, value, source)"
        " VALUES ('hypothesis', 'h1', 0.9, 'x'), ('hypothesis', 'h2', 0.1, 'x')"
    )
    db.execute("SELECT refresh_market_weights()")
    assert one(db, "SELECT market_weight FROM resource_budgets WHERE entity_id = 'h1'") == D("0.5")
    adopt(db, {"max_market_boost": 0.2})
    assert one(db, "SELECT market_weight FROM resource_budgets WHERE entity_id = 'h1'") == D("0.2")


def test_concurrent_adoptions_serialize_and_each_builds_on_the_other(
    db: Conn, connect: Callable[..., Conn]
) -> None:
    first = connect(autocommit=False)
    second = connect(autocommit=False)
    first.execute("SELECT adopt_economics_policy('{\"quorum\": 5}', 'first', 'r')")
    result: dict[str, Any] = {}

    def run_second() -> None:
        try:
            second.execute("SELECT adopt_economics_policy('{\"max_market_boost\": 0.2}', 's', 'r')")
            second.commit()
            result["ok"] = True
        except psycopg.Error as e:  # pragma: no cover - reported below
            result["error"] = e

    thread = threading.Thread(target=run_second)
    thread.start()
    time.sleep(0.3)
    assert thread.is_alive(), "the second adoption should wait for the first"
    first.commit()
    thread.join(10)
    assert result == {"ok": True}
    rows = db.execute(
        "SELECT policy_version, is_active, quorum, max_market_boost FROM economics_policy"
        " ORDER BY policy_version"
    ).fetchall()
    assert [r[1] for r in rows] == [False, False, True]
    # The second adoption copied the first one's change.
    assert rows[-1][2:] == (5, D("0.2"))


def test_allocation_score_reads_the_active_policy_after_an_adoption(db: Conn) -> None:
    assert one(db, "SELECT allocation_score(1, 0, 0, 0)") == D("0.35")
    adopt(db, {"weight_evidence_strength": 0.4, "weight_novelty": 0.2})
    assert one(db, "SELECT allocation_score(1, 0, 0, 0)") == D("0.4")
    assert one(db, "SELECT allocation_score(0, 1, 0, 0)") == D("0.2")
