"""Dated prices (issue 18, point 5; migration 0162): usage priced at the price in force at its
time; a new price from now on (set_usage_price, or a direct UPDATE of the price); a correction
of a past window that reprices its rollups and leaves reconcile_usage_rollups() clean; the
price ledger (price_changes) with who and why; bad input refused with its SQLSTATE.

claude-haiku costs 0.000001 USD a token and semantic_scholar 0.0005 USD a call at install.
Histories are dated whole hours of days before today, so a day is never cut by the clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from cycles_support import Conn, rows, scalar, today
from reliability_support import RoleSessions, role_sessions

HAIKU = Decimal("0.000001")
SCHOLAR = Decimal("0.0005")


@pytest.fixture
def as_role(db_url: str, db: Conn) -> Iterator[RoleSessions]:
    yield from role_sessions(db_url, db)


def at(db: Conn, days_ago: int, hour: int) -> datetime:
    """hour:00 (UTC, the policy time zone) of the day days_ago days before today."""
    return scalar(  # type: ignore[no-any-return]
        db,
        "SELECT (%s::date + make_interval(hours => %s)) AT TIME ZONE 'UTC'",
        (today(db) - timedelta(days=days_ago), hour),
    )


def use(
    db: Conn,
    *events: tuple[int, datetime | None],
    entity_id: str = "h-1",
    model: str = "claude-haiku",
    resource_type: str = "llm_tokens",
) -> None:
    """One INSERT of (amount, created_at) rows without a cost (a batch when several)."""
    column = "model" if resource_type == "llm_tokens" else "provider"
    values = ", ".join(["('hypothesis', %s, %s, %s, %s, coalesce(%s, now()))"] * len(events))
    params: list[Any] = []
    for amount, created_at in events:
        params += [entity_id, resource_type, amount, model, created_at]
    db.execute(
        "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount, "
        f"{column}, created_at) VALUES {values}",
        params,
    )


def day_cost(db: Conn, day: datetime, entity_id: str = "h-1") -> Decimal:
    return Decimal(
        scalar(
            db,
            "SELECT coalesce(sum(cost_total_usd), 0) FROM senate.usage_rollups"
            " WHERE entity_id = %s AND usage_day = (%s AT TIME ZONE 'UTC')::date",
            (entity_id, day),
        )
    )


def day_amount(db: Conn, day: datetime, entity_id: str = "h-1") -> Decimal:
    return Decimal(
        scalar(
            db,
            "SELECT coalesce(sum(amount_total), 0) FROM senate.usage_rollups"
            " WHERE entity_id = %s AND usage_day = (%s AT TIME ZONE 'UTC')::date",
            (entity_id, day),
        )
    )


def reconciled(db: Conn) -> bool:
    return scalar(db, "SELECT count(*) FROM reconcile_usage_rollups()") == 0  # type: ignore[no-any-return]


def periods(db: Conn, name: str = "claude-haiku") -> list[tuple[Any, Any, Decimal]]:
    """(valid_from, valid_until, price) of a model's prices; None for -infinity."""
    return [
        (r["valid_from"], r["valid_until"], r["usd_per_unit"])
        for r in rows(
            db,
            "SELECT CASE WHEN isfinite(valid_from) THEN valid_from END AS valid_from,"
            " valid_until, usd_per_unit FROM usage_price_periods WHERE priced_name = %s"
            " ORDER BY usage_price_periods.valid_from",
            (name,),
        )
    ]


def correct(db: Conn, price: Any, start: Any, end: Any, **kw: Any) -> dict[str, Any] | None:
    found = rows(
        db,
        CORRECT,
        (
            kw.get("resource_type", "llm_tokens"),
            kw.get("name", "claude-haiku"),
            price,
            start,
            end,
            kw.get("reason", "the vendor's invoice says so"),
        ),
    )
    assert len(found) == 1
    return None if found[0]["change_id"] is None else found[0]


def test_every_model_and_provider_starts_with_its_price_from_the_beginning(db: Conn) -> None:
    assert scalar(
        db,
        "SELECT count(*) FROM llm_models AS m JOIN usage_price_periods AS p"
        " ON p.resource_type = 'llm_tokens' AND p.priced_name = m.model"
        " AND p.valid_from = '-infinity' AND p.valid_until IS NULL"
        " AND p.usd_per_unit = m.usd_per_token AND m.price_effective_from = '-infinity'",
    ) == scalar(db, "SELECT count(*) FROM llm_models")
    assert scalar(
        db, "SELECT count(*) FROM usage_price_periods WHERE resource_type = 'api_calls'"
    ) == (scalar(db, "SELECT count(*) FROM api_providers"))
    assert scalar(db, "SELECT count(*) FROM price_changes") == 0


