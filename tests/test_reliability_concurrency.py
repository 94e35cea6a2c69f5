"""Concurrency (issue 9, point 5).

Several writers insert usage (multi-row INSERTs, record_resource_usage retries, corrections)
while budgets move: the rebalance (run_rebalance when the review-cycle branch has landed, else
the same kind of sorted budget moves written directly) and approvals (file, vote and decide
when governance has landed, else reserve-to-budget transfers) run at the same time. At the end:
the rollups equal resource_usage exactly, every acknowledged write is there and nothing more,
the budget ledger adds up to every balance, and no deadlock reached a caller.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
from governance_support import as_senator
from psycopg.types.json import Jsonb
from reliability_support import function_exists, scalar

ENTITIES = [f"h{i}" for i in range(8)]
WRITERS = 6
SECONDS = 4.0
EVIDENCE = {"pmids": ["31883511"], "expected_kg_edges": 40}

#: Errors a caller may retry by the documented rule: deadlock (40P01) and serialization (40001).
RETRYABLE = ("40P01", "40001")


@dataclass
class Tally:
    ops: int = 0
    retries: int = 0
    deadlocks: int = 0
    errors: list[str] = field(default_factory=list)


def with_retry(tally: Tally, work: Callable[[], Any]) -> Any:
    """Run ``work``; retry it on deadlock or serialization failure (counted), at most 5 times."""
    for attempt in range(6):
        try:
            result = work()
            tally.ops += 1
            return result
        except psycopg.Error as e:
            if e.sqlstate == "40P01":
                tally.deadlocks += 1
            if e.sqlstate in RETRYABLE and attempt < 5:
                tally.retries += 1
                time.sleep(0.01 * (attempt + 1))
                continue
            tally.errors.append(f"{e.sqlstate}: {e}")
            return None
    return None


def ledger_mismatches(conn: psycopg.Connection[Any]) -> list[Any]:
    """Per account, entity and class: ledger deltas that do not add up to the balance."""
    return conn.execute(
        """
        WITH balances AS (
            SELECT 'entity_budget' AS account, b.entity_type, b.entity_id, r.resource_type,
                   senate.budget_amount(b, r.resource_type) AS balance
            FROM resource_budgets AS b CROSS JOIN resource_types AS r
            UNION ALL
            SELECT 'reserve', '', '', s.resource_type, s.balance FROM senate_reserve AS s
        ), ledger AS (
            SELECT account, coalesce(entity_type, '') AS entity_type,
                   coalesce(entity_id, '') AS entity_id, resource_type, sum(delta) AS total
            FROM budget_ledger WHERE account IN ('entity_budget', 'reserve') GROUP BY 1, 2, 3, 4
        )
        SELECT * FROM balances AS b
        FULL JOIN ledger AS l USING (account, entity_type, entity_id, resource_type)
        WHERE coalesce(b.balance, 0) <> coalesce(l.total, 0)
        """
    ).fetchall()


def test_parallel_usage_writers_with_rebalance_and_approvals_lose_nothing_and_stay_exact(
    db: psycopg.Connection[Any], connect: Any
) -> None:
    has_gov = all(
        function_exists(db, f)
        for f in (
            "fund_reserve",
            "file_allocation_proposal",
            "cast_allocation_vote",
            "decide_allocation_proposal",
        )
    )
    has_rebalance = function_exists(db, "run_rebalance")
    db.execute(
        "INSERT INTO resource_budgets (entity_type, entity_id, token_budget, cpu_budget)"
        " SELECT 'hypothesis', e, 100000, 5000 FROM unnest(%s::text[]) AS e",
        (ENTITIES,),
    )
    if has_gov:
        db.execute("SELECT fund_reserve('llm_tokens', 10000000, 'treasurer', 'concurrency test')")
    else:
        db.execute("SELECT senate.set_change_cause('reserve_funding', NULL, 'treasurer')")
        db.execute(
            "UPDATE senate_reserve SET balance = 10000000 WHERE resource_type = 'llm_tokens'"
        )
        db.execute("SELECT senate.clear_change_cause()")
    total_before = scalar(
        db,
        "SELECT (SELECT sum(token_budget) FROM resource_budgets)"
        " + (SELECT balance FROM senate_reserve WHERE resource_type = 'llm_tokens')",
    )

    stop = threading.Event()
    acked_ids: list[list[int]] = [[] for _ in range(WRITERS)]
    acked_keys: list[list[str]] = [[] for _ in range(WRITERS)]
    tallies = {name: Tally() for name in ["writers", "corrections", "rebalance", "approvals"]}
    approvals_acked: list[int] = []

    def writer(n: int) -> None:
        conn = connect()
        rng = random.Random(n)
        tally = tallies["writers"]
        seq = 0
        while not stop.is_set():
            seq += 1
            if seq % 3:
                entities = [rng.choice(ENTITIES) for _ in range(20)]
                amounts = [rng.randint(1, 900) for _ in range(20)]
                ids = with_retry(
                    tally,
                    lambda e=entities, a=amounts: [
                        r[0]
                        for r in conn.execute(
                            "INSERT INTO resource_usage (entity_type, entity_id, resource_type,"
                            " amount, model) SELECT 'hypothesis', e, 'llm_tokens', a,"
                            " 'claude-sonnet' FROM unnest(%s::text[], %s::int[]) AS x (e, a)"
                            " RETURNING id",
                            (e, a),
                        ).fetchall()
                    ],
                )
                if ids:
                    acked_ids[n].extend(ids)
            else:
                key = f"w{n}-{seq}"
                args = ("hypothesis", rng.choice(ENTITIES), "cpu_seconds", rng.randint(1, 60), key)
                for _ in range(2):  # a retry of the same event, as after a lost acknowledgement
                    row = with_retry(
                        tally,
                        lambda args=args: conn.execute(
                            "SELECT usage_id, recorded FROM record_resource_usage("
                            "p_entity_type => %s, p_entity_id => %s, p_resource_type => %s,"
                            " p_amount => %s, p_idempotency_key => %s)",
                            args,
                        ).fetchone(),
                    )
                    if row and row[1]:
                        acked_keys[n].append(key)

    def corrector() -> None:
        conn = connect()
        rng = random.Random(99)
        while not stop.is_set():
            pool = [i for ids in acked_ids for i in ids[-50:]]
            if pool:
                args = (rng.choice(pool), rng.randint(0, 900))
                with_retry(
                    tallies["corrections"],
                    lambda args=args: conn.execute(
                        "SELECT correct_resource_usage(%s, %s, 'meter drift', 'ops')", args
                    ),
                )
            time.sleep(0.02)

    def rebalancer() -> None:
        conn = connect()
        run = 0
        while not stop.is_set():
            run += 1
            if has_rebalance:
                with_retry(
                    tallies["rebalance"],
                    lambda: conn.execute("SELECT count(*) FROM run_rebalance(now(), false)"),
                )
            else:

                def move(run: int = run) -> None:
                    # Reclaim 1 % of every budget into the reserve: budget rows locked in key
                    # order, then the reserve row (the order approvals use too).
                    with conn.transaction():
                        conn.execute(
                            "SELECT senate.set_change_cause('rebalance', %s, 'rebalancer')",
                            (f"run-{run}",),
                        )
                        moved = scalar(
                            conn,
                            "SELECT coalesce(sum(floor(token_budget / 100)), 0) FROM ("
                            " SELECT token_budget FROM resource_budgets"
                            " ORDER BY entity_type, entity_id FOR UPDATE) AS b",
                        )
                        conn.execute(
                            "UPDATE resource_budgets"
                            " SET token_budget = token_budget - floor(token_budget / 100)"
                        )
                        conn.execute(
                            "UPDATE senate_reserve SET balance = balance + %s"
                            " WHERE resource_type = 'llm_tokens'",
                            (moved,),
                        )
                        conn.execute("SELECT senate.clear_change_cause()")

                with_retry(tallies["rebalance"], move)
            time.sleep(0.05)

    def approver() -> None:
        conn = connect()
        rng = random.Random(7)
        n = 0
        while not stop.is_set():
            n += 1
            entity = rng.choice(ENTITIES)
            amount = rng.randint(100, 1000)
            if has_gov:

                def approve(entity: str = entity, amount: int = amount) -> int:
                    pid = scalar(
                        conn,
                        "SELECT file_allocation_proposal('hypothesis', %s, %s, 'agent', %s, %s)",
                        (entity, amount, "More cohort data: 40 new edges.", Jsonb(EVIDENCE)),
                    )
                    quorum = scalar(conn, "SELECT quorum FROM active_economics_policy()")
                    for v in range(quorum):
                        with as_senator(conn, f"rev-{v}"):
                            conn.execute(
                                "SELECT cast_allocation_vote(%s, %s, 'approve')", (pid, f"rev-{v}")
                            )
                    with as_senator(conn, "chair"):
                        conn.execute(
                            "SELECT * FROM decide_allocation_proposal(%s, 'approved', 'chair')",
                            (pid,),
                        )
                    return int(pid)

            else:

                def approve(entity: str = entity, amount: int = amount, n: int = n) -> int:
                    with conn.transaction():
                        conn.execute(
                            "SELECT senate.set_change_cause('proposal_approval', %s, 'chair')",
                            (f"sim-{n}",),
                        )
                        conn.execute(
                            "UPDATE resource_budgets SET token_budget = token_budget + %s"
                            " WHERE entity_type = 'hypothesis' AND entity_id = %s",
                            (amount, entity),
                        )
                        conn.execute(
                            "UPDATE senate_reserve SET balance = balance - %s"
                            " WHERE resource_type = 'llm_tokens'",
                            (amount,),
                        )
                        conn.execute("SELECT senate.clear_change_cause()")
                    return n

            pid = with_retry(tallies["approvals"], approve)
            if pid is not None:
                approvals_acked.append(pid)
            time.sleep(0.02)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    threads += [threading.Thread(target=f) for f in (corrector, rebalancer, approver)]
    started = time.monotonic()
    for t in threads:
        t.start()
    time.sleep(SECONDS)
    stop.set()
    for t in threads:
        t.join(60)
    elapsed = time.monotonic() - started

    ids = [i for per in acked_ids for i in per]
    keys = [k for per in acked_keys for k in per]
    present_ids = scalar(db, "SELECT count(*) FROM resource_usage WHERE id = ANY(%s)", (ids,))
    present_keys = scalar(
        db, "SELECT count(*) FROM resource_usage WHERE idempotency_key = ANY(%s)", (keys,)
    )
    corrections = scalar(
        db, "SELECT count(*) FROM resource_usage WHERE corrects_usage_id IS NOT NULL"
    )
    rows = scalar(db, "SELECT count(*) FROM resource_usage")
    mismatches = db.execute("SELECT * FROM reconcile_usage_rollups()").fetchall()
    total_after = scalar(
        db,
        "SELECT (SELECT sum(token_budget) FROM resource_budgets)"
        " + (SELECT balance FROM senate_reserve WHERE resource_type = 'llm_tokens')",
    )
    print(
        f"[concurrency] {elapsed:.1f}s: {WRITERS} writers acknowledged {len(ids)} rows + "
        f"{len(keys)} keyed events; {corrections} corrections; rebalance runs "
        f"{tallies['rebalance'].ops} ({'run_rebalance' if has_rebalance else 'direct moves'});"
        f" approvals {len(approvals_acked)} ({'governance functions' if has_gov else 'direct'})"
    )
    print(
        f"[concurrency] rows lost {len(ids) - present_ids + len(keys) - present_keys}; "
        f"unexpected rows {rows - len(ids) - len(keys) - corrections}; rollup mismatches "
        f"{len(mismatches)}; deadlocks "
        f"{sum(t.deadlocks for t in tallies.values())}, retries "
        f"{sum(t.retries for t in tallies.values())}; budgets+reserve before {total_before}, "
        f"after {total_after}"
    )
    for name, tally in tallies.items():
        assert tally.errors == [], f"{name}: {tally.errors[:3]}"
    assert tallies["writers"].deadlocks == 0, "a usage writer hit a deadlock"
    assert present_ids == len(ids) and present_keys == len(keys) == len(set(keys))
    assert rows == len(ids) + len(keys) + corrections
    assert mismatches == []
    assert ledger_mismatches(db) == []
    assert total_after == total_before
    if function_exists(db, "check_ledger_invariant"):
        assert db.execute("SELECT * FROM check_ledger_invariant()").fetchall() == []
    assert len(ids) > 0 and tallies["rebalance"].ops > 0 and approvals_acked
