"""The examples of db/docs/governance.md run, in order, on a freshly migrated database."""

from __future__ import annotations

import re

from governance_support import Conn, budget, scalar

from senate_db import paths


def governance_sql_blocks() -> list[str]:
    page = (paths.repo_root() / "db" / "docs" / "governance.md").read_text(encoding="utf-8")
    return re.findall(r"```sql\n(.*?)```", page, flags=re.DOTALL)


def test_the_readme_governance_session_runs_on_a_fresh_database_and_does_what_it_says(
    db: Conn,
) -> None:
    blocks = governance_sql_blocks()
    assert len(blocks) >= 3
    for block in blocks:
        db.execute(block)
    assert budget(db, "hyp-apoe4") == 50000
    assert scalar(db, "SELECT balance FROM senate_reserve WHERE resource_type = 'llm_tokens'") == (
        150000
    )
    status = scalar(
        db, "SELECT status FROM allocation_proposals WHERE entity_id = 'gap-tau-spread'"
    )
    assert status == "pending"
    assert db.execute("SELECT * FROM check_ledger_invariant()").fetchall() == []