def test_a_correction_at_noon_splits_a_day_and_reprices_only_its_afternoon(db: Conn) -> None:
    morning, afternoon, next_day = at(db, 3, 9), at(db, 3, 15), at(db, 2, 15)
    use(db, (1_000, morning))
    use(db, (2_000, afternoon))
    use(db, (500, next_day))
    assert day_cost(db, morning) == 3_000 * HAIKU
    noon, midnight = at(db, 3, 12), at(db, 2, 0)

    change = correct(db, Decimal("0.00001"), noon, midnight)

    assert change is not None
    assert day_cost(db, morning) == 1_000 * HAIKU + 2_000 * Decimal("0.00001")
    assert day_cost(db, next_day) == 500 * HAIKU
    assert day_amount(db, morning) == 3_000  # amounts never move
    assert reconciled(db)
    assert periods(db) == [
        (None, noon, HAIKU),
        (noon, midnight, Decimal("0.00001")),
        (midnight, None, HAIKU),
    ]
    assert (change["change_kind"], change["window_start"], change["window_end"]) == (
        "correction",
        noon,
        midnight,
    )
    assert (change["old_usd_per_unit"], change["new_usd_per_unit"]) == (HAIKU, Decimal("0.00001"))
    assert (change["usage_rows_repriced"], change["rollup_keys_repriced"]) == (1, 1)
    assert change["cost_delta_usd"] == 2_000 * (Decimal("0.00001") - HAIKU)
    assert change["actor"] == scalar(db, "SELECT session_user")
    assert change["reason"] == "the vendor's invoice says so"
    # Usage recorded later into the corrected window is priced at the corrected price.
    use(db, (100, at(db, 3, 18)), (100, at(db, 3, 8)))
    assert day_cost(db, morning) == 1_100 * HAIKU + 2_100 * Decimal("0.00001")
    assert reconciled(db)


def test_a_reprice_leaves_amounts_costs_and_the_reconciliation_exact_for_batches_and_corrections(
    db: Conn,
) -> None:
    days = [at(db, 6, h) for h in (1, 7, 13, 19)] + [at(db, 5, h) for h in (1, 7, 13, 19)]
    use(db, *[(1_000 + i, d) for i, d in enumerate(days)], entity_id="h-a")
    use(db, *[(10, d) for d in days], entity_id="h-b")
    db.execute("INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount, model,"
               " cost, created_at) VALUES ('hypothesis', 'h-a', 'llm_tokens', 77, 'claude-haiku',"
               " 0.5, %s)", (days[2],))  # fmt: skip
    first = scalar(db, "SELECT min(id) FROM resource_usage WHERE entity_id = 'h-a'")
    db.execute("SELECT correct_resource_usage(%s, 400, 'double count', 'ops')", (first,))
    before = rows(db, "SELECT entity_id, sum(amount_total) AS amount, sum(usage_rows) AS n"
                      " FROM senate.usage_rollups GROUP BY 1 ORDER BY 1")  # fmt: skip
    start, end = at(db, 6, 5), at(db, 5, 9)
    price = Decimal("0.0000025")

    change = correct(db, price, start, end)

    assert change is not None
    assert reconciled(db)
    after = rows(db, "SELECT entity_id, sum(amount_total) AS amount, sum(usage_rows) AS n"
                     " FROM senate.usage_rollups GROUP BY 1 ORDER BY 1")  # fmt: skip
    assert after == before
    expected = Decimal(
        scalar(
            db,
            "SELECT sum(coalesce(cost, amount * CASE WHEN created_at >= %s AND created_at < %s"
            " THEN %s ELSE %s END)) FROM resource_usage",
            (start, end, price, HAIKU),
        )
    )
    assert Decimal(scalar(db, "SELECT sum(cost_total_usd) FROM senate.usage_rollups")) == expected
    # Rows in the window without a cost: 07:00, 13:00, 19:00 of the first day and 01:00, 07:00
    # of the second, of h-a and of h-b; not h-a's row with a cost, nor the correction row of
    # h-a's first row (dated at it, 01:00 of the first day, before the window).
    assert change["usage_rows_repriced"] == 10
    assert change["rollup_keys_repriced"] == 4


