"""``senate-db demo``: bring the database up to date and show how to look at it.

For now: start the embedded server (when that is the target), migrate, report status and
print the psql command. Later issues extend this into the real walkthrough.
"""

from __future__ import annotations

from typing import TextIO

from senate_db import migrations, psql, status
from senate_db.target import Target


def run(target: Target, out: TextIO) -> None:
    if target.embedded:
        print(f"embedded PostgreSQL is running in {target.data_dir}", file=out)
    print(f"migrating {target.describe()}", file=out)
    applied = migrations.apply_migrations(
        target.url, on_applied=lambda mid: print(f"applied {mid}", file=out, flush=True)
    )
    if not applied:
        print("nothing to apply", file=out)
    print(file=out)
    print(status.render(status.collect(target)), file=out)
    print(file=out)
    print("connect with:", file=out)
    print(f"  {psql.shell_line(target.url)}", file=out)
