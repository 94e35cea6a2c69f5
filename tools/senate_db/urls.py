"""Connection URLs: validate, build, redact and translate them (pure functions, no I/O)."""

from __future__ import annotations

from urllib.parse import quote

import psycopg
from psycopg.conninfo import conninfo_to_dict

from senate_db.errors import SenateDbError

_SCHEMES = ("postgresql://", "postgres://")
# Keys that live in the URL's authority/path; everything else goes in the query string.
_URL_PARTS = ("user", "password", "host", "port", "dbname")


def to_params(url: str) -> dict[str, str]:
    """Parse a ``postgresql://`` URL or a ``key=value`` conninfo string into libpq parameters."""
    if "://" in url and not url.startswith(_SCHEMES):
        scheme = url.split("://", 1)[0]
        raise SenateDbError(
            f"invalid database URL {scheme}://...: expected postgresql://user@host:port/dbname"
        )
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError as e:
        detail = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise SenateDbError(f"invalid database URL {url!r}: {detail}") from None
    return {key: str(value) for key, value in params.items() if value is not None}


def from_params(params: dict[str, str]) -> str:
    """Build a ``postgresql://`` URL from libpq parameters.

    Unix-socket directories (hosts starting with ``/``) and multi-host lists go in the
    query string (``?host=/tmp/x``), which both libpq and yoyo understand.
    """
    params = {k: v for k, v in params.items() if v != ""}
    query: dict[str, str] = {k: v for k, v in params.items() if k not in _URL_PARTS}
    host = params.get("host", "")
    port = params.get("port", "")
    netloc_host = ""
    if host and not host.startswith("/") and "," not in host:
        netloc_host = f"[{host}]" if ":" in host else host
        if port:
            if "," in port:
                query["port"] = port
            else:
                netloc_host += f":{port}"
    else:
        if host:
            query["host"] = host
        if port:
            query["port"] = port
    userinfo = ""
    if "user" in params:
        userinfo = quote(params["user"], safe="")
        if "password" in params:
            userinfo += ":" + quote(params["password"], safe="")
        userinfo += "@"
    elif "password" in params:
        query["password"] = params["password"]
    path = "/" + quote(params["dbname"], safe="") if "dbname" in params else "/"
    url = f"postgresql://{userinfo}{netloc_host}{path}"
    if query:
        url += "?" + "&".join(f"{k}={quote(v, safe='/')}" for k, v in sorted(query.items()))
    return url


def normalize(url: str) -> str:
    """Validate ``url`` (URL or conninfo) and return it as a ``postgresql://`` URL."""
    return from_params(to_params(url))


def with_database(url: str, dbname: str) -> str:
    """The same server and credentials, another database."""
    params = to_params(url)
    params["dbname"] = dbname
    return from_params(params)


def database_name(url: str) -> str | None:
    """The database named in ``url`` (``None`` when libpq's default applies)."""
    return to_params(url).get("dbname")


def redact(url: str) -> str:
    """``url`` with any password replaced by ``***``, safe to print."""
    try:
        params = to_params(url)
    except SenateDbError:
        return "<invalid URL>"
    if "password" in params:
        params["password"] = "***"
        return from_params(params).replace("%2A%2A%2A", "***")
    return from_params(params)


def to_yoyo(url: str) -> str:
    """The ``postgresql+psycopg://`` form yoyo needs to use psycopg 3."""
    return "postgresql+psycopg://" + normalize(url).removeprefix("postgresql://")