def test_a_new_price_applies_from_its_start_and_older_usage_keeps_the_old_one(db: Conn) -> None:
    db.execute(
        "SELECT adopt_economics_policy('{\"usage_max_clock_skew\": \"0\"}', 'ops', 'no skew')"
    )
    yesterday = at(db, 1, 10)
    use(db, (1_000, yesterday))
    change = rows(
        db,
        "SELECT * FROM set_usage_price('llm_tokens', 'claude-haiku', 0.000004, 'list price up')",
    )[0]
    assert change["change_kind"] == "set" and change["window_end"] is None
    assert (change["old_usd_per_unit"], change["new_usd_per_unit"]) == (HAIKU, Decimal("0.000004"))
    start = change["window_start"]
    assert scalar(
        db, "SELECT (usd_per_token, price_effective_from) = (0.000004, %s) FROM llm_models"
        " WHERE model = 'claude-haiku'", (start,)
    )  # fmt: skip
    # Now (after the start): the new price; one batch straddling it: each row its own price.
    use(db, (1_000, None), entity_id="h-now")
    assert day_cost(db, start, "h-now") == 1_000 * Decimal("0.000004")
    use(db, (100, yesterday), (100, at(db, 1, 11)), entity_id="h-batch")
    use(db, (100, at(db, 1, 12)), entity_id="h-one")
    assert day_cost(db, yesterday) == 1_000 * HAIKU
    assert day_cost(db, yesterday, "h-batch") == 200 * HAIKU
    assert day_cost(db, yesterday, "h-one") == 100 * HAIKU
    assert reconciled(db)
    assert [p[2] for p in periods(db)] == [HAIKU, Decimal("0.000004")]


def test_a_direct_update_of_a_price_is_a_new_price_after_the_clock_skew_with_its_login(
    db: Conn,
) -> None:
    use(db, (1_000, at(db, 1, 10)))
    db.execute("UPDATE llm_models SET usd_per_token = 0.000002 WHERE model = 'claude-haiku'")
    (change,) = rows(db, "SELECT * FROM price_changes")
    assert (change["change_kind"], change["new_usd_per_unit"]) == ("set", Decimal("0.000002"))
    assert change["actor"] == scalar(db, "SELECT session_user")
    assert "direct UPDATE" in change["reason"]
    skew = scalar(db, "SELECT usage_max_clock_skew FROM economics_policy WHERE is_active")
    assert change["window_start"] - change["recorded_at"] <= skew
    assert change["window_start"] - scalar(db, "SELECT now()") > skew - timedelta(seconds=30)
    # Usage recorded now was recorded before the new price starts: the old price.
    use(db, (1_000, None), entity_id="h-now")
    assert Decimal(scalar(db, "SELECT sum(cost_total_usd) FROM senate.usage_rollups"
                              " WHERE entity_id = 'h-now'")) == 1_000 * HAIKU  # fmt: skip
    assert reconciled(db)
    # An UPDATE that leaves the price alone records nothing and keeps the start.
    db.execute("UPDATE llm_models SET price_effective_from = now() WHERE model = 'claude-haiku'")
    assert scalar(db, "SELECT count(*) FROM price_changes") == 1
    assert scalar(
        db, "SELECT price_effective_from = %s FROM llm_models WHERE model = 'claude-haiku'",
        (change["window_start"],),
    )  # fmt: skip


def test_a_provider_s_price_per_call_is_corrected_the_same_way(db: Conn) -> None:
    call = at(db, 4, 10)
    use(db, (20, call), model="semantic_scholar", resource_type="api_calls")
    change = correct(
        db, Decimal("0.002"), at(db, 4, 0), at(db, 3, 0), resource_type="api_calls",
        name="semantic_scholar",
    )  # fmt: skip
    assert change is not None and change["cost_delta_usd"] == 20 * (Decimal("0.002") - SCHOLAR)
    assert day_cost(db, call) == 20 * Decimal("0.002")
    # A call recorded later into the window (one row: the trigger's one-row path) too.
    use(db, (5, at(db, 4, 11)), model="semantic_scholar", resource_type="api_calls")
    assert day_cost(db, call) == 25 * Decimal("0.002")
    assert reconciled(db)


def test_a_correction_to_the_price_already_in_force_writes_nothing(db: Conn) -> None:
    use(db, (1_000, at(db, 2, 10)))
    assert correct(db, HAIKU, at(db, 2, 0), at(db, 1, 0)) is None
    assert scalar(db, "SELECT count(*) FROM price_changes") == 0
    assert len(periods(db)) == 1


def test_updates_and_deletes_of_usage_are_rolled_up_at_their_own_price(db: Conn) -> None:
    db.execute("SELECT set_senate_setting('usage_append_only', false, 'ops', 'a legacy consumer')")
    use(db, (1_000, at(db, 3, 9)), (2_000, at(db, 3, 15)))
    correct(db, Decimal("0.00001"), at(db, 3, 12), at(db, 2, 0))
    db.execute("UPDATE resource_usage SET amount = amount + 1")
    assert reconciled(db)
    db.execute("DELETE FROM resource_usage WHERE amount = 2001")
    assert day_cost(db, at(db, 3, 9)) == 1_001 * HAIKU
    assert reconciled(db)


