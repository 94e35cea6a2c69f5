"""What ``senate-db status`` reports: server, database, applied and pending migrations."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from senate_db import empty, migrations, server
from senate_db.target import Target


@dataclass(frozen=True)
class Status:
    target: Target
    server: server.ServerInfo
    applied: list[str]
    pending: list[str]
    #: A migrated database with nothing in it: that, and where the demo's economy is.
    empty_note: str | None = None


def collect(target: Target, *, directory: Path | None = None) -> Status:
    info = server.server_info(target.url)
    done = migrations.applied(target.url)
    on_disk = migrations.migration_ids(directory)
    note = None
    with server.connect(target.url, autocommit=True) as conn:
        if empty.has_report_views(conn) and empty.is_empty(conn):
            note = empty.empty_message(target, ["report"])
    return Status(
        target=target,
        server=info,
        applied=done,
        pending=[mid for mid in on_disk if mid not in set(done)],
        empty_note=note,
    )


def render(status: Status) -> str:
    lines = [
        f"database: {status.target.describe()}",
        f"server:   {status.server.version}",
        f"applied:  {len(status.applied)} migration(s)",
        *(f"  {mid}" for mid in status.applied),
        f"pending:  {len(status.pending)} migration(s)",
        *(f"  {mid}" for mid in status.pending),
        *([f"data:     {status.empty_note}"] if status.empty_note else []),
    ]
    return "\n".join(lines)
