"""What ``senate-db status`` reports: server, database, applied and pending migrations."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from senate_db import migrations, server
from senate_db.target import Target


@dataclass(frozen=True)
class Status:
    target: Target
    server: server.ServerInfo
    applied: list[str]
    pending: list[str]


def collect(target: Target, *, directory: Path | None = None) -> Status:
    info = server.server_info(target.url)
    done = migrations.applied(target.url)
    on_disk = migrations.migration_ids(directory)
    return Status(
        target=target,
        server=info,
        applied=done,
        pending=[mid for mid in on_disk if mid not in set(done)],
    )


def render(status: Status) -> str:
    lines = [
        f"database: {status.target.describe()}",
        f"server:   {status.server.version}",
        f"applied:  {len(status.applied)} migration(s)",
        *(f"  {mid}" for mid in status.applied),
        f"pending:  {len(status.pending)} migration(s)",
        *(f"  {mid}" for mid in status.pending),
    ]
    return "\n".join(lines)