# --- bad input ------------------------------------------------------------------------------

SET = "SELECT * FROM set_usage_price(%s, %s, %s::numeric, %s, %s::timestamptz)"
CORRECT = (
    "SELECT * FROM correct_usage_price(%s, %s, %s::numeric, %s::timestamptz, %s::timestamptz, %s)"
)


def state(db: Conn) -> tuple[Any, ...]:
    return tuple(
        scalar(db, q)
        for q in (
            "SELECT count(*) FROM price_changes",
            "SELECT array_agg((p.*)::text ORDER BY p.*::text) FROM usage_price_periods AS p",
            "SELECT array_agg((m.*)::text ORDER BY m.model) FROM llm_models AS m",
            "SELECT array_agg((a.*)::text ORDER BY a.provider) FROM api_providers AS a",
            "SELECT sum(cost_total_usd) FROM senate.usage_rollups",
        )
    )


@pytest.mark.parametrize(
    ("call", "args", "expected"),
    [
        (SET, ("llm_tokens", "claude-haiku", -0.000001, "why", None), "S3010"),
        (SET, ("llm_tokens", "claude-haiku", "NaN", "why", None), "S3010"),
        (SET, ("llm_tokens", "claude-haiku", "Infinity", "why", None), "S3010"),
        (SET, ("llm_tokens", "claude-haiku", 1, "why", None), "S3010"),
        (SET, ("api_calls", "semantic_scholar", 100, "why", None), "S3010"),
        (SET, ("llm_tokens", "claude-haiku", None, "why", None), "S3010"),
        (SET, ("llm_tokens", "no-such-model", 0.000001, "why", None), "S3011"),
        (SET, ("api_calls", "no_such_provider", 0.001, "why", None), "S3011"),
        (SET, ("cpu_seconds", "claude-haiku", 0.000001, "why", None), "S3011"),
        (SET, (None, "claude-haiku", 0.000001, "why", None), "S3011"),
        (SET, ("llm_tokens", "claude-haiku", 0.000002, "why", "now"), "S3012"),
        (SET, ("llm_tokens", "claude-haiku", 0.000002, "why", "-infinity"), "S3012"),
        (SET, ("llm_tokens", "claude-haiku", 0.000002, "why", "infinity"), "S3012"),
        (SET, ("llm_tokens", "claude-haiku", 0.000002, " ", None), "22023"),
        (SET, ("llm_tokens", "claude-haiku", 0.000002, None, None), "22023"),
        (SET, ("llm_tokens", "claude-haiku", 0.000002, "x" * 2001, None), "22023"),
    ],
)
def test_a_bad_new_price_is_refused_with_its_sqlstate_and_writes_nothing(
    db: Conn, call: str, args: tuple[Any, ...], expected: str
) -> None:
    use(db, (1_000, at(db, 1, 10)))
    before = state(db)
    with pytest.raises(psycopg.Error) as exc:
        db.execute(call, args)
    assert exc.value.sqlstate == expected
    assert state(db) == before


def window(db: Conn, spec: str) -> tuple[Any, Any]:
    return {
        "past day": (at(db, 3, 0), at(db, 2, 0)),
        "empty": (at(db, 3, 0), at(db, 3, 0)),
        "reversed": (at(db, 2, 0), at(db, 3, 0)),
        "future end": (at(db, 3, 0), scalar(db, "SELECT now() + interval '1 hour'")),
        "no start": (None, at(db, 2, 0)),
        "no end": (at(db, 3, 0), None),
        "infinite": ("-infinity", at(db, 2, 0)),
        "spans the change": (at(db, 5, 0), at(db, 3, 0)),
    }[spec]


