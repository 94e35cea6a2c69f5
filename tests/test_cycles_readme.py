"""The examples of db/docs/review-cycles.md run, in order, on a freshly migrated database, and
the pg_cron lines of db/docs/scheduling.md schedule commands that run."""

from __future__ import annotations

import re

import pytest
from cycles_support import Conn, scalar

from senate_db import paths

DOCS = paths.repo_root() / "db" / "docs"


def page(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def sql_blocks() -> list[str]:
    return re.findall(r"^```sql\n(.*?)^```", page("review-cycles.md"), flags=re.S | re.M)


def cron_commands() -> list[str]:
    if not (DOCS / "scheduling.md").is_file():
        pytest.skip("db/docs/scheduling.md is written on another branch (wt-sched)")
    text = page("scheduling.md")
    return re.findall(r"cron\.schedule\('[^']+', '[^']+', \$\$(.*?)\$\$\);", text)


def test_the_review_cycles_examples_run_in_order_and_do_what_they_say(db: Conn) -> None:
    blocks = sql_blocks()
    assert len(blocks) >= 6
    for block in blocks:
        db.execute(block)
    throttle = scalar(db, "SELECT count(*) FROM spend_throttles WHERE entity_id = 'hyp-tau'")
    released = scalar(
        db,
        "SELECT count(*) FROM spend_throttles WHERE entity_id = 'hyp-tau' "
        "AND released_at IS NOT NULL",
    )
    assert (throttle, released) == (1, 1)
    assert scalar(db, "SELECT settled_amount FROM spend_reservations") == 6500
    assert scalar(db, "SELECT count(*) FROM spend_alerts") == 1
    assert scalar(db, "SELECT count(*) FROM rebalance_runs") == 1
    assert (
        scalar(db, "SELECT token_budget FROM resource_budgets WHERE entity_id = 'gap-dormant'")
        == 30000
    )


def test_the_pg_cron_lines_schedule_commands_that_run(db: Conn) -> None:
    commands = cron_commands()
    assert len(commands) >= 5  # the review jobs; scheduling.md may list more
    for command in commands:
        db.execute(command)
