"""Turn failures into exactly one clear line for the user.

psycopg errors are classified by exception class and ``sqlstate``; the server's (or libpq's)
own message is shown, never parsed.
"""

from __future__ import annotations

import subprocess

import psycopg


class SenateDbError(Exception):
    """A failure already explained in one line; the CLI prints it as ``senate-db: <message>``."""


class ConnectionFailed(SenateDbError):
    """The target server could not be reached or refused us."""


class MigrationFailed(SenateDbError):
    """A migration raised an error; its transaction was rolled back."""

    def __init__(
        self, migration_id: str, cause: BaseException, *, action: str = "migration"
    ) -> None:
        self.migration_id = migration_id
        self.cause = cause
        super().__init__(f"{action} {migration_id} failed: {describe_database_error(cause)}")


class UnsafeSchemas(SenateDbError):
    """``migrate`` refused to start (SQLSTATE S5001): someone untrusted may CREATE in a schema
    our SECURITY DEFINER functions name. Nothing was written."""

    def __init__(self, cause: BaseException) -> None:
        self.cause = cause
        self.sqlstate = getattr(cause, "sqlstate", None)
        super().__init__(describe_database_error(cause))


def one_line(text: str) -> str:
    """The first non-blank line of ``text``, stripped."""
    for line in text.splitlines():
        if line.strip():
            return " ".join(line.split())
    return ""


def describe_database_error(exc: BaseException) -> str:
    """``SQLSTATE 42P01 relation "x" does not exist`` style summary of a driver error."""
    if isinstance(exc, psycopg.Error) and exc.sqlstate:
        message = exc.diag.message_primary or one_line(str(exc))
        return f"SQLSTATE {exc.sqlstate} {message}"
    return one_line(str(exc)) or type(exc).__name__


def cannot_connect(redacted_url: str, exc: psycopg.Error) -> ConnectionFailed:
    """The error to raise when connecting to ``redacted_url`` failed with ``exc``."""
    return ConnectionFailed(f"cannot connect to {redacted_url}: {describe_database_error(exc)}")


def describe(exc: BaseException) -> str:
    """One line (no ``senate-db:`` prefix) explaining any exception."""
    if isinstance(exc, SenateDbError):
        return one_line(str(exc))
    if isinstance(exc, psycopg.OperationalError) and not exc.sqlstate:
        return f"lost connection to the database: {describe_database_error(exc)}"
    if isinstance(exc, psycopg.Error):
        return f"database error: {describe_database_error(exc)}"
    yoyo_message = _describe_yoyo(exc)
    if yoyo_message:
        return yoyo_message
    if isinstance(exc, subprocess.CalledProcessError):
        cmd = exc.cmd[0] if isinstance(exc.cmd, list | tuple) else str(exc.cmd)
        return f"command {cmd} failed with exit status {exc.returncode}"
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror}{where}"
    detail = one_line(str(exc))
    return (
        f"unexpected {type(exc).__name__}{': ' + detail if detail else ''} "
        "(set SENATE_DB_DEBUG=1 for a traceback)"
    )


def _describe_yoyo(exc: BaseException) -> str | None:
    from yoyo import exceptions as yoyo_exceptions

    if isinstance(exc, yoyo_exceptions.LockTimeout):
        return (
            "timed out waiting for the migration lock (is another `senate-db migrate` "
            "running against this database?)"
        )
    if isinstance(exc, yoyo_exceptions.BadMigration):
        return f"bad migration: {one_line(' '.join(str(a) for a in exc.args))}"
    return None