@pytest.mark.parametrize(
    ("price", "spec", "name", "reason", "expected"),
    [
        (-1, "past day", "claude-haiku", "why", "S3010"),
        (1.5, "past day", "open-batch", "why", "S3010"),
        (0.000002, "past day", "no-such-model", "why", "S3011"),
        (0.000002, "empty", "claude-haiku", "why", "S3013"),
        (0.000002, "reversed", "claude-haiku", "why", "S3013"),
        (0.000002, "future end", "claude-haiku", "why", "S3013"),
        (0.000002, "no start", "claude-haiku", "why", "S3013"),
        (0.000002, "no end", "claude-haiku", "why", "S3013"),
        (0.000002, "infinite", "claude-haiku", "why", "S3013"),
        (0.000002, "spans the change", "claude-haiku", "why", "S3012"),
        (0.000002, "past day", "claude-haiku", "", "22023"),
    ],
)
def test_a_bad_correction_is_refused_with_its_sqlstate_and_writes_nothing(
    db: Conn, price: Any, spec: str, name: str, reason: str, expected: str
) -> None:
    use(db, (1_000, at(db, 4, 10)), (1_000, at(db, 2, 10)))
    correct(db, Decimal("0.000003"), at(db, 4, 0), at(db, 4, 12))  # a change at day -4, 12:00
    before = state(db)
    start, end = window(db, spec)
    with pytest.raises(psycopg.Error) as exc:
        db.execute(CORRECT, ("llm_tokens", name, price, start, end, reason))
    assert exc.value.sqlstate == expected
    assert state(db) == before


def test_the_price_ledger_is_append_only(db: Conn) -> None:
    use(db, (1_000, at(db, 2, 10)))
    correct(db, Decimal("0.000002"), at(db, 2, 0), at(db, 1, 0))
    for statement in (
        "UPDATE price_changes SET reason = 'forged'",
        "DELETE FROM price_changes",
        "TRUNCATE price_changes CASCADE",
    ):
        with pytest.raises(psycopg.Error) as exc:
            db.execute(statement)
        assert exc.value.sqlstate == "S4001", statement


def test_administrators_change_prices_and_readers_read_them(
    db: Conn, as_role: RoleSessions
) -> None:
    for group in ("senate_reader", "senate_writer"):
        with pytest.raises(psycopg.Error) as exc:
            as_role(group).execute(SET, ("llm_tokens", "claude-haiku", 0.000002, "why", None))
        assert exc.value.sqlstate == "42501"
    admin = as_role("senate_admin")
    change = rows(admin, SET, ("llm_tokens", "claude-haiku", 0.000002, "list price", None))[0]
    assert change["actor"] == scalar(admin, "SELECT session_user")
    reader = as_role("senate_reader")
    assert scalar(reader, "SELECT count(*) FROM price_changes") == 1
    assert scalar(reader, "SELECT count(*) FROM usage_price_periods"
                          " WHERE priced_name = 'claude-haiku'") == 2  # fmt: skip


def test_a_backfill_over_many_groups_and_price_periods_is_priced_row_by_row_in_one_batch(
    db: Conn,
) -> None:
    """A batch on the hashed path (up to 20,000 rows) with usage older than the latest price
    change of its model and provider, spread over 300 rollup groups, both priced classes,
    rows with their own cost mixed in: every unpriced row costs amount x the price in force at
    its created_at, as the one-row and the sorted paths price it, and the rollups reconcile."""
    db.execute(
        "SELECT adopt_economics_policy('{\"usage_max_clock_skew\": \"0\"}', 'ops', 'no skew')"
    )
    # Three haiku prices (before day 6 at noon, until day 3 at noon, from then) and two
    # scholar prices (a new one from now on: every backdated call is older than it).
    correct(db, Decimal("0.000003"), at(db, 6, 12), at(db, 3, 12))
    db.execute("SELECT set_usage_price('api_calls', 'semantic_scholar', 0.001, 'up')")
    rows_in: list[Any] = []
    expected = Decimal(0)
    for i in range(3_000):
        hour = at(db, 1 + i % 7, i % 24)
        group = f"h-{i % 150}"
        given = Decimal("0.5") if i % 11 == 0 else None
        if i % 2:
            price = Decimal("0.000003") if at(db, 6, 12) <= hour < at(db, 3, 12) else HAIKU
            rows_in += [group, "llm_tokens", 1_000 + i, "claude-haiku", None, given, hour]
            expected += given if given is not None else (1_000 + i) * price
        else:
            rows_in += [group, "api_calls", 1 + i % 5, None, "semantic_scholar", given, hour]
            expected += given if given is not None else (1 + i % 5) * SCHOLAR
    values = ", ".join(["('hypothesis', %s, %s, %s, %s, %s, %s::numeric, %s)"] * 3_000)
    db.execute(
        "INSERT INTO resource_usage (entity_type, entity_id, resource_type, amount, model,"
        f" provider, cost, created_at) VALUES {values}",
        rows_in,
    )
    assert scalar(db, "SELECT sum(cost_total_usd) FROM senate.usage_rollups") == expected
    assert scalar(
        db, "SELECT count(DISTINCT (entity_id, resource_type, usage_day)) FROM senate.usage_rollups"
    ) > 300  # fmt: skip
    assert reconciled(db)
