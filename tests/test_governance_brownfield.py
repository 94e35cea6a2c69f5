"""Governance on a deployment that already holds allocation_proposals rows."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from governance_support import (
    GOOD_EVIDENCE,
    approve_votes,
    budget,
    decide,
    file_proposal,
    fund,
    scalar,
    status_of,
)
from psycopg.types.json import Jsonb

from senate_db.migrations import apply_migrations, migration_ids, rollback_migrations

# Deployed shapes: (id column, entity_id type, requested_tokens type, entity ids of the rows).
LEGACY_SHAPES: dict[str, tuple[str, str, str, list[str]]] = {
    "bigserial ids, text entities": (
        "bigserial PRIMARY KEY",
        "text",
        "integer",
        ["h-grounded", "h-free_form", "h-historical"],
    ),
    "uuid ids and entities": (
        "uuid PRIMARY KEY DEFAULT gen_random_uuid()",
        "uuid",
        "bigint",
        [f"00000000-0000-0000-0000-00000000000{i}" for i in (1, 2, 3)],
    ),
    "integer ids, bigint entities": (
        "serial PRIMARY KEY",
        "bigint",
        "numeric(12,0)",
        ["101", "102", "103"],
    ),
}


def _legacy_proposals(url: str, shape: str) -> dict[str, Any]:
    """A deployed-style allocation_proposals table with three rows; returns their ids."""
    id_column, entity_type, amount_type, entities = LEGACY_SHAPES[shape]
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            f"""
            CREATE TABLE allocation_proposals (
                id {id_column},
                entity_type text NOT NULL,
                entity_id {entity_type} NOT NULL,
                requested_tokens {amount_type} NOT NULL,
                proposer_id text,
                proposer_agent text,
                justification text NOT NULL,
                evidence jsonb NOT NULL DEFAULT '{{}}',
                status text NOT NULL DEFAULT 'pending',
                reviewer text,
                decided_at timestamp,
                created_at timestamp NOT NULL DEFAULT now(),
                updated_at timestamp NOT NULL DEFAULT now()
            )"""
        )
        ids = {}
        for (name, evidence, status), entity in zip(
            (
                ("grounded", GOOD_EVIDENCE, "pending"),
                ("free_form", {"note": "trust me"}, "pending"),
                ("historical", {}, "approved"),
            ),
            entities,
            strict=True,
        ):
            ids[name] = scalar(
                conn,
                "INSERT INTO allocation_proposals (entity_type, entity_id, requested_tokens, "
                f"proposer_agent, justification, evidence, status) VALUES ('hypothesis', "
                f"%s::{entity_type}, 700, 'legacy-agent', 'because', %s, %s) RETURNING id",
                (entity, Jsonb(evidence), status),
            )
    return ids


@pytest.mark.parametrize("shape", list(LEGACY_SHAPES))
def test_proposals_filed_before_governance_keep_their_rows_and_follow_the_rules(
    empty_db_url: str, shape: str
) -> None:
    ids = _legacy_proposals(empty_db_url, shape)
    entities = LEGACY_SHAPES[shape][3]
    apply_migrations(empty_db_url)
    with psycopg.connect(empty_db_url, autocommit=True) as db:
        rows = db.execute(
            "SELECT entity_id::text, status, requested_tokens, resource_type, policy_version "
            "FROM allocation_proposals ORDER BY created_at, entity_id"
        ).fetchall()
        assert sorted(rows) == sorted(
            [
                (entities[0], "pending", 700, "llm_tokens", None),
                (entities[1], "pending", 700, "llm_tokens", None),
                (entities[2], "approved", 700, "llm_tokens", None),
            ]
        )
        # Judged by the policy in force when they were filed (the initial version).
        quorum = db.execute(
            "SELECT DISTINCT policy_version, quorum FROM allocation_proposal_tallies"
        ).fetchall()
        assert quorum == [(1, 3)]

        fund(db, 100_000)
        approve_votes(db, ids["grounded"])
        result = decide(db, ids["grounded"], "approved")
        assert result["proposal_id"] == ids["grounded"]
        assert result["budget_after"] == 700 and result["reserve_after"] == 99_300
        assert budget(db, entities[0]) == 700

        approve_votes(db, ids["free_form"])
        with pytest.raises(psycopg.Error) as exc:
            decide(db, ids["free_form"], "approved")
        assert exc.value.sqlstate == "S2003"

        with pytest.raises(psycopg.Error) as exc:
            db.execute(
                "UPDATE allocation_proposals SET status = 'pending' WHERE id = %s",
                (ids["historical"],),
            )
        assert exc.value.sqlstate == "S2020"
        assert status_of(db, ids["historical"]) == "approved"

        # New proposals are filed through the deployment's own column types.
        new = file_proposal(db, entity_id=entities[0], amount=300)
        assert type(new) is type(ids["grounded"])
        approve_votes(db, new)
        decide(db, new, "approved")
        assert budget(db, entities[0]) == 1000
        if LEGACY_SHAPES[shape][1] != "text":
            with pytest.raises(psycopg.Error) as exc:
                file_proposal(db, entity_id="not-an-id-of-this-type!")
            assert exc.value.sqlstate == "S2009"
        assert db.execute("SELECT * FROM check_ledger_invariant()").fetchall() == []


def test_governance_migrations_roll_back_and_apply_again_keeping_proposals(
    empty_db_url: str,
) -> None:
    ids = _legacy_proposals(empty_db_url, "bigserial ids, text entities")
    apply_migrations(empty_db_url)
    ours = [m for m in migration_ids() if "0020" <= m[:4] <= "0029"]
    later = [m for m in migration_ids() if m[:4] > "0029"]
    rolled_back = rollback_migrations(empty_db_url, count=len(ours) + len(later))
    assert rolled_back[-len(ours) :] == list(reversed(ours))
    with psycopg.connect(empty_db_url, autocommit=True) as db:
        assert scalar(db, "SELECT count(*) FROM allocation_proposals") == 3
        left = db.execute(
            "SELECT proname FROM pg_proc WHERE proname IN ('file_allocation_proposal', "
            "'decide_allocation_proposal', 'explain_budget', 'fund_reserve')"
        ).fetchall()
        assert left == []
        assert scalar(db, "SELECT count(*) FROM senate.error_codes WHERE sqlstate LIKE 'S2%%'") == 0
    assert apply_migrations(empty_db_url) == ours + later
    with psycopg.connect(empty_db_url, autocommit=True) as db:
        assert status_of(db, ids["grounded"]) == "pending"
        assert scalar(db, "SELECT count(*) FROM senate.error_codes WHERE sqlstate LIKE 'S2%%'") > 0


def test_a_deployed_proposal_for_a_kind_of_entity_without_budgets_is_not_approved(
    empty_db_url: str,
) -> None:
    _legacy_proposals(empty_db_url, "bigserial ids, text entities")
    with psycopg.connect(empty_db_url, autocommit=True) as conn:
        gene = scalar(
            conn,
            "INSERT INTO allocation_proposals (entity_type, entity_id, requested_tokens, "
            "proposer_agent, justification, evidence) VALUES ('gene', 'APOE', 10, 'legacy', "
            "'because', %s) RETURNING id",
            (Jsonb(GOOD_EVIDENCE),),
        )
    apply_migrations(empty_db_url)
    with psycopg.connect(empty_db_url, autocommit=True) as db:
        fund(db, 1000)
        approve_votes(db, gene)
        with pytest.raises(psycopg.Error) as exc:
            decide(db, gene, "approved")
        assert exc.value.sqlstate == "S2007"
        assert status_of(db, gene) == "pending"
