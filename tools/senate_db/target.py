"""Choose the server a command works on: ``--database``, else ``$DATABASE_URL``, else embedded."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from senate_db import embedded, paths, server, urls
from senate_db.errors import SenateDbError

DATABASE_ENV = "DATABASE_URL"
#: The project's database on the embedded server.
EMBEDDED_DATABASE = "senate"


@dataclass(frozen=True)
class Target:
    url: str  # postgresql:// URL of the database to work on
    source: str  # "--database", "DATABASE_URL" or "embedded"
    data_dir: Path | None = None  # the embedded server's data dir, when source == "embedded"

    @property
    def embedded(self) -> bool:
        return self.data_dir is not None

    def describe(self) -> str:
        where = f"embedded server in {self.data_dir}" if self.data_dir else self.source
        return f"{urls.redact(self.url)} ({where})"


def explicit_url(database: str | None) -> tuple[str, str] | None:
    """``(url, source)`` from ``--database`` or ``$DATABASE_URL``; ``None`` means embedded."""
    if database is not None:
        if not database.strip():
            raise SenateDbError("invalid database URL '': empty")
        return urls.normalize(database), "--database"
    env = os.environ.get(DATABASE_ENV, "").strip()
    if env:
        return urls.normalize(env), DATABASE_ENV
    return None


def choose(database: str | None, data_dir: Path | None = None, *, start: bool = True) -> Target:
    """Resolve the target. The embedded default is started when ``start`` (else must be up)."""
    explicit = explicit_url(database)
    if explicit is not None:
        return Target(url=explicit[0], source=explicit[1])
    data_dir = (data_dir or paths.default_data_dir()).expanduser().resolve()
    admin_url = embedded.start(data_dir) if start else embedded.running_url(data_dir)
    if admin_url is None:
        raise SenateDbError(
            f"the embedded server is not running in {data_dir} (start it with `senate-db up`)"
        )
    server.ensure_database(admin_url, EMBEDDED_DATABASE)
    return Target(
        url=urls.with_database(admin_url, EMBEDDED_DATABASE), source="embedded", data_dir=data_dir
    )
