"""``db/schema.sql`` is what the migrations produce, as dumped by ``senate-db dump-schema``."""

from __future__ import annotations

import difflib

import pytest

from senate_db import embedded, migrations, paths, schema_dump


def test_schema_sql_matches_a_fresh_dump_of_all_migrations(
    server_url: str, server_version_num: int
) -> None:
    major = server_version_num // 10000
    if major != embedded.EMBEDDED_MAJOR:
        pytest.skip(
            f"db/schema.sql is dumped with PostgreSQL {embedded.EMBEDDED_MAJOR} (the embedded "
            f"default); this server is PostgreSQL {major}, whose pg_dump output differs"
        )
    schema_file = paths.default_schema_file()
    assert schema_file.is_file(), "db/schema.sql is missing: run `senate-db dump-schema`"
    fresh = schema_dump.dump_schema(server_url)
    committed = schema_file.read_text(encoding="utf-8")
    if fresh != committed:
        diff = "".join(
            list(
                difflib.unified_diff(
                    committed.splitlines(keepends=True),
                    fresh.splitlines(keepends=True),
                    "db/schema.sql (committed)",
                    "fresh dump",
                )
            )[:60]
        )
        pytest.fail(
            "db/schema.sql is out of date: run `senate-db dump-schema` and commit it\n" + diff
        )


def test_schema_sql_leaves_out_yoyo_bookkeeping_and_random_restrict_keys() -> None:
    text = paths.default_schema_file().read_text(encoding="utf-8")
    for table in migrations.YOYO_TABLES:
        assert f" {table} " not in text and f".{table} " not in text
    assert "\\restrict" not in text and "\\unrestrict" not in text
    assert "Dumped by pg_dump version" not in text


def test_dump_normalization_is_deterministic() -> None:
    raw = (
        "--\n-- PostgreSQL database dump\n--\n\n"
        "\\restrict AbC123randomKey\n\n"
        "-- Dumped from database version 18.6\n-- Dumped by pg_dump version 18.6\n\n"
        "SET statement_timeout = 0;\n\n"
        "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$\n\n\nSELECT 1\n$$;\n\n"
        "\\unrestrict AbC123randomKey\n"
    )
    other_key = raw.replace("AbC123randomKey", "Zz9otherKey").replace("18.6", "18.7")
    out = schema_dump.normalize(raw)
    assert out == schema_dump.normalize(other_key)
    assert out.startswith(schema_dump.HEADER)
    assert "restrict" not in out and "18.6" not in out
    assert "$$\n\n\nSELECT 1\n$$" in out  # function bodies are left alone
